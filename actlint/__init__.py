"""actlint: find activation, loss and initialisation mistakes in model code."""

__version__ = "0.2.0"

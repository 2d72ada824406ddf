"""A model from the user's own run: the tracer, dataset stand-ins, the Python API and its callbacks."""

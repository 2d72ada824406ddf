"""Keras 1/2 keyword arguments that are pure renames in Keras 3, applied in the child (``Dense(output_dim=10,
init='normal')``, ``Conv2D(..., border_mode='same', subsample=(2, 2))``, ``SGD(lr=0.01)``).

Keras 3 rejects these names, so renaming them never changes a model that Keras 3 accepts.  The
first rename adds an assumption to the result, so the verdict says the model was read this way.
``Model(input=x, output=y)`` reads as ``Model(inputs=x, outputs=y)``.  Old calls that are not
renames (``Convolution2D(32, 3, 3)``, Keras 1 initialiser functions) still fail with Keras's own
message.
"""

from __future__ import annotations

import functools
import inspect

ASSUMPTION = "Keras 1/2 keyword arguments read as their Keras 3 names (output_dim → units, init → " \
             "kernel_initializer, border_mode → padding, subsample → strides, lr → learning_rate, " \
             "batch_input_shape → input_shape, Model(input=, output=) → Model(inputs=, outputs=))"
_CONV = {"init": "kernel_initializer", "border_mode": "padding", "subsample": "strides",
         "W_regularizer": "kernel_regularizer", "b_regularizer": "bias_regularizer"}
RENAMES = {
    "Dense": {"output_dim": "units", "init": "kernel_initializer", "W_regularizer": "kernel_regularizer",
              "b_regularizer": "bias_regularizer", "bias": "use_bias"},
    **{conv: _CONV for conv in ("Conv1D", "Conv2D", "Conv3D")},
    **{pool: {"border_mode": "padding"} for pool in ("MaxPooling1D", "MaxPooling2D", "AveragePooling1D",
                                                      "AveragePooling2D")},
    "Embedding": {"init": "embeddings_initializer"},
    **{rnn: {"output_dim": "units", "init": "kernel_initializer", "inner_init": "recurrent_initializer"}
       for rnn in ("SimpleRNN", "LSTM", "GRU")},
    **{opt: {"lr": "learning_rate"} for opt in ("SGD", "Adam", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam")},
}


def install(assumptions: list[str]) -> None:
    """Wrap the constructors of :data:`RENAMES` so the old keywords read as the new ones."""
    import keras

    for name, renames in RENAMES.items():
        cls = getattr(keras.layers, name, None) or getattr(keras.optimizers, name, None)
        if cls is None or getattr(cls.__init__, "_actlint_legacy", False):
            continue
        original = cls.__init__

        @functools.wraps(original)
        def init(self, *args, _original=original, _renames=renames, **kwargs):
            for old, new in _renames.items():
                if old in kwargs and new not in kwargs:
                    kwargs[new] = kwargs.pop(old)
                    if ASSUMPTION not in assumptions:
                        assumptions.append(ASSUMPTION)
            if "batch_input_shape" in kwargs and "input_shape" not in kwargs:  # the batch is the verifier's
                kwargs["input_shape"] = tuple(kwargs.pop("batch_input_shape"))[1:]
                if ASSUMPTION not in assumptions:
                    assumptions.append(ASSUMPTION)
            _original(self, *args, **kwargs)

        init.__signature__ = inspect.signature(original)  # Keras reads the constructor's argument names
        init._actlint_legacy = True
        cls.__init__ = init


def install_functional(assumptions: list[str]) -> None:
    """``Model(input=x, output=y)`` (Keras 1) as ``Model(inputs=x, outputs=y)``: Keras 3 picks the
    functional constructor by those two names, in ``Model.__new__`` and again in ``__init__``."""
    try:
        from keras.src.models import functional, model
    except ImportError:  # another Keras layout: the old names fail with Keras's own message
        return
    if getattr(model.functional_init_arguments, "_actlint_legacy", False):
        return
    detect = model.functional_init_arguments

    def renamed(kwargs: dict) -> dict:
        if "input" in kwargs and "output" in kwargs and "inputs" not in kwargs:
            kwargs = dict(kwargs, inputs=kwargs["input"], outputs=kwargs["output"])
            del kwargs["input"], kwargs["output"]
            if ASSUMPTION not in assumptions:
                assumptions.append(ASSUMPTION)
        return kwargs

    def functional_init_arguments(args, kwargs):
        return detect(args, renamed(kwargs))

    functional_init_arguments._actlint_legacy = True
    model.functional_init_arguments = functional_init_arguments
    original = functional.Functional.__init__

    @functools.wraps(original)
    def init(self, *args, **kwargs):
        original(self, *args, **renamed(kwargs))

    functional.Functional.__init__ = init

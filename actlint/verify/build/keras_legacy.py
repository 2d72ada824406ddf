"""Keras 1/2 keyword arguments that are pure renames in Keras 3, applied in the child (``Dense(output_dim=10,
init='normal')``, ``Conv2D(..., border_mode='same', subsample=(2, 2))``, ``SGD(lr=0.01)``).

Keras 3 rejects these names, so renaming them never changes a model that Keras 3 accepts.  The
first rename adds an assumption to the result, so the verdict says the model was read this way.
``Model(input=x, output=y)`` reads as ``Model(inputs=x, outputs=y)``.  Old calls that are not
renames are read too where Keras 2 read them the same way, each under its own assumption:
``Convolution2D(32, 3, 3)`` as ``Conv2D(32, (3, 3))`` (Keras 2's own legacy reading), a Keras 1
initialiser function ``init(shape, name=None)`` called without the ``dtype`` Keras 3 passes, and
``keras.initializations.normal(shape, scale=…)`` as the matching Keras 3 initialiser, and
``keras.backend.int_shape(x)`` (gone in Keras 3) as ``tuple(x.shape)``, and Keras 1/2 module paths
(``keras.layers.core``, ``keras.utils.np_utils``) as the Keras 3 modules that hold the same classes.
Names Keras 3 moved or dropped are put back where Keras 2 had them: ``ImageDataGenerator`` and
``keras.preprocessing.text`` (Keras 3's legacy preprocessing), ``keras.losses.mse`` and the other
short names, ``K.exp`` / ``K.random_normal`` / ``K.image_dim_ordering`` (``keras.ops`` and
``keras.random``), ``fit_generator`` and ``fit(nb_epoch=)``.

Installed in the synthetic child and, in a traced run, as soon as the user's code imports Keras.
"""

from __future__ import annotations

import functools
import inspect
import sys

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
                                                      "AveragePooling2D", "MaxPooling3D", "AveragePooling3D")},
    "Embedding": {"init": "embeddings_initializer"},
    **{rnn: {"output_dim": "units", "init": "kernel_initializer", "inner_init": "recurrent_initializer"}
       for rnn in ("SimpleRNN", "LSTM", "GRU")},
    **{opt: {"lr": "learning_rate"} for opt in ("SGD", "Adam", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam")},
}


# Keras 2 pooled over 2 along each axis when no pool_size was given; Keras 3 requires it.
POOL_SIZES = {"MaxPooling1D": 2, "AveragePooling1D": 2, "MaxPooling2D": (2, 2), "AveragePooling2D": (2, 2),
              "MaxPooling3D": (2, 2, 2), "AveragePooling3D": (2, 2, 2)}
POOL_ASSUMPTION = "a pooling layer without pool_size pools over 2 per axis, Keras 2's default"
EMBEDDING_ASSUMPTION = "Keras 2 Embedding(input_length=L) read as a model input of L ids (Keras 3 ignores it)"
CONV_ASSUMPTION = "Keras 1 Convolution2D(filters, rows, cols) read as Conv2D(filters, (rows, cols))"
INIT_ASSUMPTION = "Keras 1 initialiser functions init(shape, name=None) called as Keras 3 initialisers " \
                  "(keras.initializations.X as keras.initializers.X)"
INT_SHAPE_ASSUMPTION = "Keras 2 keras.backend.int_shape(x) read as tuple(x.shape)"
_KERNEL_INTS = {"Conv2D": 2, "Conv3D": 3}


def _note(assumptions: list[str], text: str) -> None:
    if text not in assumptions:
        assumptions.append(text)


def _takes_dtype(fn) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.name == "dtype" or p.kind is p.VAR_KEYWORD for p in params)


def _without_dtype(fn, assumptions: list[str]):
    """A user's Keras 1 initialiser (``def init(shape, name=None)``) as Keras 3 calls it."""
    if not inspect.isfunction(fn) or _takes_dtype(fn):
        return fn
    _note(assumptions, INIT_ASSUMPTION)

    @functools.wraps(fn)
    def call(shape, dtype=None, **_kwargs):
        return fn(shape)
    return call


def _legacy_kernel(name: str, args: tuple, assumptions: list[str]) -> tuple:
    """``Conv2D(32, 3, 3)``: Keras 1's (filters, rows, cols), which Keras 2 also read so."""
    n = _KERNEL_INTS.get(name)
    if n and len(args) == n + 1 and all(type(a) is int for a in args[1:]):
        _note(assumptions, CONV_ASSUMPTION)
        return (args[0], tuple(args[1:]))
    return args


def _initializations_module():
    """``keras.initializations`` of Keras 1: functions of ``(shape, …, name=None)`` returning the
    initial tensor, made from the Keras 3 initialisers of the same names."""
    import sys
    import types

    from keras import initializers

    def made(factory):
        def fn(shape, *args, name=None, dim_ordering=None, **kwargs):
            return factory(*args, **kwargs)(tuple(shape))
        return fn

    mod = types.ModuleType("keras.initializations")
    mod.__dict__.update(
        normal=made(lambda scale=0.05: initializers.RandomNormal(stddev=scale)),
        uniform=made(lambda scale=0.05: initializers.RandomUniform(-scale, scale)),
        orthogonal=made(lambda scale=1.1: initializers.Orthogonal(gain=scale)),
        identity=made(lambda scale=1: initializers.Identity(gain=scale)),
        zero=made(initializers.Zeros), one=made(initializers.Ones),
        **{k: made(getattr(initializers, c)) for k, c in (
            ("glorot_uniform", "GlorotUniform"), ("glorot_normal", "GlorotNormal"), ("he_uniform", "HeUniform"),
            ("he_normal", "HeNormal"), ("lecun_uniform", "LecunUniform"))},
    )
    sys.modules.setdefault("keras.initializations", mod)
    return mod


# Keras 1/2 modules whose classes Keras 3 keeps, under the same names, in one public module.
MOVED_MODULES = {f"keras.layers.{m}": "keras.layers" for m in (
    "core", "convolutional", "recurrent", "pooling", "embeddings", "normalization", "advanced_activations",
    "merge", "wrappers", "noise", "local", "convolutional_recurrent")}
MOVED_MODULES.update({"keras.utils.np_utils": "keras.utils", "keras.utils.generic_utils": "keras.utils",
                      "keras.utils.vis_utils": "keras.utils",
                      "keras.engine.topology": "keras.layers", "keras.engine.training": "keras.models"})
MOVED_ASSUMPTION = "Keras 1/2 module paths read as Keras 3's (keras.layers.core → keras.layers, " \
                   "keras.utils.np_utils → keras.utils, ...): the same classes under the same names"


def _moved_modules(assumptions: list[str]) -> None:
    """``from keras.layers.core import Dense`` finds Keras 3's ``keras.layers.Dense`` (said once when used)."""
    import importlib
    import importlib.util
    import types

    for old, new in MOVED_MODULES.items():
        if old in sys.modules:
            continue
        try:
            if importlib.util.find_spec(old) is not None:
                continue  # this Keras still has it
        except (ImportError, ValueError):
            pass
        target = importlib.import_module(new)
        module = types.ModuleType(old, f"actlint: Keras 1/2's {old}, read as {new}")

        def __getattr__(name, _target=target):
            value = getattr(_target, name)  # AttributeError: Keras 3 has no such name there either
            _note(assumptions, MOVED_ASSUMPTION)
            return value

        module.__getattr__ = __getattr__
        sys.modules[old] = module
        parent, _, last = old.rpartition(".")
        holder = sys.modules.get(parent)
        if holder is not None and not hasattr(holder, last):  # from keras.utils import np_utils
            setattr(holder, last, module)


PREPROCESSING_ASSUMPTION = "Keras 2 preprocessing (ImageDataGenerator, keras.preprocessing.text, skipgrams) " \
                           "read as Keras 3's legacy preprocessing, the same classes"
# Keras 2's public preprocessing names that Keras 3 keeps only under keras.src.legacy.preprocessing.
_LEGACY_PREPROCESSING = {
    "image": ("ImageDataGenerator", "NumpyArrayIterator", "DirectoryIterator", "DataFrameIterator", "Iterator",
              "random_rotation", "random_shift", "random_shear", "random_zoom", "apply_affine_transform"),
    "sequence": ("TimeseriesGenerator", "skipgrams", "make_sampling_table"),
    "text": ("Tokenizer", "one_hot", "hashing_trick", "text_to_word_sequence", "tokenizer_from_json"),
}


def _legacy_preprocessing(assumptions: list[str]) -> None:
    """``from keras.preprocessing.image import ImageDataGenerator`` and ``keras.preprocessing.text``."""
    import importlib
    import types

    try:
        import keras.preprocessing as public
    except ImportError:
        return
    for sub, names in _LEGACY_PREPROCESSING.items():
        try:
            legacy = importlib.import_module(f"keras.src.legacy.preprocessing.{sub}")
        except ImportError:
            continue
        full = f"keras.preprocessing.{sub}"
        module = sys.modules.get(full) or getattr(public, sub, None)
        if module is None:
            module = types.ModuleType(full, f"actlint: Keras 2's {full}, read as Keras 3's legacy preprocessing")
            sys.modules[full] = module
            setattr(public, sub, module)
        for name in names:
            if not hasattr(module, name) and hasattr(legacy, name):
                setattr(module, name, _noted(getattr(legacy, name), assumptions, PREPROCESSING_ASSUMPTION))


def _noted(value, assumptions: list[str], text: str):
    """``value`` (a class or a function) that adds ``text`` to the assumptions when it is first called; a class
    becomes a subclass of the same name (:func:`_alias`), so the original is left as it is."""
    if isinstance(value, type):
        return _alias(value, value.__name__, assumptions, text)

    @functools.wraps(value)
    def call(*args, **kwargs):
        _note(assumptions, text)
        return value(*args, **kwargs)
    return call


# Keras 2's short names of losses and metrics (``loss=keras.losses.mse``); Keras 3 keeps the long ones.
LOSS_ALIASES = {"mse": "mean_squared_error", "mae": "mean_absolute_error", "mape": "mean_absolute_percentage_error",
                "msle": "mean_squared_logarithmic_error", "kld": "kl_divergence",
                "kullback_leibler_divergence": "kl_divergence", "logcosh": "log_cosh"}
ALIAS_ASSUMPTION = "Keras 2 short loss names (keras.losses.mse, …) read as Keras 3's full names"


def _loss_aliases(keras, assumptions: list[str]) -> None:
    for holder in (keras.losses, keras.metrics):
        for short, full in LOSS_ALIASES.items():
            if not hasattr(holder, short) and hasattr(holder, full):
                setattr(holder, short, _noted(getattr(holder, full), assumptions, ALIAS_ASSUMPTION))


BACKEND_ASSUMPTION = "Keras 2 backend functions (K.exp, K.square, K.random_normal, K.image_dim_ordering, …) " \
                     "read as their keras.ops / keras.random equivalents"
# ``keras.backend.X`` of Keras 2 that is ``keras.ops.X`` with the same arguments in Keras 3.
_BACKEND_OPS = ("abs", "exp", "log", "sqrt", "square", "sigmoid", "tanh", "softplus", "softsign", "sign",
                "ones_like", "zeros_like", "maximum", "minimum", "shape", "cast", "clip", "mean", "sum", "max",
                "min", "prod", "std", "var", "concatenate", "reshape", "expand_dims", "squeeze", "stack",
                "transpose", "dot", "tile", "argmax", "argmin", "equal", "not_equal", "greater", "less")


def _backend_functions(keras, assumptions: list[str]) -> None:
    from math import prod as np_prod

    backend, ops = keras.backend, keras.ops
    for name in _BACKEND_OPS:
        if not hasattr(backend, name) and hasattr(ops, name):
            setattr(backend, name, _noted(getattr(ops, name), assumptions, BACKEND_ASSUMPTION))

    def random_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
        return keras.random.normal(shape, mean=mean, stddev=stddev, dtype=dtype, seed=seed)

    def random_uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
        return keras.random.uniform(shape, minval=minval, maxval=maxval, dtype=dtype, seed=seed)

    def image_dim_ordering():
        return "th" if backend.image_data_format() == "channels_first" else "tf"

    def set_image_dim_ordering(ordering):
        backend.set_image_data_format("channels_first" if ordering == "th" else "channels_last")

    def variable(value, dtype=None, name=None, constraint=None):
        return keras.Variable(value, dtype=dtype, name=name, constraint=constraint)

    def get_value(x):
        return keras.ops.convert_to_numpy(x)

    def set_value(x, value):
        x.assign(value)

    def constant(value, dtype=None, shape=None, name=None):
        value = keras.ops.convert_to_tensor(value, dtype=dtype or backend.floatx())
        return keras.ops.broadcast_to(value, shape) if shape is not None else value

    def ndim(x):
        return len(x.shape)

    def batch_flatten(x):
        return keras.ops.reshape(x, (-1, int(np_prod(x.shape[1:]))))

    def flatten(x):
        return keras.ops.reshape(x, (-1,))

    def permute_dimensions(x, pattern):
        return keras.ops.transpose(x, pattern)

    def l2_normalize(x, axis=None):
        return keras.ops.normalize(x, axis=-1 if axis is None else axis, order=2)

    def categorical_crossentropy(target, output, from_logits=False, axis=-1):
        return keras.losses.categorical_crossentropy(target, output, from_logits=from_logits, axis=axis)

    def binary_crossentropy(target, output, from_logits=False):
        return keras.ops.binary_crossentropy(target, output, from_logits=from_logits)

    def switch(condition, then_expression, else_expression):
        return keras.ops.where(condition, then_expression, else_expression)

    for old, new in (("pow", "power"), ("gather", "take"), ("ones", "ones"), ("zeros", "zeros"),
                     ("arange", "arange"), ("one_hot", "one_hot"), ("cumsum", "cumsum"), ("relu", "relu"),
                     ("elu", "elu"), ("softmax", "softmax"), ("round", "round"), ("floor", "floor"),
                     ("logsumexp", "logsumexp"), ("any", "any"), ("all", "all"), ("hard_sigmoid", "hard_sigmoid")):
        if not hasattr(backend, old) and hasattr(keras.ops, new):
            setattr(backend, old, _noted(getattr(keras.ops, new), assumptions, BACKEND_ASSUMPTION))
    for fn in (variable, get_value, set_value, constant, ndim, batch_flatten, flatten, permute_dimensions,
               l2_normalize, categorical_crossentropy, binary_crossentropy, switch,
               random_normal, random_uniform, image_dim_ordering, set_image_dim_ordering):
        if not hasattr(backend, fn.__name__):
            setattr(backend, fn.__name__, _noted(fn, assumptions, BACKEND_ASSUMPTION))


FIT_ASSUMPTION = "Keras 1/2 training calls read as Keras 3's (fit_generator → fit, nb_epoch → epochs, " \
                 "predict_classes → the argmax of predict)"


def _fit_names(keras, assumptions: list[str]) -> None:
    """``model.fit_generator(...)``, ``evaluate_generator``, ``predict_generator`` and ``fit(nb_epoch=)``."""
    model = keras.Model
    if getattr(model.fit, "_actlint_legacy", False):
        return
    fit = model.fit

    @functools.wraps(fit)
    def legacy_fit(self, *args, **kwargs):
        if "nb_epoch" in kwargs and "epochs" not in kwargs:
            kwargs["epochs"] = kwargs.pop("nb_epoch")
            _note(assumptions, FIT_ASSUMPTION)
        return fit(self, *args, **kwargs)

    legacy_fit._actlint_legacy = True
    model.fit = legacy_fit
    for old, new in (("fit_generator", "fit"), ("evaluate_generator", "evaluate"),
                     ("predict_generator", "predict")):
        if hasattr(model, old):
            continue

        def generator_call(self, *args, _new=new, **kwargs):
            _note(assumptions, FIT_ASSUMPTION)
            for gone in ("workers", "use_multiprocessing", "max_queue_size", "pickle_safe", "nb_worker"):
                kwargs.pop(gone, None)
            if "nb_epoch" in kwargs and "epochs" not in kwargs:
                kwargs["epochs"] = kwargs.pop("nb_epoch")
            return getattr(self, _new)(*args, **kwargs)

        generator_call.__name__ = old
        setattr(model, old, generator_call)
    if not hasattr(model, "predict_classes"):
        def predict_classes(self, x, batch_size=32, verbose=0):  # Keras 2's Sequential: class ids
            _note(assumptions, FIT_ASSUMPTION)
            import numpy as np

            proba = np.asarray(self.predict(x, batch_size=batch_size, verbose=verbose))
            return proba.argmax(axis=-1) if proba.shape[-1] > 1 else (proba > 0.5).astype("int32")

        def predict_proba(self, x, batch_size=32, verbose=0):
            _note(assumptions, FIT_ASSUMPTION)
            return self.predict(x, batch_size=batch_size, verbose=verbose)

        model.predict_classes, model.predict_proba = predict_classes, predict_proba


NAMES_ASSUMPTION = "Keras 2 names Keras 3 dropped read as the Keras 3 classes Keras 2 aliased them to " \
                   "(Deconv2D → Conv2DTranspose, optimizers.rmsprop → RMSprop, layers.merge._Merge → the merge " \
                   "base class, models.model_from_config → keras.saving.deserialize_keras_object)"
# Keras 2's aliases of classes that Keras 3 keeps under one name only.
LAYER_ALIASES = {"Deconvolution2D": "Conv2DTranspose", "Deconv2D": "Conv2DTranspose",
                 "Deconvolution3D": "Conv3DTranspose", "Deconv3D": "Conv3DTranspose"}
OPTIMIZER_ALIASES = {"sgd": "SGD", "rmsprop": "RMSprop", "adagrad": "Adagrad", "adadelta": "Adadelta",
                     "adam": "Adam", "adamax": "Adamax", "nadam": "Nadam"}


def _dropped_names(keras, assumptions: list[str]) -> None:
    """``Deconv2D``, ``keras.optimizers.rmsprop(lr=…)``, ``keras.layers.merge._Merge`` (subclassed for a
    weighted average in WGAN-GP code), ``K.repeat``: Keras 2 names with a Keras 3 class or op behind them."""
    for holder, aliases in ((keras.layers, LAYER_ALIASES), (keras.optimizers, OPTIMIZER_ALIASES)):
        for old, new in aliases.items():
            if not hasattr(holder, old) and hasattr(holder, new):
                setattr(holder, old, _alias(getattr(holder, new), old, assumptions, NAMES_ASSUMPTION))
    try:
        from keras.src.layers.merging.base_merge import Merge
    except ImportError:
        Merge = None
    merge = sys.modules.get("keras.layers.merge")
    if Merge is not None and merge is not None and "_Merge" not in vars(merge):
        merge._Merge = _alias(Merge, "_Merge", assumptions, NAMES_ASSUMPTION)
    if not hasattr(keras.models, "model_from_config"):
        def model_from_config(config, custom_objects=None):  # Keras 2: {"class_name": …, "config": …}
            if isinstance(config, dict) and "module" not in config and hasattr(keras, str(config.get("class_name"))):
                config = {**config, "module": "keras"}  # Keras 2's config names no module: a keras.* model
            return keras.saving.deserialize_keras_object(config, custom_objects=custom_objects)

        keras.models.model_from_config = _noted(model_from_config, assumptions, NAMES_ASSUMPTION)
    from actlint.verify.build import keras_sklearn

    keras_sklearn.install(keras, assumptions)
    if not hasattr(keras.backend, "repeat"):
        def repeat(x, n):  # Keras 2: (batch, dim) -> (batch, n, dim)
            return keras.ops.repeat(keras.ops.expand_dims(x, 1), n, axis=1)

        keras.backend.repeat = _noted(repeat, assumptions, BACKEND_ASSUMPTION)


def _alias(cls: type, name: str, assumptions: list[str], text: str) -> type:
    """``cls`` under the name Keras 2 gave it, a subclass that adds ``text`` to the assumptions when made
    (``cls`` itself is left as it is)."""
    original = cls.__init__

    @functools.wraps(original)
    def __init__(self, *args, **kwargs):
        _note(assumptions, text)
        cls.__init__(self, *args, **kwargs)  # looked up now: the keyword renames wrap it after this alias is made

    __init__.__signature__ = inspect.signature(original)  # Keras reads the constructor's argument names
    return type(name, (cls,), {"__init__": __init__, "__module__": cls.__module__})


def install(assumptions: list[str]) -> None:
    """Wrap the constructors of :data:`RENAMES` so the old keywords read as the new ones, and put back
    the Keras 2 names that Keras 3 moved (preprocessing, short loss names, backend functions, fit_generator)."""
    import keras

    _moved_modules(assumptions)
    _dropped_names(keras, assumptions)
    _legacy_preprocessing(assumptions)
    _loss_aliases(keras, assumptions)
    _backend_functions(keras, assumptions)
    _fit_names(keras, assumptions)

    for name, renames in RENAMES.items():
        cls = getattr(keras.layers, name, None) or getattr(keras.optimizers, name, None)
        if cls is None or getattr(cls.__init__, "_actlint_legacy", False):
            continue
        original = cls.__init__

        @functools.wraps(original)
        def init(self, *args, _original=original, _renames=renames, _name=name, **kwargs):
            args = _legacy_kernel(_name, args, assumptions)
            for old, new in _renames.items():
                if old in kwargs and new not in kwargs:
                    kwargs[new] = kwargs.pop(old)
                    _note(assumptions, ASSUMPTION)
            if _name in POOL_SIZES and not args and "pool_size" not in kwargs:  # Keras 2's default pool
                kwargs["pool_size"] = POOL_SIZES[_name]
                _note(assumptions, POOL_ASSUMPTION)
            if _name == "Embedding" and kwargs.get("input_length") and "input_shape" not in kwargs:
                kwargs["input_shape"] = (kwargs.pop("input_length"),)  # Keras 2: the sequence length it takes
                _note(assumptions, EMBEDDING_ASSUMPTION)
            if "batch_input_shape" in kwargs and "input_shape" not in kwargs:  # the batch is the verifier's
                kwargs["input_shape"] = tuple(kwargs.pop("batch_input_shape"))[1:]
                _note(assumptions, ASSUMPTION)
            for key in [k for k in kwargs if k.endswith("_initializer")]:
                kwargs[key] = _without_dtype(kwargs[key], assumptions)
            _original(self, *args, **kwargs)

        init.__signature__ = inspect.signature(original)  # Keras reads the constructor's argument names
        init._actlint_legacy = True
        cls.__init__ = init
    if not hasattr(keras, "initializations"):
        _initializations_module()
    if not hasattr(keras.backend, "int_shape"):  # Keras 2's K.int_shape(x): the static shape, batch None
        def int_shape(x):
            _note(assumptions, INT_SHAPE_ASSUMPTION)
            return tuple(x.shape)

        keras.backend.int_shape = int_shape


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
            _note(assumptions, ASSUMPTION)
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

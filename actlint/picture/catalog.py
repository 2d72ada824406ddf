"""What framework names mean to the picture: layer kinds, activations, losses, initialisers, seeds.

Every table is keyed by canonical qualified names (see :func:`actlint.names.canonical`),
so ``tf.keras.layers.Dense`` and ``keras.layers.Dense`` are one entry.
"""

from __future__ import annotations

from dataclasses import dataclass

# Layer kinds.  "neutral" kinds neither compute features nor break a chain.
LEARNED, ACTIVATION, NORM, DROPOUT, POOL, RESHAPE = "learned", "activation", "norm", "dropout", "pool", "reshape"
RECURRENT, ATTENTION, EMBEDDING, UNKNOWN, MERGE, AFFINE, LOG = (
    "recurrent", "attention", "embedding", "unknown", "merge", "affine", "log")
NEUTRAL_KINDS = frozenset({NORM, DROPOUT, POOL, RESHAPE, AFFINE})
# Ops a log looks through to the probability it takes (``log(clamp(p, eps, 1))``, ``log(where(t, p, 1 - p))``),
# and the parts of a softmax or sigmoid written by hand (``x.exp() / x.exp().sum(-1)``).
CLAMP, SELECT, EXP, REDUCE = "clamp", "select", "exp", "reduce"

SATURATING = frozenset({"sigmoid", "hardsigmoid", "tanh"})
RELU_FAMILY = frozenset({"relu", "relu6", "leaky_relu", "prelu", "rrelu", "elu", "selu", "celu", "gelu",
                         "silu", "mish", "hardswish", "softplus"})
UNBOUNDED_OUTPUT = frozenset({"relu", "relu6", "leaky_relu", "prelu", "rrelu", "elu", "selu", "celu", "gelu",
                              "silu", "mish", "hardswish", "softplus", "tanh", "linear"})

_TORCH_ACTIVATION_MODULES = {
    "Sigmoid": "sigmoid", "Hardsigmoid": "hardsigmoid", "Tanh": "tanh", "ReLU": "relu", "ReLU6": "relu6",
    "LeakyReLU": "leaky_relu", "PReLU": "prelu", "RReLU": "rrelu", "ELU": "elu", "SELU": "selu", "CELU": "celu",
    "GELU": "gelu", "SiLU": "silu", "Mish": "mish", "Softplus": "softplus", "Hardswish": "hardswish",
    "Hardtanh": "hardtanh", "Softsign": "softsign", "Tanhshrink": "tanhshrink", "LogSigmoid": "logsigmoid",
    "Softmax": "softmax", "LogSoftmax": "log_softmax", "Softmin": "softmin", "Softmax2d": "softmax",
    "GLU": "glu", "Threshold": "threshold",
}
_TORCH_KIND_MODULES = {
    LEARNED: ("Linear", "LazyLinear", "Bilinear", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
              "ConvTranspose3d", "LazyConv1d", "LazyConv2d", "LazyConv3d"),
    EMBEDDING: ("Embedding", "EmbeddingBag"),
    RECURRENT: ("LSTM", "GRU", "RNN", "LSTMCell", "GRUCell", "RNNCell"),
    ATTENTION: ("MultiheadAttention", "Transformer", "TransformerEncoder", "TransformerDecoder",
                "TransformerEncoderLayer", "TransformerDecoderLayer"),
    NORM: ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LayerNorm", "GroupNorm", "InstanceNorm1d",
           "InstanceNorm2d", "InstanceNorm3d", "LocalResponseNorm", "RMSNorm", "SyncBatchNorm",
           "LazyBatchNorm1d", "LazyBatchNorm2d"),
    DROPOUT: ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"),
    POOL: ("MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d", "AdaptiveAvgPool1d",
           "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "LPPool2d"),
    RESHAPE: ("Flatten", "Unflatten", "Identity", "Upsample", "PixelShuffle", "ZeroPad2d", "ConstantPad2d"),
}

TORCH_MODULES: dict[str, tuple[str, str]] = {}
for _name, _fn in _TORCH_ACTIVATION_MODULES.items():
    TORCH_MODULES[f"torch.nn.{_name}"] = (ACTIVATION, _fn)
for _kind, _names in _TORCH_KIND_MODULES.items():
    for _name in _names:
        TORCH_MODULES[f"torch.nn.{_name}"] = (_kind, _name.lower())

TORCH_CONTAINERS = {"torch.nn.Sequential": "sequential", "torch.nn.ModuleList": "list", "torch.nn.ModuleDict": "dict"}
TORCH_MODULE_BASES = frozenset({"torch.nn.Module", "torch.nn.modules.module.Module", "torch.nn.Sequential",
                                "lightning.LightningModule", "pytorch_lightning.LightningModule",
                                "lightning.pytorch.LightningModule"})

_ACT_FUNCS = {
    "sigmoid": "sigmoid", "tanh": "tanh", "relu": "relu", "relu6": "relu6", "leaky_relu": "leaky_relu",
    "elu": "elu", "selu": "selu", "celu": "celu", "gelu": "gelu", "silu": "silu", "mish": "mish",
    "softplus": "softplus", "hardswish": "hardswish", "hardsigmoid": "hardsigmoid", "hardtanh": "hardtanh",
    "softmax": "softmax", "log_softmax": "log_softmax", "softmin": "softmin", "logsigmoid": "logsigmoid",
    "softsign": "softsign", "prelu": "prelu", "rrelu": "rrelu", "glu": "glu",
}
TORCH_FUNCTIONS: dict[str, tuple[str, str]] = {}
for _name, _fn in _ACT_FUNCS.items():
    TORCH_FUNCTIONS[f"torch.nn.functional.{_name}"] = (ACTIVATION, _fn)
    TORCH_FUNCTIONS[f"torch.{_name}"] = (ACTIVATION, _fn)
TORCH_FUNCTIONS.update({
    "torch.special.expit": (ACTIVATION, "sigmoid"),
    "torch.special.softmax": (ACTIVATION, "softmax"),
    "torch.special.log_softmax": (ACTIVATION, "log_softmax"),
    "torch.nn.functional.linear": (LEARNED, "linear"),
    "torch.nn.functional.conv1d": (LEARNED, "conv1d"),
    "torch.nn.functional.conv2d": (LEARNED, "conv2d"),
    "torch.nn.functional.conv3d": (LEARNED, "conv3d"),
    "torch.nn.functional.dropout": (DROPOUT, "dropout"),
    "torch.nn.functional.layer_norm": (NORM, "layer_norm"),
    "torch.nn.functional.batch_norm": (NORM, "batch_norm"),
    "torch.nn.functional.normalize": (NORM, "normalize"),
    "torch.nn.functional.max_pool2d": (POOL, "max_pool2d"),
    "torch.nn.functional.avg_pool2d": (POOL, "avg_pool2d"),
    "torch.nn.functional.adaptive_avg_pool2d": (POOL, "adaptive_avg_pool2d"),
    "torch.flatten": (RESHAPE, "flatten"),
    "torch.reshape": (RESHAPE, "reshape"),
    "torch.squeeze": (RESHAPE, "squeeze"),
    "torch.unsqueeze": (RESHAPE, "unsqueeze"),
    "torch.log": (LOG, "log"),
    "torch.log2": (LOG, "log"),
    "torch.log10": (LOG, "log"),
    "torch.cat": (MERGE, "cat"),
    "torch.stack": (MERGE, "stack"),
    "torch.matmul": (MERGE, "matmul"),
    "torch.bmm": (MERGE, "bmm"),
    "torch.einsum": (MERGE, "einsum"),
    "torch.where": (MERGE, "where"),
    "torch.mul": (MERGE, "mul"),
    "torch.add": (MERGE, "add"),
})

# Tensor methods (``x.sigmoid()``): the ones that keep the data's meaning, or apply an activation.
TENSOR_METHODS: dict[str, tuple[str, str]] = {}
for _name, _fn in _ACT_FUNCS.items():
    if _name in ("sigmoid", "tanh", "relu", "softmax", "log_softmax", "softmin"):
        TENSOR_METHODS[_name] = (ACTIVATION, _fn)
        TENSOR_METHODS[_name + "_"] = (ACTIVATION, _fn)
for _name in ("view", "reshape", "flatten", "squeeze", "unsqueeze", "permute", "transpose", "contiguous",
              "float", "double", "half", "to", "cuda", "cpu", "detach", "clone", "view_as", "reshape_as",
              "expand", "expand_as", "repeat", "type", "type_as", "chunk", "split", "unbind", "t", "squeeze_",
              "unsqueeze_", "narrow", "flip", "roll", "bfloat16", "unflatten"):
    TENSOR_METHODS[_name] = (RESHAPE, _name)
# Neutral reshaping ops that keep every dimension as it is (dtype, device, copies): a unit
# count read back through them still holds.  Others (view, squeeze, permute, ...) may move
# or fold the unit dimension, so a count read through them is unknown.
SHAPE_KEEPING = frozenset({"contiguous", "float", "double", "half", "bfloat16", "to", "cuda", "cpu", "detach",
                           "clone", "type", "type_as", "flip", "roll", "Identity", "linear"})
TENSOR_METHODS.update({"log": (LOG, "log"), "log_": (LOG, "log"), "log2": (LOG, "log"), "log10": (LOG, "log")})
TENSOR_METHODS.update({name: (CLAMP, "clamp") for name in ("clamp", "clamp_", "clip", "clip_", "clamp_min",
                                                            "clamp_max", "clamp_min_", "clamp_max_")})
TENSOR_METHODS.update({"exp": (EXP, "exp"), "exp_": (EXP, "exp"), "sum": (REDUCE, "sum")})
TORCH_FUNCTIONS.update({"torch.clamp": (CLAMP, "clamp"), "torch.clip": (CLAMP, "clamp"),
                        "torch.clamp_min": (CLAMP, "clamp"), "torch.clamp_max": (CLAMP, "clamp"),
                        "torch.exp": (EXP, "exp"), "torch.sum": (REDUCE, "sum")})

KERAS_MODEL_BASES = frozenset({"keras.Model", "keras.models.Model", "keras.layers.Layer", "keras.Layer",
                               "keras.engine.training.Model"})
KERAS_SEQUENTIAL = frozenset({"keras.Sequential", "keras.models.Sequential"})
KERAS_FUNCTIONAL_MODEL = frozenset({"keras.Model", "keras.models.Model"})
# scikit-learn estimators around a Keras model builder: their ``fit`` (or a scikit-learn function given
# them) trains the model ``build_fn`` / ``model`` makes.
KERAS_ESTIMATORS = frozenset({f"keras.wrappers.scikit_learn.Keras{k}" for k in ("Classifier", "Regressor")}
                             | {f"scikeras.wrappers.Keras{k}" for k in ("Classifier", "Regressor")}
                             | {f"keras.wrappers.SKLearn{k}" for k in ("Classifier", "Regressor")})
# scikit-learn functions that fit the estimator they are given.
SKLEARN_FITTING = frozenset({f"sklearn.model_selection.{f}" for f in (
    "cross_val_score", "cross_validate", "cross_val_predict", "learning_curve", "validation_curve",
    "permutation_test_score")})
KERAS_INPUT = frozenset({"keras.Input", "keras.layers.Input", "keras.layers.InputLayer"})

_KERAS_KIND_LAYERS = {
    LEARNED: ("Dense", "EinsumDense", "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose",
              "Conv3DTranspose", "SeparableConv1D", "SeparableConv2D", "DepthwiseConv1D", "DepthwiseConv2D",
              "Convolution1D", "Convolution2D", "Convolution3D", "LocallyConnected1D", "LocallyConnected2D"),
    EMBEDDING: ("Embedding",),
    RECURRENT: ("LSTM", "GRU", "SimpleRNN", "Bidirectional", "ConvLSTM1D", "ConvLSTM2D", "RNN", "LSTMCell",
                "GRUCell", "TimeDistributed"),
    ATTENTION: ("MultiHeadAttention", "Attention", "AdditiveAttention", "GroupQueryAttention"),
    NORM: ("BatchNormalization", "LayerNormalization", "GroupNormalization", "UnitNormalization",
           "Normalization", "SpectralNormalization"),
    DROPOUT: ("Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
              "GaussianDropout", "AlphaDropout", "ActivityRegularization"),
    POOL: ("MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D",
           "AveragePooling3D", "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
           "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D", "MaxPool1D", "MaxPool2D",
           "AvgPool1D", "AvgPool2D", "GlobalAvgPool2D", "GlobalMaxPool2D", "GlobalAvgPool1D"),
    RESHAPE: ("Flatten", "Reshape", "Permute", "RepeatVector", "Cropping1D", "Cropping2D", "ZeroPadding1D",
              "ZeroPadding2D", "UpSampling1D", "UpSampling2D", "Rescaling", "Resizing", "CenterCrop",
              "Identity", "Masking"),
}
KERAS_LAYERS: dict[str, tuple[str, str]] = {}
for _kind, _names in _KERAS_KIND_LAYERS.items():
    for _name in _names:
        KERAS_LAYERS[f"keras.layers.{_name}"] = (_kind, _name.lower())
KERAS_ACTIVATION_LAYERS = {"ReLU": "relu", "LeakyReLU": "leaky_relu", "PReLU": "prelu", "ELU": "elu",
                           "Softmax": "softmax", "ThresholdedReLU": "relu"}
for _name, _fn in KERAS_ACTIVATION_LAYERS.items():
    KERAS_LAYERS[f"keras.layers.{_name}"] = (ACTIVATION, _fn)
KERAS_MERGE_LAYERS = frozenset(f"keras.layers.{n}" for n in (
    "Add", "Multiply", "Concatenate", "Average", "Maximum", "Minimum", "Subtract", "Dot", "add", "multiply",
    "concatenate", "average", "maximum", "minimum", "subtract", "dot"))
# Layers whose ``activation=`` argument names an activation applied after the learned part.
KERAS_ACTIVATION_ARG = frozenset(f"keras.layers.{n}" for n in _KERAS_KIND_LAYERS[LEARNED])

KERAS_ACTIVATION_NAMES = {
    "relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh", "softmax": "softmax", "linear": "linear",
    "elu": "elu", "selu": "selu", "gelu": "gelu", "swish": "silu", "silu": "silu", "softplus": "softplus",
    "softsign": "softsign", "hard_sigmoid": "hardsigmoid", "hard_silu": "hardswish", "hard_swish": "hardswish",
    "leaky_relu": "leaky_relu", "relu6": "relu6", "exponential": "exponential", "log_softmax": "log_softmax",
    "mish": "mish", "celu": "celu",
}


def keras_activation_name(qualname: str | None) -> str | None:
    """``tf.nn.relu`` / ``keras.activations.relu`` -> ``relu``."""
    if not qualname:
        return None
    for prefix in ("keras.activations.", "tensorflow.nn.", "tensorflow.math.", "tensorflow.", "keras.ops.",
                   "keras.backend."):
        if qualname.startswith(prefix):
            return KERAS_ACTIVATION_NAMES.get(qualname[len(prefix):])
    return None


TF_FUNCTIONS: dict[str, tuple[str, str]] = {
    "tensorflow.nn.softmax": (ACTIVATION, "softmax"),
    "tensorflow.math.softmax": (ACTIVATION, "softmax"),
    "tensorflow.nn.log_softmax": (ACTIVATION, "log_softmax"),
    "tensorflow.nn.sigmoid": (ACTIVATION, "sigmoid"),
    "tensorflow.math.sigmoid": (ACTIVATION, "sigmoid"),
    "tensorflow.sigmoid": (ACTIVATION, "sigmoid"),
    "tensorflow.nn.tanh": (ACTIVATION, "tanh"),
    "tensorflow.math.tanh": (ACTIVATION, "tanh"),
    "tensorflow.tanh": (ACTIVATION, "tanh"),
    "tensorflow.nn.relu": (ACTIVATION, "relu"),
    "tensorflow.math.log": (LOG, "log"),
    "tensorflow.log": (LOG, "log"),
    "keras.ops.log": (LOG, "log"),
    "keras.ops.softmax": (ACTIVATION, "softmax"),
    "keras.ops.sigmoid": (ACTIVATION, "sigmoid"),
    "keras.activations.softmax": (ACTIVATION, "softmax"),
    "keras.activations.sigmoid": (ACTIVATION, "sigmoid"),
    "keras.activations.tanh": (ACTIVATION, "tanh"),
    "keras.activations.relu": (ACTIVATION, "relu"),
    "tensorflow.concat": (MERGE, "concat"),
    "tensorflow.matmul": (MERGE, "matmul"),
    "tensorflow.reshape": (RESHAPE, "reshape"),
}


# Learned tensors made by hand, and the products that make a layer of them (``tf.matmul(x, w) + b``).
LEARNED_TENSORS = frozenset({"torch.nn.Parameter", "torch.nn.parameter.Parameter", "tensorflow.Variable",
                             "tensorflow.get_variable", "tensorflow.compat.v1.get_variable",
                             "tensorflow.compat.v1.Variable"})
PRODUCTS = frozenset({"matmul", "mm", "bmm", "dot"})
# Functions that add a bias or scale: with a learned tensor or a number, the data keeps its meaning.
BIAS_FUNCTIONS = frozenset({"add", "bias_add", "mul", "multiply"})
# TensorFlow 1's functional layers (``tf.layers.dense(x, 64, activation=tf.nn.relu)``): the Keras layer each
# builds, and the name of its activation argument (tf.contrib's layers apply a ReLU unless told otherwise).
TF1_LAYERS = {}
for _prefix in ("tensorflow.layers.", "tensorflow.compat.v1.layers."):
    for _name, _layer in (("dense", "Dense"), ("conv1d", "Conv1D"), ("conv2d", "Conv2D"), ("conv3d", "Conv3D"),
                          ("conv2d_transpose", "Conv2DTranspose"), ("dropout", "Dropout"),
                          ("batch_normalization", "BatchNormalization"), ("max_pooling2d", "MaxPooling2D"),
                          ("average_pooling2d", "AveragePooling2D"), ("flatten", "Flatten")):
        TF1_LAYERS[_prefix + _name] = (f"keras.layers.{_layer}", "activation", None)
for _name, _layer in (("fully_connected", "Dense"), ("conv2d", "Conv2D"), ("convolution2d", "Conv2D")):
    TF1_LAYERS[f"tensorflow.contrib.layers.{_name}"] = (f"keras.layers.{_layer}", "activation_fn", "relu")
for _name, _layer in (("dropout", "Dropout"), ("batch_norm", "BatchNormalization"), ("flatten", "Flatten"),
                      ("max_pool2d", "MaxPooling2D")):
    TF1_LAYERS[f"tensorflow.contrib.layers.{_name}"] = (f"keras.layers.{_layer}", "", None)
TF_FUNCTIONS.update({
    "tensorflow.linalg.matmul": (MERGE, "matmul"),
    "keras.ops.matmul": (MERGE, "matmul"),
    "tensorflow.add": (MERGE, "add"),
    "tensorflow.math.add": (MERGE, "add"),
    "tensorflow.nn.bias_add": (MERGE, "bias_add"),
    "tensorflow.multiply": (MERGE, "multiply"),
    "tensorflow.math.multiply": (MERGE, "multiply"),
    "tensorflow.nn.relu6": (ACTIVATION, "relu6"),
    "tensorflow.nn.elu": (ACTIVATION, "elu"),
    "tensorflow.nn.leaky_relu": (ACTIVATION, "leaky_relu"),
    "tensorflow.nn.selu": (ACTIVATION, "selu"),
    "tensorflow.nn.gelu": (ACTIVATION, "gelu"),
    "tensorflow.nn.silu": (ACTIVATION, "silu"),
    "tensorflow.nn.swish": (ACTIVATION, "silu"),
    "tensorflow.nn.softplus": (ACTIVATION, "softplus"),
    "tensorflow.nn.dropout": (DROPOUT, "dropout"),
    "tensorflow.clip_by_value": (CLAMP, "clamp"),
    "keras.ops.clip": (CLAMP, "clamp"),
    "tensorflow.exp": (EXP, "exp"),
    "tensorflow.math.exp": (EXP, "exp"),
    "keras.ops.exp": (EXP, "exp"),
    "tensorflow.reduce_sum": (REDUCE, "sum"),
    "tensorflow.math.reduce_sum": (REDUCE, "sum"),
    "keras.ops.sum": (REDUCE, "sum"),
    "tensorflow.where": (MERGE, "where"),
    "keras.ops.where": (MERGE, "where"),
})
TORCH_FUNCTIONS["torch.mm"] = (MERGE, "mm")


@dataclass(frozen=True)
class LossSpec:
    """What a loss expects of its input."""

    label: str      # how messages name it: "CrossEntropyLoss", "'binary_crossentropy'"
    family: str     # categorical | binary | nll | regression | other
    expects: str    # logits | probs | log_probs | any
    framework: str  # torch | keras


_TORCH_LOSS_CLASSES = {
    "CrossEntropyLoss": ("categorical", "logits"),
    "NLLLoss": ("nll", "log_probs"),
    "BCELoss": ("binary", "probs"),
    "BCEWithLogitsLoss": ("binary", "logits"),
    "MultiLabelSoftMarginLoss": ("binary", "logits"),
    "MSELoss": ("regression", "any"), "L1Loss": ("regression", "any"), "SmoothL1Loss": ("regression", "any"),
    "HuberLoss": ("regression", "any"), "KLDivLoss": ("other", "log_probs"),
}
TORCH_LOSS_CLASSES = {f"torch.nn.{k}": LossSpec(k, f, e, "torch") for k, (f, e) in _TORCH_LOSS_CLASSES.items()}
TORCH_LOSS_FUNCTIONS = {
    "torch.nn.functional.cross_entropy": LossSpec("F.cross_entropy", "categorical", "logits", "torch"),
    "torch.nn.functional.nll_loss": LossSpec("F.nll_loss", "nll", "log_probs", "torch"),
    "torch.nn.functional.binary_cross_entropy": LossSpec("F.binary_cross_entropy", "binary", "probs", "torch"),
    "torch.nn.functional.binary_cross_entropy_with_logits":
        LossSpec("F.binary_cross_entropy_with_logits", "binary", "logits", "torch"),
    "torch.nn.functional.mse_loss": LossSpec("F.mse_loss", "regression", "any", "torch"),
    "torch.nn.functional.l1_loss": LossSpec("F.l1_loss", "regression", "any", "torch"),
}

KERAS_LOSS_NAMES = {
    "categorical_crossentropy": "categorical", "sparse_categorical_crossentropy": "categorical",
    "binary_crossentropy": "binary", "binary_focal_crossentropy": "binary",
    "categorical_focal_crossentropy": "categorical",
    "mse": "regression", "mean_squared_error": "regression", "mae": "regression", "mean_absolute_error": "regression",
    "huber": "regression", "logcosh": "regression", "kld": "other", "kl_divergence": "other", "hinge": "other",
    "poisson": "other", "cosine_similarity": "other",
}
KERAS_LOSS_CLASSES = {
    "CategoricalCrossentropy": "categorical_crossentropy",
    "SparseCategoricalCrossentropy": "sparse_categorical_crossentropy",
    "BinaryCrossentropy": "binary_crossentropy", "BinaryFocalCrossentropy": "binary_focal_crossentropy",
    "CategoricalFocalCrossentropy": "categorical_focal_crossentropy", "MeanSquaredError": "mse",
    "MeanAbsoluteError": "mae", "Huber": "huber", "KLDivergence": "kld",
}
TF_LOGIT_LOSSES = {
    "tensorflow.nn.softmax_cross_entropy_with_logits": "categorical",
    "tensorflow.nn.sparse_softmax_cross_entropy_with_logits": "categorical",
    "tensorflow.nn.sigmoid_cross_entropy_with_logits": "binary",
}


def keras_loss_spec(name: str, from_logits: bool) -> LossSpec | None:
    family = KERAS_LOSS_NAMES.get(name)
    if family is None:
        return None
    if family in ("categorical", "binary"):
        return LossSpec(f"'{name}'" + (" with from_logits=True" if from_logits else ""), family,
                        "logits" if from_logits else "probs", "keras")
    return LossSpec(f"'{name}'", family, "any", "keras")


TORCH_INITS = {
    "torch.nn.init.xavier_uniform_": "xavier", "torch.nn.init.xavier_normal_": "xavier",
    "torch.nn.init.xavier_uniform": "xavier", "torch.nn.init.xavier_normal": "xavier",
    "torch.nn.init.kaiming_uniform_": "kaiming", "torch.nn.init.kaiming_normal_": "kaiming",
    "torch.nn.init.kaiming_uniform": "kaiming", "torch.nn.init.kaiming_normal": "kaiming",
}
KERAS_INIT_NAMES = {"glorot_uniform": "xavier", "glorot_normal": "xavier", "he_uniform": "kaiming",
                    "he_normal": "kaiming"}
KERAS_INIT_CLASSES = {f"keras.initializers.{c}": k for c, k in (
    ("GlorotUniform", "xavier"), ("GlorotNormal", "xavier"), ("HeUniform", "kaiming"), ("HeNormal", "kaiming"),
    ("glorot_uniform", "xavier"), ("glorot_normal", "xavier"), ("he_uniform", "kaiming"), ("he_normal", "kaiming"))}

FRAMEWORK_SEEDS = frozenset({
    "torch.manual_seed", "torch.cuda.manual_seed", "torch.cuda.manual_seed_all", "torch.random.manual_seed",
    "torch.seed", "tensorflow.random.set_seed", "tensorflow.set_random_seed", "tensorflow.compat.v1.set_random_seed",
    "keras.utils.set_random_seed", "keras.random.set_seed", "lightning.seed_everything",
    "pytorch_lightning.seed_everything", "lightning.pytorch.seed_everything",
    "lightning.fabric.utilities.seed.seed_everything", "lightning_fabric.utilities.seed.seed_everything",
    "pytorch_lightning.utilities.seed.seed_everything", "transformers.set_seed", "transformers.enable_full_determinism",
    "accelerate.utils.set_seed", "jax.random.PRNGKey", "jax.random.key",
})
OTHER_SEEDS = frozenset({"random.seed", "numpy.random.seed", "numpy.random.default_rng", "numpy.random.RandomState"})

# Contexts and decorators under which no gradient is recorded.
TORCH_NO_GRAD = frozenset({"torch.no_grad", "torch.inference_mode", "torch.autograd.no_grad",
                           "torch.autograd.grad_mode.no_grad", "torch.autograd.grad_mode.inference_mode"})

# Where a file's randomness comes from (ACT107: a file with none of these has nothing to seed).
RANDOM_CALLS = frozenset(
    {f"torch.{n}" for n in ("rand", "randn", "randint", "randperm", "normal", "bernoulli", "multinomial", "poisson",
                            "rand_like", "randn_like", "randint_like")}
    | {q for q, (kind, _) in TORCH_MODULES.items() if kind in (LEARNED, EMBEDDING, RECURRENT, ATTENTION, DROPOUT)}
    | {"torch.utils.data.DataLoader", "torch.utils.data.random_split", "torch.utils.data.RandomSampler",
       "torch.nn.functional.dropout", "torch.nn.functional.dropout2d", "torch.nn.functional.alpha_dropout",
       "tensorflow.get_variable", "tensorflow.compat.v1.get_variable", "tensorflow.truncated_normal",
       "tensorflow.random_normal", "tensorflow.random_uniform", "tensorflow.nn.dropout"})
RANDOM_PREFIXES = ("torch.nn.init.", "numpy.random.", "tensorflow.random.", "tensorflow.layers.",
                   "tensorflow.compat.v1.layers.", "tensorflow.contrib.", "tensorflow.initializers.", "keras.",
                   "jax.random.", "random.")
RANDOM_METHODS = frozenset({"normal_", "uniform_", "random_", "bernoulli_", "exponential_", "geometric_",
                            "cauchy_", "log_normal_", "shuffle"})

"""``tf.keras`` code without TensorFlow: run it on Keras 3 (torch backend) through a ``tensorflow`` shim.

The parent decides statically (:func:`real_tensorflow_use`) whether the source the model needs
uses only the Keras API through ``tensorflow.keras`` / ``tf.keras`` plus the few ``tf.*`` calls
with a Keras 3 equivalent (``tf.random.set_seed``, ``tf.nn.relu``/``softmax``/…, ``tf.float32``);
anything else (``tf.Variable``, ``tf.GradientTape``, ``tf.Session``, ``tf.data``…) needs real
TensorFlow.  The child (only when TensorFlow is not installed) calls :func:`install`, which puts a
small ``tensorflow`` module exposing ``keras`` and those calls into ``sys.modules``.
Importing this module imports no framework.
"""

from __future__ import annotations

import ast
import sys
import types

ASSUMPTION = "tf.keras run as Keras 3 (torch backend): TensorFlow is not installed"
_ACTIVATIONS = ("relu", "relu6", "softmax", "log_softmax", "sigmoid", "tanh", "elu", "selu", "softplus",
                "softsign", "gelu", "silu", "swish", "leaky_relu", "hard_sigmoid")
_DTYPES = ("float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool")
ALLOWED = frozenset({"random.set_seed", "keras"} | {f"nn.{a}" for a in _ACTIVATIONS}
                    | {f"math.{a}" for a in ("sigmoid", "tanh", "softplus")} | {"sigmoid", "tanh"}
                    | set(_DTYPES))
READER = "tensorflow.examples.tutorials.mnist"  # TF 1's tutorial MNIST reader: a stand-in (trace/tf1_mnist.py)


def _reader(name: str) -> bool:
    return name == READER or name.startswith(READER + ".")


def _tf_names(tree: ast.Module) -> tuple[set[str], list[tuple[str, int]]]:
    """Names bound to the ``tensorflow`` module, and the uses its imports already show as real TF."""
    names, real = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name == "tensorflow" or (a.name.startswith("tensorflow.") and not a.asname):
                    names.add(a.asname or "tensorflow")
                elif a.name.startswith("tensorflow.") and not a.name.startswith("tensorflow.keras") and \
                        not _reader(a.name):
                    real.append((a.name, node.lineno))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            mod = node.module
            if mod == "tensorflow":
                for a in node.names:
                    if a.name not in ("keras", "nn", "random", "math") and a.name.split(".")[0] not in _DTYPES:
                        real.append((f"tensorflow.{a.name}", node.lineno))
            elif mod.startswith("tensorflow.") and not (mod == "tensorflow.keras" or mod.startswith("tensorflow.keras.")
                                                        or _reader(mod) or _reader(f"{mod}.{node.names[0].name}")):
                real.append((mod, node.lineno))
    return names, real


def _dotted(expr: ast.AST) -> str | None:
    parts = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if not isinstance(expr, ast.Name):
        return None
    parts.append(expr.id)
    return ".".join(reversed(parts))


def real_tensorflow_use(source: str) -> tuple[str, int] | None:
    """The first use of TensorFlow beyond its Keras API in ``source`` (``("tf.Variable", 12)``), or None."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    names, real = _tf_names(tree)
    inner = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and id(node) not in inner:
            dotted = _dotted(node)
            if not dotted:
                continue
            head, _, rest = dotted.partition(".")
            if head in names and not (rest == "keras" or rest.startswith("keras.") or rest in ALLOWED
                                      or _reader(f"tensorflow.{rest}")):
                real.append((dotted, node.lineno))
        elif isinstance(node, ast.Name) and node.id in names and isinstance(node.ctx, ast.Load):
            if not any(isinstance(p, ast.Attribute) and p.value is node for p in ast.walk(tree)):
                real.append((node.id, node.lineno))  # the module itself passed around
    return min(real, key=lambda r: r[1]) if real else None


def _module(name: str, **attrs) -> types.ModuleType:
    mod = types.ModuleType(name)
    mod.__dict__.update(attrs)
    mod.__actlint_alias__ = True
    sys.modules[name] = mod
    return mod


def _unnamed(fn):
    """TF's functions take ``name=``; Keras ops do not."""
    def call(*args, name=None, **kwargs):
        return fn(*args, **kwargs)
    return call


def _set_seed(seed, *_args, **_kwargs) -> None:
    """``tf.random.set_seed`` as ``keras.utils.set_random_seed`` (which would call back into the shim)."""
    import keras

    shim = sys.modules.pop("tensorflow", None)
    try:
        keras.utils.set_random_seed(int(seed))
    finally:
        if shim is not None:
            sys.modules["tensorflow"] = shim


def install() -> None:
    """Put the ``tensorflow`` shim (``keras`` + the aliased calls) into ``sys.modules``."""
    import keras
    from keras import ops

    try:  # Keras asks lazily whether TensorFlow exists; it must never take this shim for it
        from keras.src.utils import module_utils

        module_utils.tensorflow._available, module_utils.tensorflow.module = False, None
    except (ImportError, AttributeError):  # another Keras layout: _set_seed still hides the shim
        pass
    acts = {a: _unnamed(getattr(ops, a)) for a in _ACTIVATIONS if hasattr(ops, a) and a != "leaky_relu"}
    acts["leaky_relu"] = _unnamed(lambda x, alpha=0.2: ops.leaky_relu(x, negative_slope=alpha))
    acts["swish"] = acts.get("silu", acts.get("swish"))
    nn = _module("tensorflow.nn", **acts)
    random = _module("tensorflow.random", set_seed=_set_seed)
    math = _module("tensorflow.math", sigmoid=acts["sigmoid"], tanh=acts["tanh"], softplus=acts["softplus"])
    tf = _module("tensorflow", keras=keras, nn=nn, random=random, math=math, sigmoid=acts["sigmoid"],
                 tanh=acts["tanh"], __version__="2.99.0-keras3-alias", **{d: d for d in _DTYPES})
    tf.__path__ = []  # a package, so that ``import tensorflow.keras`` resolves through sys.modules
    from actlint.verify.trace import tf1_mnist

    reader = tf1_mnist.modules()
    sys.modules.update(reader)
    tf.examples = reader["tensorflow.examples"]
    sys.modules["tensorflow.keras"] = keras
    for name in dir(keras):
        sub = getattr(keras, name)
        if isinstance(sub, types.ModuleType):
            sys.modules[f"tensorflow.keras.{name}"] = sub
            for inner in dir(sub):  # tensorflow.keras.layers.experimental and the like are not aliased
                leaf = getattr(sub, inner, None)
                if isinstance(leaf, types.ModuleType) and leaf.__name__.startswith("keras"):
                    sys.modules.setdefault(f"tensorflow.keras.{name}.{inner}", leaf)

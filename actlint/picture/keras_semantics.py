"""What Keras and TensorFlow names mean to the flow: models, layers, activations, losses, compile and fit.

The evaluator (:mod:`actlint.picture.flow`) hands every call whose qualified name
starts with one of :data:`PREFIXES` to :func:`call`, and every method call to
:func:`method`; both receive the evaluator to evaluate arguments and to record
what they find in its picture.
"""

from __future__ import annotations

import libcst as cst

from actlint.picture import catalog as C
from actlint.picture.sites import InitSite, LossSite
from actlint.picture.syntax import call_arg, int_of, text
from actlint.picture.values import (UNKNOWN, Const, Criterion, Handle, Instance, KerasModel, Layer, LayerList, Op,
                                    Optimizer, Parameter, Tensor, TrainOp, Value, options)

FRAMEWORK = "keras"
PREFIXES = ("keras.", "tensorflow.")
# Other spellings of Keras, mapped onto ``keras.`` for every name a file imports (see actlint.names.canonical).
SPELLINGS = (
    ("tensorflow.python.keras.", "keras."),
    ("tensorflow.compat.v1.keras.", "keras."),
    ("tensorflow.compat.v2.keras.", "keras."),
    ("tensorflow.keras.", "keras."),
    ("tf_keras.", "keras."),
    ("keras.src.", "keras."),
    ("keras.api.", "keras."),
    ("keras._tf_keras.keras.", "keras."),
    ("keras.optimizers.legacy.", "keras.optimizers."),
)
# Packages whose submodules' classes are the package's own: ``keras.layers.core.Dense`` (old Keras),
# ``keras.layers.experimental.preprocessing.Rescaling`` and ``keras.layers.core.dense.Dense`` (the sources)
# are ``keras.layers.Dense``; ``keras.engine.training.Model`` is ``keras.Model``.
FLAT_PACKAGES = {
    "keras.layers.": "keras.layers.",
    "keras.engine.": "keras.",
    "keras.models.": "keras.models.",
    "keras.losses.": "keras.losses.",
    "keras.activations.": "keras.activations.",
    "keras.initializers.": "keras.initializers.",
    "keras.optimizers.": "keras.optimizers.",
}


def is_model_base(qual: str) -> bool:
    """Whether subclassing ``qual`` makes a Keras model (or layer)."""
    return qual in C.KERAS_MODEL_BASES or qual.startswith("keras.")


def call(flow, qual: str, node: cst.Call, scope) -> Value:
    """The value of a call to the Keras / TensorFlow object ``qual``."""
    if qual in C.LEARNED_TENSORS:
        flow.args(node, scope)
        return Parameter(node, "keras")
    if qual.startswith(("keras.optimizers.", "tensorflow.train.", "tensorflow.compat.v1.train.")) and \
            qual.rsplit(".", 1)[-1][:1].isupper() and "schedules" not in qual:
        flow.args(node, scope)
        return Optimizer(node, "keras" if qual.startswith("keras.") else "tf1")
    if qual in C.TF1_LAYERS:
        return _tf1_layer(flow, qual, node, scope)
    if qual in C.TF_FUNCTIONS:
        kind, fn = C.TF_FUNCTIONS[qual]
        return flow.function_op(qual, kind, fn, node, scope, "keras", "axis")
    if qual in C.KERAS_SEQUENTIAL:
        arg = call_arg(node, 0, "layers")
        items = flow.ev(arg.value, scope) if arg is not None else LayerList([])
        return flow.make_sequential(list(items.items) if isinstance(items, LayerList) else [], node, "keras")
    if qual in C.KERAS_FUNCTIONAL_MODEL:
        arg = call_arg(node, 1, "outputs")
        flow.args(node, scope)
        if arg is None:
            return UNKNOWN
        return KerasModel(flow.ev(arg.value, scope), node)
    if qual in C.KERAS_INPUT:
        flow.args(node, scope)
        return Tensor(origin="input")
    if qual == "keras.layers.Activation":
        arg = call_arg(node, 0, "activation")
        fn = _activation(flow, arg.value if arg else None, scope)
        flow.args(node, scope)
        if fn is None:
            return Layer([Op(C.UNKNOWN, "activation", node, "keras")], node=node, framework="keras")
        return Layer([Op(C.ACTIVATION if fn != "linear" else C.RESHAPE, fn, arg.value, "keras",
                         qual=qual, extra=_dtype(flow, node, scope))], node=node, framework="keras")
    if qual == "keras.layers.Lambda":
        arg = call_arg(node, 0, "function")
        fn = _activation(flow, arg.value if arg else None, scope)
        kind = C.ACTIVATION if fn and fn != "linear" else C.UNKNOWN
        return Layer([Op(kind, fn or "lambda", node, "keras", qual=qual)], node=node, framework="keras")
    if qual in C.KERAS_MERGE_LAYERS:
        flow.args(node, scope)
        return Layer([Op(C.MERGE, "merge", node, "keras", qual=qual)], node=node, framework="keras")
    if qual in C.KERAS_LAYERS:
        return _layer(flow, qual, node, scope)
    if qual.rsplit(".", 1)[-1] in ("set_global_policy", "set_policy") and "mixed_precision" in qual:
        flow.args(node, scope)
        # layers built from here on compute in the policy's dtype (a later "float32" policy ends it)
        flow.mixed_policy = "mixed_float16" in flow.index.code_for(node)  # a string or a Policy("mixed_float16")
        if flow.mixed_policy:
            flow.picture.mixed_precision = node
        return UNKNOWN
    if qual.startswith("keras.losses."):
        return _loss_object(flow, qual, node, scope)
    if qual in C.TF_LOGIT_LOSSES:
        logits = call_arg(node, 99, "logits")
        pred = flow.ev(logits.value, scope) if logits else UNKNOWN
        flow.args(node, scope)
        spec = C.LossSpec(qual.replace("tensorflow.", "tf."), C.TF_LOGIT_LOSSES[qual], "logits", "keras")
        flow.picture.loss_sites.append(LossSite(spec, node, node, pred))
        return Tensor(origin="opaque")
    args, _ = flow.args(node, scope)
    if qual.startswith(_DATA_TOOLS) and qual.rsplit(".", 1)[-1][:1].isupper():
        return Handle(qual)  # ``ImageDataGenerator().fit(x)`` computes statistics: it trains nothing
    if any(isinstance(a, Tensor) for a in args):
        return Tensor((Op(C.UNKNOWN, qual, node),), origin="opaque")
    return UNKNOWN


# Keras packages whose classes prepare data (their ``fit`` is not training).
_DATA_TOOLS = ("keras.preprocessing.", "keras.legacy.preprocessing.")


def method(flow, obj: Value, name: str, node: cst.Call, scope) -> Value | None:
    """``obj.name(...)`` where Keras gives it a meaning (fit, add, compile), else None."""
    if name in ("fit", "fit_generator", "train_on_batch") and (
            is_model(flow, obj) or (flow.fit_frameworks and not isinstance(obj, (Tensor, Const, Handle)))):
        flow.args(node, scope)
        flow.picture.trained.append(obj)
        flow.training(node, f"{text(flow.index, node.func)}(...)", _fit_framework(flow, obj))
        return Const(None)
    if name == "apply_gradients" and flow.gradient_frameworks and not isinstance(obj, (Tensor, Const)):
        # TF2's ``optimizer.apply_gradients(zip(grads, variables))`` after a GradientTape; flax's train state
        flow.args(node, scope)
        framework = "jax" if flow.index.bindings.imports_any("flax", "optax", "jax") and not \
            flow.index.bindings.imports_any("tensorflow", "keras") else "tensorflow"
        flow.training(node, f"{text(flow.index, node.func)}(...)", framework)
        return Const(None)
    if name == "minimize" and any(isinstance(o, Optimizer) and o.framework != "torch" for o in options(obj)):
        flow.args(node, scope)
        if any(o.framework == "tf1" for o in options(obj)):
            return TrainOp(node)  # trains when a session runs it
        flow.training(node, f"{text(flow.index, node.func)}(...)", "tensorflow")
        return Const(None)
    if name == "run":
        args, kwargs = flow.args(node, scope)
        fetched = [v for a in list(args[:1]) + [kwargs.get("fetches", UNKNOWN)] for o in options(a)
                   for v in (o.items if isinstance(o, LayerList) else [o])]
        if any(isinstance(v, TrainOp) for v in fetched):
            flow.training(node, f"{text(flow.index, node.func)}(...)", "tf1")
            return UNKNOWN
        return None
    if isinstance(obj, Layer) and obj.container == "keras-sequential" and name == "add":
        args, _ = flow.args(node, scope)
        if args:
            obj.parts.append(args[0])
        return Const(None)
    if name == "compile" and is_model(flow, obj):
        flow.picture.trained.append(obj)
        _compile(flow, obj, node, scope)
        return Const(None)
    return None


def _fit_framework(flow, obj: Value) -> str:
    """Whose seed a ``fit`` needs: a Keras model's (Keras 3 or tf.keras), else a Lightning trainer's."""
    if not is_model(flow, obj) and flow.index.bindings.imports_any("lightning", "pytorch_lightning") and not \
            flow.index.bindings.imports_any("keras", "tensorflow"):
        return "lightning"
    return "tensorflow" if flow.index.bindings.imports_any("tensorflow") else "keras"


def is_model(flow, obj: Value) -> bool:
    for o in options(obj):
        if isinstance(o, KerasModel) or (isinstance(o, Layer) and o.container == "keras-sequential"):
            return True
        if isinstance(o, Instance) and flow.framework_of(o.info) == "keras":
            return True
    return False


def _dtype(flow, node: cst.Call, scope) -> tuple:
    """The layer's own ``dtype=``, and the mixed-precision policy in force where it is built."""
    policy = (("policy", "mixed_float16"),) if flow.mixed_policy else ()
    arg = call_arg(node, 99, "dtype")
    if arg is None:
        return policy
    value = flow.ev(arg.value, scope)
    return (("dtype", value.value if isinstance(value, Const) else flow.resolve(arg.value)),) + policy


def _activation(flow, expr, scope) -> str | None:
    """The activation an ``activation=`` value names: a string, None, a function such as ``tf.nn.relu``, or a
    lambda that applies one to its argument (``lambda t: tf.nn.softmax(t)``)."""
    if expr is None:
        return None
    if type(expr) is cst.Lambda:
        params, call = expr.params.params, expr.body
        if len(params) == 1 and type(call) is cst.Call and call.args and type(call.args[0].value) is cst.Name \
                and call.args[0].value.value == params[0].name.value and call.args[0].keyword is None:
            return C.keras_activation_name(flow.resolve(call.func))
        return None
    value = flow.ev(expr, scope)
    if isinstance(value, Const):
        if value.value is None:
            return "linear"
        if isinstance(value.value, str):
            return C.KERAS_ACTIVATION_NAMES.get(value.value.lower())
    return C.keras_activation_name(flow.resolve(expr))


def _layer(flow, qual: str, node: cst.Call, scope) -> Layer:
    kind, fn = C.KERAS_LAYERS[qual]
    units = None
    if kind == C.LEARNED:
        units = int_of(flow.ev_arg(node, 0, "units" if "Dense" in qual else "filters", scope))
    dim = flow.arg_value(node, 0, "axis", scope) if fn == "softmax" else None
    op = Op(kind, fn, node, "keras", units=units, dim=None if dim == "missing" else dim, qual=qual,
            extra=_dtype(flow, node, scope) if kind == C.ACTIVATION else ())
    parts = [op]
    layer = Layer(parts, node=node, framework="keras")
    if qual in C.KERAS_ACTIVATION_ARG:
        act_arg = call_arg(node, 99, "activation")
        if act_arg is not None:
            act = _activation(flow, act_arg.value, scope)
            if act is None:
                parts.append(Op(C.UNKNOWN, "activation", act_arg.value, "keras"))
            elif act != "linear":
                parts.append(Op(C.ACTIVATION, act, act_arg.value, "keras", qual=qual,
                                extra=_dtype(flow, node, scope)))
        init_arg = call_arg(node, 99, "kernel_initializer")
        if init_arg is not None:
            scheme = _init(flow, init_arg.value, scope)
            if scheme is not None:
                flow.picture.init_sites.append(
                    InitSite(scheme, flow.index.code_for(init_arg.value), init_arg.value, (layer,), False))
    flow.args(node, scope)
    return layer


def _tf1_layer(flow, qual: str, node: cst.Call, scope) -> Value:
    """``tf.layers.dense(x, 64, activation=tf.nn.relu)``: the Keras layer it builds, applied to ``x``."""
    keras_qual, act_keyword, default_act = C.TF1_LAYERS[qual]
    kind, fn = C.KERAS_LAYERS[keras_qual]
    data = flow.ev_arg(node, 0, "inputs", scope)
    units = int_of(flow.ev_arg(node, 1, "units" if kind == C.LEARNED and "Dense" in keras_qual else
                               "num_outputs" if "contrib" in qual else "filters", scope)) if kind == C.LEARNED else None
    parts = [Op(kind, fn, node, "keras", units=units, qual=keras_qual)]
    if kind == C.LEARNED and act_keyword:
        act_arg = call_arg(node, 99, act_keyword)
        act = _activation(flow, act_arg.value, scope) if act_arg is not None else default_act
        if act is None and act_arg is not None:
            parts.append(Op(C.UNKNOWN, "activation", act_arg.value, "keras"))
        elif act is not None and act != "linear":
            parts.append(Op(C.ACTIVATION, act, act_arg.value if act_arg is not None else node, "keras", qual=qual))
    flow.args(node, scope)
    return flow.apply(Layer(parts, node=node, framework="keras"), data)


def _init(flow, expr, scope) -> str | None:
    value = flow.ev(expr, scope) if type(expr) is not cst.Call else UNKNOWN
    if isinstance(value, Const) and isinstance(value.value, str):
        return C.KERAS_INIT_NAMES.get(value.value.lower())
    if type(expr) is cst.Call:
        scheme = C.KERAS_INIT_CLASSES.get(flow.resolve(expr.func) or "")
        if scheme is not None and not expr.args:
            return scheme
    return None


def _loss_object(flow, qual: str, node: cst.Call, scope) -> Value:
    name = qual.rsplit(".", 1)[1]
    logits = flow.ev_arg(node, 99, "from_logits", scope)
    from_logits = isinstance(logits, Const) and logits.value is True
    if name in C.KERAS_LOSS_CLASSES:
        spec = C.keras_loss_spec(C.KERAS_LOSS_CLASSES[name], from_logits)
        flow.args(node, scope)
        return Criterion(spec, node) if spec else UNKNOWN
    spec = C.keras_loss_spec(name, from_logits)
    args, kwargs = flow.args(node, scope)
    if spec is not None:
        pred = args[1] if len(args) > 1 else kwargs.get("y_pred", UNKNOWN)
        flow.picture.loss_sites.append(LossSite(spec, node, node, pred))
    return Tensor(origin="opaque")


def _compile(flow, model: Value, node: cst.Call, scope) -> None:
    arg = call_arg(node, 1, "loss")
    flow.args(node, scope)
    if arg is None:
        return
    spec = None
    value = flow.ev(arg.value, scope)
    if isinstance(value, Const) and isinstance(value.value, str):
        spec = C.keras_loss_spec(value.value, False)
    elif isinstance(value, Criterion):
        spec = value.spec
    else:
        qual = flow.resolve(arg.value) or ""
        if qual.startswith("keras.losses.") or qual.startswith("keras.metrics."):
            spec = C.keras_loss_spec(qual.rsplit(".", 1)[1], False)
    if spec is None:
        return
    for option in options(model):
        if isinstance(option, KerasModel):
            pred = option.output
        elif isinstance(option, Layer):
            pred = flow.apply(option, Tensor())
        elif isinstance(option, Instance):
            pred = flow.call_instance(option, [Tensor()], {})
        else:
            continue
        flow.picture.loss_sites.append(LossSite(spec, node, arg.value, pred))

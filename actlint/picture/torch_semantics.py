"""What PyTorch names mean to the flow: modules, functions, losses, init, optimisers, model methods.

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
from actlint.picture.values import (UNKNOWN, Const, Criterion, EachModule, Function, Handle, Instance, KerasModel, Layer,
                                    LayerList, Mapping, Op, Optimizer, Parameter, Tensor, Value, Weight, options,
                                    union)

FRAMEWORK = "torch"
PREFIXES = ("torch.", "accelerate.", "lightning.", "lightning_fabric.")
# Other spellings of torch modules, mapped onto their torch names for every name a file imports.
SPELLINGS = (("functorch.", "torch.func."),)
# Wrappers that keep the model's function, and what their call returns:
#   model: the model passed first (data parallelism, sharding, compilation, TorchScript)
#   apply: the model passed first applied to the data passed second
#   call:  the model passed first applied to the first of the arguments passed third (functional_call)
#   each:  the arguments in order (one argument: itself)
WRAPPERS = {
    "torch.nn.DataParallel": "model",
    "torch.nn.parallel.DataParallel": "model",
    "torch.nn.parallel.DistributedDataParallel": "model",
    "torch.nn.parallel.distributed.DistributedDataParallel": "model",
    "torch.distributed.fsdp.FullyShardedDataParallel": "model",
    "torch.distributed.fsdp.fully_sharded_data_parallel.FullyShardedDataParallel": "model",
    "torch.distributed.fsdp.fully_shard": "model",
    "torch.distributed._composable.fsdp.fully_shard": "model",
    "torch.compile": "model",
    "torch.jit.script": "model",
    "torch.jit.trace": "model",
    "torch.nn.SyncBatchNorm.convert_sync_batchnorm": "model",
    "torch.nn.parallel.data_parallel": "apply",
    "torch.func.functional_call": "call",
    "accelerate.Accelerator.prepare": "each",
    "accelerate.Accelerator.prepare_model": "model",
    "lightning.Fabric.setup": "each",
    "lightning.fabric.Fabric.setup": "each",
    "lightning_fabric.Fabric.setup": "each",
}
# Classes whose objects hold wrapper methods (``accelerator.prepare(...)`` is ``accelerate.Accelerator.prepare``).
HANDLES = frozenset({"accelerate.Accelerator", "lightning.Fabric", "lightning.fabric.Fabric", "lightning_fabric.Fabric"})
# Calls that differentiate a model's output with respect to its input (PINNs, neural SDFs, score matching):
#   outputs:  the tensor passed first is differentiated (``torch.autograd.grad(u, x, create_graph=True)``;
#             only with ``create_graph=True``, which puts the derivative itself into the loss)
#   function: the function or module passed first is differentiated (``torch.func.jacrev(model)``)
INPUT_DERIVATIVES = {
    "torch.autograd.grad": "outputs",
    "torch.func.grad": "function",
    "torch.func.grad_and_value": "function",
    "torch.func.jacrev": "function",
    "torch.func.jacfwd": "function",
    "torch.func.hessian": "function",
    "torch.func.vjp": "function",
    "torch.func.jvp": "function",
    "torch.autograd.functional.jacobian": "function",
    "torch.autograd.functional.hessian": "function",
}
# Reductions around a differentiated output (``grad(u.sum(), x)``): the output is the receiver.
_REDUCTIONS = frozenset({"sum", "mean"})
# Attributes of a wrapper that give the wrapped model back (``ddp_model.module``, ``compiled._orig_mod``).
WRAPPED_ATTRIBUTES = frozenset({"module", "_orig_mod"})
SEQUENTIAL_BASES = frozenset({"torch.nn.Sequential"})
# Module methods that return the module itself.
_SELF_METHODS = frozenset({"to", "cuda", "cpu", "train", "eval", "float", "double", "half", "bfloat16",
                           "requires_grad_", "share_memory"})


def is_model_base(qual: str) -> bool:
    """Whether subclassing ``qual`` makes a torch model."""
    return qual in C.TORCH_MODULE_BASES or qual.startswith("torch.nn.")


def disables_grad(qual: str) -> bool:
    return qual in C.TORCH_NO_GRAD


def is_autocast(qual: str) -> bool:
    return qual.endswith(".autocast")


def call(flow, qual: str, node: cst.Call, scope) -> Value | None:
    """The value of a call to the torch object ``qual``; None for what torch does not define."""
    if qual in WRAPPERS:
        return _wrap(flow, WRAPPERS[qual], node, scope)
    if qual in HANDLES:
        flow.args(node, scope)
        return Handle(qual)
    if not qual.startswith("torch."):
        return None
    if qual in INPUT_DERIVATIVES:
        _differentiate(flow, INPUT_DERIVATIVES[qual], node, scope)
        if INPUT_DERIVATIVES[qual] == "function":
            flow.args(node, scope)
            return UNKNOWN
    if qual in C.LEARNED_TENSORS:
        flow.args(node, scope)
        return Parameter(node, "torch")
    if qual in C.TORCH_MODULES:
        kind, fn = C.TORCH_MODULES[qual]
        units = None
        dim = None
        if kind == C.LEARNED:
            units = int_of(flow.ev_arg(node, 1, "out_features" if "Linear" in qual else "out_channels", scope))
        elif fn in ("softmax", "log_softmax", "softmin"):
            dim = flow.arg_value(node, 0, "dim", scope)
        flow.args(node, scope)
        op = Op(kind, fn, node, "torch", units=units, dim=dim, qual=qual)
        return Layer([op], node=node, framework="torch")
    if qual in C.TORCH_CONTAINERS:
        args, _ = flow.args(node, scope)
        container = C.TORCH_CONTAINERS[qual]
        if container == "sequential":
            return flow.make_sequential(args, node, "torch")
        if container == "list":
            return LayerList(list(args[0].items) if args and isinstance(args[0], LayerList) else [])
        if container == "dict":
            return Mapping(dict(args[0].entries)) if args and isinstance(args[0], Mapping) else Mapping()
        return UNKNOWN
    if qual in C.TORCH_FUNCTIONS:
        kind, fn = C.TORCH_FUNCTIONS[qual]
        return flow.function_op(qual, kind, fn, node, scope, "torch", "dim")
    if qual in C.TORCH_LOSS_CLASSES:
        flow.args(node, scope)
        return Criterion(C.TORCH_LOSS_CLASSES[qual], node)
    if qual in C.TORCH_LOSS_FUNCTIONS:
        args, kwargs = flow.args(node, scope)
        pred = args[0] if args else kwargs.get("input", UNKNOWN)
        flow.picture.loss_sites.append(LossSite(C.TORCH_LOSS_FUNCTIONS[qual], node, node, pred, flow.autocast > 0))
        return Tensor(origin="opaque")
    if qual in C.TORCH_INITS:
        _init(flow, qual, node, scope)
        return UNKNOWN
    if qual.startswith("torch.optim.") and not qual.startswith("torch.optim.lr_scheduler"):
        flow.args(node, scope)
        return Optimizer(node)
    args, _ = flow.args(node, scope)
    if any(isinstance(a, Tensor) for a in args):
        return Tensor((Op(C.UNKNOWN, qual, node),), origin="opaque")
    return Tensor(origin="opaque")


def _wrap(flow, how: str, node: cst.Call, scope) -> Value:
    args, kwargs = flow.args(node, scope)
    if how == "each":
        return args[0] if len(args) == 1 else LayerList(args)
    model = args[0] if args else kwargs.get("module", kwargs.get("model", UNKNOWN))
    if how == "apply":
        return flow.apply(model, args[1] if len(args) > 1 else kwargs.get("inputs", Tensor(origin="opaque")))
    if how == "call":
        data = args[2] if len(args) > 2 else kwargs.get("args", UNKNOWN)
        if isinstance(data, LayerList):
            data = data.items[0] if data.items else UNKNOWN
        return flow.apply(model, data if isinstance(data, Tensor) else Tensor(origin="opaque"))
    return model


def _differentiate(flow, how: str, node: cst.Call, scope) -> None:
    """Record the model outputs a call differentiates with respect to the input."""
    arg = call_arg(node, 0, "outputs" if how == "outputs" else "func")
    if arg is None:
        return
    if how == "outputs":
        create_graph = call_arg(node, 99, "create_graph")
        if create_graph is None or not _is_true(flow.ev(create_graph.value, scope)):
            return
        expr = arg.value
        while type(expr) is cst.Call and type(expr.func) is cst.Attribute and expr.func.attr.value in _REDUCTIONS:
            expr = expr.func.value
        outputs = flow.ev(expr, scope)
    elif type(arg.value) is cst.Lambda:
        outputs = flow.call_lambda(arg.value, [Tensor(origin="input")], scope)
    else:
        outputs = flow.call_value(flow.ev(arg.value, scope), [Tensor(origin="input")], {}, node)
    for value in options(outputs):
        for item in (value.items if isinstance(value, LayerList) else [value]):
            if isinstance(item, Tensor) and item.trail:
                flow.picture.differentiated.append(item)


def _is_true(value: Value) -> bool:
    return isinstance(value, Const) and value.value is True


def _init(flow, qual: str, node: cst.Call, scope) -> None:
    scheme = C.TORCH_INITS[qual]
    target = flow.ev_arg(node, 0, "tensor", scope)
    if scheme == "xavier":
        explicit = call_arg(node, 1, "gain") is not None
    else:
        # a negative slope ``a`` or a nonlinearity names the activation on purpose
        explicit = call_arg(node, 3, "nonlinearity") is not None or call_arg(node, 1, "a") is not None
    layers = tuple(layer for t in options(target) if isinstance(t, Weight) for layer in t.layers)
    if layers:
        label = qual.rsplit(".", 1)[1]
        flow.picture.init_sites.append(InitSite(scheme, label, node, layers, explicit))


def method(flow, obj: Value, name: str, node: cst.Call, scope) -> Value | None:
    """``obj.name(...)`` where torch gives it a meaning (training, tensor ops, module methods), else None."""
    if name == "backward":
        flow.training(node, f"{text(flow.index, node.func)}()", update=False)
        flow.args(node, scope)
        return Const(None)
    if name == "step" and (isinstance(obj, Optimizer) or any(isinstance(o, Optimizer) for o in options(obj))):
        flow.training(node, f"{text(flow.index, node.func)}()")
        return Const(None)
    if obj is UNKNOWN and name in C.TENSOR_METHODS and C.TENSOR_METHODS[name][0] in (C.ACTIVATION, C.LOG) \
            and flow.uses_torch:
        obj = Tensor(origin="opaque")  # x.softmax(...) / x.log(): only tensors have these methods
    tensors = [o for o in options(obj) if isinstance(o, Tensor)]
    if name in C.TENSOR_METHODS and tensors and len(tensors) == len(options(obj)):
        kind, fn = C.TENSOR_METHODS[name]
        dim = None
        if fn in ("softmax", "log_softmax", "softmin"):
            dim = flow.arg_value(node, 0, "dim", scope)
        flow.args(node, scope)
        op = Op(kind, fn, node, dim=dim)
        return union([flow.extend(tensor, op) for tensor in tensors])
    if name == "add_module" and isinstance(obj, Instance):
        args, _ = flow.args(node, scope)
        if len(args) == 2 and isinstance(args[0], Const):
            obj.attrs[str(args[0].value)] = args[1]
        return Const(None)
    if name in _SELF_METHODS and options(obj) and all(isinstance(o, Criterion) for o in options(obj)):
        flow.args(node, scope)
        return obj  # a loss moved or cast (``nn.CrossEntropyLoss().to(device)``) is the same loss
    if not isinstance(obj, (Instance, Layer, KerasModel)):
        return None
    if name == "apply" and isinstance(obj, (Instance, Layer)):
        args, _ = flow.args(node, scope)
        if args and isinstance(args[0], Function):
            flow.invoke(args[0], [EachModule(obj)], {})
        return obj
    if name in ("modules", "children") and isinstance(obj, (Instance, Layer)):
        return EachModule(obj)
    if name in ("parameters", "named_parameters") and isinstance(obj, (Instance, Layer)):
        flow.picture.trained.append(obj)
        return UNKNOWN
    if name == "half" and isinstance(obj, (Instance, Layer)):
        flow.picture.half_casts.append((node, obj))
    if name in _SELF_METHODS:
        flow.args(node, scope)
        return obj
    if name == "forward" and isinstance(obj, Instance):
        args, kwargs = flow.args(node, scope)
        return flow.call_instance(obj, args, kwargs)
    return None

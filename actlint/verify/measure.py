"""Measurement inside the child: what every op and layer did during a forward and backward pass.

A ``TorchFunctionMode`` sees every activation-like call (``torch.sigmoid``, ``F.relu``,
``x.tanh()``, the softmax inside a Keras ``Dense``) with the current layer and the line of
the user's file that made it; module hooks (and a wrapped Keras ``Layer.__call__``) note
the learned layers in call order.  Runs in the child process only: imports torch.
"""

from __future__ import annotations

import hashlib
import math
import sys

USER_FILE = "<actlint-model>"  # the child sets this: frames from this file are the user's code
SATURATION = {"sigmoid": 4.0, "hardsigmoid": 3.0, "tanh": 2.0}  # |z| past which the slope is under ~0.07
CURRENT: list = []  # the recorder of the run in progress (keras layers report to it)
INIT_CALLS: list = []  # (line, fn name, tensor) for nn.init calls made from the user's file


def _user_line() -> int | None:
    """The innermost line of the user's module on the current stack."""
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename == USER_FILE:
            return frame.f_lineno
        frame = frame.f_back
    return None


def num(x) -> float | None:
    x = float(x.detach()) if hasattr(x, "detach") else float(x)
    return None if math.isnan(x) else (x if math.isfinite(x) else (1e308 if x > 0 else -1e308))


def _hist(t, bins: int = 30) -> dict:
    import torch

    t = t.detach().float().flatten()
    t = t[torch.isfinite(t)]
    if t.numel() == 0:
        return {"edges": [], "counts": []}
    lo, hi = float(t.min()), float(t.max())
    if hi <= lo:
        hi = lo + 1e-6
    counts = torch.histc(t, bins=bins, min=lo, max=hi)
    step = (hi - lo) / bins
    return {"edges": [lo + i * step for i in range(bins + 1)], "counts": [int(c) for c in counts]}


def stats(t) -> dict:
    import torch

    t = t.detach().float()
    finite = torch.isfinite(t)
    good = t[finite]
    out = {"shape": list(t.shape), "nonfinite": int((~finite).sum())}
    if good.numel():
        out.update(mean=num(good.mean()), std=num(good.std()) if good.numel() > 1 else 0.0,
                   min=num(good.min()), max=num(good.max()), zero_frac=num((good == 0).float().mean()))
    return out


def _unit_zero_frac(t) -> float | None:
    """Fraction of units (features) that are exactly zero for every sample of the batch."""
    t = t.detach()
    if t.dim() < 2 or t.shape[0] < 2:
        return None
    flat = t.transpose(0, 1).reshape(t.shape[1], -1) if t.dim() > 2 else t.transpose(0, 1)
    return num((flat == 0).all(dim=1).float().mean())


def _unit_dead_margin_frac(z) -> float | None:
    """Fraction of units whose largest pre-activation over the batch is below minus the layer's spread.

    A unit that is merely off for this batch (synthetic inputs vary less between samples than real
    ones) sits just under 0; a dead one sits under 0 by more than the pre-activations vary at all.
    """
    z = z.detach().float()
    if z.dim() < 2 or z.shape[0] < 2 or z.numel() < 3:
        return None
    flat = z.transpose(0, 1).reshape(z.shape[1], -1)
    spread = z.std()
    return num((flat.max(dim=1).values < -spread).float().mean())


class Recorder:
    """Records every activation-like op (through a TorchFunctionMode) and every learned layer."""

    def __init__(self) -> None:
        self.ops: dict[tuple, dict] = {}
        self.order: list[tuple] = []
        self.inputs: dict[tuple, object] = {}  # key -> the input of a softmax/sigmoid (what the probes rescale)
        self.module_stack: list = []
        self.layers: list = []  # learned modules in first-call order
        self.swap: set = set()  # op lines whose activation is replaced by ReLU (the twin)
        self.active = True
        self.seen: dict[tuple, int] = {}

    def key_for(self, fn: str, count: bool = False) -> tuple:
        """(fn, user line, module construction line, module type, module id, occurrence)."""
        module = self.module_stack[-1] if self.module_stack else None
        line = _user_line()
        mline = getattr(module, "_actlint_line", None) if module is not None else None
        base = (fn, line, mline, type(module).__name__ if module is not None else None, id(module))
        n = self.seen.get(base, 0)
        if count:
            self.seen[base] = n + 1
        return base + (n,)

    def record(self, fn: str, inp, out, dim) -> None:
        import torch

        key = self.key_for(fn, count=True)  # every call is its own entry (a layer loop runs one op many times)
        entry = {"fn": fn, "line": key[1], "module_line": key[2], "module": key[3], "before_learned": not self.layers}
        self.ops[key] = entry
        self.order.append(key)
        if fn in ("softmax", "log_softmax", "sigmoid") and isinstance(inp, torch.Tensor):
            self.inputs[key] = inp.detach()
        if isinstance(inp, torch.Tensor) and inp.is_floating_point():
            z = inp.detach().float()
            entry["in"] = stats(z)
            entry["in_shape"] = list(z.shape)
            if fn in SATURATION:
                entry["saturated_frac"] = num((z.abs() > SATURATION[fn]).float().mean())
                entry["saturated_frac_abs5"] = num((z.abs() >= 5).float().mean())
            if fn == "sigmoid":
                s = torch.sigmoid(z)
                entry["mean_derivative"] = num((s * (1 - s)).mean())
            elif fn == "tanh":
                entry["mean_derivative"] = num((1 - torch.tanh(z) ** 2).mean())
            elif fn in ("relu", "relu6"):
                entry["mean_derivative"] = num((z > 0).float().mean())
        if isinstance(out, torch.Tensor):
            entry["out"] = stats(out)
            entry["hist"] = _hist(out)
            if fn in ("relu", "relu6"):
                entry["dead_unit_frac"] = _unit_zero_frac(out)
                if isinstance(inp, torch.Tensor) and inp.is_floating_point():
                    entry["dead_margin_frac"] = _unit_dead_margin_frac(inp)
            if fn in ("softmax", "log_softmax", "softmin"):
                entry["dim"] = dim
                if dim is None and isinstance(inp, torch.Tensor):
                    entry["implicit_dim"] = 0 if inp.dim() in (0, 1, 3) else 1
            if out.requires_grad:
                out.register_hook(lambda g, e=entry: e.__setitem__("grad_norm", num(g.detach().float().norm())))


def _install_mode(rec: Recorder):
    import torch
    import torch.nn.functional as F
    from torch.overrides import TorchFunctionMode

    names = {}
    for fn in ("sigmoid", "tanh", "relu", "relu6", "softmax", "log_softmax", "softmin", "log", "gelu", "silu",
               "elu", "leaky_relu", "hardsigmoid", "softplus", "logsigmoid"):
        for owner in (torch, torch.Tensor, F, torch.special, torch.nn.functional):
            f = getattr(owner, fn, None)
            if f is not None:
                names[f] = fn
    names[torch.special.expit] = "sigmoid"
    names[torch.Tensor.sigmoid_] = "sigmoid"
    names[torch.Tensor.tanh_] = "tanh"
    names[torch.Tensor.relu_] = "relu"
    names[F.relu_] = "relu"
    for f in (torch._C._nn.log_sigmoid if hasattr(torch._C._nn, "log_sigmoid") else None,):
        if f is not None:
            names[f] = "logsigmoid"

    class Mode(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            fn = names.get(func)
            if fn is None or not rec.active:
                return func(*args, **kwargs)
            rec.active = False  # ops inside ops are not recorded
            try:
                inp = args[0] if args else kwargs.get("input")
                key = rec.key_for(fn)
                seen = inp
                if fn in ("relu", "relu6") and isinstance(inp, torch.Tensor) and (
                        kwargs.get("inplace") or (len(args) > 1 and args[1] is True)
                        or getattr(func, "__name__", "").endswith("_")):
                    seen = inp.detach().clone()  # an in-place ReLU overwrites the pre-activations it is judged on
                if rec.swap and fn in SATURATION and (key[1] in rec.swap or key[2] in rec.swap):
                    out = torch.relu(inp)
                else:
                    out = func(*args, **kwargs)
                dim = kwargs.get("dim", args[1] if len(args) > 1 and isinstance(args[1], int) else None)
                rec.record(fn, seen, out, dim)
                return out
            finally:
                rec.active = True

    return Mode()


def _patch_keras_call() -> None:
    """Keras layers do not go through torch's module hooks: wrap ``Layer.__call__`` instead."""
    import torch
    from keras import layers

    original = layers.Layer.__call__

    def call(self, *args, **kwargs):
        rec = CURRENT[-1] if CURRENT else None
        if rec is None:
            return original(self, *args, **kwargs)
        rec.module_stack.append(self)
        try:
            out = original(self, *args, **kwargs)
        finally:
            rec.module_stack.pop()
        if learned_weight(self) is not None and self not in rec.layers:
            rec.layers.append(self)
            if isinstance(out, torch.Tensor):
                object.__setattr__(self, "_actlint_out", stats(out))
        return out

    layers.Layer.__call__ = call


def _track_modules(rec: Recorder, model, framework: str) -> list:
    """Hooks that keep the current module on a stack and note learned layers in call order."""
    import torch

    handles = []
    if framework == "keras":
        return handles

    def pre(module, _inp):
        rec.module_stack.append(module)

    def post(module, _inp, out):
        if rec.module_stack and rec.module_stack[-1] is module:
            rec.module_stack.pop()
        if learned_weight(module) is not None and module not in rec.layers:
            rec.layers.append(module)
            if isinstance(out, torch.Tensor):
                module._actlint_out = stats(out)

    for module in model.modules():
        if not list(module.children()) or learned_weight(module) is not None:
            handles.append(module.register_forward_pre_hook(pre))
            handles.append(module.register_forward_hook(post))
    return handles


def learned_weight(module):
    import torch

    name = type(module).__name__
    if "Norm" in name or name.startswith("Embedding"):
        return None
    w = getattr(module, "weight", None)
    if isinstance(w, torch.Tensor) and w.dim() >= 2:
        return w
    kernel = getattr(module, "_kernel", None)
    if kernel is None:
        kernel = getattr(module, "kernel", None) if not isinstance(module, torch.nn.Sequential) else None
    value = getattr(kernel, "value", None)
    if isinstance(value, torch.Tensor) and value.dim() >= 2:
        return value
    return None


def patch_constructors(framework: str) -> None:
    """Record the user-file line where each layer is constructed (``_actlint_line``)."""
    import torch

    original = torch.nn.Module.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        if "_actlint_line" not in self.__dict__:
            object.__setattr__(self, "_actlint_line", _user_line())

    torch.nn.Module.__init__ = init
    if framework == "keras":
        from keras import layers

        kinit = layers.Layer.__init__

        def kinit_rec(self, *args, **kwargs):
            kinit(self, *args, **kwargs)
            if "_actlint_line" not in self.__dict__:
                object.__setattr__(self, "_actlint_line", _user_line())

        layers.Layer.__init__ = kinit_rec
        _patch_keras_call()


def patch_inits() -> None:
    import torch.nn.init as init

    for name in ("xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_",
                 "normal_", "uniform_", "trunc_normal_"):
        original = getattr(init, name)

        def wrapped(tensor, *a, __orig=original, __name=name, **k):
            line = _user_line()
            if line is not None:
                INIT_CALLS.append((line, __name, tensor))
            return __orig(tensor, *a, **k)

        setattr(init, name, wrapped)


def digest(model) -> str:
    h = hashlib.sha256()
    for name, p in sorted(named_params(model), key=lambda t: t[0]):
        h.update(name.encode())
        h.update(p.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def named_params(model):
    import torch

    if isinstance(model, torch.nn.Module):
        return list(model.named_parameters())
    return [(v.path, v.value) for v in getattr(model, "weights", [])]


def input_candidates(model, framework: str, batch: int, configured: dict | None) -> list[dict]:
    """Synthetic inputs to try, from the configuration or the model's first layer."""
    if configured:
        shape = [batch if d is None else d for d in configured["shape"]]
        return [{"shape": shape, "dtype": configured.get("dtype", "float"), "high": configured.get("high")}]
    if framework == "keras":
        inputs = getattr(model, "inputs", None)
        shape = None
        if inputs:
            shape = list(inputs[0].shape)
        elif getattr(model, "layers", None):
            first = model.layers[0]
            build_shape = getattr(first, "_build_shapes_dict", None) or {}
            shape = list(next(iter(build_shape.values()))) if build_shape else None
        if shape:
            shape = [batch] + [d or 16 for d in shape[1:]]
            return [{"shape": shape, "dtype": "float"}]
        return []
    import torch.nn as nn

    first = next((m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d,
                                                               nn.Embedding, nn.EmbeddingBag, nn.LSTM, nn.GRU,
                                                               nn.RNN, nn.LazyLinear))), None)
    if isinstance(first, nn.Linear):
        return [{"shape": [batch, first.in_features], "dtype": "float"},
                {"shape": [batch, 8, first.in_features], "dtype": "float"}]
    if isinstance(first, nn.Conv1d):
        return [{"shape": [batch, first.in_channels, n], "dtype": "float"} for n in (64, 28, 100)]
    if isinstance(first, nn.Conv2d):
        return [{"shape": [batch, first.in_channels, n, n], "dtype": "float"} for n in (32, 28, 64, 224)]
    if isinstance(first, nn.Conv3d):
        return [{"shape": [batch, first.in_channels, 16, 16, 16], "dtype": "float"}]
    if isinstance(first, (nn.Embedding, nn.EmbeddingBag)):
        return [{"shape": [batch, 16], "dtype": "long", "high": first.num_embeddings}]
    if isinstance(first, (nn.LSTM, nn.GRU, nn.RNN)):
        seq = [batch, 16, first.input_size] if first.batch_first else [16, batch, first.input_size]
        return [{"shape": seq, "dtype": "float"}]
    return []


def make_input(desc: dict, device: str, seed: int):
    import torch

    # Its own stream: data drawn from the stream that also initialises weights would correlate with them.
    gen = torch.Generator().manual_seed(seed + 104729)
    if desc.get("dtype") == "long":
        return torch.randint(0, int(desc.get("high") or 100), desc["shape"], generator=gen).to(device)
    return torch.randn(desc["shape"], generator=gen).to(device)


def output_tensor(out):
    import torch

    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
        return out[0]
    if isinstance(out, dict):
        for v in out.values():
            if isinstance(v, torch.Tensor):
                return v
    return None


def _objective(out, loss: dict | None, seed: int):
    """The synthetic training loss on the model's output (the file's loss where it is known)."""
    import torch
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(seed + 7919)
    kind = (loss or {}).get("kind", "auto")
    o = out.float()
    classes = o.shape[-1] if o.dim() >= 2 else 1
    flat = o.reshape(-1, classes) if o.dim() >= 2 else o.reshape(-1, 1)
    labels = torch.randint(0, max(classes, 1), (flat.shape[0],), generator=gen).to(o.device)
    if kind == "auto" or (kind in ("cross_entropy", "nll", "nll_probs") and classes < 2):
        # cross-entropy over one unit is 0 whatever the weights (ACT114): no gradient to measure
        kind = "cross_entropy" if classes > 1 else "mse"
    if kind == "cross_entropy":
        return F.cross_entropy(flat, labels), kind
    if kind == "nll":
        return F.nll_loss(flat, labels), kind
    if kind == "nll_probs":
        return F.nll_loss(torch.log(flat.clamp_min(1e-7)), labels), kind
    if kind in ("bce", "bce_logits"):
        target = torch.randint(0, 2, flat.shape, generator=gen).float().to(o.device)
        if kind == "bce" and ((flat < 0) | (flat > 1)).any():
            return F.mse_loss(flat, target), "mse (output outside [0, 1], BCE would refuse it)"
        fn = F.binary_cross_entropy if kind == "bce" else F.binary_cross_entropy_with_logits
        return fn(flat, target), kind
    target = torch.randn(flat.shape, generator=gen).to(o.device)
    return F.mse_loss(flat, target), "mse"


class Run:
    """One forward and backward pass with everything recorded."""

    def __init__(self, model, x, framework: str, swap=()):
        self.model, self.x, self.framework = model, x, framework
        self.rec = Recorder()
        self.rec.swap = set(swap)
        self.out = None
        self.loss = None
        self.loss_kind = None
        self.error = None

    def forward(self):
        handles = _track_modules(self.rec, self.model, self.framework)
        CURRENT.append(self.rec)
        try:
            with _install_mode(self.rec):
                self.out = self.model(self.x)
        finally:
            CURRENT.pop()
            for h in handles:
                h.remove()
        return output_tensor(self.out)

    def backward(self, loss_spec, seed):
        out = output_tensor(self.out)
        if out is None or not out.requires_grad:
            return
        self.loss, self.loss_kind = _objective(out, loss_spec, seed)
        self.loss.backward()

    def layer_table(self) -> list[dict]:
        rows = []
        for m in self.rec.layers:
            w = learned_weight(m)
            grad = w.grad if w is not None else None
            rows.append({"type": type(m).__name__, "line": getattr(m, "_actlint_line", None),
                         "name": getattr(m, "name", None) if self.framework == "keras" else None,
                         "grad_norm": num(grad.float().norm()) if grad is not None else None,
                         "weight_std": num(w.detach().float().std()) if w is not None else None,
                         "weight_norm": num(w.detach().float().norm()) if w is not None else None,
                         "out": getattr(m, "_actlint_out", None)})
        return rows

    def op_table(self) -> list[dict]:
        return [self.rec.ops[k] for k in self.rec.order]


def grad_ratio(layers: list[dict]) -> float | None:
    norms = [r["grad_norm"] for r in layers if r["grad_norm"] is not None]
    if len(norms) < 2 or not norms[-1]:
        return None
    return norms[0] / norms[-1]


def zero_grads(model):
    for _, p in named_params(model):
        p.grad = None


def train_steps(model, x, steps: int, seed: int, loss_spec: dict | None, lr: float = 1e-3) -> dict | None:
    """A few optimiser steps on the synthetic objective, then the runtime picture again."""
    import torch

    params = [p for _, p in named_params(model) if p.requires_grad]
    if not params or steps <= 0:
        return None
    # Adam (lr 1e-3), by hand: constructing a torch.optim optimiser imports torch._dynamo (~1.5 s).
    b1, b2, eps = 0.9, 0.999, 1e-8
    m = [torch.zeros_like(p) for p in params]
    v = [torch.zeros_like(p) for p in params]
    losses = []
    for step in range(1, steps + 1):
        for p in params:
            p.grad = None
        out = output_tensor(model(x))
        loss, _ = _objective(out, loss_spec, seed)
        if not torch.isfinite(loss):
            losses.append(num(loss))
            break
        loss.backward()
        with torch.no_grad():
            for p, mi, vi in zip(params, m, v):
                if p.grad is not None:
                    mi.mul_(b1).add_(p.grad, alpha=1 - b1)
                    vi.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
                    update = (mi / (1 - b1 ** step)) / ((vi / (1 - b2 ** step)).sqrt() + eps)
                    p.sub_(lr * update)
        losses.append(num(loss))
    zero_grads(model)
    run = Run(model, x, "torch")
    run.forward()
    run.backward(loss_spec, seed)
    return {"losses": losses, "ops": _light_ops(run.op_table()), "layers": run.layer_table()}


def _light_ops(ops):
    return [{k: v for k, v in o.items() if k != "hist"} for o in ops]

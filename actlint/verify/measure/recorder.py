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
# A traced run spans the user's files: when set, a frame is the user's when this says so of its file,
# and a place is ``(file, line)`` instead of a line of USER_FILE.
USER_FILES = None  # callable(co_filename) -> the file's real path when it is the user's, else None
SATURATION = {"sigmoid": 4.0, "hardsigmoid": 3.0, "tanh": 2.0}  # |z| past which the slope is under ~0.07
CURRENT: list = []  # the recorder of the run in progress (keras layers report to it)
INIT_CALLS: list = []  # (line, fn name, tensor) for nn.init calls made from the user's file


def _user_line():
    """The innermost place of the user's code on the current stack: a line of USER_FILE, or ``(file, line)``."""
    frame = sys._getframe(2)
    mine = USER_FILES
    while frame is not None:
        name = frame.f_code.co_filename
        if mine is not None:
            real = mine(name)
            if real:
                return (real, frame.f_lineno)
        elif name == USER_FILE:
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
        self.outputs: dict[tuple, object] = {}  # key -> the output of a softmax/sigmoid (what may reach a loss)
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
            if isinstance(out, torch.Tensor):
                self.outputs[key] = out
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
            if fn in RESHAPES_NEGATIVES:
                entry["negative_frac"] = num((z < 0).float().mean())
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


# Activations that pass positive values (nearly) unchanged and squash or scale the negative ones.
RESHAPES_NEGATIVES = frozenset({"leaky_relu", "elu", "selu", "celu", "gelu", "silu", "mish", "softplus"})


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


def tensors_digest(tensors) -> str:
    """The sha256 of bare tensors (a network without a module), in the order given, each with its shape."""
    h = hashlib.sha256()
    for t in tensors:
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def named_params(model):
    import torch

    if isinstance(model, torch.nn.Module):
        return list(model.named_parameters())
    return [(v.path, v.value) for v in getattr(model, "weights", [])]


_LAYER_KINDS = ("Linear", "LazyLinear", "Bilinear", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d",
                "ConvTranspose2d", "ConvTranspose3d", "LazyConv1d", "LazyConv2d", "LazyConv3d", "Embedding",
                "EmbeddingBag", "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell", "Transformer",
                "TransformerEncoder", "TransformerDecoder", "TransformerEncoderLayer", "TransformerDecoderLayer",
                "MultiheadAttention", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LayerNorm", "InstanceNorm2d",
                "GroupNorm")
_HIDDEN_NAMES = ("h", "hidden", "hx", "h0", "hc", "state", "states", "h_state", "hidden_state", "prev_state", "hid",
                 "memory", "h_n", "init_state", "carry")
_ADJ_NAMES = ("adj", "adj_mat", "adjacency", "a_hat", "graph", "edge_weight", "laplacian")
_LENGTH_NAMES = ("lengths", "lens", "seq_lengths", "seq_lens", "length", "input_lengths", "src_len", "text_lengths")
_LABEL_WORDS = ("label", "class", "cond", "target", "y_onehot", "c")
MAX_FAILURES = 8


def _t(shape, why, dtype="float", high=None) -> dict:
    return {"shape": list(shape), "dtype": dtype, "high": high, "why": why}


def _layer_desc(m) -> str:
    extra = ""
    for attr in ("in_features", "in_channels", "num_embeddings", "input_size", "embed_dim", "d_model",
                 "num_features", "normalized_shape"):
        v = getattr(m, attr, None)
        if v is not None:
            extra = f"{v if not isinstance(v, tuple) else list(v)}, ..."
            break
    return f"{type(m).__name__}({extra})"


def _first_layer(root):
    """The first module of a known kind in registration order (a bare 2-D Parameter counts too)."""
    for m in root.modules():
        kind = type(m).__name__
        if kind in _LAYER_KINDS:
            return m
        try:
            if getattr(m, "inputs", None):  # a Keras model with an Input, inside a torch module
                return m
        except Exception:  # noqa: BLE001 - an unbuilt Keras model refuses the question
            pass
        for name, p in m.named_parameters(recurse=False):
            if p.dim() == 2:
                return ("param", name, p)
    return None


def _image_sizes(hints, channels_first_shape=None):
    """Spatial sizes to try for an image input, cheapest first; the dataset's size leads when it matches."""
    sizes = [32, 28, 64, 128, 224, 256]
    ds = (hints or {}).get("dataset")
    if ds and ds["shape"][1] in sizes and ds["shape"][1] <= 64:
        sizes.remove(ds["shape"][1])
        sizes.insert(0, ds["shape"][1])
    return sizes


def _layer_candidates(m, batch: int, hints: dict, owner: str = "") -> list[dict]:
    """Inputs that the layer ``m`` accepts as the model's first, cheapest first."""
    import torch.nn as nn

    where = f" ({owner})" if owner else ""
    if isinstance(m, tuple):  # a bare Parameter used as ``x @ W``
        _, name, p = m
        return [_t([batch, p.shape[0]], f"guessed from the parameter {name} {tuple(p.shape)}{where}"),
                _t([batch, p.shape[1]], f"guessed from the parameter {name} {tuple(p.shape)}{where}")]
    kind = type(m).__name__
    why = f"guessed from {_layer_desc(m)}{where}"
    ds = (hints or {}).get("dataset")
    if hasattr(m, "inputs") and getattr(m, "inputs", None):  # a Keras model inside a torch module
        shape = list(m.inputs[0].shape)
        return [_t([batch] + [d or 16 for d in shape[1:]], f"from the Keras Input {tuple(shape)}{where}")]
    if isinstance(m, (nn.Linear, nn.Bilinear)):
        n = m.in_features if isinstance(m, nn.Linear) else m.in1_features
        out = [_t([batch, n], why)]
        if ds and ds["shape"][0] * ds["shape"][1] * ds["shape"][2] == n:
            out.insert(0, _t([batch] + ds["shape"], f"{ds['name']} images ({ds['why']}), flattened to "
                             f"{_layer_desc(m)} by the model"))
        out.append(_t([batch, 8, n], why + ", as a sequence"))
        return out
    if isinstance(m, nn.LazyLinear):
        return [_t([batch, 32], why)]
    if kind in ("Conv1d", "ConvTranspose1d", "LazyConv1d"):
        c = getattr(m, "in_channels", 1) or 1
        return [_t([batch, c, n], why) for n in (64, 28, 128)]
    if kind in ("Conv2d", "ConvTranspose2d", "LazyConv2d"):
        c = getattr(m, "in_channels", 3) or 3
        if kind.startswith("ConvTranspose"):
            return [_t([batch, c, n, n], why) for n in (1, 4, 8, 16)]
        # many channels: a feature map (a decoder's content code), smallest first; few: an image
        sizes = [8, 16, 32, 64] if c >= 16 else _image_sizes(hints)
        out = []
        for n in sizes:
            w = why
            if ds and ds["shape"][0] == c and ds["shape"][1] == n:
                w = f"{ds['name']} images ({ds['why']}), {why}"
            out.append(_t([batch, c, n, n], w))
        return out
    if kind in ("Conv3d", "ConvTranspose3d", "LazyConv3d"):
        c = getattr(m, "in_channels", 1) or 1
        return [_t([batch, c, n, n, n], why) for n in (16, 32)]
    if isinstance(m, (nn.Embedding, nn.EmbeddingBag)):
        return [_t([batch, 16], why, "long", m.num_embeddings), _t([batch], why, "long", m.num_embeddings)]
    if isinstance(m, (nn.LSTM, nn.GRU, nn.RNN)):
        seq = [batch, 16, m.input_size] if m.batch_first else [16, batch, m.input_size]
        return [_t(seq, why)]
    if isinstance(m, (nn.LSTMCell, nn.GRUCell, nn.RNNCell)):
        return [_t([batch, m.input_size], why), _t([batch, 16], why + ", one value per step")]
    if isinstance(m, (nn.Transformer, nn.TransformerEncoderLayer, nn.TransformerDecoderLayer)):
        d = m.d_model if hasattr(m, "d_model") else m.self_attn.embed_dim
        bf = getattr(m, "batch_first", getattr(getattr(m, "encoder", None), "layers", [m])[0].self_attn.batch_first
                     if hasattr(m, "encoder") else False)
        return [_t([batch, 16, d] if bf else [16, batch, d], why)]
    if isinstance(m, (nn.TransformerEncoder, nn.TransformerDecoder)):
        layer = m.layers[0]
        d = layer.self_attn.embed_dim
        return [_t([batch, 16, d] if layer.self_attn.batch_first else [16, batch, d], why)]
    if isinstance(m, nn.MultiheadAttention):
        return [_t([batch, 16, m.embed_dim] if m.batch_first else [16, batch, m.embed_dim], why)]
    if isinstance(m, nn.BatchNorm1d):
        return [_t([batch, m.num_features], why), _t([batch, m.num_features, 16], why)]
    if isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)):
        return [_t([batch, m.num_features, n, n], why) for n in _image_sizes(hints)[:3]]
    if isinstance(m, nn.BatchNorm3d):
        return [_t([batch, m.num_features, 16, 16, 16], why)]
    if isinstance(m, nn.GroupNorm):
        return [_t([batch, m.num_channels, n, n], why) for n in _image_sizes(hints)[:3]]
    if isinstance(m, nn.LayerNorm):
        return [_t([batch] + list(m.normalized_shape), why), _t([batch, 16] + list(m.normalized_shape), why)]
    return []


def _eval_dims(dims, model, ns) -> list | None:
    out = []
    for d in dims:
        if d is None or isinstance(d, int):
            out.append(d)
            continue
        try:
            v = eval(d, dict(ns or {}), {"self": model})  # noqa: S307 - the user's own expression, in the child
        except Exception:
            return None
        if not isinstance(v, int) or v <= 0:
            return None
        out.append(v)
    return out


def _hint_candidates(model, batch: int, hints: dict, ns, first_kind) -> list[dict]:
    """Candidates from what the file says: shapes passed to the model, the forward's reshape, the dataset."""
    out = []
    ds = hints.get("dataset")
    for h in hints.get("shapes", []):
        if h.get("shape") is None:
            continue
        dims = _eval_dims(h["shape"], model, ns)
        if dims is None:
            continue
        per = dims[1:]
        dtype = h.get("dtype") or ("long" if first_kind in ("Embedding", "EmbeddingBag") else "float")
        high = None
        if dtype == "long":
            mods = model.modules() if hasattr(model, "modules") else []
            emb = next((m for m in mods if type(m).__name__ in ("Embedding", "EmbeddingBag")), None)
            high = getattr(emb, "num_embeddings", None) or getattr(emb, "input_dim", None) or 100
        size = 1
        for d in per:
            size *= d
        if h.get("source") == "forward" and ds and ds["shape"][0] * ds["shape"][1] * ds["shape"][2] == size:
            out.append(_t([batch] + ds["shape"], f"{ds['name']} images ({ds['why']}), reshaped by {h['why']}"))
        out.append(_t([batch] + per, ("input " if h.get("source") == "call" else "from ") + h["why"], dtype, high))
    ki = hints.get("keras_input")
    if ki:
        out.append(_t([batch] + [d or 16 for d in ki["shape"][1:]], f"from {ki['why']}"))
    return out


def _keras_input(tensor, batch: int, vocabulary: int | None, ids: bool = False) -> dict:
    """One Keras ``Input`` made concrete: unknown sizes 16; an integer input (or one an Embedding reads first,
    ``ids``) indexes the smallest vocabulary."""
    shape = [batch] + [d or 16 for d in list(tensor.shape)[1:]]
    integer = "int" in str(getattr(tensor, "dtype", "float32")) or (ids and vocabulary is not None)
    return {"shape": shape, "dtype": "long" if integer else "float", "high": vocabulary if integer else None}


def _keras_candidates(model, batch: int, hints: dict) -> list[dict]:
    inputs = getattr(model, "inputs", None)
    shape = None
    embeddings = [lay for lay in getattr(model, "_flatten_layers", lambda **k: [])(include_self=False)
                  if type(lay).__name__ == "Embedding"]
    vocabulary = min((lay.input_dim for lay in embeddings), default=None)
    if inputs and len(inputs) > 1:  # a functional model of several inputs: one tensor each, given as a list
        first, *rest = [_keras_input(t, batch, vocabulary) for t in inputs]
        shown = ", ".join(str(tuple(t.shape)) for t in inputs)
        return [dict(first, why=f"from the Keras Inputs {shown}",
                     rest=[dict(r, kind="tensor") for r in rest])]
    if inputs:
        shape = list(inputs[0].shape)
        why = f"from the Keras Input {tuple(shape)}"
        layers = getattr(model, "layers", None) or []
        made = _keras_input(inputs[0], batch, vocabulary,
                            ids=bool(layers) and type(layers[0]).__name__ == "Embedding")
        if made["dtype"] == "long":
            return [dict(made, why=why + f", integer ids below {vocabulary}")]
    elif getattr(model, "layers", None):
        first = model.layers[0]
        build_shape = getattr(first, "_build_shapes_dict", None) or {}
        shape = list(next(iter(build_shape.values()))) if build_shape else None
        why = f"from the input_shape of {type(first).__name__}"
    out = []
    if shape:
        out.append(_t([batch] + [d or 16 for d in shape[1:]], why))
    ds = hints.get("dataset")
    if ds:
        c, hh, w = ds["shape"]
        out.append(_t([batch, hh, w, c], f"{ds['name']} images, channels last ({ds['why']})"))
        out.append(_t([batch, hh * w * c], f"{ds['name']} images, flattened ({ds['why']})"))
    first = embeddings[0] if embeddings else None
    if first is not None:  # a short sequence, then one long enough for strided convolutions and pooling
        out.append(_t([batch, 16], f"guessed from Embedding({first.input_dim}, ...)", "long", first.input_dim))
        out.append(_t([batch, 128], f"guessed from Embedding({first.input_dim}, ...)", "long", first.input_dim))
    out.append(_t([batch, 32], "guessed: a subclassed Keras model declares no input shape"))
    return out


def input_candidates(model, framework: str, batch: int, configured: dict | None, hints: dict | None = None,
                     ns: dict | None = None) -> list[dict]:
    """Synthetic inputs to try, best first: the configuration, the file's hints, then the first layers.

    Each candidate is ``{"shape", "dtype", "high", "why"}`` for the first input plus, when the
    forward takes more, ``"rest"``: how to make each further argument (see :func:`make_inputs`).
    """
    hints = hints or {}
    if configured:
        shape = [batch if d is None else d for d in configured["shape"]]
        return [{"shape": shape, "dtype": configured.get("dtype", "float"), "high": configured.get("high"),
                 "why": "from [tool.actlint.verify]"}]
    if framework == "keras":
        declared = _keras_candidates(model, batch, hints)
        inputs = getattr(model, "inputs", None) or []
        if len(inputs) > 1 or (inputs and all(d for d in list(inputs[0].shape)[1:])):
            # the model's own Inputs, every size declared: what it accepts (a hint may be another model's)
            return _dedup(declared[:1] + _hint_candidates(model, batch, hints, ns, None) + declared[1:])
        return _dedup(_hint_candidates(model, batch, hints, ns, None) + declared)
    params = hints.get("params") or []
    consumers = hints.get("consumers") or {}
    first = _first_layer(model)
    first_kind = type(first).__name__ if first is not None and not isinstance(first, tuple) else None
    cands = _hint_candidates(model, batch, hints, ns, first_kind)
    # the submodule that consumes the first input, when the forward names it
    owner = _submodule(model, consumers.get(params[0]["name"])) if params else None
    if owner is not None and owner is not model:
        layer = _first_layer(owner)
        if layer is not None:
            cands += _layer_candidates(layer, batch, hints, f"self.{consumers[params[0]['name']]}")
    if first is not None:
        cands += _layer_candidates(first, batch, hints)
    if params and params[0]["name"] in (hints.get("int_params") or {}):
        cands = [dict(c, dtype="long", high=c.get("high") or 100) for c in cands]
    if not cands:  # no learned layer: an elementwise module, a positional encoding
        last = next((t.shape[-1] for t in list(model.parameters()) + list(model.buffers()) if t.dim() >= 1), None)
        if last:
            cands.append(_t([batch, 16, last], f"guessed from the last dimension of its weights ({last})"))
        cands.append(_t([batch, 16], "guessed: the model has no layer that fixes the input shape"))
        cands.append(_t([batch, 3, 32, 32], "guessed: the model has no layer that fixes the input shape"))
    cands = _dedup(cands)
    if params[1:]:
        cands = _with_rest(model, cands, params, consumers, hints, batch)
    return cands


def _dedup(cands: list[dict]) -> list[dict]:
    seen, out = set(), []
    for c in cands:
        key = (tuple(c["shape"]), c.get("dtype"))
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


def _submodule(model, dotted: str | None):
    if not dotted:
        return None
    obj = model
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    import torch

    return obj if isinstance(obj, torch.nn.Module) else None


def _recurrent(model):
    import torch.nn as nn

    return next((m for m in model.modules() if isinstance(m, (nn.LSTM, nn.GRU, nn.RNN))), None)


def _with_rest(model, cands: list[dict], params: list[dict], consumers: dict, hints: dict, batch: int) -> list[dict]:
    """Add how to make each further forward argument; a state may also be tried as ``None``."""
    out = []
    for c in cands:
        rest, alt = [], []
        for p in params[1:]:
            if p["default"]:
                break  # the forward's own default
            name = p["name"].lower()
            if name in _HIDDEN_NAMES or "hidden" in name or "state" in name:
                if hints.get("init_hidden"):
                    rest.append({"kind": "init_hidden", **hints["init_hidden"]})
                elif _recurrent(model) is not None:
                    rest.append({"kind": "zeros_state"})
                else:  # a hand-written cell: (h, c) sized for its second layer (the hidden-to-hidden one)
                    sizes = [m.in_features for m in model.modules() if type(m).__name__ == "Linear"]
                    rest.append({"kind": "zeros_pair", "size": sizes[1]} if len(sizes) > 1 else {"kind": "none"})
                alt.append({"kind": "none"})
                continue
            sub = _submodule(model, consumers.get(p["name"]))
            if name in _ADJ_NAMES or "adj" in name:
                rest.append({"kind": "adjacency"})
            elif name in _LENGTH_NAMES or name.endswith("_lengths"):
                rest.append({"kind": "lengths"})
            elif "mask" in name:
                rest.append({"kind": "none"})
            elif _label_like(name) and any(type(m).__name__ == "Embedding" for m in model.modules()):
                embs = [m for m in model.modules() if type(m).__name__ == "Embedding"]
                emb = sub if type(sub).__name__ == "Embedding" else min(embs, key=lambda m: m.num_embeddings)
                rest.append({"kind": "tensor", "shape": [batch], "dtype": "long", "high": emb.num_embeddings})
            elif sub is not None and _first_layer(sub) is not None:
                found = _layer_candidates(_first_layer(sub), batch, hints, f"self.{consumers[p['name']]}")
                t = found[0] if found else {"shape": None}
                rest.append({"kind": "tensor", "shape": t["shape"], "dtype": t.get("dtype"), "high": t.get("high")}
                            if found else {"kind": "same"})
            else:
                rest.append({"kind": "same"})
            alt.append(rest[-1])
        names = [p["name"] for p in params[:1 + len(rest)]]
        same = sum(1 for r in rest if r["kind"] == "same")
        if same and same == len(rest) and len(c["shape"]) >= 3 and c["shape"][1] % (same + 1) == 0 and c["shape"][
                1] > same + 1 and c.get("dtype") != "long":
            # images concatenated along the channels (``torch.cat((img_a, img_b), 1)``): each has its share
            split = list(c["shape"])
            split[1] //= same + 1
            out.append(dict(c, shape=split, rest=rest, params=names,
                            why=f"{c['why']}, its channels split over {same + 1} inputs"))
        out.append(dict(c, rest=rest, params=names))
        if alt != rest:
            out.append(dict(c, rest=alt, params=[p["name"] for p in params[:1 + len(alt)]],
                            why=c["why"] + "; state None"))
    return out


class _Stop(Exception):
    pass


def conv_size_for_linear(model, device: str, dtype_double: bool = False) -> dict | None:
    """The image size a conv stack needs so that its flattened maps fit the first ``Linear`` after it.

    Runs the model (eval mode, batch 1, no gradients) only up to that ``Linear``: reads the last
    4-D map (C, h, w) and the Linear's ``in_features``, picks h'×w' = in_features / C (closest to
    square) and searches each input side for it (the map grows with the input).
    """
    import torch
    import torch.nn as nn

    conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if conv is None or not any(isinstance(m, nn.Linear) for m in model.modules()):
        return None
    seen: dict = {}

    def pre(m, args):
        if isinstance(m, nn.Linear):
            seen["linear"] = m
            raise _Stop

    def post(m, _inp, out):
        if isinstance(out, torch.Tensor) and out.dim() == 4:
            seen["map"] = tuple(out.shape[1:])

    def probe(h, w):
        seen.clear()
        x = torch.randn(1, conv.in_channels, h, w, dtype=torch.float64 if dtype_double else torch.float32).to(device)
        try:
            model(x)
        except _Stop:
            pass
        except Exception:  # noqa: BLE001 - too small for the stack
            return None
        return seen.get("map") if "linear" in seen else None

    training = model.training
    handles = [m.register_forward_pre_hook(pre) for m in model.modules() if isinstance(m, nn.Linear)]
    handles += [m.register_forward_hook(post) for m in model.modules() if not list(m.children())]
    try:
        model.eval()
        with torch.no_grad():
            a, b = probe(32, 32), probe(64, 64)
            if a is None or b is None or a == b or a[0] != b[0]:
                return None  # adaptive pooling: any size fits
            c, need = a[0], _linear_features(model, seen)
            if not need or need % c:
                return None
            area = need // c
            pairs = sorted(((i, area // i) for i in range(1, area + 1) if area % i == 0 and i <= area // i),
                           key=lambda p: p[1] - p[0])
            h_t, w_t = pairs[0]

            def side(target, axis):
                lo, hi = 4, 256
                while lo < hi:  # smallest side whose map reaches the target
                    mid = (lo + hi) // 2
                    got = probe(mid, 64) if axis == 0 else probe(64, mid)
                    if got is not None and got[1 + axis] >= target:
                        hi = mid
                    else:
                        lo = mid + 1
                got = probe(lo, 64) if axis == 0 else probe(64, lo)
                return lo if got is not None and got[1 + axis] == target else None

            h, w = side(h_t, 0), side(w_t, 1)
            if h is None or w is None:
                return None
            return {"size": (h, w), "channels": conv.in_channels,
                    "why": (f"Conv2d({conv.in_channels}, ...) feeding Linear({need}, ...): {c}x{h_t}x{w_t} maps "
                            f"need a {h}x{w} input")}
    finally:
        for handle in handles:
            handle.remove()
        model.train(training)


def _linear_features(model, seen) -> int | None:
    lin = seen.get("linear")
    return getattr(lin, "in_features", None)


def _label_like(name: str) -> bool:
    return name == "c" or any(name.startswith(w) for w in _LABEL_WORDS if w != "c")


def _state_zeros(model, batch: int, device: str, dtype):
    import torch
    import torch.nn as nn

    r = _recurrent(model)
    layers = r.num_layers * (2 if r.bidirectional else 1)
    h = torch.zeros(layers, batch, getattr(r, "proj_size", 0) or r.hidden_size, device=device, dtype=dtype)
    if isinstance(r, nn.LSTM):
        return (h, torch.zeros(layers, batch, r.hidden_size, device=device, dtype=dtype))
    return h


def _to(state, device: str, dtype):
    """A state from the model's own ``init_hidden``, on the run's device (and in double when the run is)."""
    if isinstance(state, (tuple, list)):
        return type(state)(_to(s, device, dtype) for s in state)
    if hasattr(state, "to") and hasattr(state, "is_floating_point"):
        return state.to(device=device, dtype=dtype) if state.is_floating_point() else state.to(device)
    return state


def make_inputs(desc: dict, device: str, seed: int, model=None) -> tuple:
    """All the forward's arguments for candidate ``desc`` (the first input, then ``desc["rest"]``)."""
    import torch

    gen = torch.Generator().manual_seed(seed + 104729)
    dtype = torch.float64 if desc.get("double") else torch.float32

    def tensor(shape, kind, high):
        if kind == "long":
            return torch.randint(0, int(high or 100), shape, generator=gen).to(device)
        return torch.randn(shape, generator=gen, dtype=dtype).to(device)

    first = tensor(desc["shape"], desc.get("dtype"), desc.get("high"))
    xs = [first]
    batch = desc["shape"][0]
    for r in desc.get("rest", []):
        kind = r["kind"]
        if kind == "none":
            xs.append(None)
        elif kind == "same":
            xs.append(tensor(desc["shape"], desc.get("dtype"), desc.get("high")))
        elif kind == "tensor":
            shape = [batch] + list(r["shape"][1:])
            xs.append(tensor(shape, r.get("dtype"), r.get("high")))
        elif kind == "adjacency":
            n = batch
            a = (torch.rand((n, n), generator=gen) < 0.2).to(dtype) + torch.eye(n, dtype=dtype)
            xs.append((a / a.sum(1, keepdim=True)).to(device))
        elif kind == "lengths":
            xs.append([desc["shape"][1] if len(desc["shape"]) > 1 else 1] * batch)
        elif kind == "init_hidden":
            fn = getattr(model, r["method"])
            state = fn(batch) if r.get("nargs", 1) >= 1 else fn()
            xs.append(_to(state, device, dtype))
        elif kind == "zeros_pair":
            xs.append((torch.zeros(batch, r["size"], dtype=dtype, device=device),
                       torch.zeros(batch, r["size"], dtype=dtype, device=device)))
        elif kind == "zeros_state":
            xs.append(_state_zeros(model, batch, device, dtype))
    return tuple(xs)


def make_input(desc: dict, device: str, seed: int, model=None):
    """The first input of candidate ``desc`` (one tensor)."""
    return make_inputs(dict(desc, rest=[]), device, seed, model)[0]


def input_cost(model, xs):
    """One forward pass without gradients; returns (output, multiply-adds per sample of its convs and linears)."""
    import torch

    total = [0.0]

    def hook(m, _inp, out):
        if isinstance(out, torch.Tensor) and getattr(m, "weight", None) is not None and m.weight.dim() >= 2:
            w = m.weight
            per_out = w.numel() / w.shape[1 if isinstance(m, torch.nn.modules.conv._ConvTransposeNd) else 0]
            total[0] += out.numel() * per_out

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (torch.nn.Linear, torch.nn.modules.conv._ConvNd))] if hasattr(model, "modules") else []
    try:
        with torch.no_grad():
            out = call_model(model, tuple(xs))
    finally:
        for h in handles:
            h.remove()
    first = xs[0]
    return out, total[0] / max(1, first.shape[0] if first.dim() else 1)


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


def _objective(out, loss, seed: int):
    """The training loss on the model's output: the user's own (a callable from a traced run or the API:
    ``loss(output) -> (tensor, kind)``), else a synthetic one of the file's loss kind where it is known."""
    import torch
    import torch.nn.functional as F

    if callable(loss):
        return loss(out)
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


class Batch(tuple):
    """The forward's positional arguments as captured from a call, with its keyword arguments."""

    kwargs: dict = {}

    @classmethod
    def of(cls, args, kwargs=None) -> "Batch":
        batch = cls(args)
        batch.kwargs = dict(kwargs or {})
        return batch


def call_model(model, x):
    """``model(*x)`` for a tuple of arguments (a :class:`Batch` adds its keywords), else ``model(x)``.

    A Keras functional model of several inputs takes them as one list (its second argument is ``training``)."""
    if isinstance(x, tuple):
        inputs = getattr(model, "inputs", None)
        if isinstance(inputs, list) and len(inputs) == len(x) > 1 and hasattr(model, "compute_output_spec"):
            return model(list(x))
        return model(*x, **getattr(x, "kwargs", {}))
    return model(x)


class Run:
    """One forward and backward pass with everything recorded."""

    def __init__(self, model, x, framework: str, swap=()):
        # ``x``: one tensor, or a tuple of the forward's arguments (called as ``model(*x)``)
        self.model, self.x, self.framework = model, x, framework
        self.xs = x if isinstance(x, tuple) else (x,)
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
                self.out = call_model(self.model, self.x)
        finally:
            CURRENT.pop()
            for h in handles:
                h.remove()
        return output_tensor(self.out)

    def backward(self, loss_spec, seed):
        if callable(loss_spec):  # the user's loss, on the whole output (it picks the element that reaches it)
            self.loss, self.loss_kind = loss_spec(self.out)
            if self.loss is not None and self.loss.requires_grad:
                self.loss.backward()
            return
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
        out = call_model(model, x)
        loss, _ = _objective(out if callable(loss_spec) else output_tensor(out), loss_spec, seed)
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
    from actlint.verify.measure.record import after_steps_record

    return after_steps_record(run, losses)


def light_ops(ops):
    return [{k: v for k, v in o.items() if k != "hist"} for o in ops]

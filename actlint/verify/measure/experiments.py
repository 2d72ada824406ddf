"""Per-rule experiments inside the child: the measurements each static finding's verdict needs.

Each ``probe_*`` takes the context of the base run (model, input, recorded ops, a way to
make an untouched copy) and one probe request from the spec; it returns plain numbers.
The verdicts are decided in the parent (:mod:`actlint.verify.judge.verdicts`).
"""

from __future__ import annotations

import math
import re

from actlint.verify.measure.recorder import (INIT_CALLS, SATURATION, Batch, Run, call_model, grad_ratio,
                                             learned_weight, make_inputs, num, output_tensor)

RELU_LIKE = ("relu", "relu6", "gelu", "silu", "leaky_relu", "elu")


def _ops_at(run: Run, lines) -> list:
    lines = set(lines)
    return [k for k in run.rec.order if k[1] in lines or k[2] in lines]


def _ran_at(run: Run, lines) -> bool:
    """Whether the code at ``lines`` ran in this model: an op there, or a learned layer made there (an
    output layer with no activation records no op)."""
    wanted = set(lines)
    return bool(_ops_at(run, wanted)) or any(getattr(layer, "_actlint_line", None) in wanted
                                             for layer in run.rec.layers)


def _flagged_activations(ctx, probe) -> tuple[list, dict]:
    """ACT101's flagged activations as they ran, and the base numbers both twins start from."""
    base = ctx["base"]
    keys = _ops_at(base, probe["lines"])
    if not keys:
        return [], {"error": "the flagged activation did not run on the synthetic input"}
    result = {"grad_ratio": grad_ratio(ctx["base_layers"]),
              "activations": [{"fn": o["fn"], "mean_derivative": o.get("mean_derivative"),
                               "saturated_frac": o.get("saturated_frac"), "line": o["line"] or o["module_line"]}
                              for o in (base.rec.ops[k] for k in keys)]}
    return keys, result


def probe_twin_relu(ctx, probe):
    """ACT101: the same model with the flagged activations swapped for ReLU and Kaiming init."""
    import torch

    base = ctx["base"]
    keys, result = _flagged_activations(ctx, probe)
    if not keys:
        return result
    base_layers = ctx["base_layers"]
    twin = ctx["fresh"]()
    layers = [m for m in base.rec.layers]
    twin_layers = _same_layers(twin, base.model, layers)
    for m in twin_layers[:-1]:
        w = learned_weight(m)
        if w is not None:
            with torch.no_grad():
                torch.nn.init.kaiming_normal_(w, nonlinearity="relu")
    lines = {k[1] for k in keys} | {k[2] for k in keys}
    lines.discard(None)
    trun = Run(twin, ctx["x"], ctx["framework"], swap=lines)
    trun.forward()
    trun.backward(ctx["loss"], ctx["seed"])
    result["swapped"] = _swapped(trun, lines)
    result["twin_grad_ratio"] = grad_ratio(trun.layer_table())
    result["grad_norms"] = [r["grad_norm"] for r in base_layers]
    result["twin_grad_norms"] = [r["grad_norm"] for r in trun.layer_table()]
    return result


def _swapped(trun: Run, lines) -> int:
    """How many flagged saturating calls the twin computed as ReLU (the recorder keeps their own name)."""
    return sum(1 for k in trun.rec.order if k[0] in SATURATION and (k[1] in lines or k[2] in lines))


def _same_layers(twin, base_model, layers):
    """The twin's modules matching ``layers`` of the base model (by qualified name)."""
    names = {id(m): n for n, m in base_model.named_modules()}
    twin_mods = dict(twin.named_modules())
    return [twin_mods[names[id(m)]] for m in layers if id(m) in names and names[id(m)] in twin_mods]


def probe_matched_init(ctx, probe):
    """ACT106: activation std per layer at init against a twin with the matched initialiser."""
    import torch

    base = ctx["base"]
    lines = set(probe["lines"])
    flagged = [(line, name, t) for line, name, t in INIT_CALLS if line in lines]
    if not flagged:
        return {"error": "the flagged init call did not run while building the model"}
    acts = [base.rec.ops[k] for k in base.rec.order if k[0] in SATURATION or k[0] in RELU_LIKE]
    if not acts:
        return {"error": "no activation ran"}
    family = "saturating" if acts[0]["fn"] in SATURATION else "relu"
    params = {id(p): n for n, p in base.model.named_parameters()}
    pairs = [(init_name, params[id(t)]) for _, init_name, t in flagged if id(t) in params]
    twin = ctx["fresh"]()
    tparams = dict(twin.named_parameters())
    reinitialised = 0
    for init_name, name in pairs:
        p = tparams.get(name)
        if p is None:
            continue
        reinitialised += 1
        with torch.no_grad():
            if family == "relu":
                (torch.nn.init.kaiming_uniform_ if "uniform" in init_name else torch.nn.init.kaiming_normal_)(
                    p, nonlinearity="relu")
            else:  # the fix the rule proposes: Xavier with the activation's gain (5/3 for tanh, 1 for sigmoid)
                fn = acts[0]["fn"] if acts[0]["fn"] in ("tanh", "sigmoid") else "tanh"
                xavier = torch.nn.init.xavier_uniform_ if "uniform" in init_name else torch.nn.init.xavier_normal_
                xavier(p, gain=torch.nn.init.calculate_gain(fn))
    trun = Run(twin, ctx["x"], ctx["framework"])
    with torch.no_grad():
        trun.forward()
    tacts = [trun.rec.ops[k] for k in trun.rec.order if k[0] == acts[0]["fn"]]

    def stds(ops):
        return [o.get("out", {}).get("std") for o in ops]

    return {"activation": acts[0]["fn"], "family": family, "init": sorted({n for _, n, _ in flagged}),
            "matched": ("kaiming (relu gain)" if family == "relu" else
                        f"xavier with calculate_gain('{acts[0]['fn']}')"),
            "std": stds([a for a in acts if a["fn"] == acts[0]["fn"]]), "twin_std": stds(tacts),
            "saturated": [a.get("saturated_frac") for a in acts if a["fn"] == acts[0]["fn"]],
            "twin_saturated": [a.get("saturated_frac") for a in tacts],
            "input_std": 1.0, "reinitialised": reinitialised}


# --------------------------------------------------------------------------- Keras twins
# A Keras 3 model on the torch backend is a torch module, but Keras layers cannot be deep-copied
# reliably (subclassed models are not clonable at all): the Keras twins change the model in place
# (kernels re-drawn with Keras initialisers, the flagged activations computed as ReLU by the
# recorder, as in the PyTorch twin) and put every weight back afterwards.

KERAS_TWIN_RELU = ("the same Keras model with the flagged activations computed as ReLU and the hidden kernels "
                   "re-drawn with he_normal (in place; weights restored afterwards)")


def _keras_kernel(layer):
    """The layer's kernel variable (``_kernel`` where ``kernel`` is a property), or None."""
    var = getattr(layer, "_kernel", None)
    if var is None:
        var = getattr(layer, "kernel", None)
    return var if getattr(var, "value", None) is not None and len(var.shape) >= 2 else None


class _KerasWeights:
    """Saves every weight of a Keras model on entry, puts it back on exit."""

    def __init__(self, model):
        self.model = model

    def __enter__(self):
        self.saved = [(v, v.value.detach().clone()) for v in self.model.weights]
        return self

    def __exit__(self, *exc):
        for v, value in self.saved:
            v.assign(value)
        for v, _ in self.saved:
            v.value.grad = None
        return False


def _redraw(var, init_name: str, seed: int) -> None:
    import keras

    var.assign(keras.initializers.get({"class_name": init_name, "config": {"seed": seed}})(tuple(var.shape)))


def probe_twin_relu_keras(ctx, probe):
    """ACT101 for Keras: the gradient ratio against the model rerun with ReLU and he_normal kernels."""
    base = ctx["base"]
    keys, result = _flagged_activations(ctx, probe)
    if not keys:
        return result
    result["twin"] = KERAS_TWIN_RELU
    base_layers = ctx["base_layers"]
    lines = {k[1] for k in keys} | {k[2] for k in keys}
    lines.discard(None)
    model = base.model
    with _KerasWeights(model):
        for i, layer in enumerate(base.rec.layers[:-1]):
            var = _keras_kernel(layer)
            if var is not None:
                _redraw(var, "HeNormal", ctx["seed"] + i)
        trun = Run(model, ctx["x"], ctx["framework"], swap=lines)
        trun.forward()
        trun.backward(ctx["loss"], ctx["seed"])
        twin_layers = trun.layer_table()
    result["swapped"] = _swapped(trun, lines)
    result["twin_grad_ratio"] = grad_ratio(twin_layers)
    result["grad_norms"] = [r["grad_norm"] for r in base_layers]
    result["twin_grad_norms"] = [r["grad_norm"] for r in twin_layers]
    return result


def _keras_init_name(layer) -> str:
    """'he_normal' for ``HeNormal()`` or ``"he_normal"``: the layer's kernel initialiser in snake case."""
    import re

    name = type(getattr(layer, "kernel_initializer", None)).__name__
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def probe_matched_init_keras(ctx, probe):
    """ACT106 for Keras: activation std per layer against the model with the flagged kernels re-drawn matched."""
    import torch

    base = ctx["base"]
    lines = set(probe["lines"])
    flagged = [m for m in base.rec.layers
               if getattr(m, "_actlint_line", None) in lines and _keras_kernel(m) is not None]
    if not flagged:
        return {"error": "the flagged layer did not run on the synthetic input"}
    acts = [base.rec.ops[k] for k in base.rec.order if k[0] in SATURATION or k[0] in RELU_LIKE]
    if not acts:
        return {"error": "no activation ran"}
    own = getattr(getattr(flagged[0], "activation", None), "__name__", "")
    fn = own if own in SATURATION or own in RELU_LIKE else acts[0]["fn"]
    family = "saturating" if fn in SATURATION else "relu"
    inits = sorted({_keras_init_name(m) for m in flagged})
    uniform = any("uniform" in n for n in inits)
    matched = ("He" if family == "relu" else "Glorot") + ("Uniform" if uniform else "Normal")
    how = set()
    with _KerasWeights(base.model):
        for i, layer in enumerate(flagged):
            var = _keras_kernel(layer)
            now, want = _variance(layer.kernel_initializer, var.shape), _variance(matched, var.shape)
            if now and want:  # the same draw at the matched scale: no sampling noise between base and twin
                var.assign(var.value * math.sqrt(want / now))
                how.add("rescaled to")
            else:
                _redraw(var, matched, ctx["seed"] + i)
                how.add("re-drawn with")
        trun = Run(base.model, ctx["x"], ctx["framework"])
        with torch.no_grad():
            trun.forward()
    mine = [a for a in acts if a["fn"] == fn]
    tacts = [trun.rec.ops[k] for k in trun.rec.order if k[0] == fn]

    def stds(ops):
        return [o.get("out", {}).get("std") for o in ops]

    snake = "he" if family == "relu" else "glorot"
    return {"activation": fn, "family": family, "init": inits,
            "matched": f"{snake}_{'uniform' if uniform else 'normal'} (Keras twin: the flagged kernels "
                       f"{' or '.join(sorted(how))} it in place)",
            "std": stds(mine), "twin_std": stds(tacts),
            "saturated": [a.get("saturated_frac") for a in mine],
            "twin_saturated": [a.get("saturated_frac") for a in tacts], "input_std": 1.0,
            "reinitialised": len(flagged)}


def _variance(init, shape) -> float | None:
    """The weight variance a Keras VarianceScaling initialiser (He, Glorot, LeCun) gives a kernel of ``shape``."""
    import keras

    if isinstance(init, str):
        init = keras.initializers.get({"class_name": init, "config": {}})
    if not isinstance(init, keras.initializers.VarianceScaling) or len(shape) < 2:
        return None
    receptive = math.prod(int(d) for d in shape[:-2])
    fan_in, fan_out = receptive * int(shape[-2]), receptive * int(shape[-1])
    fan = {"fan_in": fan_in, "fan_out": fan_out}.get(init.mode, (fan_in + fan_out) / 2)
    return init.scale / max(1.0, fan)


KERAS_PROBES = {"twin_relu": probe_twin_relu_keras, "matched_init": probe_matched_init_keras}


def _op_dim(op: dict, fn: str, ndim: int) -> int:
    """The dim a recorded softmax normalised over (its own, else the implicit one); the last for a sigmoid."""
    d = op.get("dim") if fn != "sigmoid" else None
    if d is None and fn != "sigmoid":
        d = op.get("implicit_dim")
    if not isinstance(d, int) or ndim == 0:
        return max(ndim - 1, 0)
    return d % ndim


def _as_rows(t, d: int):
    """``t`` with dim ``d`` last, flattened to rows of that dim."""
    t = t.detach().float()
    if t.dim() == 0:
        return t.reshape(1, 1)
    return t.movedim(d, -1).reshape(-1, t.shape[d])


def _place(key):
    """The line an op ran at (or its module was built at): ``12``, or ``model.py:12`` in a traced run."""
    place = key[1] if key[1] is not None else key[2]
    if isinstance(place, tuple):  # (file, line) in a traced run
        place = f"{place[0].rsplit('/', 1)[-1]}:{place[1]}"
    return place


def _at(key) -> str:
    """`` at line 12``, `` at model.py:12`` (a traced run), or nothing where the op has no place."""
    place = _place(key)
    if place is None:
        return ""
    return f" at {place}" if isinstance(place, str) else f" at line {place}"


def _where(key) -> str:
    return f"the output of the {key[0]}{_at(key)}"


def probe_normalised(ctx, probe):
    """ACT102/ACT110/ACT113: is the flagged softmax/sigmoid's output normalised, and how much smaller its gradient is.

    Rows and gradients come from the same tensor, the flagged op's own (in a model with several heads,
    the head the finding names), never from the model's first output.
    """
    import torch
    import torch.nn.functional as F

    base = ctx["base"]
    keys = [k for k in _ops_at(base, probe["lines"]) if k[0] in ("softmax", "sigmoid")]
    if not keys:
        return {"error": "the flagged softmax/sigmoid did not run on the synthetic input"}
    key = keys[-1]
    fn = key[0]
    z, y = base.rec.inputs.get(key), base.rec.outputs.get(key)
    if z is None or y is None:
        return {"error": f"the output of the flagged {fn} was not recorded"}
    op = base.rec.ops[key]
    d = _op_dim(op, fn, y.dim())
    rows_y, z = _as_rows(y, d), _as_rows(z, d)
    sums = rows_y.sum(dim=-1)
    result = {"fn": fn, "tensor": _where(key), "op_line": key[1], "op_module_line": key[2], "dim": d,
              "units": int(rows_y.shape[-1]), "output_min": num(rows_y.min()), "output_max": num(rows_y.max()),
              "row_sum_min": num(sums.min()), "row_sum_max": num(sums.max()),
              "activation_min": (op.get("out") or {}).get("min")}
    gen = torch.Generator().manual_seed(ctx["seed"] + 15485863)
    labels = torch.randint(0, z.shape[-1], (z.shape[0],), generator=gen).to(z.device)
    targets = torch.randint(0, 2, z.shape, generator=gen).float().to(z.device)

    def grad(loss_fn, zz):
        zz = zz.clone().requires_grad_(True)
        loss_fn(zz).backward()
        return float(zz.grad.norm())

    kind = probe.get("loss_family", "categorical")
    for tag, scale in (("init", 1.0), ("trained", None)):
        zz = z if scale else z / (z.std() + 1e-12) * 5.0  # logits of a trained classifier: std 5
        if kind == "binary":
            if fn == "sigmoid":
                wrong = grad(lambda t: F.binary_cross_entropy_with_logits(torch.sigmoid(t), targets), zz)
            else:
                wrong = grad(lambda t: F.binary_cross_entropy(torch.softmax(t, -1).clamp(1e-7, 1 - 1e-7),
                                                              targets), zz)
            right = grad(lambda t: F.binary_cross_entropy_with_logits(t, targets), zz)
        else:
            act = torch.sigmoid if fn == "sigmoid" else (lambda t: torch.softmax(t, -1))
            wrong = grad(lambda t: F.cross_entropy(act(t), labels), zz)
            right = grad(lambda t: F.cross_entropy(t, labels), zz)
        result[f"grad_{tag}"] = wrong
        result[f"grad_logits_{tag}"] = right
    return result



def probe_fused(ctx, probe):
    """ACT103/ACT109: the unfused form at logits of realistic size against the fused one."""
    import torch
    import torch.nn.functional as F

    base = ctx["base"]
    fn = "sigmoid" if probe["code"] == "ACT103" else _log_of(base, probe["lines"])
    if not fn:
        return {"error": "the model computes no softmax or sigmoid for the log to read"}
    if fn == "sigmoid" and probe["code"] == "ACT109":
        return _probe_log_sigmoid(ctx, probe)
    inside = [k for k in _ops_at(base, probe["lines"]) if k[0] == fn]
    if inside and base.rec.inputs.get(inside[0]) is not None:
        z0 = base.rec.inputs[inside[0]].float()  # the model applies it itself: its input is the logits
        source = f"the input of the {fn}{_at(inside[0])}"
    else:
        out = output_tensor(base.out)
        if out is None:
            return {"error": "the model gave no tensor output"}
        z0 = out.detach().float()
        source = "the model's output"
    z0 = (z0 - z0.mean()) / (z0.std() + 1e-12) if z0.numel() > 1 else z0
    peak = float(z0.abs().max()) if z0.numel() else 0.0
    if 0.0 < peak < 1.0:  # a single logit (or a flat few): the largest scaled one reaches at least the scale
        z0 = z0 / peak
    rows = []
    for scale in (5.0, 10.0, 20.0, 40.0):
        z = (z0 * scale)
        if probe["code"] == "ACT103":
            # every logit, and its negation, against both labels: a small batch (one logit) cannot miss the
            # side that saturates (sigmoid rounds to 1 above +16.6; below -16.6 it stays representable)
            z = torch.cat([z, -z])
            target = torch.cat([torch.zeros_like(z), torch.ones_like(z)])
            z = torch.cat([z, z])
            zz = z.clone().requires_grad_(True)
            # the unfused form on purpose: it is what the finding is about
            unfused = F.binary_cross_entropy(torch.sigmoid(zz), target, reduction="none")  # noqa: ACT103
            unfused.sum().backward()
            g_unfused = zz.grad.clone()
            zz.grad = None
            fused = F.binary_cross_entropy_with_logits(zz, target, reduction="none")
            fused.sum().backward()
            g_fused = zz.grad
            s = torch.sigmoid(z)
            rows.append({"scale": scale, "max_abs_logit": num(z.abs().max()),
                         "rounded_frac": num(((s == 0) | (s == 1)).float().mean()),
                         "max_loss_error": num((unfused - fused).abs().max()),
                         "clamped_frac": num((unfused >= 100).float().mean()),
                         "zero_grad_frac": num(((g_unfused == 0) & (g_fused != 0)).float().mean()),
                         "unfused_finite": bool(torch.isfinite(unfused).all()),
                         "fused_finite": bool(torch.isfinite(fused).all())})
        else:
            z2 = z.reshape(-1, z.shape[-1]) if z.dim() >= 2 else z.reshape(1, -1)
            if z2.shape[-1] < 2:
                return {"error": "the output has a single unit"}
            unfused = torch.log(torch.softmax(z2, -1))  # noqa: ACT109 - measured on purpose
            unfused_eps = torch.log(torch.softmax(z2, -1) + 1e-9)  # noqa: ACT109
            fused = F.log_softmax(z2, -1)
            rows.append({"scale": scale, "max_abs_logit": num(z2.abs().max()),
                         "neg_inf_frac": num(torch.isinf(unfused).float().mean()),
                         "max_error_eps": num((unfused_eps - fused).abs().max()),
                         "fused_min": num(fused.min()),
                         "fused_finite": bool(torch.isfinite(fused).all())})
    return {"rows": rows, "logits_from": source}


def _log_of(base: Run, lines) -> str:
    """What a flagged ``log`` reads: the softmax or sigmoid at its lines, else the model's last one."""
    here = [k[0] for k in _ops_at(base, lines) if k[0] in ("softmax", "sigmoid")]
    if here:
        return here[0]
    last = [k[0] for k in base.rec.order if k[0] in ("softmax", "sigmoid")]
    return last[-1] if last else ""


def _probe_log_sigmoid(ctx, probe):
    """ACT109 on a sigmoid: the flagged form (log(sigmoid(z)) or log(1 - sigmoid(z)), with its epsilon if it
    has one) against logsigmoid(±z), on the recorded logits scaled to the sizes the expression probe uses."""
    import torch
    import torch.nn.functional as F

    from actlint.verify.measure.function_probes import SCALES

    base = ctx["base"]
    keys = [k for k in _ops_at(base, probe["lines"]) if k[0] == "sigmoid"] or \
        [k for k in base.rec.order if k[0] == "sigmoid"][-1:]
    z0 = base.rec.inputs.get(keys[0]) if keys else None
    if z0 is None:
        return {"error": "no sigmoid input was recorded"}
    source = f"the input of the sigmoid{_at(keys[0])}"
    z0 = z0.float()
    z0 = z0 - z0.mean() if z0.numel() > 1 else z0
    z0 = z0 / (z0.abs().max() + 1e-12)  # the recorded logits' shape, at largest magnitude 1
    # the form the flagged call takes where the static finding says (log(p) or log(1 - p)); else both
    signs = {True: (-1.0,), False: (1.0,)}.get(probe.get("complement"), (1.0, -1.0))
    eps = 1e-9 if probe.get("eps", True) else 0.0

    def written(z, sign, e):  # log(1 - sigmoid(z)) is logsigmoid(-z) only in exact arithmetic: run as written
        p = torch.sigmoid(z)
        return torch.log(p + e) if sign > 0 else torch.log(1 - p + e)  # noqa: ACT109 - measured on purpose

    rows = []
    for a in SCALES[1:]:
        z = z0 * a
        unfused = torch.cat([written(z, s, 0.0).flatten() for s in signs])
        as_written = torch.cat([written(z, s, eps).flatten() for s in signs])
        fused = torch.cat([F.logsigmoid(s * z).flatten() for s in signs])
        finite = torch.isfinite(as_written)
        rows.append({"scale": a, "max_abs_logit": num(z.abs().max()),
                     "neg_inf_frac": num(torch.isinf(unfused).float().mean()),
                     "max_error_eps": num((as_written - fused).abs()[finite].max()) if finite.any() else 0.0,
                     "fused_min": num(fused.min()),
                     "fused_finite": bool(torch.isfinite(fused).all())})
    return {"rows": rows, "logits_from": source, "fn": "sigmoid",
            "form": {(1.0,): "log(p)", (-1.0,): "log(1 - p)"}.get(signs, "log(p) and log(1 - p)")}


# A first layer that fixes the rank of the model's input: a rank guessed from it is not an invention.
_RANK_FIXED = re.compile(r"^guessed from (Lazy)?(Conv|ConvTranspose)[123]d\(|^guessed from (LSTM|GRU|RNN)\(|"
                         r"^guessed from (BatchNorm[23]d|InstanceNorm2d|GroupNorm|Transformer\w*|MultiheadAttention)\(")


def rank_known(desc: dict | None) -> bool:
    """Whether the rank of candidate ``desc`` comes from the code (the file, the configuration, a layer that
    fixes it), not from a guess: only such a rank may decide ACT104."""
    why = (desc or {}).get("why") or ""
    return bool(why) and (not why.startswith("guessed") or bool(_RANK_FIXED.search(why)))


def _with_first(xs: tuple, first):
    """The arguments ``xs`` with the first replaced (keyword arguments of a captured call kept)."""
    rest = (first,) + tuple(xs[1:])
    return Batch.of(rest, xs.kwargs) if isinstance(xs, Batch) else rest


def probe_implicit_dim(ctx, probe):
    """ACT104: the dim the implicit choice took, at the input the model got (and, as evidence, other ranks).

    With ``ctx["inputs"]`` (real call arguments from a traced run) those are run and decide; otherwise
    the measured synthetic input decides when its rank comes from the code (:func:`rank_known`), and
    candidates of other ranks are run for the record only.
    """
    import torch

    model = ctx["base"].model
    real = ctx.get("inputs")
    runs = []  # (arguments, where they come from, whether they may decide)
    if real:
        for x in real:
            runs.append((x if isinstance(x, tuple) else (x,), "the input of the traced run", True))
    else:
        for i, desc in enumerate(ctx.get("candidates") or []):
            if i == 0:
                x = ctx["x"]
                xs = x if isinstance(x, tuple) else (x,)
            else:
                xs = make_inputs(desc, ctx["device"], ctx["seed"], model)
            runs.append((xs, desc.get("why") or "", i == 0 and rank_known(desc)))
    found = []
    for xs, why, decides in runs:
        first = xs[0] if xs else None
        shape = list(first.shape) if hasattr(first, "shape") else None
        row = {"input_shape": shape, "from": why, "decides": decides}
        run = Run(model, xs, ctx["framework"])
        try:
            with torch.no_grad():
                y = run.forward()
        except Exception as exc:  # this shape does not fit the model
            found.append(dict(row, error=f"{type(exc).__name__}: {exc}"[:200]))
            continue
        keys = [k for k in _ops_at(run, probe["lines"]) if k[0] in ("softmax", "log_softmax", "softmin")]
        if not keys:
            found.append(dict(row, error="the flagged softmax did not run"))
            continue
        op = run.rec.ops[keys[0]]
        row.update(softmax_input_shape=op.get("in_shape"), implicit_dim=op.get("implicit_dim"), dim=op.get("dim"))
        if (y is not None and isinstance(first, torch.Tensor) and first.dim() and first.shape[0] > 1
                and first.is_floating_point()):
            x2 = first.clone()  # the real first tensor (or the synthetic one), never changed in place
            x2[0] = x2[0] + 1.0
            with torch.no_grad():
                y2 = output_tensor(call_model(model, _with_first(xs, x2)))
            if y2 is not None and y2.shape == y.shape and y.shape[0] == first.shape[0]:
                row["other_samples_change"] = num((y2[1:] - y[1:]).abs().max())
        found.append(row)
    return {"runs": found}



def probe_output_range(ctx, probe):
    """ACT105/ACT111/ACT114: the observed output against what the loss needs.

    ACT111 reads the flagged softmax itself (its units are the size of the dim it normalises over);
    the others, and ACT111 when the softmax did not run as an op, the model's output.  ACT105 reads
    the model's output only when the flagged activation ran in this model (another model's output
    says nothing of it).
    """
    import torch
    import torch.nn.functional as F

    base = ctx["base"]
    if probe["code"] == "ACT105" and not _ran_at(base, probe["lines"]):
        return {"error": "the flagged activation did not run in the model measured"}
    tensor, units = None, None
    if probe["code"] == "ACT111":
        keys = [k for k in _ops_at(base, probe["lines"]) if k[0] == "softmax" and k in base.rec.outputs]
        if keys:
            key = keys[-1]
            y = base.rec.outputs[key]
            d = _op_dim(base.rec.ops[key], "softmax", y.dim())
            o = _as_rows(y, d)
            tensor, units = _where(key), int(o.shape[-1])
    if tensor is None:
        out = output_tensor(base.out)
        if out is None:
            return {"error": "the model gave no tensor output"}
        o = out.detach().float()
        units = int(o.shape[-1]) if o.dim() else 1
        tensor = "the model's output"
    result = {"tensor": tensor, "min": num(o.min()), "max": num(o.max()), "units": units,
              "below_0_frac": num((o < 0).float().mean()), "above_1_frac": num((o > 1).float().mean()),
              "exact_0_frac": num((o == 0).float().mean()), "exact_1_frac": num((o == 1).float().mean()),
              "std": num(o.std()) if o.numel() > 1 else 0.0}
    if probe["code"] == "ACT114":
        flat = o.reshape(-1, o.shape[-1]).clone().requires_grad_(True)
        loss = F.cross_entropy(flat, torch.zeros(flat.shape[0], dtype=torch.long, device=flat.device))
        loss.backward()
        result.update(loss=num(loss), grad_norm=num(flat.grad.norm()))
    if probe["code"] == "ACT111":
        norms = [r["grad_norm"] for r in ctx["base_layers"]]
        result["last_layer_grad_norm"] = norms[-1] if norms else None
    return result


def probe_leading(ctx, probe):
    """ACT108: the flagged activation as it ran on the model's input (the first such call)."""
    base = ctx["base"]
    ops = [base.rec.ops[k] for k in _ops_at(base, probe["lines"])]
    if not ops:
        return {"error": "the flagged activation did not run on the synthetic input"}
    op = next((o for o in ops if o.get("before_learned")), ops[0])
    return {"fn": op["fn"], "line": op["line"] or op["module_line"], "before_learned": bool(op.get("before_learned")),
            "zero_fraction": (op.get("out") or {}).get("zero_frac"), "saturated_fraction": op.get("saturated_frac"),
            "negative_fraction": op.get("negative_frac"), "input_std": (op.get("in") or {}).get("std")}



def probe_float16(ctx, probe):
    """ACT112: the output softmax/sigmoid in float16 at trained-size logits, against float32."""
    import torch

    base = ctx["base"]
    keys = [k for k in _ops_at(base, probe["lines"]) if k[0] in ("sigmoid", "softmax")]
    if not keys:
        keys = [k for k in base.rec.order if k[0] in ("sigmoid", "softmax")][-1:]
    if keys and base.rec.inputs.get(keys[-1]) is not None:
        fn, z = keys[-1][0], base.rec.inputs[keys[-1]].float()
    else:  # the sigmoid is applied outside the model (BCELoss(sigmoid(model(x))) under autocast)
        out = output_tensor(base.out)
        if out is None:
            return {"error": "no softmax/sigmoid output to measure"}
        fn, z = "sigmoid", out.detach().float()
    z = z / (z.std() + 1e-12) * 8.0 if z.numel() > 1 else z  # logits of a confident, trained model
    act = torch.sigmoid if fn == "sigmoid" else (lambda t: torch.softmax(t, -1))
    p32 = act(z)
    p16 = act(z.half()).float()
    with torch.no_grad():
        log16 = torch.log(p16)
        log_rest16 = torch.log(1 - p16) if fn == "sigmoid" else log16
    return {"fn": fn, "max_abs_logit": num(z.abs().max()),
            "rounded_frac_16": num(((p16 == 0) | (p16 == 1)).float().mean()),
            "rounded_frac_32": num(((p32 == 0) | (p32 == 1)).float().mean()),
            "log_inf_frac_16": num((torch.isinf(log16) | torch.isinf(log_rest16)).float().mean())}


PROBES = {"twin_relu": probe_twin_relu, "matched_init": probe_matched_init, "normalised": probe_normalised,
          "fused": probe_fused, "implicit_dim": probe_implicit_dim, "output_range": probe_output_range,
          "float16": probe_float16, "leading": probe_leading}

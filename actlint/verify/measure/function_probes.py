"""Child side of the experiments on findings outside any model (see :mod:`actlint.verify.build.functions`).

Each experiment evaluates the user's forms (``F.softmax(z, dim=1)``, ``torch.log(p)``) in a
namespace holding only the file's torch/math/numpy imports and synthetic tensors, against
the corrected form, in the rule's regime: logits uniform in ``±a`` for ``a`` = 1 … 60,
batch 64 × 10 classes; a rank-3 (4, 8, 16) input for a softmax without dim.  Numbers only;
the verdicts are decided in the parent (:func:`actlint.verify.judge.verdicts.judge_function`).
"""

from __future__ import annotations

import json
import os
import time

BATCH, CLASSES = 64, 10
SCALES = (1.0, 10.0, 20.0, 30.0, 60.0)


def _num(t) -> float:
    return float(t.detach().float()) if hasattr(t, "detach") else float(t)


def _logits(torch, a: float, seed: int = 0, shape=(BATCH, CLASSES)):
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=gen) * 2 - 1) * a


def _ev(expr: str, ns: dict, **values):
    return eval(expr, dict(ns, **values))  # noqa: S307 - the user's own expression, in the guarded child


def loss_chain(torch, ns, e) -> dict:
    """ACT102/ACT103: act → loss as written against the corrected form, per logit size."""
    gen = torch.Generator().manual_seed(1)
    binary = e["family"] == "binary"
    rows = []
    for a in SCALES[:4]:
        z0 = _logits(torch, a)
        y = (torch.randint(0, 2, z0.shape, generator=gen).float() if binary
             else torch.randint(0, CLASSES, (BATCH,), generator=gen))
        z = z0.clone().requires_grad_(True)
        loss = _ev(e["loss"], ns, p=_ev(e["act"], ns, z=z), y=y)
        loss.backward()
        g_user = z.grad.clone()
        z.grad = None
        fixed = _ev(e["fixed"], ns, z=z, y=y)
        fixed.backward()
        g_fixed = z.grad.clone()
        exact = _ev(e["fixed"], ns, z=z0.double(), y=y.double() if binary else y)
        row = {"max_abs_logit": a, "loss": _num(loss), "fixed_loss": _num(fixed), "exact_loss": _num(exact),
               "grad_norm": _num(g_user.norm()), "fixed_grad_norm": _num(g_fixed.norm()),
               "finite": bool(torch.isfinite(loss)), "fixed_finite": bool(torch.isfinite(fixed))}
        if e["code"] == "ACT103":
            p = torch.sigmoid(z0)
            zz = z0.clone().requires_grad_(True)
            el = torch.nn.functional.binary_cross_entropy(torch.sigmoid(zz), y, reduction="none")  # noqa: ACT103
            el.sum().backward()
            ex = torch.nn.functional.binary_cross_entropy_with_logits(z0.double(), y.double(), reduction="none")
            gz = zz.grad
            gf = torch.sigmoid(z0) - y
            row.update(rounded_frac=_num(((p == 0) | (p == 1)).float().mean()),
                       max_loss_error=_num((el.double() - ex).abs().max()),
                       clamped_frac=_num((el >= 100).float().mean()),
                       zero_grad_frac=_num(((gz == 0) & (gf != 0)).float().mean()))
        else:  # perfectly separated logits: the label's logit +a, the others -a
            if binary:
                perfect = (y * 2 - 1) * a
            else:
                perfect = torch.full((BATCH, CLASSES), -a)
                perfect[torch.arange(BATCH), y] = a
            row.update(perfect_loss=_num(_ev(e["loss"], ns, p=_ev(e["act"], ns, z=perfect), y=y)),
                       perfect_fixed_loss=_num(_ev(e["fixed"], ns, z=perfect, y=y)))
        rows.append(row)
    return {"rows": rows, "batch": [BATCH, CLASSES]}


def log_expr(torch, ns, e) -> dict:
    """ACT109: the flagged log as written against log_softmax/logsigmoid, per logit size (and float16)."""
    consts = {k: float(v) for k, v in e.get("constants", {}).items()}
    gen = torch.Generator().manual_seed(2)
    rows = []
    dtypes = [("float32", torch.float32)] + ([("float16", torch.float16)] if e.get("half") else [])
    for tag, dt in dtypes:
        for a in SCALES[1:]:
            z0 = _logits(torch, a).to(dt)
            z = z0.clone().requires_grad_(True)
            bound = {name: _ev(form, ns, z=z) for name, form in e["bind"].items()}
            user = _ev(e["expr"], ns, z=z, **consts, **bound)
            fixed = _ev(e["fixed"], ns, z=z)
            exact = _ev(e["fixed"], ns, z=z0.double())
            if user.shape != fixed.shape:
                return {"error": f"the log gives shape {tuple(user.shape)} where the fused form gives "
                                 f"{tuple(fixed.shape)}"}
            # an NLL-like use: the log at one random entry per row, summed
            pick = torch.zeros(fixed.shape, dtype=torch.bool)
            cols = torch.randint(0, fixed.shape[-1], (fixed.shape[0],), generator=gen)
            pick[torch.arange(fixed.shape[0]), cols] = True
            g_user = torch.autograd.grad(user[pick].float().sum(), z, retain_graph=False, allow_unused=True)[0]
            g_fixed = torch.autograd.grad(fixed[pick].float().sum(), z)[0]
            finite = torch.isfinite(user)
            err = (user.double() - exact).abs()[finite]
            g_user = torch.zeros_like(z) if g_user is None else g_user
            rows.append({"dtype": tag, "max_abs_logit": a,
                         "nonfinite_frac": _num((~finite).float().mean()),
                         "max_error": _num(err.max()) if err.numel() else None,
                         "fixed_max_error": _num((fixed.double() - exact).abs().max()),
                         "fixed_finite": bool(torch.isfinite(fixed).all()),
                         "grad_nonfinite": bool((~torch.isfinite(g_user)).any()),
                         "grad_lost_frac": _num(((g_user.abs() < 1e-3 * g_fixed.abs()) & (g_fixed.abs() > 1e-6))
                                                [pick].float().mean()),
                         "fixed_min": _num(fixed.min())})
    return {"rows": rows}


def implicit_dim(torch, ns, e) -> dict:
    """ACT104: which dim the call normalises over, for the rank the code states (else 2 and 3)."""
    shapes = {1: (16,), 2: (BATCH, CLASSES), 3: (4, 8, 16), 4: (4, 3, 8, 8)}
    ranks = [e["rank"]] if e.get("rank") in shapes else [2, 3]
    runs = []
    for r in ranks:
        x = _logits(torch, 3.0, shape=shapes[r])
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            y = _ev(e["form"], ns, z=x)
        dims = [d for d in range(r) if torch.allclose(y, torch.softmax(x, dim=d), atol=1e-6)]
        sums = y.sum(dim=-1)
        row = {"rank": r, "shape": list(x.shape), "implicit_dim": dims[0] if dims else None,
               "last_dim_sum_min": _num(sums.min()), "last_dim_sum_max": _num(sums.max())}
        if r >= 2:
            x2 = x.clone()
            x2[0] = x2[0] + 1.0
            y2 = _ev(e["form"], ns, z=x2)
            row["other_samples_change"] = _num((y2[1:] - y[1:]).abs().max())
        runs.append(row)
    return {"runs": runs, "rank_stated": e.get("rank") in shapes}


EXPERIMENTS = {"loss_chain": loss_chain, "log": log_expr, "implicit_dim": implicit_dim}


def run_spec(spec: dict, scratch: str, install_guard) -> int:
    """Run every experiment of a ``kind: functions`` spec; write ``result.json`` in ``scratch``."""
    result: dict = {"ok": False, "timings": {}}
    t0 = time.perf_counter()
    try:
        import torch

        if spec.get("threads"):
            torch.set_num_threads(int(spec["threads"]))
        result["device"] = "cpu"
        install_guard()
        ns: dict = {"__builtins__": __builtins__}
        exec(compile(spec.get("imports", ""), spec.get("user_file", "<imports>"), "exec"), ns)  # noqa: S102
        ns.setdefault("torch", torch)
        probes = {}
        for e in spec.get("experiments", []):
            fn = EXPERIMENTS.get(e["kind"])
            try:
                probes[e["id"]] = fn(torch, ns, e) if fn else {"error": f"unknown experiment {e['kind']}"}
            except Exception as exc:  # noqa: BLE001 - every failure becomes a reason
                text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                probes[e["id"]] = {"error": f"{type(exc).__name__} while running the expression: {text}"[:300]}
            probes[e["id"]]["experiment"] = e
        result.update(ok=True, probes=probes)
    except BaseException as exc:  # noqa: BLE001
        result.update(ok=False, reason=f"{type(exc).__name__} while running the expressions: {exc}"[:400])
    finally:
        result["timings"]["total_s"] = time.perf_counter() - t0
        with open(os.path.join(scratch, "result.json"), "w", encoding="utf-8") as fh:
            json.dump(result, fh, default=str)
    return 0

"""The measurement record: one model's base run, experiments and after-steps look, as plain JSON.

The synthetic child (:mod:`actlint.verify.build.child`), a traced run
(:mod:`actlint.verify.trace.tracer`) and the Python API all build the record here, so the
judge (:mod:`actlint.verify.judge.verdicts`) reads the same fields whichever way the model
was built.  Child side: imports torch.
"""

from __future__ import annotations

from actlint.verify.measure.experiments import KERAS_PROBES, PROBES
from actlint.verify.measure.recorder import grad_ratio, light_ops, named_params, num, output_tensor, stats, zero_grads


def base_record(base, model, framework: str) -> dict:
    """What the base run (forward and backward, recorded) measured."""
    import torch

    layers = base.layer_table()
    out = output_tensor(base.out)
    return {
        "framework": framework, "ops": base.op_table(), "layers": layers,
        "output": stats(out) if out is not None else None,
        "loss": {"kind": base.loss_kind, "value": num(base.loss) if base.loss is not None else None,
                 "finite": bool(torch.isfinite(base.loss)) if base.loss is not None else None},
        "grad_ratio": grad_ratio(layers),
        "grads_nonfinite": sum(int((~torch.isfinite(p.grad)).sum()) for _, p in named_params(model)
                               if p.grad is not None),
    }


def after_steps_record(run, losses: list) -> dict:
    """The second look, after a few training steps: the same op and layer tables (histograms left out)."""
    return {"losses": losses, "ops": light_ops(run.op_table()), "layers": run.layer_table()}


def run_probes(ctx: dict, probes: list[dict], framework: str, reason) -> dict:
    """Each finding's experiment; one per rule and model when the same lines are asked twice.

    ``reason(exc, stage)`` turns an exception of the user's code into the sentence a verdict gives.
    """
    out: dict = {}
    done: dict = {}
    for probe in probes:
        fn = (KERAS_PROBES if framework == "keras" else {}).get(probe["kind"]) or PROBES.get(probe["kind"])
        if fn is None:
            continue
        same = (probe["kind"], probe["code"], tuple(_hashable(ln) for ln in probe["lines"]),
                probe.get("complement"), probe.get("eps"))
        if same in done:  # a twin fixes every finding of its rule at once: they read the same numbers
            out[probe["id"]] = done[same]
            continue
        try:
            zero_grads(ctx["base"].model)
            out[probe["id"]] = done[same] = fn(ctx, probe)
        except Exception as exc:  # noqa: BLE001 - the user's model failed under the experiment: a reason
            out[probe["id"]] = {"error": reason(exc, f"probing {probe['code']}")}
    return out


def _hashable(line):
    return tuple(line) if isinstance(line, list) else line

"""Runtime-only diagnostics (ACT901–ACT905): what a run shows even without a static finding.

Each is judged at init and again after the few Adam steps on synthetic data, with thresholds
calibrated on healthy models (torchvision/timm classifiers, the pytorch/examples models: none
fires) and broken ones (fixtures/verify/diagnostics, the rule pages' Examples: each fires); see
scripts/calibrate_diagnostics.py and docs/verifier.md, "How the ACT9xx thresholds were chosen".

- ACT901: a ReLU unit is dead when its largest pre-activation over the batch lies below minus
  the layer's pre-activation spread (a unit merely off for this batch sits just under 0:
  synthetic inputs vary less between samples than real ones).  Reported when, at init and still
  after the steps, over 30% of the layer's units are dead with 95% confidence given its unit count.
- ACT902: first/last learned-layer gradient norm under 1e-3 at init and after the steps (a
  zero-initialised head gives 0 at init only).
- ACT903: a layer's gradient over 1000× its weight norm, or first/last gradient norm over 1000×
  at init and after the steps.
- ACT904: over half of a hidden sigmoid/tanh's inputs with |z| ≥ 5 (not the output activation).
- ACT905: NaN/Inf in the output, loss, gradients or a training step.
"""

from __future__ import annotations

import math

from actlint.findings import Finding

# code -> (name, summary); imported by the CLI for ``actlint rule`` without loading torch.
RUNTIME_RULES = {
    "ACT901": ("dead-relu-units", "Over 30% of a ReLU layer's units are dead at init and after the training steps "
                                  "(runtime)"),
    "ACT902": ("vanishing-gradients", "The first learned layer's gradient is under 1e-3 of the last one's (runtime)"),
    "ACT903": ("exploding-gradients", "Gradients dwarf the weights (over 1000x) or grow towards the input (over "
                                      "1000x) (runtime)"),
    "ACT904": ("saturated-units", "Over half of a sigmoid/tanh layer's inputs have |z| >= 5 (runtime)"),
    "ACT905": ("non-finite-values", "NaN or Inf in the forward pass, the loss or the gradients (runtime)"),
}
DEAD_UNITS, VANISHING, EXPLODING, SATURATED, RELATIVE_STEP = 0.30, 1e-3, 1e3, 0.5, 1e3
CONFIDENCE_Z = 1.96  # 95%: the dead fraction of a 10-unit layer says little, of a 256-unit one a lot


def _finding(code: str, message: str, path: str, line: int, evidence: dict, model: str) -> Finding:
    name = RUNTIME_RULES[code][0]
    return Finding(code, name, message, path, line, 1, line, 1,
                   extra={"verdict": "observed", "evidence": dict(evidence, model=model)})


def _line(op: dict, default: int) -> int:
    return op.get("line") or op.get("module_line") or default


def _relu_pairs(ops0: list[dict], ops1: list[dict] | None) -> list[tuple[dict, dict]]:
    """Each ReLU call at init with the same call after the training steps (itself when none ran)."""
    relu0 = [o for o in ops0 if o["fn"] in ("relu", "relu6")]
    if ops1 is None:
        return [(o, o) for o in relu0]
    relu1 = [o for o in ops1 if o["fn"] in ("relu", "relu6")]
    return [(a, b) for a, b in zip(relu0, relu1)
            if (a.get("line"), a.get("module_line")) == (b.get("line"), b.get("module_line"))]


def _ratio(layers: list[dict], zero_init: set[int] = frozenset()) -> tuple[float | None, list]:
    """First/last learned-layer gradient norm, leaving out layers whose weights start at exactly zero.

    A zero-initialised layer (a ViT or MLP-Mixer head) stops every gradient behind it at init and
    scales it by its own tiny weights for the first steps: by design, not a vanishing gradient.
    No ratio either when the first layer's gradient is exactly 0: nothing reached it at all
    (every ReLU unit dead, which ACT901 reports; a detached branch), not a gradient that shrank.
    """
    norms = [r.get("grad_norm") for i, r in enumerate(layers) if r.get("grad_norm") is not None and i not in zero_init]
    return (norms[0] / norms[-1] if len(norms) >= 2 and norms[-1] and norms[0] else None), norms


def diagnose(result: dict, path: str, model: str, def_line: int) -> list[Finding]:
    """The runtime diagnostics of one model's run (at init, and after the few training steps)."""
    out: list[Finding] = []
    after = result.get("after_training")
    steps = len((after or {}).get("losses", []))
    later = f"after {steps} training steps"
    both = f"at init and {later}" if after else "at init"
    first_line = next((r.get("line") for r in result.get("layers", []) if r.get("line")), def_line)

    seen: set = set()
    for a, b in _relu_pairs(result.get("ops", []), after.get("ops", []) if after else None):
        line = _line(a, def_line)
        fracs = [a.get("dead_margin_frac"), b.get("dead_margin_frac")]
        units = _units(a)
        if None in fracs or not units or line in seen:
            continue
        dead = min(fracs)
        low = _wilson_low(dead, units)
        if low > DEAD_UNITS:
            seen.add(line)
            batch = (a.get("in_shape") or [0])[0]
            out.append(_finding("ACT901", (
                f"{100 * dead:.0f}% of this {a['fn']}'s {units} units are dead {both}: their largest "
                f"pre-activation over the batch of {batch} is below minus the layer's pre-activation spread "
                f"(alarm when over {100 * DEAD_UNITS:.0f}% with 95% confidence; here at least {100 * low:.0f}%); "
                f"check the bias init, lower the init scale or the learning rate, or use LeakyReLU/GELU"),
                path, line, {"dead_unit_fraction": dead, "dead_fraction_at_init": fracs[0],
                             "dead_fraction_after_training": fracs[1] if after else None, "units": units,
                             "dead_fraction_lower_bound": low, "when": both}, model))

    out_size = math.prod((result.get("output") or {}).get("shape") or [0])
    for when, ops in [("at init", result.get("ops", []))] + ([(later, after.get("ops", []))] if after else []):
        for op in ops:
            if op is ops[-1] and math.prod((op.get("out") or {}).get("shape") or [-1]) == out_size:
                continue  # the output activation: a confident prediction is saturated by design (ACT103/ACT109's regime)
            sat = op.get("saturated_frac_abs5")
            line = _line(op, def_line)
            if op["fn"] in ("sigmoid", "tanh") and sat is not None and sat > SATURATED and ("904", line) not in seen:
                seen.add(("904", line))
                out.append(_finding("ACT904", (
                    f"{100 * sat:.0f}% of this {op['fn']}'s inputs have |z| ≥ 5 {when}: the units are saturated "
                    f"and pass almost no gradient; normalise the input or lower the init scale"), path, line,
                    {"saturated_fraction": sat, "when": when}, model))

    phases = [("at init", result.get("layers", []))] + ([(later, after.get("layers", []))] if after else [])
    for when, layers in phases:
        relative = [(r["grad_norm"] / r["weight_norm"], r) for r in layers
                    if r.get("grad_norm") is not None and r.get("weight_norm")]
        worst, row = max(relative, key=lambda t: t[0], default=(0.0, None))
        if worst > RELATIVE_STEP and "903" not in seen:
            seen.add("903")
            out.append(_finding("ACT903", (
                f"a layer's weight gradient is {worst:.2g}× its weight norm {when} (alarm over {RELATIVE_STEP:g}×: "
                f"one step at lr 1e-3 would move the weights by more than their size); lower the init scale, "
                f"normalise or clip gradients"), path, (row or {}).get("line") or first_line,
                {"max_grad_to_weight_norm": worst, "grad_norms": [r.get("grad_norm") for r in layers],
                 "when": when}, model))
    zero_init = {i for i, r in enumerate(result.get("layers", [])) if r.get("weight_norm") == 0}
    ratios = [_ratio(layers, zero_init) for _, layers in phases]
    values = [r for r, _ in ratios if r is not None]
    if values:
        shown = " and ".join(f"{v:.2e}" for v in values)
        both = both if len(values) == len(ratios) else later  # a zero-initialised head: no ratio at init
        evidence = {"grad_ratio_first_last": ratios[0][0],
                    "grad_ratio_after_training": ratios[1][0] if after else None,
                    "grad_norms": ratios[0][1], "when": both, "zero_initialised_layers_left_out": len(zero_init)}
        if all(v < VANISHING for v in values):
            out.append(_finding("ACT902", (
                f"the first learned layer's gradient norm is {shown} of the last one's {both} "
                f"(alarm under {VANISHING:g}): early layers barely learn"), path, first_line, evidence, model))
        elif all(v > EXPLODING for v in values) and "903" not in seen:
            out.append(_finding("ACT903", (
                f"the first learned layer's gradient norm is {shown} times the last one's {both} "
                f"(alarm over {EXPLODING:g}×): clip gradients or lower the init scale"), path, first_line,
                evidence, model))

    output = result.get("output") or {}
    loss = result.get("loss") or {}
    bad = {"output_nonfinite": output.get("nonfinite", 0), "loss_finite": loss.get("finite"),
           "grads_nonfinite": result.get("grads_nonfinite", 0)}
    after_losses = (after or {}).get("losses", [])
    if bad["output_nonfinite"] or bad["loss_finite"] is False or bad["grads_nonfinite"] or any(
            v is None for v in after_losses):
        parts = []
        if bad["output_nonfinite"]:
            parts.append(f"{bad['output_nonfinite']} non-finite output values")
        if bad["loss_finite"] is False:
            parts.append("a non-finite loss")
        if bad["grads_nonfinite"]:
            parts.append(f"{bad['grads_nonfinite']} non-finite gradient values")
        if any(v is None for v in after_losses):
            parts.append("a NaN loss during the training steps")
        out.append(_finding("ACT905", f"NaN/Inf in the run: {', '.join(parts)}", path, def_line, bad, model))
    return out


def _wilson_low(frac: float, n: int, z: float = CONFIDENCE_Z) -> float:
    """Lower end of the 95% Wilson interval of a fraction seen on ``n`` units."""
    if n <= 0:
        return 0.0
    centre = frac + z * z / (2 * n)
    margin = z * math.sqrt(frac * (1 - frac) / n + z * z / (4 * n * n))
    return max(0.0, (centre - margin) / (1 + z * z / n))


def _units(op: dict) -> int:
    shape = op.get("in_shape") or []
    return int(shape[1]) if len(shape) >= 2 else 0


def statistics(result: dict) -> dict:
    """Each diagnostic's statistic for one run (what scripts/calibrate_diagnostics.py tabulates)."""
    after = result.get("after_training") or {}
    ops0, ops1 = result.get("ops", []), after.get("ops", [])
    pairs = _relu_pairs(ops0, ops1 if after else None)
    margin = [(min(a.get("dead_margin_frac") or 0.0, b.get("dead_margin_frac") or 0.0), _units(a)) for a, b in pairs]
    layers0, layers1 = result.get("layers", []), after.get("layers", [])
    zero_init = {i for i, r in enumerate(layers0) if r.get("weight_norm") == 0}

    def biggest(values):
        values = [v for v in values if v is not None]
        return max(values, default=None)

    return {
        "dead_init": biggest(a.get("dead_unit_frac") for a, _ in pairs),
        "dead_after": biggest(b.get("dead_unit_frac") for _, b in pairs) if after else None,
        "dead_margin_init": biggest(a.get("dead_margin_frac") for a, _ in pairs),
        "dead_margin_after": biggest(b.get("dead_margin_frac") for _, b in pairs) if after else None,
        "dead_margin_lb": biggest(_wilson_low(f, n) for f, n in margin),
        "grad_ratio": _ratio(layers0, zero_init)[0],
        "grad_ratio_after": _ratio(layers1, zero_init)[0] if after else None,
        "max_rel": biggest(r["grad_norm"] / r["weight_norm"] for r in layers0 + layers1
                           if r.get("grad_norm") is not None and r.get("weight_norm")),
        "sat": biggest(o.get("saturated_frac_abs5") for o in ops0 + ops1 if o["fn"] in ("sigmoid", "tanh")),
        "nonfinite": int(bool((result.get("output") or {}).get("nonfinite") or result.get("grads_nonfinite")
                              or (result.get("loss") or {}).get("finite") is False
                              or any(v is None for v in after.get("losses", [])))),
    }

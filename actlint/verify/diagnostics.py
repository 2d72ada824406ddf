"""Runtime-only diagnostics (ACT901–ACT905): what a run shows even without a static finding.

Thresholds follow the published runtime monitors (AUTOTRAINER, DeepDiagnosis) and the
seeds: dead ReLU units when over 30% of units are zero for the whole batch; vanishing
gradients when the first learned layer's gradient norm is under 1e-3 of the last one's;
exploding when over 70×, or when a layer's gradient exceeds 1000× its weights' norm (one step at
lr 1e-3 would move them by more than their size); saturation when over half the pre-activations have |z| ≥ 5.
"""

from __future__ import annotations

from actlint.findings import Finding

# code -> (name, summary); imported by the CLI for ``actlint rule`` without loading torch.
RUNTIME_RULES = {
    "ACT901": ("dead-relu-units", "Over 30% of a ReLU layer's units are zero for the whole batch (runtime)"),
    "ACT902": ("vanishing-gradients", "The first learned layer's gradient is under 1e-3 of the last one's (runtime)"),
    "ACT903": ("exploding-gradients", "Gradients grow towards the input (over 70x) or dwarf the weights (runtime)"),
    "ACT904": ("saturated-units", "Over half of a sigmoid/tanh layer's inputs have |z| >= 5 (runtime)"),
    "ACT905": ("non-finite-values", "NaN or Inf in the forward pass, the loss or the gradients (runtime)"),
}
DEAD_UNITS, VANISHING, EXPLODING, SATURATED, RELATIVE_STEP = 0.30, 1e-3, 70.0, 0.5, 1e3


def _finding(code: str, message: str, path: str, line: int, evidence: dict, model: str) -> Finding:
    name = RUNTIME_RULES[code][0]
    return Finding(code, name, message, path, line, 1, line, 1,
                   extra={"verdict": "observed", "evidence": dict(evidence, model=model)})


def _line(op: dict, default: int) -> int:
    return op.get("line") or op.get("module_line") or default


def diagnose(result: dict, path: str, model: str, def_line: int) -> list[Finding]:
    """The runtime diagnostics of one model's run (at init, and after the few training steps)."""
    out: list[Finding] = []
    seen: set[tuple] = set()
    phases = [("at init", result.get("ops", []), result.get("layers", []))]
    after = result.get("after_training")
    if after:
        phases.append((f"after {len(after.get('losses', []))} training steps", after.get("ops", []),
                       after.get("layers", [])))
    for when, ops, layers in phases:
        for op in ops:
            line = _line(op, def_line)
            dead = op.get("dead_unit_frac")
            if op["fn"] in ("relu", "relu6") and dead is not None and dead > DEAD_UNITS and ("901", line) not in seen:
                seen.add(("901", line))
                out.append(_finding("ACT901", (
                    f"{100 * dead:.0f}% of this {op['fn']}'s units are zero for the whole batch {when} "
                    f"(alarm at {100 * DEAD_UNITS:.0f}%); lower the learning rate, use LeakyReLU/GELU or Kaiming "
                    f"init"), path, line, {"dead_unit_fraction": dead, "when": when}, model))
            sat = op.get("saturated_frac_abs5")
            if op["fn"] in ("sigmoid", "tanh") and sat is not None and sat > SATURATED and ("904", line) not in seen:
                seen.add(("904", line))
                out.append(_finding("ACT904", (
                    f"{100 * sat:.0f}% of this {op['fn']}'s inputs have |z| ≥ 5 {when}: the units are saturated "
                    f"and pass almost no gradient; normalise the input or lower the init scale"), path, line,
                    {"saturated_fraction": sat, "when": when}, model))
        norms = [r.get("grad_norm") for r in layers if r.get("grad_norm") is not None]
        relative = [r["grad_norm"] / r["weight_norm"] for r in layers
                    if r.get("grad_norm") is not None and r.get("weight_norm")]
        worst = max(relative, default=0.0)
        if worst > RELATIVE_STEP and "903" not in seen:
            seen.add("903")
            first_line = next((r.get("line") for r in layers if r.get("line")), def_line)
            out.append(_finding("ACT903", (
                f"a layer's weight gradient is {worst:.2g}× its weight norm {when} (alarm over {RELATIVE_STEP:g}×: "
                f"one step at lr 1e-3 would move the weights by more than their size); lower the init scale, "
                f"normalise or clip gradients"), path, first_line,
                {"max_grad_to_weight_norm": worst, "grad_norms": norms, "when": when}, model))
        if len(norms) >= 2 and norms[-1]:
            ratio = norms[0] / norms[-1]
            first_line = next((r.get("line") for r in layers if r.get("line")), def_line)
            if ratio < VANISHING and "902" not in seen:
                seen.add("902")
                out.append(_finding("ACT902", (
                    f"the first learned layer's gradient norm is {ratio:.2e} of the last one's {when} "
                    f"(alarm under {VANISHING:g}): early layers barely learn"), path, first_line,
                    {"grad_ratio_first_last": ratio, "grad_norms": norms, "when": when}, model))
            elif ratio > EXPLODING and "903" not in seen:
                seen.add("903")
                out.append(_finding("ACT903", (
                    f"the first learned layer's gradient norm is {ratio:.0f}× the last one's {when} "
                    f"(alarm over {EXPLODING:g}×): clip gradients or lower the init scale"), path, first_line,
                    {"grad_ratio_first_last": ratio, "grad_norms": norms, "when": when}, model))
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

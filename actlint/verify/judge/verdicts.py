"""Verdicts: each static finding's measurement (from the child) judged confirmed, refuted or inconclusive.

The child measures; this module decides, with every threshold written out once, here, next to
the rule it serves.  Where there is a twin (the same model with the suspected part fixed), the
verdict compares against it rather than against an absolute number.

Two rules hold for every verdict:

- **No verdict from empty evidence.**  A model with no parameters (or none built yet), an
  activation that never ran, a twin identical to the base, a tensor other than the one the
  finding names: ``inconclusive``, whatever the numbers (:func:`judge` also refuses to decide
  on evidence without a single number).
- **Synthetic data cannot refute a claim about the data.**  Where the problem depends on the
  values the model sees (ACT101 saturation, ACT105, ACT106, ACT108, ACT112), a run on synthetic
  input (``result["source"] == "synthetic"``, the default) that does not show it is
  ``inconclusive: not reproduced on synthetic input (...)``; the same numbers from the user's
  own run (``"run"``) or the API (``"api"``) may refute.  ``refuted`` stays for what the numbers
  settle whatever the data: ACT102/ACT110's output not normalised, ACT104's implicit dim right
  at the rank the code passes, ACT107's two builds identical, ACT103/ACT109 exact at every logit
  size tried, ACT111/ACT113/ACT114's output shape.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

CONFIRMED, REFUTED, INCONCLUSIVE = "confirmed", "refuted", "inconclusive"

# Where the measurement came from (the child's result dict ``"source"``; missing means synthetic).
SYNTHETIC, RUN, API = "synthetic", "run", "api"
NOT_REPRODUCED = "not reproduced on synthetic input"
RUN_ON_REAL_DATA = "run on real data with actlint run"

# ACT101 (and ACT102 outside a model): a sigmoid's slope is at most 0.25 where a ReLU passes 1 on
# about half its units, so each saturating layer should cost about 2× of gradient against the ReLU
# twin; at least that confirms, under 1.5× (with nothing saturated) says no.  ACT102/ACT110 never
# call a tensor "not normalised" while its own gradient is ATTENUATION× smaller than on logits.
ATTENUATION, NO_ATTENUATION = 2.0, 1.5
SATURATED_CONFIRM, SATURATED_REFUTE = 0.10, 0.05
# ACT101 on inputs that saturate the layer (unscaled data): over half its inputs saturated (ACT904's alarm) and a
# mean derivative this small confirm whatever the twin does (a ReLU twin on the same inputs explodes instead).
SATURATED_STUCK, DERIVATIVE_STUCK = 0.5, 0.1
# ACT106: the per-layer change of activation std against the matched init, in the direction
# the rule predicts (Xavier under ReLU shrinks, He under tanh/sigmoid grows): 10% confirms, under 5% says no.
INIT_DRIFT_CONFIRM, INIT_DRIFT_REFUTE = 0.90, 0.95
# ACT106 under tanh/sigmoid: saturating this much, and twice the twin's plus a margin, confirms; within
# INIT_SATURATED_SAME of the twin counts as "nothing more saturates".
INIT_SATURATED_MIN, INIT_SATURATED_MARGIN, INIT_SATURATED_SAME = 0.05, 0.01, 0.02
# ACT102/ACT110/ACT113: rows summing to 1 within this; outputs non-negative / at most 1 within NONNEG_TOL.
ROW_SUM_TOL, NONNEG_TOL = 1e-3, 1e-6
# ACT103/ACT109 (in and outside a model): the unfused form off by more than this is wrong.
LOSS_ERROR = 1e-3
SATURATING_LOGIT = 20.0  # |logit| past float32's sigmoid saturation (it rounds to 1 from about 16.6)
# ACT108: a leading ReLU zeroing more than this of the input values, a sigmoid/tanh saturating more.
LEADING_ZERO_CONFIRM, LEADING_SATURATED_CONFIRM = 0.2, 0.05
# ACT102 outside a model: the loss on perfectly separated logits stays above STUCK_LOSS where the
# logits form gets under SOLVED_LOSS.
STUCK_LOSS, SOLVED_LOSS = 0.1, 0.01
# ACT107: the digest of no parameters at all (sha256 of nothing).
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


@dataclass
class Verdict:
    verdict: str
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)


def _f(x: float | None, digits: int = 3) -> str:
    if x is None:
        return "n/a"
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e4):
        return f"{x:.2e}"
    return f"{x:.{digits}g}"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def inconclusive(reason: str, **evidence) -> Verdict:
    return Verdict(INCONCLUSIVE, reason, evidence)


def synthetic(result: dict | None) -> bool:
    """Whether the numbers come from synthetic input (the verifier's own child), not the user's data."""
    return (result or {}).get("source", SYNTHETIC) == SYNTHETIC


def not_reproduced(text: str, evidence: dict) -> Verdict:
    return Verdict(INCONCLUSIVE, f"{NOT_REPRODUCED} ({text}); {RUN_ON_REAL_DATA}", evidence)


def _no(result: dict, text: str, why: str, evidence: dict) -> Verdict:
    """The problem did not show: a data-dependent claim is refuted only on the user's own data."""
    if synthetic(result):
        return not_reproduced(f"{text}: {why}", evidence)
    return Verdict(REFUTED, f"{text}: {why}", evidence)


def _unsettled(result: dict, text: str, evidence: dict) -> Verdict:
    """Between the thresholds: inconclusive, and on synthetic input said to be not reproduced."""
    return not_reproduced(text, evidence) if synthetic(result) else Verdict(INCONCLUSIVE, text, evidence)


def _has_number(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_number(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_number(v) for v in value)
    return False


def judge(code: str, probe: dict | None, result: dict) -> Verdict:
    """The verdict for one finding, given its probe's measurement and the whole run."""
    v = _judge(code, probe, result)
    if v.verdict != INCONCLUSIVE and not _has_number(
            {k: val for k, val in v.evidence.items() if k not in ("assumptions", "input")}):
        return inconclusive(f"no numbers to decide on ({v.verdict} withheld: {v.summary})", **v.evidence)
    if v.verdict != INCONCLUSIVE:
        v.evidence.setdefault("source", (result or {}).get("source", SYNTHETIC))
    return v


def _judge(code: str, probe: dict | None, result: dict) -> Verdict:
    if code == "ACT107":
        return judge_seed(result)
    judge_fn = JUDGES.get(code)
    if judge_fn is None:
        return inconclusive(f"the verifier does not measure {code} yet")
    if probe is None:
        return inconclusive("no measurement came back for this finding")
    if probe.get("error"):
        return inconclusive(probe["error"], **{k: v for k, v in probe.items() if k != "error"})
    return judge_fn(code, probe, result)


def judge_saturating(code, p, result) -> Verdict:
    r, t = p.get("grad_ratio"), p.get("twin_grad_ratio")
    acts = p.get("activations") or []
    sat = max((a.get("saturated_frac") or 0.0 for a in acts), default=0.0)
    derivs = [a.get("mean_derivative") for a in acts]
    evidence = {"grad_ratio_first_last": r, "twin_grad_ratio_first_last": t, "mean_derivative": derivs,
                "saturated_fraction": sat, "grad_norms": p.get("grad_norms"),
                "twin_grad_norms": p.get("twin_grad_norms"), "activations": acts, "swapped": p.get("swapped"),
                "twin": p.get("twin") or "a deep copy with the flagged activations replaced by ReLU and the "
                                         "hidden weights re-drawn with kaiming_normal_"}
    who = "the Keras twin with ReLU+he_normal" if p.get("twin") else "the twin with ReLU+Kaiming"
    if not acts:
        return inconclusive("the flagged activation did not run", **evidence)
    if p.get("swapped") == 0:
        return inconclusive("the twin changed nothing: none of the flagged activations was swapped for ReLU",
                            **evidence)
    if p.get("grad_norms") is not None and p.get("grad_norms") == p.get("twin_grad_norms"):
        return inconclusive("the twin changed nothing: its gradient norms equal the model's", **evidence)
    stuck = [a for a in acts if (a.get("saturated_frac") or 0) >= SATURATED_STUCK
             and a.get("mean_derivative") is not None and a["mean_derivative"] <= DERIVATIVE_STUCK]
    if r is None or t is None or r <= 0:
        if stuck and r is not None and r > 0:  # the twin has nothing to compare, the model's own numbers suffice
            worst = min(stuck, key=lambda a: a["mean_derivative"])
            return Verdict(CONFIRMED, (
                f"{_pct(worst['saturated_frac'])} of the inputs of the {worst['fn']} at line {worst.get('line')} are "
                f"saturated and its mean derivative is {_f(worst['mean_derivative'], 2)}, so it passes almost no "
                f"gradient; first/last learned-layer gradient norm ratio {_f(r)} ({who} got "
                f"{'no gradients' if t is None else 'a ratio of ' + _f(t)} on this batch, so no comparison)"),
                evidence)
        return inconclusive("could not compare gradient norms (fewer than two learned layers got gradients)",
                            **evidence)
    attenuation = t / r
    evidence["attenuation_vs_relu"] = attenuation
    relative = f"{_f(attenuation, 2)}× less" if attenuation >= 1 else f"{_f(1 / attenuation, 2)}× more"
    text = (f"first/last learned-layer gradient norm ratio {_f(r)} vs {_f(t)} in {who} "
            f"({relative}); mean derivative through the activation {', '.join(_f(d, 2) for d in derivs)}; "
            f"{_pct(sat)} of its inputs saturated")
    # Confirmed: the gradient shrinks as the rule says (against the twin), or many units are saturated
    # while the twin does not pass more gradient than half as well.  Saying no needs both signs absent,
    # and the user's own data: synthetic inputs do not saturate what real, unscaled ones may.
    if attenuation >= ATTENUATION or (sat >= SATURATED_CONFIRM and attenuation >= NO_ATTENUATION):
        return Verdict(CONFIRMED, text, evidence)
    if stuck:
        worst = min(stuck, key=lambda a: a["mean_derivative"])
        return Verdict(CONFIRMED, text + f": {_pct(worst['saturated_frac'])} of the inputs of the {worst['fn']} at "
                                         f"line {worst.get('line')} are saturated and its mean derivative is "
                                         f"{_f(worst['mean_derivative'], 2)}, so it passes almost no gradient",
                       evidence)
    if sat < SATURATED_REFUTE and attenuation < NO_ATTENUATION:
        return _no(result, text, "the gradient does not shrink against the twin", evidence)
    return _unsettled(result, text + ": units saturate, but the gradient does not vanish against the twin",
                      evidence)


def _rows(code, p) -> str:
    """``rows of the 10-unit output of the softmax at line 17 (dim 1) lie in [...] and sum to [...]``."""
    where = (p.get("tensor") or "the output").replace("the output", f"the {p.get('units')}-unit output", 1)
    return (f"rows of {where} (dim {p.get('dim')}) lie in [{_f(p.get('output_min'))}, {_f(p.get('output_max'))}] "
            f"and sum to [{_f(p.get('row_sum_min'), 6)}, {_f(p.get('row_sum_max'), 6)}]")


def judge_normalised(code, p, result) -> Verdict:
    fn = p.get("fn")
    units = p.get("units")
    lo, hi = p.get("row_sum_min"), p.get("row_sum_max")
    evidence = {k: p.get(k) for k in ("fn", "tensor", "op_line", "op_module_line", "dim", "units", "output_min",
                                      "output_max", "row_sum_min", "row_sum_max", "grad_init", "grad_logits_init",
                                      "grad_trained", "grad_logits_trained")}
    if lo is None or hi is None or not p.get("tensor"):
        return inconclusive("no row statistics of the flagged tensor came back", **evidence)
    sums_to_one = abs(lo - 1) < ROW_SUM_TOL and abs(hi - 1) < ROW_SUM_TOL
    non_negative = p.get("output_min") is not None and p["output_min"] >= -NONNEG_TOL
    shrink_init = _ratio(p.get("grad_logits_init"), p.get("grad_init"))
    shrink_trained = _ratio(p.get("grad_logits_trained"), p.get("grad_trained"))
    evidence.update(grad_shrink_init=shrink_init, grad_shrink_trained=shrink_trained)
    grads = (f"its gradient is {_f(shrink_init, 2)}× smaller than on logits at init, "
             f"{_f(shrink_trained, 2)}× at trained-size logits (std 5)")
    rows = _rows(code, p)
    if code == "ACT113":
        if units and units > 1 and not sums_to_one:
            return Verdict(CONFIRMED, f"{rows}: the sigmoid outputs do not sum to 1, so the classes do not compete",
                           evidence)
        if sums_to_one:
            return Verdict(REFUTED, f"{rows}: the outputs already sum to 1", evidence)
        return inconclusive(f"{rows}: a single unit says nothing about competing classes", **evidence)
    bounded = (fn == "sigmoid" and non_negative and p.get("output_max") is not None
               and p["output_max"] <= 1 + NONNEG_TOL)
    if (sums_to_one and non_negative) or bounded:
        what = "already normalised" if sums_to_one else "already squashed into [0, 1]"
        if code == "ACT110":
            return Verdict(CONFIRMED, f"{rows}: {what}, so each label's probability is capped by the others; "
                                      f"{grads}", evidence)
        return Verdict(CONFIRMED, f"the tensor reaching the loss is {what}: {rows}; {grads}", evidence)
    if max(shrink_init or 0, shrink_trained or 0) >= ATTENUATION:  # its own evidence says otherwise
        return inconclusive(f"{rows}, yet {grads}: the measurements disagree", **evidence)
    return Verdict(REFUTED, f"the tensor reaching the loss is not normalised: {rows}", evidence)


def _ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def judge_fused(code, p, result) -> Verdict:
    rows = p.get("rows", [])
    evidence = {"rows": rows}
    if not rows:
        return inconclusive("no logit size was measured", **evidence)
    if code == "ACT103":
        bad = [r for r in rows if r["fused_finite"] and (r["clamped_frac"] > 0 or r["zero_grad_frac"] > 0
                                                         or r["max_loss_error"] > LOSS_ERROR
                                                         or not r["unfused_finite"])]
        if bad:
            rounded = [r for r in bad if r["rounded_frac"] > 0]
            r = (rounded or bad)[0]  # the smallest logits at which outputs round to exactly 0 or 1
            return Verdict(CONFIRMED, (
                f"at logits up to |{_f(r['max_abs_logit'], 3)}| ({p.get('logits_from', 'the logits')} scaled), "
                f"{_pct(r['rounded_frac'])} of "
                f"sigmoid outputs round to exactly 0 or 1: BCELoss is off by up to {_f(r['max_loss_error'])} "
                f"({_pct(r['clamped_frac'])} clamped at 100) and {_pct(r['zero_grad_frac'])} of gradients are 0, "
                f"while BCEWithLogitsLoss stays exact"), evidence)
        largest = max(r["max_abs_logit"] for r in rows)
        if largest < SATURATING_LOGIT:  # float32's sigmoid rounds to 1 from about 16.6: not reached, not settled
            return inconclusive(f"BCELoss(sigmoid(x)) matched BCEWithLogitsLoss at the logit sizes tried, but "
                                f"the largest was |{_f(largest, 3)}|, below the |{SATURATING_LOGIT:g}| where float32's "
                                f"sigmoid rounds to 1", **evidence)
        return Verdict(REFUTED, "BCELoss(sigmoid(x)) matched BCEWithLogitsLoss at every logit size tried", evidence)
    fn, fused = ("sigmoid", "logsigmoid") if p.get("fn") == "sigmoid" else ("softmax", "log_softmax")
    if p.get("form"):  # the flagged form, run as written (a log of a sigmoid in a traced run)
        evidence["form"] = p["form"]
    off = [r for r in rows if r["fused_finite"] and r["max_error_eps"] > LOSS_ERROR]
    inf = [r for r in rows if r["fused_finite"] and r["neg_inf_frac"] > 0]
    if off or inf:
        parts = []
        form = p.get("form")
        if off:
            r = off[0]
            what = f"{form} as written" if form else f"log({fn} + 1e-9)"
            parts.append(f"at logits up to |{_f(r['max_abs_logit'], 3)}| {what} is off by up to "
                         f"{_f(r['max_error_eps'])} ({fused} reaches {_f(r['fused_min'])})")
        if inf:
            r = inf[0]
            what = form or f"plain log({fn})"
            parts.append(f"at |{_f(r['max_abs_logit'], 3)}| {what} is -inf for {_pct(r['neg_inf_frac'])} "
                         f"of entries")
        return Verdict(CONFIRMED, "; ".join(parts) + f", while {fused} stays finite", evidence)
    what = p.get("form") or f"log({fn})"
    return Verdict(REFUTED, f"{what} matched {fused} at every logit size tried"
                   + (f" (up to |{_f(rows[-1]['max_abs_logit'], 3)}|)" if rows else ""), evidence)


def _shape(s) -> str:
    return str(tuple(s)) if s is not None else "?"


def judge_implicit_dim(code, p, result) -> Verdict:
    """Decided only at the rank of the input the model got (the file's, or a real one), never an invented one."""
    runs = p.get("runs", [])
    evidence = {"runs": runs}
    ran = [r for r in runs if "implicit_dim" in r and r.get("softmax_input_shape")]
    deciding = [r for r in ran if r.get("decides")]
    evidence["deciding_runs"] = deciding

    def at(r) -> str:
        return (f"for model input {_shape(r['input_shape'])} ({r.get('from') or 'the measured input'}) the softmax "
                f"got {_shape(r['softmax_input_shape'])} and the implicit choice took dim {r.get('implicit_dim')}")

    others = "; ".join(at(r) + " (a rank the code does not pass: not deciding)" for r in ran if not r.get("decides"))
    tail = f"; {others}" if others else ""
    for r in deciding:
        if r.get("implicit_dim") == 0 and r["softmax_input_shape"][0] > 1:
            change = r.get("other_samples_change")
            coupled = f"; changing sample 0 changed the other samples' outputs by up to {_f(change)}" \
                if change else ""
            return Verdict(CONFIRMED, f"{at(r)}, the batch: it normalises across samples{coupled}{tail}", evidence)
    if deciding and all(r.get("implicit_dim") == len(r["softmax_input_shape"]) - 1 for r in deciding):
        return Verdict(REFUTED, "; ".join(at(r) for r in deciding) + f": the last dim, the right one{tail}",
                       evidence)
    if ran and not deciding:
        return inconclusive("the code does not state the input's rank, so which case applies is unknown: "
                            + "; ".join(at(r) for r in ran), **evidence)
    errors = "; ".join(r.get("error", "") for r in runs if r.get("error"))
    return inconclusive(f"the implicit dim could not be observed ({errors[:200]})" if errors else
                        "the implicit dim could not be observed", **evidence)


def judge_output_range(code, p, result) -> Verdict:
    evidence = dict(p)
    rng = f"output range [{_f(p['min'])}, {_f(p['max'])}]"
    if p.get("tensor"):
        rng = f"{p['tensor']}: {rng}"
    if code == "ACT111":
        if p["units"] == 1 and p["exact_1_frac"] == 1.0:
            return Verdict(CONFIRMED, f"the output is constantly 1.0 ({rng}); gradient reaching the last layer "
                                      f"{_f(p.get('last_layer_grad_norm'))}", evidence)
        if p["units"] == 1:
            return inconclusive(f"a single unit, yet not constantly 1.0 ({rng})", **evidence)
        return Verdict(REFUTED, f"the softmax runs over {p['units']} units, so its output is not constant: {rng}",
                       evidence)
    if code == "ACT114":
        if p["units"] == 1 and p.get("loss") == 0 and p.get("grad_norm") == 0:
            return Verdict(CONFIRMED, f"cross-entropy over the 1-unit output is exactly {p['loss']:g} with "
                                      f"gradient norm {p['grad_norm']:g}, whatever the weights", evidence)
        return Verdict(REFUTED, f"the loss is {_f(p.get('loss'))} with gradient {_f(p.get('grad_norm'))}", evidence)
    out_of_range = p["below_0_frac"] + p["above_1_frac"]
    if out_of_range > 0 or p["exact_0_frac"] > 0 or p["exact_1_frac"] > 0:
        return Verdict(CONFIRMED, (
            f"{rng} against the [0, 1] the loss needs: {_pct(p['below_0_frac'])} below 0, {_pct(p['above_1_frac'])} "
            f"above 1, {_pct(p['exact_0_frac'])} exactly 0 (log 0: the loss clamps)"), evidence)
    return _no(result, rng, "it stays inside (0, 1)", evidence)


def judge_init(code, p, result) -> Verdict:
    std, twin = p.get("std") or [], p.get("twin_std") or []
    sat, twin_sat = p.get("saturated") or [], p.get("twin_saturated") or []
    evidence = dict(p)
    if p.get("reinitialised") == 0:
        return inconclusive("the twin changed nothing: no flagged parameter was re-initialised", **evidence)
    if not std or not twin or std[-1] is None or twin[-1] is None or not twin[-1]:
        return inconclusive("could not measure the activations after the initialised layers", **evidence)
    if std == twin and sat == twin_sat:
        return inconclusive("the twin changed nothing: its activations equal the model's", **evidence)
    ratio = std[-1] / twin[-1]
    evidence["last_std_ratio_vs_matched"] = ratio
    per_layer = ""
    if len(std) >= 2 and std[0] and len(twin) >= 2 and twin[0]:
        drift = (std[-1] / std[0]) ** (1 / (len(std) - 1))
        twin_drift = (twin[-1] / twin[0]) ** (1 / (len(twin) - 1))
        evidence.update(per_layer_factor=drift, twin_per_layer_factor=twin_drift)
        per_layer = f" ({_f(drift, 2)}× per layer vs {_f(twin_drift, 2)}×)"
    stds = ", ".join(_f(s, 2) for s in std)
    tstds = ", ".join(_f(s, 2) for s in twin)
    text = (f"{p['activation']} activation std per layer {stds} with {'/'.join(p['init'])} vs {tstds} with "
            f"{p['matched']}{per_layer}")
    s_max = max((s or 0 for s in sat), default=0.0)
    t_max = max((s or 0 for s in twin_sat), default=0.0)
    if p["family"] == "saturating":
        text += f"; saturated {_pct(s_max)} vs {_pct(t_max)}"
        evidence.update(saturated_max=s_max, twin_saturated_max=t_max)
    # per initialised layer, how far the activations move the way the rule predicts (< 1: they do)
    per_layer_ratio = ratio ** (1 / max(1, len(std)))
    predicted = per_layer_ratio if p["family"] != "saturating" else 1 / per_layer_ratio
    evidence["per_layer_ratio_vs_matched"] = per_layer_ratio
    saturates = (p["family"] == "saturating" and s_max >= INIT_SATURATED_MIN
                 and s_max >= 2 * t_max + INIT_SATURATED_MARGIN)
    if predicted <= INIT_DRIFT_CONFIRM or saturates:
        return Verdict(CONFIRMED, text, evidence)
    if predicted >= INIT_DRIFT_REFUTE and (p["family"] != "saturating" or s_max < t_max + INIT_SATURATED_SAME):
        return _no(result, text, "the proposed init does no better here", evidence)
    return _unsettled(result, text, evidence)


def judge_float16(code, p, result) -> Verdict:
    evidence = dict(p)
    text = (f"{p['fn']} at logits up to |{_f(p['max_abs_logit'], 3)}| (trained-size): {_pct(p['rounded_frac_16'])} of "
            f"outputs round to exactly 0 or 1 in float16 (float32: {_pct(p['rounded_frac_32'])}); log(p) or log(1 - p) "
            f"is -inf for {_pct(p['log_inf_frac_16'])}")
    if p["rounded_frac_16"] > p["rounded_frac_32"] and p["log_inf_frac_16"] > 0:
        return Verdict(CONFIRMED, text, evidence)
    if p["rounded_frac_16"] == 0:
        return _no(result, text, "float16 keeps every output off 0 and 1", evidence)
    return _unsettled(result, text, evidence)


def _params(d) -> str:
    return f"{d.get('tensors', 0)} tensors, {d.get('elements', 0)} values" if isinstance(d, dict) else "unknown"


def judge_seed(result) -> Verdict:
    """ACT107: two builds of the model the script trains, in fresh processes, with no seed of ours."""
    a, b = result.get("digest"), result.get("digest_second")
    pa, pb = result.get("digest_params"), result.get("digest_second_params")
    evidence = {"weights_sha256": [a[:16] if a else None, b[:16] if b else None],
                "digest_params": pa, "digest_second_params": pb, "digest_model": result.get("digest_model")}
    if result.get("digest_built_from"):
        evidence["built_from"] = result["digest_built_from"]
    model = result.get("digest_model") or "the model"
    if result.get("digest_unbuilt"):
        kind = "an unbuilt Keras model" if result.get("digest_framework") == "keras" else "lazy modules"
        return inconclusive(f"no weights built yet ({kind}: {model}, and no input the verifier tried builds it)",
                            **evidence)
    if not a:
        return inconclusive("the first build did not finish: " + str(result.get("reason", "no result")), **evidence)
    if not b:
        return inconclusive("the second build did not finish: " + str(result.get("second_reason", "no result")),
                            **evidence)
    if any(not isinstance(d, dict) or not d.get("elements") for d in (pa, pb)) or EMPTY_SHA256 in (a, b):
        return inconclusive(f"the model built has no parameters ({model}: {_params(pa)}): not the network the "
                            f"script trains", **evidence)
    if a != b:
        return Verdict(CONFIRMED, f"two builds in fresh processes got different weights (sha256 {a[:12]}… vs "
                                  f"{b[:12]}…, {_params(pa)})", evidence)
    return Verdict(REFUTED, f"two builds in fresh processes got identical weights (sha256 {a[:12]}…, "
                            f"{_params(pa)})", evidence)


def judge_leading(code, p, result) -> Verdict:
    """ACT108: the flagged activation as it ran on the model's input (before any learned layer)."""
    evidence = {k: p.get(k) for k in ("fn", "line", "before_learned", "zero_fraction", "saturated_fraction",
                                      "negative_fraction") if k != "negative_fraction" or p.get(k) is not None}
    fn = p.get("fn")
    if not p.get("before_learned"):
        return inconclusive(f"the flagged {fn} ran after a learned layer, not on the model's input", **evidence)
    zero, sat = p.get("zero_fraction"), p.get("saturated_fraction")
    on = "standardised input" if synthetic(result) else "the model's input"
    if fn in ("relu", "relu6") and zero is not None:
        text = f"{fn} on {on} zeroes {_pct(zero)} of the input values"
        if zero > LEADING_ZERO_CONFIRM:
            return Verdict(CONFIRMED, text, evidence)
        return _no(result, text, "the input keeps its values", evidence)
    if sat is not None:
        text = f"{fn} on {on} saturates {_pct(sat)} of the input values"
        if sat > LEADING_SATURATED_CONFIRM:
            return Verdict(CONFIRMED, text, evidence)
        return _no(result, text, "the input is not squashed", evidence)
    negative = p.get("negative_fraction")
    if negative is not None:  # a leaky ReLU, ELU, GELU...: it rescales the negative inputs, keeps the rest
        text = f"{fn} on {on} reshapes the {_pct(negative)} of the input values that are negative"
        if negative > LEADING_ZERO_CONFIRM:
            return Verdict(CONFIRMED, text, evidence)
        return _no(result, text, "the input keeps its values", evidence)
    return inconclusive(f"{fn} ran first; its effect is not measured", **evidence)


JUDGES = {
    "ACT101": judge_saturating, "ACT102": judge_normalised, "ACT110": judge_normalised, "ACT113": judge_normalised,
    "ACT103": judge_fused, "ACT109": judge_fused, "ACT104": judge_implicit_dim, "ACT105": judge_output_range,
    "ACT111": judge_output_range, "ACT114": judge_output_range, "ACT106": judge_init, "ACT112": judge_float16,
    "ACT108": judge_leading,
}


# --------------------------------------------------------------------------- findings outside any model
# The flagged expression run on synthetic logits (actlint/verify/function_probes.py).  Thresholds as above:
# ACT102 confirms at an ATTENUATION× smaller gradient or a loss that cannot reach STUCK_LOSS on perfectly
# separated logits; ACT103/ACT109 at an error > LOSS_ERROR, a non-finite value or a lost gradient while the
# fused form is exact.  The expression is the user's own on synthetic logits at several sizes: what it computes
# does not depend on the data, so these may refute.


def _ran(e: dict) -> str:
    where = f"the expression at line {e.get('line')}"
    if e["kind"] == "loss_chain":
        user = e["loss"].replace("(p,", f"({e['act']},", 1)
        return f"{where}: {user} vs {e['fixed']} on logits uniform in ±a (64×10)"
    if e["kind"] == "log":
        binds = "".join(f" with {k} = {v}" for k, v in e.get("bind", {}).items())
        tf = f" ({e['translated']})" if e.get("translated") else ""
        return f"{where}: {e['expr']}{binds} vs {e['fixed']} on logits uniform in ±a (64×10){tf}"
    return f"{where}: {e['form']} on synthetic input"


def judge_function(code: str, p: dict | None) -> Verdict:
    """The verdict for a finding outside any model, from its experiment on synthetic tensors."""
    if p is None:
        return inconclusive("no measurement came back for this finding")
    e = p.get("experiment", {})
    ran = _ran(e) if e else "the flagged expression"
    if p.get("error"):
        return inconclusive(f"running {ran} failed: {p['error']}", ran=ran)
    fn = {"loss_chain": _judge_fn_loss, "log": _judge_fn_log, "implicit_dim": _judge_fn_dim}.get(e.get("kind"))
    if fn is None:
        return inconclusive("the verifier does not measure this finding outside a model", ran=ran)
    v = fn(code, p, e)
    v.evidence["ran"] = ran
    return v


def _judge_fn_loss(code, p, e) -> Verdict:
    rows = p.get("rows", [])
    evidence = {"rows": rows}
    if code == "ACT103":
        bad = [r for r in rows if r["fixed_finite"] and (
            r["clamped_frac"] > 0 or r["zero_grad_frac"] > 0 or r["max_loss_error"] > LOSS_ERROR or not r["finite"])]
        if bad:
            r = bad[0]
            return Verdict(CONFIRMED, (
                f"ran {e['act']} into {e['loss_label']} on logits up to ±{_f(r['max_abs_logit'])}: "
                f"{_pct(r['rounded_frac'])} of sigmoid outputs round to exactly 0 or 1, the loss is off by up to "
                f"{_f(r['max_loss_error'])} per element ({_pct(r['clamped_frac'])} clamped at 100) and "
                f"{_pct(r['zero_grad_frac'])} of gradients are 0, while binary_cross_entropy_with_logits stays "
                f"exact"), evidence)
        return Verdict(REFUTED, f"ran {e['act']} into {e['loss_label']}: it matched the logits form at every logit "
                                f"size up to ±{_f(rows[-1]['max_abs_logit']) if rows else 'n/a'}", evidence)
    shrinks = [(r, _ratio(r["fixed_grad_norm"], r["grad_norm"])) for r in rows]
    worst = max(shrinks, key=lambda t: t[1] or 0, default=(None, None))
    floor = rows[-1] if rows else None  # the most separated logits tried
    text = ""
    if worst[0] is not None:
        text = (f"ran {e['act']} into {e['loss_label']}: its gradient w.r.t. the logits is "
                f"{_f(worst[1], 2)}× smaller than {e['fixed']}'s at logits up to ±{_f(worst[0]['max_abs_logit'])}")
    if floor is not None and (floor.get("perfect_loss") or 0) > 0:  # nll_loss on probabilities is -p: no floor
        text += (f"; on perfectly separated logits (±{_f(floor['max_abs_logit'])}) the loss stays at "
                 f"{_f(floor['perfect_loss'])} (logits form: {_f(floor['perfect_fixed_loss'])})")
    evidence.update(max_grad_shrink=worst[1], perfect_loss=floor and floor.get("perfect_loss"))
    stuck = (floor is not None and (floor.get("perfect_loss") or 0) > STUCK_LOSS
             and (floor.get("perfect_fixed_loss") or 0) < SOLVED_LOSS)
    if (worst[1] or 0) >= ATTENUATION or stuck:
        return Verdict(CONFIRMED, text, evidence)
    if (worst[1] or 0) < NO_ATTENUATION and not stuck:
        return Verdict(REFUTED, text + ": the extra activation costs no gradient here", evidence)
    return Verdict(INCONCLUSIVE, text, evidence)


def _judge_fn_log(code, p, e) -> Verdict:
    rows = p.get("rows", [])
    evidence = {"rows": rows}
    bad = [r for r in rows if r["fixed_finite"] and (r["nonfinite_frac"] > 0 or r["grad_nonfinite"]
                                                     or (r["max_error"] or 0) > LOSS_ERROR or r["grad_lost_frac"] > 0)]
    if bad:
        infs = [r for r in bad if r["nonfinite_frac"] > 0]  # the -inf at the smallest size that reaches it
        r = min(infs, key=lambda r: r["max_abs_logit"]) if infs else bad[0]
        parts = []
        if r["nonfinite_frac"] > 0:
            parts.append(f"{_pct(r['nonfinite_frac'])} of entries are -inf/NaN")
        if (r["max_error"] or 0) > LOSS_ERROR:
            parts.append(f"finite entries are off by up to {_f(r['max_error'])}")
        if r["grad_lost_frac"] > 0:
            parts.append(f"{_pct(r['grad_lost_frac'])} of the gradients vanish")
        if r["grad_nonfinite"]:
            parts.append("the gradient is not finite")
        return Verdict(CONFIRMED, (
            f"{e['expr']} in {r['dtype']} at logits up to ±{_f(r['max_abs_logit'])}: " + ", ".join(parts)
            + f", while {e['fixed']} stays finite (down to {_f(r['fixed_min'])})"), evidence)
    top = rows[-1]["max_abs_logit"] if rows else None
    return Verdict(REFUTED, f"{e['expr']} matched {e['fixed']} (error ≤ {LOSS_ERROR:g}, gradients kept) at every logit size "
                            f"up to ±{_f(top)}", evidence)


def _judge_fn_dim(code, p, e) -> Verdict:
    runs = p.get("runs", [])
    evidence = {"runs": runs, "rank_stated": p.get("rank_stated")}
    parts = []
    for r in runs:
        d = r.get("implicit_dim")
        s = (f"for a {tuple(r['shape'])} input it normalises over dim {d}"
             + (f" (rows along the last dim sum to [{_f(r['last_dim_sum_min'])}, {_f(r['last_dim_sum_max'])}]; "
                f"changing sample 0 changes the others by up to {_f(r.get('other_samples_change'))})"
                if d == 0 and len(r["shape"]) > 1 else ""))
        parts.append(s)
    text = f"ran {e['form']}: " + "; ".join(parts)
    batch_mixed = [r for r in runs if r.get("implicit_dim") == 0 and len(r["shape"]) > 1]
    if p.get("rank_stated"):
        if batch_mixed:
            return Verdict(CONFIRMED, text + " (the rank comes from the code)", evidence)
        if runs and all(r.get("implicit_dim") == len(r["shape"]) - 1 for r in runs):
            return Verdict(REFUTED, text + ": the implicit choice is the last dim for the rank the code states",
                           evidence)
    return inconclusive(text + "; the input's rank is not stated in the code, so which case applies is unknown",
                        **evidence)

"""Verdicts: each static finding's measurement (from the child) judged confirmed, refuted or inconclusive.

The child measures; this module decides, with the thresholds written out next to each
rule.  Where there is a twin (the same model with the suspected part fixed), the verdict
compares against it rather than against an absolute number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CONFIRMED, REFUTED, INCONCLUSIVE = "confirmed", "refuted", "inconclusive"

# ACT101: a sigmoid's slope is at most 0.25 where a ReLU passes 1 on about half its units, so
# each saturating layer should cost about 2× of gradient against the ReLU twin; at least that
# confirms, under 1.5× (with nothing saturated) refutes.
ATTENUATION, NO_ATTENUATION = 2.0, 1.5
# ACT106: the per-layer change of activation std against the matched init, in the direction
# the rule predicts (Xavier under ReLU shrinks, He under tanh/sigmoid grows): 10% confirms, under 5% refutes.
INIT_DRIFT_CONFIRM, INIT_DRIFT_REFUTE = 0.90, 0.95
SATURATED_CONFIRM, SATURATED_REFUTE = 0.10, 0.05


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


def judge(code: str, probe: dict | None, result: dict) -> Verdict:
    """The verdict for one finding, given its probe's measurement and the whole run."""
    if code == "ACT107":
        return judge_seed(result)
    if code == "ACT108":
        return judge_leading(result)
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
    acts = p.get("activations", [])
    sat = max((a.get("saturated_frac") or 0.0 for a in acts), default=0.0)
    derivs = [a.get("mean_derivative") for a in acts]
    evidence = {"grad_ratio_first_last": r, "twin_grad_ratio_first_last": t, "mean_derivative": derivs,
                "saturated_fraction": sat, "grad_norms": p.get("grad_norms"),
                "twin_grad_norms": p.get("twin_grad_norms"),
                "twin": p.get("twin") or "a deep copy with the flagged activations replaced by ReLU and the "
                                         "hidden weights re-drawn with kaiming_normal_"}
    who = "the Keras twin with ReLU+he_normal" if p.get("twin") else "the twin with ReLU+Kaiming"
    if r is None or t is None or r <= 0:
        return inconclusive("could not compare gradient norms (fewer than two learned layers got gradients)",
                            **evidence)
    attenuation = t / r
    evidence["attenuation_vs_relu"] = attenuation
    relative = f"{_f(attenuation, 2)}× less" if attenuation >= 1 else f"{_f(1 / attenuation, 2)}× more"
    text = (f"first/last learned-layer gradient norm ratio {_f(r)} vs {_f(t)} in {who} "
            f"({relative}); mean derivative through the activation {', '.join(_f(d, 2) for d in derivs)}; "
            f"{_pct(sat)} of its inputs saturated")
    # Confirmed: the gradient shrinks as the rule says (against the twin), or many units are saturated
    # while the twin does not pass more gradient than half as well.  Saying no needs both signs absent.
    if attenuation >= ATTENUATION or (sat >= SATURATED_CONFIRM and attenuation >= 1.5):
        return Verdict(CONFIRMED, text, evidence)
    if sat < SATURATED_REFUTE and attenuation < NO_ATTENUATION:
        return Verdict(REFUTED, text + ": the gradient does not shrink against the twin", evidence)
    return Verdict(INCONCLUSIVE, text + ": units saturate, but the gradient does not vanish against the twin",
                   evidence)


def judge_normalised(code, p, result) -> Verdict:
    fn = p.get("fn")
    units = p.get("units")
    lo, hi = p.get("row_sum_min"), p.get("row_sum_max")
    evidence = {k: p.get(k) for k in ("fn", "units", "output_min", "output_max", "row_sum_min", "row_sum_max",
                                      "grad_init", "grad_logits_init", "grad_trained", "grad_logits_trained")}
    sums_to_one = lo is not None and abs(lo - 1) < 1e-3 and abs(hi - 1) < 1e-3
    non_negative = (p.get("output_min") or 0) >= -1e-6
    shrink_init = _ratio(p.get("grad_logits_init"), p.get("grad_init"))
    shrink_trained = _ratio(p.get("grad_logits_trained"), p.get("grad_trained"))
    evidence.update(grad_shrink_init=shrink_init, grad_shrink_trained=shrink_trained)
    grads = (f"its gradient is {_f(shrink_init, 2)}× smaller than on logits at init, "
             f"{_f(shrink_trained, 2)}× at trained-size logits (std 5)")
    rows = f"rows of the {units}-unit output lie in [{_f(p.get('output_min'))}, {_f(p.get('output_max'))}] " \
           f"and sum to [{_f(lo, 6)}, {_f(hi, 6)}]"
    if code == "ACT113":
        if units and units > 1 and not sums_to_one:
            return Verdict(CONFIRMED, f"{rows}: the sigmoid outputs do not sum to 1, so the classes do not compete",
                           evidence)
        return Verdict(REFUTED if sums_to_one else INCONCLUSIVE, rows, evidence)
    bounded = fn == "sigmoid" and non_negative and (p.get("output_max") or 0) <= 1 + 1e-6
    if (sums_to_one and non_negative) or bounded:
        what = "already normalised" if sums_to_one else "already squashed into [0, 1]"
        if code == "ACT110":
            return Verdict(CONFIRMED, f"{rows}: {what}, so each label's probability is capped by the others; "
                                      f"{grads}", evidence)
        return Verdict(CONFIRMED, f"the tensor reaching the loss is {what}: {rows}; {grads}", evidence)
    return Verdict(REFUTED, f"the tensor reaching the loss is not normalised: {rows}", evidence)


def _ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def judge_fused(code, p, result) -> Verdict:
    rows = p.get("rows", [])
    evidence = {"rows": rows}
    if code == "ACT103":
        bad = [r for r in rows if r["fused_finite"] and (r["clamped_frac"] > 0 or r["zero_grad_frac"] > 0
                                                         or r["max_loss_error"] > 1e-3 or not r["unfused_finite"])]
        if bad:
            rounded = [r for r in bad if r["rounded_frac"] > 0]
            r = (rounded or bad)[0]  # the smallest logits at which outputs round to exactly 0 or 1
            return Verdict(CONFIRMED, (
                f"at logits up to |{_f(r['max_abs_logit'], 3)}| ({p.get('logits_from', 'the logits')} scaled), "
                f"{_pct(r['rounded_frac'])} of "
                f"sigmoid outputs round to exactly 0 or 1: BCELoss is off by up to {_f(r['max_loss_error'])} "
                f"({_pct(r['clamped_frac'])} clamped at 100) and {_pct(r['zero_grad_frac'])} of gradients are 0, "
                f"while BCEWithLogitsLoss stays exact"), evidence)
        return Verdict(REFUTED, "BCELoss(sigmoid(x)) matched BCEWithLogitsLoss at every logit size tried", evidence)
    fn, fused = ("sigmoid", "logsigmoid") if p.get("fn") == "sigmoid" else ("softmax", "log_softmax")
    off = [r for r in rows if r["fused_finite"] and r["max_error_eps"] > 1e-3]
    inf = [r for r in rows if r["fused_finite"] and r["neg_inf_frac"] > 0]
    if off or inf:
        parts = []
        if off:
            r = off[0]
            parts.append(f"at logits up to |{_f(r['max_abs_logit'], 3)}| log({fn} + 1e-9) is off by up to "
                         f"{_f(r['max_error_eps'])} ({fused} reaches {_f(r['fused_min'])})")
        if inf:
            r = inf[0]
            parts.append(f"at |{_f(r['max_abs_logit'], 3)}| plain log({fn}) is -inf for {_pct(r['neg_inf_frac'])} "
                         f"of entries")
        return Verdict(CONFIRMED, "; ".join(parts) + f", while {fused} stays finite", evidence)
    return Verdict(REFUTED, f"log({fn}) matched {fused} at every logit size tried", evidence)


def judge_implicit_dim(code, p, result) -> Verdict:
    runs = p.get("runs", [])
    evidence = {"runs": runs}
    ran = [r for r in runs if "implicit_dim" in r]
    for r in ran:
        if r.get("implicit_dim") == 0 and r["softmax_input_shape"] and r["softmax_input_shape"][0] > 1:
            change = r.get("other_samples_change")
            coupled = f"; changing sample 0 changed the other samples' outputs by up to {_f(change)}" \
                if change else ""
            return Verdict(CONFIRMED, (
                f"for model input {tuple(r['input_shape'])} the softmax got {tuple(r['softmax_input_shape'])} and "
                f"the implicit choice took dim 0, the batch: it normalises across samples{coupled}"), evidence)
    if ran and all(r.get("implicit_dim") == len(r["softmax_input_shape"]) - 1 for r in ran):
        shapes = ", ".join(str(tuple(r["softmax_input_shape"])) for r in ran)
        return Verdict(REFUTED, f"for softmax input {shapes} the implicit choice took the last dim", evidence)
    errors = "; ".join(r.get("error", "") for r in runs if r.get("error"))
    return inconclusive(f"the implicit dim could not be observed ({errors[:200]})" if errors else
                        "the implicit dim could not be observed", **evidence)


def judge_output_range(code, p, result) -> Verdict:
    evidence = dict(p)
    rng = f"output range [{_f(p['min'])}, {_f(p['max'])}]"
    if code == "ACT111":
        if p["units"] == 1 and p["exact_1_frac"] == 1.0:
            return Verdict(CONFIRMED, f"the output is constantly 1.0 ({rng}); gradient reaching the last layer "
                                      f"{_f(p.get('last_layer_grad_norm'))}", evidence)
        return Verdict(REFUTED, f"the output is not constant: {rng}", evidence)
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
    return Verdict(REFUTED, f"{rng} stays inside (0, 1) on the synthetic input", evidence)


def judge_init(code, p, result) -> Verdict:
    std, twin = p.get("std") or [], p.get("twin_std") or []
    sat, twin_sat = p.get("saturated") or [], p.get("twin_saturated") or []
    evidence = dict(p)
    if not std or not twin or std[-1] is None or twin[-1] is None or not twin[-1]:
        return inconclusive("could not measure the activations after the initialised layers", **evidence)
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
    saturates = p["family"] == "saturating" and s_max >= 0.05 and s_max >= 2 * t_max + 0.01
    if predicted <= INIT_DRIFT_CONFIRM or saturates:
        return Verdict(CONFIRMED, text, evidence)
    if predicted >= INIT_DRIFT_REFUTE and (p["family"] != "saturating" or s_max < t_max + 0.02):
        return Verdict(REFUTED, text + ": the proposed init does no better here", evidence)
    return Verdict(INCONCLUSIVE, text, evidence)


def judge_float16(code, p, result) -> Verdict:
    evidence = dict(p)
    text = (f"{p['fn']} at logits up to |{_f(p['max_abs_logit'], 3)}| (trained-size): {_pct(p['rounded_frac_16'])} of "
            f"outputs round to exactly 0 or 1 in float16 (float32: {_pct(p['rounded_frac_32'])}); log(p) or log(1 - p) "
            f"is -inf for {_pct(p['log_inf_frac_16'])}")
    if p["rounded_frac_16"] > p["rounded_frac_32"] and p["log_inf_frac_16"] > 0:
        return Verdict(CONFIRMED, text, evidence)
    if p["rounded_frac_16"] == 0:
        return Verdict(REFUTED, text, evidence)
    return Verdict(INCONCLUSIVE, text, evidence)


def judge_seed(result) -> Verdict:
    a, b = result.get("digest"), result.get("digest_second")
    if not a or not b:
        return inconclusive("the second build did not finish: " + str(result.get("second_reason", "no result")))
    evidence = {"weights_sha256": [a[:16], b[:16]]}
    if a != b:
        return Verdict(CONFIRMED, f"two builds in fresh processes got different weights (sha256 {a[:12]}… vs "
                                  f"{b[:12]}…)", evidence)
    return Verdict(REFUTED, f"two builds in fresh processes got identical weights (sha256 {a[:12]}…)", evidence)


def judge_leading(result) -> Verdict:
    leading = [o for o in result.get("ops", []) if o.get("before_learned")]
    if not leading:
        return inconclusive("no activation ran before the first learned layer")
    op = leading[0]
    zero = (op.get("out") or {}).get("zero_frac")
    sat = op.get("saturated_frac")
    evidence = {"fn": op["fn"], "zero_fraction": zero, "saturated_fraction": sat}
    if op["fn"] in ("relu", "relu6") and zero is not None:
        verdict = CONFIRMED if zero > 0.2 else REFUTED
        return Verdict(verdict, f"{op['fn']} on standardised input zeroes {_pct(zero)} of the input values", evidence)
    if sat is not None:
        return Verdict(CONFIRMED if sat > 0.05 else INCONCLUSIVE,
                       f"{op['fn']} on standardised input saturates {_pct(sat)} of the input values", evidence)
    return inconclusive(f"{op['fn']} ran first; its effect is not measured", **evidence)


JUDGES = {
    "ACT101": judge_saturating, "ACT102": judge_normalised, "ACT110": judge_normalised, "ACT113": judge_normalised,
    "ACT103": judge_fused, "ACT109": judge_fused, "ACT104": judge_implicit_dim, "ACT105": judge_output_range,
    "ACT111": judge_output_range, "ACT114": judge_output_range, "ACT106": judge_init, "ACT112": judge_float16,
}


# --------------------------------------------------------------------------- findings outside any model
# The flagged expression run on synthetic logits (actlint/verify/function_probes.py).  Thresholds as above:
# ACT102 confirms at a 2× smaller gradient or a loss that cannot reach 0.1 on perfectly separated logits;
# ACT103/ACT109 at an error > 1e-3, a non-finite value or a lost gradient while the fused form is exact.


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
            r["clamped_frac"] > 0 or r["zero_grad_frac"] > 0 or r["max_loss_error"] > 1e-3 or not r["finite"])]
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
    stuck = (floor is not None and (floor.get("perfect_loss") or 0) > 0.1
             and (floor.get("perfect_fixed_loss") or 0) < 0.01)
    if (worst[1] or 0) >= ATTENUATION or stuck:
        return Verdict(CONFIRMED, text, evidence)
    if (worst[1] or 0) < NO_ATTENUATION and not stuck:
        return Verdict(REFUTED, text + ": the extra activation costs no gradient here", evidence)
    return Verdict(INCONCLUSIVE, text, evidence)


def _judge_fn_log(code, p, e) -> Verdict:
    rows = p.get("rows", [])
    evidence = {"rows": rows}
    bad = [r for r in rows if r["fixed_finite"] and (r["nonfinite_frac"] > 0 or r["grad_nonfinite"]
                                                     or (r["max_error"] or 0) > 1e-3 or r["grad_lost_frac"] > 0)]
    if bad:
        infs = [r for r in bad if r["nonfinite_frac"] > 0]  # the -inf at the smallest size that reaches it
        r = min(infs, key=lambda r: r["max_abs_logit"]) if infs else bad[0]
        parts = []
        if r["nonfinite_frac"] > 0:
            parts.append(f"{_pct(r['nonfinite_frac'])} of entries are -inf/NaN")
        if (r["max_error"] or 0) > 1e-3:
            parts.append(f"finite entries are off by up to {_f(r['max_error'])}")
        if r["grad_lost_frac"] > 0:
            parts.append(f"{_pct(r['grad_lost_frac'])} of the gradients vanish")
        if r["grad_nonfinite"]:
            parts.append("the gradient is not finite")
        return Verdict(CONFIRMED, (
            f"{e['expr']} in {r['dtype']} at logits up to ±{_f(r['max_abs_logit'])}: " + ", ".join(parts)
            + f", while {e['fixed']} stays finite (down to {_f(r['fixed_min'])})"), evidence)
    top = rows[-1]["max_abs_logit"] if rows else None
    return Verdict(REFUTED, f"{e['expr']} matched {e['fixed']} (error ≤ 1e-3, gradients kept) at every logit size "
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

"""No ``confirmed``/``refuted`` verdict of ``--verify`` rests on empty evidence (see docs/verifier.md).

:func:`problems` reads findings as ``--format json`` gives them (dicts with ``verdict`` and
``evidence``) and names every decided verdict whose own evidence does not carry it: ACT107 on
a model with no parameters (the sha256 of nothing), ACT101 without activations or with a twin
that changed nothing, ACT102/ACT110/ACT113 without row statistics of the flagged tensor, ACT104
decided at a rank the input did not come with, a data-dependent claim refuted on synthetic
input, any decided verdict without a single number.
"""

from __future__ import annotations

import hashlib
import math
import re

DECIDED = ("confirmed", "refuted")
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
DATA_DEPENDENT = {"ACT101", "ACT105", "ACT106", "ACT108", "ACT112"}
NOT_EVIDENCE = {"assumptions", "input", "model", "device", "summary", "source", "ran"}


def _numbers(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return math.isfinite(value)
    if isinstance(value, dict):
        return any(_numbers(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_numbers(v) for v in value)
    return False


def _input_rank(evidence: dict) -> int | None:
    """The rank of the measured input, from the ``input`` the verdict's evidence repeats: ``(64, 20) from ...``."""
    m = re.match(r"\(([^)]*)\)", evidence.get("input") or "")
    return len([d for d in m.group(1).split(",") if d.strip()]) if m else None


def problems(findings: list[dict]) -> list[str]:
    out = []
    for f in findings:
        verdict, ev = f.get("verdict"), f.get("evidence") or {}
        if verdict not in DECIDED:
            continue
        code = f["code"]
        where = f"{f['path']}:{f['line']} {code} {verdict}"

        def bad(why: str) -> None:
            out.append(f"{where}: {why} ({ev.get('summary', '')[:160]})")

        if not _numbers({k: v for k, v in ev.items() if k not in NOT_EVIDENCE}):
            bad("no number in the evidence")
        synthetic = ev.get("source", "synthetic") == "synthetic"
        if code in DATA_DEPENDENT and verdict == "refuted" and synthetic and "ran" not in ev:
            bad("a claim about the data refuted on synthetic input")
        if code == "ACT107":
            for key in ("digest_params", "digest_second_params"):
                params = ev.get(key) or {}
                if not params.get("elements") or not params.get("tensors"):
                    bad(f"{key} is {params!r}: the digest hashed no parameters")
            if any(h and EMPTY_SHA256.startswith(h) for h in ev.get("weights_sha256") or []):
                bad("a digest is the sha256 of nothing")
        elif code == "ACT101":
            if not ev.get("activations"):
                bad("no flagged activation in the evidence")
            if ev.get("swapped") == 0:
                bad("the twin swapped no activation")
            if ev.get("grad_norms") is None or ev.get("grad_norms") == ev.get("twin_grad_norms"):
                bad("the twin's gradient norms equal the model's (or are missing)")
        elif code in ("ACT102", "ACT110", "ACT113") and "ran" not in ev:  # "ran": outside a model (own judge)
            if ev.get("row_sum_min") is None or ev.get("row_sum_max") is None or not ev.get("units"):
                bad("no row statistics")
            if not str(ev.get("tensor") or "").startswith("the output of the"):
                bad(f"the rows are not of the flagged tensor ({ev.get('tensor')!r})")
            lines = set(range(f["line"], f.get("end_line", f["line"]) + 1))
            if not lines & {ev.get("op_line"), ev.get("op_module_line")}:
                bad(f"the tensor's op (lines {ev.get('op_line')}, {ev.get('op_module_line')}) is not the finding's")
            shrink = max(ev.get("grad_shrink_init") or 0, ev.get("grad_shrink_trained") or 0)
            if verdict == "refuted" and code != "ACT113" and shrink >= 2:
                bad(f"'not normalised' next to a {shrink:.3g}x smaller gradient")
        elif code == "ACT104":
            if "ran" in ev:  # outside a model: the rank must come from the code
                if not ev.get("rank_stated"):
                    bad("decided without a rank stated in the code")
                continue
            deciding = ev.get("deciding_runs") or []
            if not deciding or not all(r.get("decides") for r in deciding):
                bad("no run at the input's own rank decided")
            rank = _input_rank(ev)
            if rank is not None and any(len(r.get("input_shape") or []) != rank for r in deciding):
                bad(f"decided at a rank other than the input's ({rank})")
            if verdict == "confirmed" and not any(r.get("implicit_dim") == 0 for r in deciding):
                bad("confirmed, but no deciding run took dim 0")
            if verdict == "refuted" and not all(
                    r.get("implicit_dim") == len(r.get("softmax_input_shape") or []) - 1 for r in deciding):
                bad("refuted, but a deciding run did not take the last dim")
    return out

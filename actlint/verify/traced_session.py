"""One traced run (``actlint run -- COMMAND``, or a training script under ``--verify``): findings to verdicts.

The command runs under the tracer (:mod:`actlint.verify.trace.launch`); every model it
trained comes back as a measurement record of the same shape as a synthetic child's, and
goes through the same judge (:func:`actlint.verify.judge.verdicts.judge`) and the same
runtime diagnostics.  Each static finding in the files that defined a captured model, its
loss, its init or its training step gets its verdict from the model whose experiment ran the
flagged code, with ``evidence.source == "run"`` and where the batch came from.  ACT107 is
judged by a second run of the command up to its first step (the two models' weights).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from actlint.findings import ENGINE_CODES, Finding
from actlint.verify.build.targets import Target, log_form
from actlint.verify.judge.diagnostics import diagnose
from actlint.verify.judge.verdicts import CONFIRMED, INCONCLUSIVE, REFUTED, Verdict, judge
from actlint.verify.session import ModelRun, Outcome
from actlint.verify.trace.launch import TracedRun, run_traced

DECIDED = (CONFIRMED, REFUTED)


def _real(path: str) -> str:
    return os.path.realpath(path)


def finding_specs(findings: list[Finding]) -> list[dict]:
    """The static findings as the tracer reads them: an id, the code and the real file and lines
    (and, for a log of a sigmoid, which of ``log(p)`` and ``log(1 - p)`` the flagged call takes)."""
    specs = []
    for i, f in enumerate(findings):
        spec = {"id": str(i), "code": f.code, "path": _real(f.path), "line": f.line, "end_line": f.end_line}
        if f.code == "ACT109":
            spec.update(log_form(f))
        specs.append(spec)
    return specs


def localize(value, primary: str | None, shown):
    """Places ``[file, line]`` of a run's record as lines of ``primary`` (the model's file), else ``"file:line"``."""
    if isinstance(value, dict):
        out = {k: localize(v, primary, shown) for k, v in value.items()}
        for key in ("line", "module_line"):
            if isinstance(out.get(key), str):  # a place in another file: named, but not a line of this one
                out[key + "_place"] = out[key]
                out[key] = None
        return out
    if isinstance(value, (list, tuple)):
        if len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], int) and value[0].startswith(
                os.sep):
            return value[1] if value[0] == primary else f"{shown(value[0])}:{value[1]}"
        return [localize(v, primary, shown) for v in value]
    return value


def _shown_path(real: str, by_real: dict[str, str]) -> str:
    if real in by_real:
        return by_real[real]
    try:
        rel = os.path.relpath(real)
    except ValueError:
        return real
    return real if rel.startswith("..") else rel


def _target(record: dict, shown: str | None) -> Target:
    label = record.get("label") or "model"
    path = shown or label.partition(":")[0]
    file = Path(record.get("file") or path)
    return Target(label=label, path=path, file=file, name=label.rpartition(":")[2], framework=record.get(
        "framework", "torch"), build={"kind": "run"}, source="",
        lines={record["line"]} if isinstance(record.get("line"), int) else set(),
        assumptions=list(record.get("assumptions") or []))


def _evidence(v: Verdict, record: dict, model: str, run_assumptions: list[str]) -> Verdict:
    batch = record.get("batch") or {}
    v.evidence.update(source="run", model=model, batch=batch.get("why"),
                      batch_shape=batch.get("inputs") or batch.get("shape"))
    replay = record.get("loss_replay") or {}
    if replay:
        v.evidence["loss"] = {k: replay[k] for k in ("kind", "fn", "where", "replay", "note") if replay.get(k)}
    assumptions = list(run_assumptions) + list(record.get("assumptions") or [])
    if assumptions:
        v.evidence["assumptions"] = assumptions
    return v


def judge_run(findings: list[Finding], traced: TracedRun, second: TracedRun | None, shown_by_real: dict[str, str],
              script_files: set[str]) -> tuple[list[Finding], list[ModelRun], list[Finding]]:
    """Verdicts for the findings of the files the run touched; the models as the report shows them; the rest."""
    if second is None:
        seed = "the command was not run a second time to compare the weights"
    else:
        seed = {"digests": {m.get("label"): m.get("digest") for m in second.models},
                "params": {m.get("label"): m.get("digest_params") for m in second.models},
                "reason": second.reason() if not second.models else "the second run trained another model",
                "how": "two runs of the command"}
    return judge_records(findings, traced.models, source="run", assumptions=list(traced.result.get("assumptions")
                                                                                   or []),
                         nothing=traced.reason(), wall_s=traced.wall_s, seed=seed, shown_by_real=shown_by_real,
                         script_files=script_files)


def judge_records(findings: list[Finding], records: list[dict], *, source: str, assumptions: list[str], nothing: str,
                  wall_s: float, seed, shown_by_real: dict[str, str], script_files: set[str] = frozenset()
                  ) -> tuple[list[Finding], list[ModelRun], list[Finding]]:
    """Verdicts from captured records (a traced run, or the Python API): the findings of the files that defined a
    captured model, its loss, its init or its training step; the models; the findings of other files.

    ``seed``: for ACT107, ``{"digests": {label: sha256}, "reason", "how"}`` of a second run, or the sentence
    saying why there is none.  A verdict that rests on the model's own numbers says ``evidence.measured``.
    """
    from actlint.verify.session import _with_verdict

    shown = lambda real: _shown_path(real, shown_by_real)  # noqa: E731
    touched = set(script_files)
    for r in records:
        touched.update(r.get("files") or [])
    models: list[ModelRun] = []
    local: list[tuple[dict, dict]] = []  # (raw record, localized record)
    for r in records:
        loc = localize(r, r.get("file"), shown)
        local.append((r, loc))
        target = _target(r, shown(r["file"]) if r.get("file") else None)
        target.assumptions[:0] = [a for a in assumptions if a not in target.assumptions]  # the run's, then its own
        models.append(ModelRun(target, loc, wall_s))
    out: list[Finding] = []
    rest: list[Finding] = []
    for i, f in enumerate(findings):
        if f.code in ENGINE_CODES:
            out.append(f)
            continue
        real = _real(f.path)
        if real not in touched:
            rest.append(f)
            continue
        owners = [(n, raw, loc) for n, (raw, loc) in enumerate(local) if real in (raw.get("files") or [])]
        v, owner = _verdict(f, str(i), owners, nothing if not records else None, seed)
        if owner is not None and _measured(f.code, str(i), owner[1], v):
            v.evidence["measured"] = True
        label = owner[1].get("label") if owner else None
        if owner is not None:
            v = _evidence(v, owner[2], label, assumptions)
            models[owner[0]].verdicts.append((f, v))
        v.evidence["source"] = source
        out.append(_with_verdict(f, v, label, (owner[2].get("device") if owner else None)))
    for n, (raw, loc) in enumerate(local):
        if not raw.get("ok"):
            continue
        run = models[n]
        run.diagnostics = diagnose(loc, run.target.path, run.target.label,
                                   min(run.target.lines) if run.target.lines else 1)
        for d in run.diagnostics:
            d.extra["evidence"].update(device=loc.get("device"), source=source)
        out.extend(run.diagnostics)
    return out, models, rest


def _measured(code: str, fid: str, raw: dict, v: Verdict) -> bool:
    """Whether the verdict comes from the captured model's own numbers (not from a failure to measure)."""
    if v.verdict in DECIDED:
        return True
    if not raw.get("ok") or code == "ACT107":
        return False
    probe = (raw.get("probes") or {}).get(fid)
    return probe is not None and not probe.get("error")


def _verdict(f: Finding, fid: str, owners, nothing: str | None, seed):
    """The verdict of one finding, and the model ``(index, raw, localized)`` it came from."""
    if not owners:
        return Verdict(INCONCLUSIVE, nothing or "the run trained no model defined, lost or initialised in this "
                                                "file"), None
    if f.code == "ACT107":
        n, raw, loc = owners[0]
        if isinstance(seed, str):
            return Verdict(INCONCLUSIVE, seed), owners[0]
        data = dict(loc, digest_second=seed["digests"].get(raw.get("label")), second_reason=seed["reason"],
                    digest_second_params=seed.get("params", {}).get(raw.get("label")))
        v = judge(f.code, None, data)
        if v.verdict in DECIDED:
            v.summary = v.summary.replace("two builds in fresh processes", seed["how"])
        return v, owners[0]
    best = None
    for owner in owners:
        n, raw, loc = owner
        if not raw.get("ok"):
            cand = (Verdict(INCONCLUSIVE, raw.get("reason") or "the captured model could not be measured"), owner)
        else:
            probe = (raw.get("probes") or {}).get(fid)
            v = judge(f.code, localize(probe, raw.get("file"), lambda p: p) if probe is not None else None, loc)
            if probe and probe.get("observed"):
                v.evidence["observed"] = probe["observed"]
            cand = (v, owner)
            if v.verdict in DECIDED:
                return cand
        if best is None or (best[0].verdict == INCONCLUSIVE and "did not run" in best[0].summary):
            best = cand
    return best


def script_files(command: list[str], cwd: Path) -> set[str]:
    """The files the command runs directly: ``python X.py``, ``python -m pkg.mod``, ``pytest tests/t.py``."""
    out = set()
    args = list(command)
    for i, a in enumerate(args):
        if a.endswith(".py"):
            p = (cwd / a) if not os.path.isabs(a) else Path(a)
            if p.is_file():
                out.add(_real(str(p)))
        if a == "-m" and i + 1 < len(args):
            mod = Path(cwd, *args[i + 1].split("."))
            for cand in (mod.with_suffix(".py"), mod / "__main__.py"):
                if cand.is_file():
                    out.add(_real(str(cand)))
                    break
    return out


def verify_command(command: list[str], cwd: Path, findings: list[Finding], *, project_root: Path, steps: int = 3,
                   timeout: float = 120.0, allow_network: bool = False, keep_going: bool = False,
                   device: str | None = None, stream=None, warm=None, extra_roots: tuple[str, ...] = ()
                   ) -> tuple[Outcome, list[Finding], TracedRun]:
    """Run the command traced and judge; returns the outcome (findings of the touched files with verdicts,
    diagnostics), the findings of files the run did not touch, and the traced run itself."""
    start = time.perf_counter()
    specs = finding_specs(findings)
    seeded = {s["path"] for s in specs if s["code"] == "ACT107"}
    scripts = script_files(command, cwd)

    def second_run():  # the command again, to its first step: the weights its model starts from
        return run_traced(command, cwd, [], project_root=project_root, steps=steps, timeout=timeout,
                          allow_network=allow_network, digest_only=True, device=device, own_stdin=stream is not None,
                          warm=warm, extra_roots=extra_roots)

    second_job = None
    if seeded & scripts:  # the script itself trains unseeded: the second run goes beside the first
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(max_workers=1)
        second_job = pool.submit(second_run)
        pool.shutdown(wait=False)
    traced = run_traced(command, cwd, specs, project_root=project_root, steps=steps, timeout=timeout,
                        allow_network=allow_network, keep_going=keep_going, device=device, stream=stream,
                        own_stdin=stream is not None, warm=warm, extra_roots=extra_roots)
    second = second_job.result() if second_job is not None else None
    touched = {p for m in traced.models for p in (m.get("files") or [])}
    if second is None and seeded & touched:  # the training loop lives in a module the script imports
        second = second_run()
    by_real = {_real(f.path): f.path for f in findings}
    out, models, rest = judge_run(findings, traced, second, by_real, scripts)
    out.sort(key=lambda f: f.sort_key)
    devices = sorted({m.result.get("device") for m in models if m.result.get("device")})
    outcome = Outcome(out, models, devices, [], time.perf_counter() - start)
    outcome.traced = traced  # type: ignore[attr-defined]
    return outcome, rest, traced


__all__ = ["verify_command", "judge_run", "judge_records", "finding_specs", "localize", "script_files"]

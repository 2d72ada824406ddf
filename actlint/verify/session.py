"""One ``--verify`` run: targets from the static pass, children, verdicts, diagnostics, report."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from actlint.findings import Finding
from actlint.verify.diagnostics import diagnose
from actlint.verify.probes import CONFIRMED, INCONCLUSIVE, Verdict, judge
from actlint.verify.runner import Progress, run_all
from actlint.verify.targets import Settings, Target, factory_targets, file_targets

FRAMEWORK_TOKENS = ("torch", "keras", "tensorflow")


@dataclass
class ModelRun:
    """One model's run, as the report shows it."""

    target: Target
    result: dict
    wall_s: float
    verdicts: list[tuple[Finding, Verdict]] = field(default_factory=list)
    diagnostics: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.result.get("ok"))


@dataclass
class Outcome:
    findings: list[Finding]
    models: list[ModelRun]
    devices: list[str]

    def failed(self, strict: bool) -> bool:
        for f in self.findings:
            verdict = f.extra.get("verdict")
            if verdict in (CONFIRMED, "observed"):
                return True
            if strict and verdict == INCONCLUSIVE:
                return True
        return False


def _with_verdict(f: Finding, v: Verdict, model: str | None, device: str | None) -> Finding:
    evidence = dict(v.evidence, summary=v.summary)
    if model:
        evidence["model"] = model
    if device:
        evidence["device"] = device
    return replace(f, message=f"{f.message} [verify: {v.verdict}: {v.summary}]",
                   extra=dict(f.extra, verdict=v.verdict, evidence=evidence))


def _def_line(target: Target) -> int:
    return min(target.lines) if target.lines else 1


def verify(findings: list[Finding], files: list[Path], settings: Settings, root: Path, workers: int = 1,
           show_progress: bool = True) -> Outcome:
    """Build and run every model of ``files``; return the findings with verdicts plus the diagnostics."""
    from actlint.engine import decode, display_path

    by_path: dict[str, list[Finding]] = {}
    for f in findings:
        by_path.setdefault(f.path, []).append(f)
    targets: list[Target] = []
    out: list[Finding] = []
    for file in files:
        shown = display_path(file)
        own = by_path.pop(shown, [])
        out.extend(f for f in own if f.code == "ACT000")  # unreadable: reported as is, never verified
        own = [f for f in own if f.code != "ACT000"]
        if file.suffix != ".py":
            out.extend(_with_verdict(f, Verdict(INCONCLUSIVE, "notebooks are not verified yet"), None, None)
                       for f in own)
            continue
        try:
            text = decode(file.read_bytes())
        except (OSError, ValueError):
            continue
        if not any(tok in text for tok in FRAMEWORK_TOKENS):
            continue
        found, unmapped = file_targets(shown, file, text, own, settings)
        targets.extend(found)
        out.extend(_with_verdict(f, Verdict(INCONCLUSIVE, why), None, None) for f, why in unmapped)
    for rest in by_path.values():
        out.extend(rest)  # ACT000 and findings of files not walked here
    targets.extend(factory_targets(settings, root))

    jobs = []
    for t in targets:
        spec = dict(t.spec(), device=settings.device, train_steps=settings.train_steps, batch=settings.batch,
                    seed=0)
        spec["sys_path"] = spec["sys_path"] + [str(root)]  # factories import from the project root
        if any(f.code == "ACT107" for f in t.findings):
            spec["digest"] = True
            jobs.append((t.label + "#second", dict(spec, digest_only=True, probes=[])))
        jobs.append((t.label, spec))
    progress = Progress(len(jobs)) if show_progress else None
    results = run_all(jobs, settings.timeout, workers=workers, progress=progress)

    models: list[ModelRun] = []
    devices: set[str] = set()
    for t in targets:
        res = results[t.label]
        data = dict(res.data)
        t.assumptions.extend(a for a in data.get("assumptions", []) if a not in t.assumptions)  # from the child
        second = results.get(t.label + "#second")
        if second is not None:
            data["digest_second"] = second.data.get("digest")
            data["second_reason"] = second.data.get("reason")
        run = ModelRun(t, data, res.wall_s)
        device = data.get("device")
        if device:
            devices.add(device)
        probes = data.get("probes", {})
        for i, f in enumerate(t.findings):
            if not run.ok:
                v = Verdict(INCONCLUSIVE, data.get("reason", "the model could not be run"))
            else:
                v = judge(f.code, probes.get(str(i)), data)
            if t.assumptions and v.verdict != INCONCLUSIVE:
                v.evidence["assumptions"] = list(t.assumptions)
            run.verdicts.append((f, v))
            out.append(_with_verdict(f, v, t.label, device))
        if run.ok:
            run.diagnostics = diagnose(data, t.path, t.label, _def_line(t))
            for d in run.diagnostics:
                d.extra["evidence"]["device"] = device
            out.extend(run.diagnostics)
        models.append(run)
    out.sort(key=lambda f: f.sort_key)
    return Outcome(out, models, sorted(devices))


def worker_count(requested: int | None) -> int:
    if requested:
        return max(1, requested)
    return max(1, min(4, (os.cpu_count() or 1) // 2))


__all__ = ["Outcome", "ModelRun", "verify", "worker_count"]

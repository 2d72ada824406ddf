"""One ``--verify`` run: targets from the static pass, children, verdicts, diagnostics, report.

Nothing inside actlint may end the run: an internal error while preparing one file (its
targets, loss sites, a notebook's program) or while judging one model (spec, verdicts,
diagnostics) becomes ``inconclusive: internal error: <Type>: <message>`` for that file's
or model's findings, is kept as an :class:`InternalFault` (with its traceback) and the
other files are still verified.  ``ACTLINT_VERIFY_FAULT="<file name>[:prepare|judge]"``
raises such an error on purpose, for the tests.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path

from actlint.findings import ENGINE_CODES, Finding
from actlint.verify.judge.diagnostics import diagnose
from actlint.verify.build.functions import function_targets
from actlint.verify.build.notebooks import NotebookProgram
from actlint.verify.judge.verdicts import CONFIRMED, INCONCLUSIVE, REFUTED, Verdict, judge, judge_function
from actlint.verify.sandbox.runner import Progress, run_all
from actlint.verify.build.targets import Settings, Target, factory_targets, file_targets
from actlint.verify.entry_points import TRAINS, Launch, files_to_run, launch_for

FRAMEWORK_TOKENS = ("torch", "keras", "tensorflow")
FAULT_ENV = "ACTLINT_VERIFY_FAULT"


@dataclass
class InternalFault:
    """An error inside actlint while verifying one file or model (never the user's code: that is a reason)."""

    path: str                  # the file, as findings show it
    model: str | None          # the model's label, when one model failed
    stage: str                 # preparing | judging | running
    error: str                 # "KeyError: None"
    traceback: str

    @property
    def reason(self) -> str:
        return f"internal error: {self.error}"

    def note(self) -> str:
        what = f"{self.path} ({self.model.rpartition(':')[2]})" if self.model else self.path
        return f"internal error while {self.stage} {what}: {self.error}"

    def to_dict(self) -> dict:
        return {"path": self.path, "model": self.model, "stage": self.stage, "error": self.error,
                "traceback": self.traceback}


def _fault(path: str, model: str | None, stage: str, exc: BaseException) -> InternalFault:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    error = f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__
    return InternalFault(path, model, stage, error, "".join(traceback.format_exception(exc)))


def _fault_hook(stage: str, path: str) -> None:
    """Tests only: raise where ``ACTLINT_VERIFY_FAULT`` names this file (and stage; default ``prepare``)."""
    wanted = os.environ.get(FAULT_ENV)
    if not wanted:
        return
    name, _, at = wanted.partition(":")
    if Path(path).name == name and (at or "prepare") == stage:
        raise RuntimeError(f"fault injected by {FAULT_ENV} (stage {stage})")


@dataclass
class ModelRun:
    """One model's run, as the report shows it."""

    target: Target
    result: dict
    wall_s: float
    verdicts: list[tuple[Finding, Verdict]] = field(default_factory=list)
    diagnostics: list[Finding] = field(default_factory=list)
    fault: InternalFault | None = None

    @property
    def ok(self) -> bool:
        return bool(self.result.get("ok"))


@dataclass
class Outcome:
    findings: list[Finding]
    models: list[ModelRun]
    devices: list[str]
    faults: list[InternalFault] = field(default_factory=list)
    elapsed_s: float = 0.0
    report_failed: bool = False
    notes: list[str] = field(default_factory=list)  # how the children were started (``--verbose``)

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


def _prepare(file: Path, shown: str, text: str, own: list[Finding], settings: Settings, scratch: Path):
    """One file's targets and the findings no target answers; a notebook also gives its program mapping."""
    _fault_hook("prepare", shown)
    if file.suffix == ".ipynb":
        from actlint.notebook import NotebookError

        try:
            notebook = NotebookProgram.write(file, text, scratch)
        except NotebookError as exc:  # the static pass reported it (ACT000)
            return [], [(f, f"the notebook could not be read: {exc}") for f in own], None
        found, unmapped = file_targets(shown, notebook.file, notebook.text,
                                       [notebook.to_program(f) for f in own], settings)
        return found, [(notebook.original(f), why) for f, why in unmapped], notebook
    found, unmapped = file_targets(shown, file, text, own, settings)
    return found, unmapped, None


def verify(findings: list[Finding], files: list[Path], settings: Settings, root: Path, workers: int = 1,
           show_progress: bool = True) -> Outcome:
    """Build and run every model of ``files``; return the findings with verdicts plus the diagnostics."""
    from actlint.verify.sandbox.runner import finish_warm, start_warm

    scratch = Path(tempfile.mkdtemp(prefix="actlint-notebooks-"))
    progress = Progress() if show_progress else None
    warm = start_warm(workers, keras=any(_mentions_keras(f) for f in files))
    notes: list[str] = []
    try:
        outcome = _verify(findings, files, settings, root, workers, progress, scratch, warm)
    finally:
        if progress:
            progress.close()
        finish_warm(warm, notes)
        shutil.rmtree(scratch, ignore_errors=True)
    outcome.notes = notes
    return outcome


def _mentions_keras(file: Path) -> bool:
    """Whether the warm-start server should import Keras too (a guess: a file that never says keras needs none)."""
    try:
        return b"keras" in file.read_bytes()
    except OSError:
        return False


def _verify(findings, files, settings, root, workers, progress, scratch, warm=None) -> Outcome:
    from actlint.engine import decode, display_path

    start = time.perf_counter()
    by_path: dict[str, list[Finding]] = {}
    for f in findings:
        by_path.setdefault(f.path, []).append(f)
    targets: list[Target] = []
    notebooks: dict[str, NotebookProgram] = {}  # target label -> its notebook's program
    faults: list[InternalFault] = []
    outside: list[Target] = []  # findings outside any model: their expressions run (functions.py)
    out: list[Finding] = []

    def unverified(own: list[Finding], why: str) -> None:
        out.extend(_with_verdict(f, Verdict(INCONCLUSIVE, why), None, None) for f in own)

    traced_models: list[ModelRun] = []
    captured: set[tuple[str, str | int]] = set()  # (real file, class or line) of the models a run measured
    if settings.run_scripts:
        final, traced_models, captured = _traced_phase(files, by_path, settings, root, workers, progress, warm,
                                                       scratch)
        out.extend(final)

    for number, file in enumerate(files):
        shown = display_path(file)
        if progress:
            progress.preparing(number, len(files), shown)
        own = by_path.pop(shown, [])
        out.extend(f for f in own if f.code in ENGINE_CODES)  # unreadable, unused noqa: as is, never verified
        own = [f for f in own if f.code not in ENGINE_CODES]
        try:
            text = decode(file.read_bytes())
        except (OSError, ValueError) as exc:
            unverified(own, f"the file could not be read again: {exc}")
            continue
        if file.suffix != ".ipynb" and not any(tok in text for tok in FRAMEWORK_TOKENS):
            unverified(own, "the file uses no framework the verifier runs")
            continue
        try:
            found, unmapped, notebook = _prepare(file, shown, text, own, settings, scratch)
        except Exception as exc:  # noqa: BLE001 - an actlint bug costs this file's verdicts, not the run
            fault = _fault(shown, None, "preparing", exc)
            faults.append(fault)
            unverified(own, fault.reason)
            continue
        if notebook is None:
            try:
                fns, unmapped = function_targets(shown, file, text, unmapped, found)
                outside.extend(fns)
            except Exception as exc:  # noqa: BLE001 - only these findings lose their experiment
                faults.append(_fault(shown, None, "preparing", exc))
        targets.extend(found)
        if notebook is not None:
            notebooks.update((t.label, notebook) for t in found)
        out.extend(_with_verdict(f, Verdict(INCONCLUSIVE, why), None, None) for f, why in unmapped)
    for rest in by_path.values():
        out.extend(rest)  # ACT000 and findings of files not walked here
    try:
        targets.extend(factory_targets(settings, root))
    except Exception as exc:  # noqa: BLE001
        faults.append(_fault("pyproject.toml", None, "preparing", exc))

    targets = [t for t in targets if t.findings or not _was_captured(t, captured)]
    jobs = []
    early: dict[str, InternalFault] = {}  # targets whose spec could not be made
    for t in targets:
        try:
            spec = dict(t.spec(), device=settings.device, train_steps=settings.train_steps, batch=settings.batch,
                        seed=0)
            spec["sys_path"] = spec["sys_path"] + [str(root)]  # factories import from the project root
            if t.label in notebooks:  # the program sits in a scratch folder; imports resolve beside the notebook
                here = str(notebooks[t.label].file.resolve().parent)
                spec["sys_path"] = [str(notebooks[t.label].source.resolve().parent) if p == here else p
                                    for p in spec["sys_path"]]
        except Exception as exc:  # noqa: BLE001
            early[t.label] = _fault(t.path, t.label, "preparing", exc)
            continue
        if any(f.code == "ACT107" for f in t.findings):
            spec["digest"] = True
            jobs.append((t.label + "#second", dict(spec, digest_only=True, probes=[])))
        jobs.append((t.label, spec))
    jobs.extend((t.label, dict(t.spec(), seed=0)) for t in outside)
    if progress:
        progress.jobs([key for key, _ in jobs])
    results = run_all(jobs, settings.timeout, workers=workers, progress=progress, warm=warm)

    models: list[ModelRun] = list(traced_models)
    devices: set[str] = {m.result["device"] for m in traced_models if m.result.get("device")}
    for t in targets:
        notebook = notebooks.get(t.label)
        fault = early.get(t.label)
        run, made = None, []
        if fault is None:
            try:
                _fault_hook("judge", t.path)
                run = _judge(t, results, notebook)
                fault = run.fault
                made = [_with_verdict(f, v, t.label, run.result.get("device")) for f, v in run.verdicts]
            except Exception as exc:  # noqa: BLE001 - this model's verdicts become inconclusive, not the run's
                fault = _fault(t.path, t.label, "judging", exc)
                run = None
        if run is None:
            run = _faulted(t, results, fault, notebook)
            made = [_with_verdict(f, v, t.label, None) for f, v in run.verdicts]
        if fault is not None:
            faults.append(fault)
        if run.result.get("device"):
            devices.add(run.result["device"])
        out.extend(made)
        out.extend(run.diagnostics)
        models.append(run)
    for t in outside:
        data = results[t.label].data
        for i, f in enumerate(t.findings):
            try:
                v = (judge_function(f.code, data.get("probes", {}).get(str(i))) if data.get("ok")
                     else Verdict(INCONCLUSIVE, data.get("reason", "the expressions could not be run")))
            except Exception as exc:  # noqa: BLE001 - this finding's verdict, not the run
                fault = _fault(t.path, t.label, "judging", exc)
                faults.append(fault)
                v = Verdict(INCONCLUSIVE, fault.reason)
            out.append(_with_verdict(f, v, None, data.get("device")))
    out.sort(key=lambda f: f.sort_key)
    return Outcome(out, models, sorted(devices), faults, time.perf_counter() - start)


def training_files(files: list[Path], root: Path) -> list[Launch]:
    """How each file --verify runs under the tracer is started (see :mod:`actlint.verify.entry_points`)."""
    from actlint.engine import decode

    texts = {}
    for file in files:
        if file.suffix != ".py":
            continue
        try:
            texts[file] = decode(file.read_bytes())
        except (OSError, ValueError):
            continue
    return [launch_for(f, root) for f in files_to_run(list(texts), texts, root, FRAMEWORK_TOKENS)]


def training_notebooks(files: list[Path], scratch: Path) -> list[tuple[Launch, NotebookProgram]]:
    """The notebooks whose code trains, each with its program written to ``scratch`` and started there as
    ``python PROGRAM`` in the notebook's own folder (where its relative data paths lead)."""
    from actlint.engine import decode
    from actlint.notebook import NotebookError

    out = []
    for file in files:
        if file.suffix != ".ipynb":
            continue
        try:
            text = decode(file.read_bytes())
            if not TRAINS.search(text) or not any(tok in text for tok in FRAMEWORK_TOKENS):
                continue
            notebook = NotebookProgram.write(file, text, scratch)
        except (OSError, ValueError, NotebookError):
            continue
        if TRAINS.search(notebook.text):
            notebook.write_runnable()
            out.append((Launch(file, (str(notebook.file),), file.parent), notebook))
    return out


def _traced_phase(files, by_path, settings, root, workers, progress, warm=None, scratch=None):
    """Run each training file as a script under the tracer; the findings its captured models measured are final.

    A notebook that trains runs as its program (the cells in order, as the static pass read them).
    Returns those findings (with verdicts from the run), the captured models, and ``(real file, class)`` of each
    so that the synthetic build does not build them again.  ``by_path`` keeps the other findings.
    """
    import sys
    from concurrent.futures import ThreadPoolExecutor
    from dataclasses import replace

    from actlint.engine import display_path
    from actlint.verify.traced_session import verify_command

    launches: list[tuple[Launch, NotebookProgram | None]] = [(s, None) for s in training_files(files, root)]
    if scratch is not None:
        launches += training_notebooks(files, scratch)
    if not launches:
        return [], [], set()
    everything = [f for fs in by_path.values() for f in fs if f.code not in ENGINE_CODES]
    if not everything:
        return [], [], set()
    if progress:
        progress.preparing(0, len(launches), f"running {launches[0][0].file.name}")

    def one(item):
        launch, notebook = item
        given, roots = everything, ()
        if notebook is not None:  # its findings as lines of its program, under the program's name
            shown = display_path(launch.file)
            given = [f for f in everything if f.path != shown] + [
                replace(notebook.to_program(f), path=str(notebook.file)) for f in everything if f.path == shown]
            roots = (str(notebook.file.parent),)
        return verify_command([sys.executable, *launch.argv], launch.cwd, given, project_root=root,
                              steps=max(1, settings.train_steps), timeout=settings.timeout, device=settings.device,
                              warm=warm, extra_roots=roots)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        runs = list(pool.map(one, launches))
    final: list[Finding] = []
    models: list[ModelRun] = []
    captured: set[tuple[str, str | int]] = set()
    taken: set[int] = set()
    index = {id(f): i for i, f in enumerate(everything)}
    for (launch, notebook), (outcome, _rest, traced) in zip(launches, runs):
        shown_nb = display_path(launch.file) if notebook is not None else None
        program = os.path.realpath(notebook.file) if notebook is not None else None

        def back(f: Finding) -> Finding:  # a finding on the notebook's program, as a finding of its cells
            if program is None or os.path.realpath(f.path) != program:
                return f
            found = replace(notebook.to_cells(f), path=shown_nb)
            notebook.name_places(found.extra.get("evidence") or {}, program, shown_nb)
            if isinstance(found.extra.get("model"), str):
                found.extra["model"] = found.extra["model"].replace(program + ":", shown_nb + ":")
            return found

        for run in outcome.models:
            name = Path(launch.file).name if notebook is not None else Path(traced.command[-1]).name
            shown = " ".join(["python", *traced.command[1:-1], name])
            run.target.assumptions.append(f"built by running {shown} under the tracer"
                                          + (" (its code cells in order)" if notebook is not None else ""))
            if notebook is not None and os.path.realpath(str(run.target.file)) == program:
                run.target.path, run.target.file = shown_nb, Path(launch.file)
                run.target.label = f"{shown_nb}:{run.target.label.rpartition(':')[2]}"
                run.diagnostics = [back(d) for d in run.diagnostics]
                notebook.name_places(run.result, program, shown_nb)
                for _f, v in run.verdicts:
                    notebook.name_places(v.evidence, program, shown_nb)
                run.verdicts = [(back(f), v) for f, v in run.verdicts]
            if run.ok:
                real = os.path.realpath(str(run.target.file))
                captured.add((real, run.target.name.partition("@")[0]))
                captured.update((real, line) for line in run.target.lines)
            models.append(run)
        for f in map(back, outcome.findings):
            if f.extra.get("verdict") == "observed":
                final.append(f)
                continue
            key = _key(f)
            i = next((index[id(g)] for g in everything if _key(g) == key), None)
            if i is None or i in taken or not _measured_verdict(f):
                continue
            taken.add(i)
            final.append(f)
    kept = {id(everything[i]) for i in taken}
    for path in list(by_path):
        by_path[path] = [f for f in by_path[path] if id(f) not in kept]
    return final, models, captured


def _was_captured(t: Target, captured: set) -> bool:
    """The run measured this model: same file and class, or its construction line lies in the target's lines."""
    real = os.path.realpath(t.file)
    if t.path.endswith(".ipynb"):  # its program sits in a scratch folder: the notebook is what a run names
        return (os.path.realpath(t.path), t.name) in captured
    return (real, t.name) in captured or any((real, line) in captured for line in t.lines)


def _key(f: Finding) -> tuple:
    return (f.path, f.cell, f.line, f.column, f.code)


def _measured_verdict(f: Finding) -> bool:
    """A verdict of the run that rests on its own numbers (else the synthetic build gets its turn)."""
    verdict = f.extra.get("verdict")
    evidence = f.extra.get("evidence") or {}
    return verdict in (CONFIRMED, REFUTED) or (verdict == INCONCLUSIVE and evidence.get("measured") is True)


def _judge(t: Target, results: dict, notebook: NotebookProgram | None) -> ModelRun:
    """Verdicts and diagnostics of one model's run (raises on an internal error; the caller contains it)."""
    res = results[t.label]
    data = dict(res.data)
    second = results.get(t.label + "#second")
    if second is not None:
        data["digest_second"] = second.data.get("digest")
        data["digest_second_params"] = second.data.get("digest_params")
        data["digest_unbuilt"] = bool(data.get("digest_unbuilt") or second.data.get("digest_unbuilt"))
        data["second_reason"] = second.data.get("reason")
    t.assumptions.extend(a for a in data.get("assumptions", []) if a not in t.assumptions)  # from the child
    run = ModelRun(t, data, res.wall_s)
    if data.get("internal_error"):  # the runner itself failed on this model
        run.fault = InternalFault(t.path, t.label, "running", data["internal_error"], data.get("traceback", ""))
        data["reason"] = run.fault.reason
    show = notebook.original if notebook else (lambda f: f)
    probes = data.get("probes", {})
    for i, f in enumerate(t.findings):
        if f.code == "ACT107" and (data.get("digest_params") or data.get("digest_unbuilt")) and second is not None \
                and (second.data.get("digest_params") or second.data.get("digest_unbuilt")):
            v = judge(f.code, None, data)  # two builds suffice: the forward pass need not work
        elif not run.ok:
            why = data.get("reason", "the model could not be run")
            v = Verdict(INCONCLUSIVE, notebook.reason(why) if notebook else why)
        else:
            v = judge(f.code, probes.get(str(i)), data)
        if t.assumptions and v.verdict != INCONCLUSIVE:
            v.evidence["assumptions"] = list(t.assumptions)
        if run.ok and (data.get("input") or {}).get("why"):  # which synthetic input, and why that one
            v.evidence["input"] = f"{tuple(data['input']['shape'])} {data['input']['why']}"
        run.verdicts.append((show(f), v))
    if run.ok:
        run.diagnostics = diagnose(data, t.path, t.label, _def_line(t))
        for d in run.diagnostics:
            d.extra["evidence"]["device"] = data.get("device")
        if notebook:
            run.diagnostics = [notebook.to_cells(d) for d in run.diagnostics]
    if notebook:
        notebook.map_result(data)
    return run


def _faulted(t: Target, results: dict, fault: InternalFault, notebook: NotebookProgram | None) -> ModelRun:
    """The run of a model whose judging failed: every finding inconclusive with the internal error."""
    res = results.get(t.label)
    data = dict(res.data) if res is not None else {"ok": False}
    data.update(reason=fault.reason, internal_error=fault.error, traceback=fault.traceback)
    run = ModelRun(t, data, res.wall_s if res is not None else 0.0, fault=fault)
    show = notebook.original if notebook else (lambda f: f)
    run.verdicts = [(show(f), Verdict(INCONCLUSIVE, fault.reason)) for f in t.findings]
    return run


def worker_count(requested: int | None) -> int:
    """Children at a time: ``--jobs``, else one per core up to 4 (a child is mostly start-up and imports)."""
    if requested:
        return max(1, requested)
    return max(1, min(4, os.cpu_count() or 1))


__all__ = ["InternalFault", "Outcome", "ModelRun", "verify", "worker_count", "FAULT_ENV"]

"""The Python API: verify a model from a test, a notebook or a training loop, in the user's own process.

- ``check(model, inputs, targets, loss)``: measures the model on the inputs given, with the loss given,
  and judges the static findings of the files that define it (and of the calling file);
- ``watch(model, optimizer=None)``: a context around a plain PyTorch loop; the model is captured at its
  first optimizer step exactly as ``actlint run`` captures it (its batch, its loss), for ``steps`` steps;
- the Keras and Lightning callbacks (:mod:`actlint.verify.keras`, :mod:`actlint.verify.lightning`).

Each gives a :class:`Report`: the findings with verdicts (``evidence.source == "api"``), the runtime
diagnostics, ``ok``, and ``assert_ok()`` for a pytest test.  The measurement and the judge are those of
``--verify`` and ``actlint run``.  Nothing is sandboxed here: the code is the caller's own.
"""

from __future__ import annotations

import copy
import inspect
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from actlint.verify.trace import hooks, state
from actlint.verify.trace.state import SPEC, STATE

_ACTLINT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_PREPARED = {"torch": False, "keras": False}
_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", ".git")


# --------------------------------------------------------------------------- the report


@dataclass
class Report:
    """What the API measured: findings with verdicts, runtime diagnostics, and the model records."""

    findings: list = field(default_factory=list)      # actlint.findings.Finding, each with extra verdict/evidence
    diagnostics: list = field(default_factory=list)   # ACT9xx findings (verdict "observed")
    models: list = field(default_factory=list)        # the measurement records
    reason: str | None = None                         # why nothing could be measured

    @property
    def ok(self) -> bool:
        """No finding confirmed, no runtime diagnostic, and something was measured."""
        if self.reason is not None and not self.models:
            return False
        return not any(f.extra.get("verdict") == "confirmed" for f in self.findings) and not self.diagnostics

    def text(self) -> str:
        from actlint.output import text

        body = text.render(sorted(self.findings + self.diagnostics, key=lambda f: f.sort_key), show_source=False)
        counts: dict[str, int] = {}
        for f in self.findings:
            counts[f.extra.get("verdict", "?")] = counts.get(f.extra.get("verdict", "?"), 0) + 1
        verdicts = ", ".join(f"{counts.get(k, 0)} {k}" for k in ("confirmed", "refuted", "inconclusive"))
        n = len(self.models)
        line = f"actlint: {n} model{'s' * (n != 1)} measured; {verdicts}; {len(self.diagnostics)} runtime diagnostic" \
               f"{'s' * (len(self.diagnostics) != 1)}"
        if self.reason:
            line += f"\nactlint: {self.reason}"
        return body + line + "\n"

    __str__ = text

    def assert_ok(self) -> None:
        """Fail (AssertionError, with the text output) on a confirmed finding, a runtime diagnostic, or no model."""
        if not self.ok:
            raise AssertionError("actlint found problems in the model:\n" + self.text())


# --------------------------------------------------------------------------- preparing the process


def prepare() -> None:
    """Record where layers are built and initialised, from now on (import the API before building the model)."""
    hooks.when_imported("torch", _prepare_torch)
    hooks.when_imported("keras", _prepare_keras)


def _prepare_torch(torch) -> None:
    from actlint.verify.measure import recorder

    if _PREPARED["torch"]:
        return
    _PREPARED["torch"] = True
    recorder.USER_FILES = _user_file
    recorder.patch_constructors("torch")
    recorder.patch_inits()


def _prepare_keras(keras) -> None:
    from actlint.verify.measure import recorder

    if _PREPARED["keras"]:
        return
    _PREPARED["keras"] = True
    recorder.USER_FILES = _user_file
    recorder.patch_constructors("keras")  # where each layer is built, and the layer calls the recorder follows


_USERS: dict = {}


def _user_file(name: str):
    """Outside a run there is no project root given: the user's code is whatever is not an installed package."""
    cached = _USERS.get(name, False)
    if cached is not False:
        return cached
    real = None
    if name and not name.startswith("<"):
        full = os.path.realpath(name)
        libs = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
        if not (any(full.startswith(lib + os.sep) and ("site-packages" in full or "/lib/python" in full)
                    for lib in libs) or "site-packages" in full or "dist-packages" in full
                or full.startswith(_ACTLINT + os.sep)):
            real = full
    _USERS[name] = real
    return real


def _caller_file() -> str | None:
    frame = sys._getframe(1)
    while frame is not None:
        real = _user_file(frame.f_code.co_filename)
        if real and os.path.isfile(real):
            return real
        frame = frame.f_back
    return None


def _project_root(start: str) -> Path:
    folder = Path(start).resolve().parent
    for candidate in [folder, *folder.parents]:
        if any((candidate / m).exists() for m in _MARKERS):
            return candidate
    return folder


def _model_files(model) -> set[str]:
    """The user's files that define the model: its classes and where its layers were built."""
    files = set()
    modules = list(model.modules()) if hasattr(model, "modules") else [model]
    if hasattr(model, "_flatten_layers"):
        modules += list(model._flatten_layers(include_self=False))
    for m in modules:
        try:
            src = inspect.getsourcefile(type(m))
        except TypeError:
            src = None
        real = _user_file(src) if src else None
        if real and os.path.isfile(real):
            files.add(real)
        place = getattr(m, "_actlint_line", None)
        if isinstance(place, tuple) and os.path.isfile(place[0]):
            files.add(place[0])
    return files


def _begin(model, steps: int, caller: str | None) -> tuple[list, set[str]]:
    """Point the shared capture state at this model; lint its files; returns (findings, files)."""
    files = _model_files(model)
    if caller:
        files.add(caller)
    root = _project_root(caller or next(iter(files), os.getcwd()))
    findings = _lint(sorted(files), root)
    from actlint.verify.traced_session import finding_specs

    state.reset()
    SPEC.clear()
    SPEC.update(findings=finding_specs(findings), steps=steps, _roots=[str(root)] + sorted(
        {os.path.dirname(f) for f in files}), scratch=None)
    STATE.update(api=True, done=False, claimed=True)
    return findings, files


def _lint(files: list[str], root: Path) -> list:
    from actlint.config import load_config
    from actlint.engine import lint_paths

    if not files:
        return []
    config = load_config(Path(files[0]))
    report = lint_paths([Path(f) for f in files], config, jobs=1, cache=None)
    return [f for f in report.findings if f.code != "ACT000"]


def _judge(findings: list, records: list[dict], nothing: str, files: set[str]) -> Report:
    from actlint.verify.traced_session import judge_records

    seed = ("the Python API measures one build of the model: run the training script with "
            "'actlint run -- python train.py' to compare two runs")
    out, models, _rest = judge_records(findings, records, source="api", assumptions=[], nothing=nothing, wall_s=0.0,
                                       seed=seed, shown_by_real={}, script_files=set(files))
    return Report([f for f in out if f.extra.get("verdict") != "observed"],
                  [f for f in out if f.extra.get("verdict") == "observed"], records,
                  None if records else nothing)


# --------------------------------------------------------------------------- check()


def check(model, inputs, targets=None, loss=None, *, steps: int = 3, device=None) -> Report:
    """Measure ``model`` on ``inputs`` with ``loss(output, targets)`` and judge the static findings of its files.

    ``inputs``: a tensor, or a tuple of the forward's arguments.  ``loss``: a loss module or function called as
    ``loss(output, targets)``; without one, cross-entropy for integer targets, MSE otherwise (an assumption
    the evidence names).  ``device`` moves a copy of the model and the inputs there.  The model itself is not
    changed: twins and training steps run on copies.
    """
    caller = _caller_file()
    prepare()
    if _is_keras(model):
        return _check_keras(model, inputs, targets, loss, steps, caller)
    import torch

    from actlint.verify.measure.record import after_steps_record  # noqa: F401 - the record's shape
    from actlint.verify.measure.recorder import train_steps
    from actlint.verify.trace import torch_capture

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"check() takes a torch.nn.Module or a keras.Model, not {type(model).__name__}")
    findings, files = _begin(model, steps, caller)
    original = model
    if device is not None:
        model = copy.deepcopy(model).to(device)
        inputs = _to(inputs, device)
        targets = _to(targets, device)
    args = inputs if isinstance(inputs, tuple) else (inputs,)
    replay, desc = _loss_of(loss, targets)
    entry = {"args": args, "kwargs": {}, "output": None, "place": None}
    try:
        pristine = copy.deepcopy(model)
    except Exception:  # noqa: BLE001 - measured in place, without twins (the record says so)
        pristine = None
    STATE["measuring"] = True
    try:
        record = torch_capture.measure_torch(model, pristine, entry, None, {}, replay=replay, loss_desc=desc,
                                             why="the inputs given to check()", source="api", extra_files=files)
        if record.get("ok") and steps > 0 and pristine is not None:
            trained = copy.deepcopy(pristine)
            record["after_training"] = train_steps(trained, torch_capture._batch_of(entry), steps, 0, replay)
            record.setdefault("assumptions", []).append(
                f"{steps} Adam steps (lr 1e-3) on the inputs given, on a copy, before the second look")
    finally:
        STATE["measuring"] = False
        STATE["done"] = True
    del original
    return _judge(findings, [record], record.get("reason") or "the model could not be measured", files)


def _to(value, device):
    if hasattr(value, "to"):
        return value.to(device)
    if isinstance(value, tuple):
        return tuple(_to(v, device) for v in value)
    return value


def _loss_of(loss, targets):
    """``(replay(output) -> (loss, kind), description)`` for the loss given (or chosen from the targets)."""
    import torch
    import torch.nn.functional as F

    from actlint.verify.measure.recorder import output_tensor

    if loss is not None:
        name = type(loss).__name__ if isinstance(loss, torch.nn.Module) else getattr(loss, "__name__", "loss")

        def replay(out):
            return (loss(out, targets) if targets is not None else loss(out)), name

        return replay, {"kind": name, "fn": name, "replay": "exact", "source": "api"}
    if targets is None:
        return None, {"kind": None, "note": "no loss and no targets given"}
    if not targets.is_floating_point():
        def ce(out):
            return F.cross_entropy(output_tensor(out), targets), "cross_entropy"

        return ce, {"kind": "cross_entropy", "fn": "F.cross_entropy", "replay": "chosen",
                    "note": "no loss given: cross-entropy for integer targets"}

    def mse(out):
        return F.mse_loss(output_tensor(out), targets), "mse"

    return mse, {"kind": "mse", "fn": "F.mse_loss", "replay": "chosen", "note": "no loss given: MSE for float targets"}


def _is_keras(model) -> bool:
    keras = sys.modules.get("keras")
    return keras is not None and isinstance(model, keras.Model)


def _check_keras(model, inputs, targets, loss, steps, caller) -> Report:
    from actlint.verify.trace import keras_capture

    findings, files = _begin(model, steps, caller)
    if loss is not None or getattr(model, "optimizer", None) is None or not getattr(model, "compiled", True):
        model.compile(optimizer=getattr(model, "optimizer", None) or "adam",
                      loss=loss or getattr(model, "loss", None) or "mse")
    saved = [(v, v.value.detach().clone()) for v in model.weights] if model.built else []
    STATE["measuring"] = True
    try:
        record = keras_capture.measure_keras(model, inputs, targets, None, keras_capture.original_train_on_batch(),
                                             True, source="api", extra_files=files,
                                             why="the inputs given to check()")
    finally:
        STATE["measuring"] = False
        STATE["done"] = True
        for v, value in saved:  # the caller's model keeps its weights (the steps ran on it, in place)
            v.assign(value)
    return _judge(findings, [record], record.get("reason") or "the model could not be measured", files)


# --------------------------------------------------------------------------- watch()


class watch:  # noqa: N801 - used as ``with actlint.verify.watch(model):``, like a function
    """``with watch(model, optimizer):`` around a plain PyTorch loop: the model is captured at its first step.

    The loop runs unchanged; after ``steps`` steps the capture stops (the loop goes on) and ``.report`` holds
    the verdicts (also once the block ends).  ``print_report`` prints the text output when the steps are done.
    """

    def __init__(self, model, optimizer=None, *, steps: int = 3, print_report: bool = False) -> None:
        self.model, self.optimizer, self.steps, self.print_report = model, optimizer, steps, print_report
        self._report: Report | None = None
        self._findings: list = []
        self._files: set[str] = set()
        self._caller = _caller_file()

    def __enter__(self) -> "watch":
        import torch

        from actlint.verify.trace import torch_capture

        prepare()
        _prepare_torch(torch)
        self._findings, self._files = _begin(self.model, self.steps, self._caller)
        SPEC["only"] = self.model
        STATE["on_done"] = self._done
        torch_capture.install_once(torch)
        return self

    def _done(self) -> None:
        self._report = _judge(self._findings, list(STATE["models"]), state.no_model_reason(True), self._files)
        if self.print_report:
            sys.stderr.write(self._report.text())

    def __exit__(self, *exc) -> bool:
        if self._report is None:
            STATE["done"] = True
            self._done()
        STATE["on_done"] = None
        SPEC.pop("only", None)
        return False

    @property
    def report(self) -> Report | None:
        return self._report

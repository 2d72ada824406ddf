"""Start the user's command under the tracer (parent side: imports no framework).

The command runs unchanged, in a scratch copy of its working folder: every entry of the
folder is linked there, so the script reads its data and imports its modules as usual,
while what it creates (``os.makedirs("images")``, a checkpoint, a log) lands in the scratch
folder; writing through a link into the real folder, or anywhere else, is refused by the
audit hook, and so is the network unless ``allow_network``.  The tracer is loaded by a
``sitecustomize`` at the head of ``PYTHONPATH`` (any Python the command starts gets it;
only the first process that trains records).  A command that outlives ``timeout`` is
killed with its whole process group; what the tracer had written by then is kept.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BOOT = Path(__file__).resolve().parent / "boot"
PACKAGE_ROOT = Path(__file__).resolve().parents[3]  # the folder that holds the actlint package


@dataclass
class TracedRun:
    """What came back from one traced command."""

    result: dict
    exit_code: int | None
    wall_s: float
    timed_out: bool = False
    output_tail: str = ""
    command: list[str] = field(default_factory=list)

    @property
    def models(self) -> list[dict]:
        return list(self.result.get("models") or [])

    def reason(self) -> str:
        """Why no model was captured, in one sentence."""
        if self.timed_out and not self.models and self.result.get("claimed"):
            return (f"the command reached a training step, but measuring its model did not finish within "
                    f"{self.wall_s:.0f} s (--timeout; a longer one may let it)")
        if self.timed_out and not self.models:
            return f"the command did not reach a training step within {self.wall_s:.0f} s (--timeout)"
        why = self.result.get("reason") or "the command ended before any model took a training step"
        if self.exit_code not in (0, None) and "raised" not in why:
            last = self.output_tail.strip().splitlines()[-1][:200] if self.output_tail.strip() else ""
            why = f"the command exited with status {self.exit_code}" + (f" ({last})" if last else "") + \
                " before any model took a training step"
        return why


PARENTS = 2  # folders above the working one mirrored too: ``sys.path.append("..")``, ``../data``


def _link_entries(source: Path, into: Path, skip: str | None = None) -> None:
    """Link every entry of ``source`` into the real folder ``into`` (but ``skip``, made real by the caller)."""
    into.mkdir(parents=True, exist_ok=True)
    try:
        entries = list(os.scandir(source))
    except OSError:
        return
    for entry in entries:
        if entry.name == skip:
            continue
        try:
            os.symlink(entry.path, into / entry.name, target_is_directory=entry.is_dir())
        except OSError:
            pass


def _mirror(cwd: Path, into: Path) -> Path:
    """Mirror ``cwd`` and up to :data:`PARENTS` folders above it into ``into``: each folder on the way a real
    one, every other entry a link (written copy-on-write by the guard).  Returns the command's working folder."""
    cwd = Path(cwd).resolve()
    chain = [cwd]
    while len(chain) <= PARENTS and chain[-1].parent != chain[-1]:
        chain.append(chain[-1].parent)
    top = chain[-1]
    here = into
    _link_entries(top, here, skip=chain[-2].name if len(chain) > 1 else None)
    for upper, lower in zip(chain[::-1], chain[-2::-1]):
        here = here / lower.name
        nxt = chain[chain.index(lower) - 1].name if lower != cwd else None
        _link_entries(lower, here, skip=nxt)
    return here


def command_env(scratch: Path, spec_path: Path, allow_network: bool, device: str | None) -> dict:
    env = dict(os.environ)
    path = [str(BOOT), str(PACKAGE_ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    env.update(PYTHONPATH=os.pathsep.join(path), ACTLINT_TRACE=str(spec_path), MPLBACKEND="Agg",
               MPLCONFIGDIR=str(scratch / "mplconfig"), TMPDIR=str(scratch / "tmp"), PYTHONDONTWRITEBYTECODE="1",
               PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="3", WANDB_MODE="disabled", WANDB_DISABLED="true")
    (scratch / "tmp").mkdir(exist_ok=True)
    if not allow_network:
        env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1", NO_PROXY="", no_proxy="",
                   http_proxy="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9",
                   HTTP_PROXY="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9")
    if device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    return env


def _warm_argv(command: list[str]) -> list[str] | None:
    """The arguments after the interpreter when ``command`` is this Python running a file or a module, the two
    forms a forked child can run (:func:`actlint.verify.sandbox.forkserver._script`); else None."""
    import sys

    if len(command) < 2 or os.path.realpath(command[0]) != os.path.realpath(sys.executable):
        return None
    rest = command[1:]
    if rest[0] == "-m":
        return rest if len(rest) >= 2 else None
    return None if rest[0].startswith("-") else rest


def _program(command: list[str], cwd: Path) -> list[str]:
    """A program named by a relative path out of the working folder (``../venv/bin/python``) made absolute:
    the command runs in a mirror of that folder, where the path would lead elsewhere."""
    if not command or os.sep not in command[0] or os.path.isabs(command[0]):
        return command
    where = os.path.normpath(os.path.join(os.path.abspath(cwd), command[0]))
    inside = where.startswith(os.path.abspath(cwd) + os.sep)
    return command if inside or not os.path.exists(where) else [where, *command[1:]]


def run_traced(command: list[str], cwd: Path, findings: list[dict], *, project_root: Path, steps: int = 3,
               timeout: float = 120.0, allow_network: bool = False, keep_going: bool = False,
               digest_only: bool = False, device: str | None = None, stream=None,
               own_stdin: bool = False, warm=None, extra_roots: tuple[str, ...] = ()) -> TracedRun:
    """Run ``command`` in (a mirror of) ``cwd`` under the tracer; ``findings`` are the static ones to probe.

    ``stream``: where the command's output goes (a file object: the user's terminal); None keeps only its
    tail, for the reason when it fails.  ``own_stdin``: the command reads actlint's own standard input (the
    user's terminal under ``actlint run``: ``stty size`` works); else it reads nothing.  ``warm``: a
    :class:`~actlint.verify.sandbox.warm.WarmStart` whose server forks the command, when it is this Python
    running a file or a module and its output is only kept (``--verify``).  ``extra_roots``: more folders whose
    files are the user's code (a notebook's program, written to a scratch folder).
    """
    command = _program(command, cwd)
    scratch = Path(tempfile.mkdtemp(prefix="actlint-run-")).resolve()
    start = time.perf_counter()
    try:
        work = _mirror(cwd, scratch / "work")
        spec = {"scratch": str(scratch), "project_root": str(Path(project_root).resolve()),
                "extra_roots": [str(Path(cwd).resolve())] + [str(Path(r).resolve()) for r in extra_roots],
                "steps": steps, "continue": keep_going,
                "digest_only": digest_only, "allow_network": allow_network, "findings": findings}
        spec_path = scratch / "spec.json"
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        env = command_env(scratch, spec_path, allow_network, device)
        out_path = scratch / "output.txt"
        argv = _warm_argv(command) if warm is not None and stream is None and not own_stdin else None
        if argv is not None and warm.available():
            forked = _run_forked(warm, argv, work, env, out_path, timeout, start)
            if forked is not None:
                exit_code, timed_out = forked
                tail = out_path.read_bytes()[-4000:].decode("utf-8", "replace") if out_path.exists() else ""
                result = _read(scratch / "result.json")
                if timed_out and (scratch / "claimed").exists():
                    result["claimed"] = True
                return TracedRun(result, exit_code, time.perf_counter() - start, timed_out, tail, list(command))
        with open(out_path, "wb") as out:
            try:
                proc = subprocess.Popen(command, cwd=work, env=env, stdin=None if own_stdin else subprocess.DEVNULL,
                                        stdout=subprocess.PIPE if stream is not None else out,
                                        stderr=subprocess.STDOUT, start_new_session=True)
            except OSError as exc:
                return TracedRun({"ok": False, "reason": f"the command could not be started: {exc}", "models": []},
                                 None, time.perf_counter() - start, command=command)
            timed_out = False
            try:
                if stream is not None:
                    _pump(proc, stream, out, start + timeout)
                proc.wait(timeout=max(0.1, start + timeout - time.perf_counter()))
            except subprocess.TimeoutExpired:
                timed_out = True
                _kill(proc)
                proc.wait()
        _kill(proc)  # whatever it left running (a data loader's workers)
        tail = out_path.read_bytes()[-4000:].decode("utf-8", "replace")
        result = _read(scratch / "result.json")
        if timed_out and (scratch / "claimed").exists():  # it reached a step: the measuring ran out of time
            result["claimed"] = True
        return TracedRun(result, proc.returncode, time.perf_counter() - start, timed_out, tail, list(command))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _run_forked(warm, argv, work: Path, env: dict, out_path: Path, timeout: float, start: float):
    """(exit status, timed out) of the command forked from the warm server; None when no server is left."""
    from actlint.verify.sandbox.warm import ServerGone

    try:
        return warm.script(argv, work, env, out_path, max(0.1, timeout - (time.perf_counter() - start)))
    except ServerGone:
        return None


def _pump(proc: subprocess.Popen, stream, copy, deadline: float) -> None:
    """Pass the command's output through to ``stream`` (and keep it), until it ends or the deadline."""
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    try:
        while time.perf_counter() < deadline:
            if not sel.select(timeout=max(0.05, min(0.5, deadline - time.perf_counter()))):
                if proc.poll() is not None:
                    break
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            copy.write(chunk)
            try:
                stream.write(chunk.decode("utf-8", "replace"))
                stream.flush()
            except (OSError, ValueError):
                pass
        else:
            raise subprocess.TimeoutExpired(proc.args, 0)
    finally:
        sel.close()


def _read(path: Path) -> dict:
    if not path.is_file():
        return {"ok": False, "models": []}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return {"ok": False, "models": [], "reason": "the tracer wrote an unreadable result"}


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass

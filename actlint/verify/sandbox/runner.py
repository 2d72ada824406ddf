"""The parent side: one isolated child process per model, with a time limit.

Each child runs ``child.py spec.json`` in a fresh scratch folder (its only writable place,
removed afterwards), in its own process group so a hang is killed whole.  Warm (the
default where ``fork`` is safe, :mod:`warm`): forked from a server that imported the
frameworks once.  Cold: a fresh ``python -I -B`` per child.  A crash, a hang, an import
error or running out of memory becomes ``ok: false`` with a reason; the other models
still run.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

CHILD = Path(__file__).resolve().parent.parent / "build" / "child.py"


@dataclass
class ChildResult:
    data: dict
    wall_s: float
    stderr: str = ""


def _child_env(threads: int) -> dict:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "SYSTEMROOT", "CUDA_VISIBLE_DEVICES", "LD_LIBRARY_PATH",
            "KERAS_BACKEND")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), TF_CPP_MIN_LOG_LEVEL="3",
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", NO_PROXY="*", no_proxy="*",
               http_proxy="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9")
    return env


def run_child(spec: dict, timeout: float, threads: int = 1, warm=None) -> ChildResult:
    """Run one child on ``spec`` (forked from ``warm``'s server when there is one); never raises for
    anything the user's code does."""
    from actlint.verify.sandbox.warm import ServerGone

    scratch = Path(tempfile.mkdtemp(prefix="actlint-verify-"))
    start = time.perf_counter()
    try:
        spec = dict(spec, threads=threads)
        (scratch / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
        env = _child_env(threads)
        env["TMPDIR"] = str(scratch)
        launched = None
        if warm is not None and warm.available():
            try:
                launched = warm.run(scratch / "spec.json", scratch, env, timeout)
            except ServerGone:
                launched = None  # no server left: this child runs cold
        if launched is not None:
            returncode, timed_out = launched
            err_file = scratch / "stderr.txt"
            err = err_file.read_bytes() if err_file.is_file() else b""
        else:
            returncode, timed_out, err = _run_cold(scratch, env, timeout)
        if timed_out:
            return ChildResult({"ok": False, "reason": f"timed out after {timeout:g} s (--timeout)"},
                               time.perf_counter() - start)
        stderr = err.decode("utf-8", "replace")[-4000:]
        result_file = scratch / "result.json"
        if result_file.is_file():
            try:
                data = json.loads(result_file.read_text(encoding="utf-8"))
            except ValueError:
                data = {"ok": False, "reason": "the child wrote an unreadable result"}
        elif returncode and returncode < 0:
            sig = -returncode
            why = "killed (out of memory?)" if sig == signal.SIGKILL else f"crashed with signal {sig}"
            data = {"ok": False, "reason": f"the model's process {why}"}
        else:
            last = stderr.strip().splitlines()[-1] if stderr.strip() else f"exit status {returncode}"
            data = {"ok": False, "reason": f"the model's process ended without a result: {last[:200]}"}
        return ChildResult(data, time.perf_counter() - start, stderr)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _run_cold(scratch: Path, env: dict, timeout: float) -> tuple[int | None, bool, bytes]:
    """(exit status, whether the time limit killed it, stderr) of a child in a fresh interpreter."""
    proc = subprocess.Popen([sys.executable, "-I", "-B", str(CHILD), str(scratch / "spec.json")],
                            cwd=scratch, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(proc)
        proc.communicate()
        return None, True, b""
    return proc.returncode, False, err


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


def _run_one(key: str, spec: dict, timeout: float, threads: int, progress, warm=None) -> ChildResult:
    """One child, with progress; an error inside actlint here becomes this model's ``internal_error``."""
    if progress:
        progress.start(key)
    start = time.perf_counter()
    try:
        return run_child(spec, timeout, threads, warm)
    except Exception as exc:  # noqa: BLE001 - never the user's code (run_child contains that): ours
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        error = f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__
        return ChildResult({"ok": False, "internal_error": error, "traceback": traceback.format_exc()},
                           time.perf_counter() - start)
    finally:
        if progress:
            progress(key)


def start_warm(workers: int, keras: bool):
    """The warm start of one ``--verify`` run (:class:`~actlint.verify.sandbox.warm.WarmStart`): its server
    imports the frameworks with one thread (no thread pool exists when it forks) in a folder of its own."""
    from actlint.verify.sandbox.warm import WarmStart

    threads = max(1, (os.cpu_count() or 1) // max(1, workers))
    env = dict(_child_env(threads), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    home = Path(tempfile.mkdtemp(prefix="actlint-warm-"))
    env["TMPDIR"] = str(home)
    warm = WarmStart(env, keras=keras)
    warm.home = home
    return warm


def finish_warm(warm, notes: list | None) -> None:
    """Stop the server; ``notes`` get how the children started, restarts, and the peak memory."""
    warm.close()
    if warm.home is not None:
        shutil.rmtree(warm.home, ignore_errors=True)
    if notes is None:
        return
    notes.append(warm.describe())
    if warm.restarts:
        notes.append(f"the warm-start server was restarted {warm.restarts} time(s): {warm.why}")
    import resource

    unit = 1024 if sys.platform.startswith("linux") else 2 ** 20  # ru_maxrss: KB on Linux, bytes on macOS
    parent = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / unit
    server = f", the warm-start server {warm.peak_mb:.0f} MB" if warm.peak_mb is not None else ""
    notes.append(f"peak memory: this process {parent:.0f} MB{server}")


def _cost(spec: dict) -> tuple:
    """Slowest first: Keras children (their framework is the slow one), then the ones with the most to measure."""
    return (spec.get("framework") == "keras", len(spec.get("probes") or ()) + 2 * bool(spec.get("train_steps")),
            not spec.get("digest_only"))


def run_all(jobs: list[tuple[str, dict]], timeout: float, workers: int = 1, progress=None,
            notes: list | None = None, warm=None) -> dict[str, ChildResult]:
    """Run many children (``(key, spec)`` pairs), ``workers`` at a time, the costly ones first; results by key.

    ``warm``: the run's warm start (else one is started for these children and stopped after them, and
    ``notes`` get one line on how the children started)."""
    threads = max(1, (os.cpu_count() or 1) // max(1, workers))
    results: dict[str, ChildResult] = {}
    if not jobs:
        return results
    jobs = sorted(jobs, key=lambda job: _cost(job[1]), reverse=True)
    own = warm is None
    if own:
        warm = start_warm(workers, keras=any(spec.get("framework") == "keras" for _, spec in jobs))
    try:
        if workers <= 1 or len(jobs) <= 1:
            for key, spec in jobs:
                results[key] = _run_one(key, spec, timeout, threads, progress, warm)
            return results
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(_run_one, key, spec, timeout, threads, progress, warm): key for key, spec in jobs}
            for future in as_completed(futures):
                results[futures[future]] = future.result()
        return results
    finally:
        if own:
            finish_warm(warm, notes)


class Progress:
    """Progress on stderr: files prepared, then models done of total, the current one, seconds so far.

    Only on a terminal; the line is rewritten in place (a carriage return) about once a second
    and cleared at the end.  A model is done when all its children are (``key#second`` is a
    second child of model ``key``).
    """

    def __init__(self, keys: list[str] = (), stream=None, interval: float = 1.0) -> None:
        self.stream = stream or sys.stderr
        self.pending: dict[str, int] = {}
        self.total, self.done = 0, 0
        self.running: list[str] = []
        self.reading: tuple[int, int, str] | None = None  # (files done, of, current file) while preparing
        self.start_time = time.perf_counter()
        self.enabled = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._width = 0
        self._ticker = None
        self.jobs(keys)
        if self.enabled:
            self._ticker = threading.Thread(target=self._tick, args=(interval,), daemon=True)
            self._ticker.start()

    def jobs(self, keys) -> None:
        """The children to run (their keys); ends the preparing phase."""
        with self._lock:
            for key in keys:
                model = key.partition("#")[0]
                self.pending[model] = self.pending.get(model, 0) + 1
            self.total = len(self.pending)
            self.reading = None

    def preparing(self, done: int, total: int, path: str) -> None:
        with self._lock:
            self.reading = (done, total, path)
        self._draw()

    def start(self, key: str) -> None:
        with self._lock:
            self.running.append(key.partition("#")[0])
        self._draw()

    def __call__(self, key: str) -> None:
        model = key.partition("#")[0]
        with self._lock:
            if model in self.running:
                self.running.remove(model)
            self.pending[model] = self.pending.get(model, 1) - 1
            if self.pending[model] == 0:
                self.done += 1
        self._draw()

    def line(self, width: int = 200) -> str:
        """The progress text, the current model's label shortened from the left to fit ``width``."""
        elapsed = time.perf_counter() - self.start_time
        if self.reading is not None:
            done, total, current = self.reading
            head = f"actlint --verify: reading {done}/{total} files, {elapsed:.0f} s  "
        else:
            head = f"actlint --verify: {self.done}/{self.total} models, {elapsed:.0f} s  "
            current = self.running[-1] if self.running else ""
        room = max(12, width - len(head))
        if len(current) > room:
            current = "…" + current[-(room - 1):]
        return (head + current).rstrip()

    def _columns(self) -> int:
        try:
            return os.get_terminal_size(self.stream.fileno()).columns or 80
        except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
            return shutil.get_terminal_size((80, 20)).columns

    def _draw(self) -> None:
        if not self.enabled or self._stop.is_set():
            return
        with self._lock:
            text = self.line(self._columns() - 1)
            pad = max(0, self._width - len(text))
            self._width = len(text)
            self.stream.write("\r" + text + " " * pad)
            self.stream.flush()

    def _tick(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self._draw()

    def close(self) -> None:
        """Stop and clear the line (the summary line says the rest)."""
        self._draw()
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=2)
        if self.enabled:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()

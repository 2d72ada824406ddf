"""The parent side: one isolated child process per model, with a time limit.

Each child runs ``python -I -B child.py spec.json`` in a fresh scratch folder (its only
writable place, removed afterwards), in its own process group so a hang is killed whole.
A crash, a hang, an import error or running out of memory becomes ``ok: false`` with a
reason; the other models still run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

CHILD = Path(__file__).resolve().parent / "child.py"


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


def run_child(spec: dict, timeout: float, threads: int = 1) -> ChildResult:
    """Run one child on ``spec``; never raises for anything the user's code does."""
    scratch = Path(tempfile.mkdtemp(prefix="actlint-verify-"))
    start = time.perf_counter()
    try:
        spec = dict(spec, threads=threads)
        (scratch / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
        env = _child_env(threads)
        env["TMPDIR"] = str(scratch)
        proc = subprocess.Popen([sys.executable, "-I", "-B", str(CHILD), str(scratch / "spec.json")],
                                cwd=scratch, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, start_new_session=True)
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(proc)
            proc.communicate()
            return ChildResult({"ok": False, "reason": f"timed out after {timeout:g} s (--timeout)"},
                               time.perf_counter() - start)
        stderr = err.decode("utf-8", "replace")[-4000:]
        result_file = scratch / "result.json"
        if result_file.is_file():
            try:
                data = json.loads(result_file.read_text(encoding="utf-8"))
            except ValueError:
                data = {"ok": False, "reason": "the child wrote an unreadable result"}
        elif proc.returncode and proc.returncode < 0:
            sig = -proc.returncode
            why = "killed (out of memory?)" if sig == signal.SIGKILL else f"crashed with signal {sig}"
            data = {"ok": False, "reason": f"the model's process {why}"}
        else:
            last = stderr.strip().splitlines()[-1] if stderr.strip() else f"exit status {proc.returncode}"
            data = {"ok": False, "reason": f"the model's process ended without a result: {last[:200]}"}
        return ChildResult(data, time.perf_counter() - start, stderr)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


def run_all(jobs: list[tuple[str, dict]], timeout: float, workers: int = 1, progress=None) -> dict[str, ChildResult]:
    """Run many children (``(key, spec)`` pairs), ``workers`` at a time; results by key."""
    threads = max(1, (os.cpu_count() or 1) // max(1, workers))
    results: dict[str, ChildResult] = {}
    if workers <= 1 or len(jobs) <= 1:
        for key, spec in jobs:
            results[key] = run_child(spec, timeout, threads)
            if progress:
                progress(key)
        return results
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(run_child, spec, timeout, threads): key for key, spec in jobs}
        for future in as_completed(futures):
            key = futures[future]
            results[key] = future.result()
            if progress:
                progress(key)
    return results


class Progress:
    """A one-line progress bar on stderr (only when stderr is a terminal)."""

    def __init__(self, total: int, stream=None) -> None:
        self.total, self.done = total, 0
        self.stream = stream or sys.stderr
        self.enabled = total > 0 and hasattr(self.stream, "isatty") and self.stream.isatty()

    def __call__(self, label: str) -> None:
        self.done += 1
        if not self.enabled:
            return
        width = 24
        filled = int(width * self.done / self.total)
        self.stream.write(f"\ractlint --verify [{'#' * filled}{'.' * (width - filled)}] "
                          f"{self.done}/{self.total} {label[-40:]:<40}")
        if self.done == self.total:
            self.stream.write("\n")
        self.stream.flush()

"""The parent's side of the warm start: one fork server per ``--verify`` run, shared by its workers.

:class:`WarmStart` launches :mod:`forkserver` with the children's environment and waits until
it has imported the frameworks; where a warm start is not possible (no ``fork`` on this
platform, ``ACTLINT_COLD_START=1``, the server failing to come up) it says why, and the
caller runs cold children as before.  :meth:`WarmServer.run` has one model's
child forked and waits for it with the same time limit a cold child gets; on a timeout the
child's whole process group is killed, as for a cold child.  A server that dies is started
again once per run; the children it forked meanwhile are still waited for (and killed on
their timeout) by their process id.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

SERVER = Path(__file__).resolve().parent / "forkserver.py"
READY_TIMEOUT_S = 120.0  # importing torch and keras on a loaded machine
FORK_TIMEOUT_S = 30.0


class ServerGone(Exception):
    """The server ended (or never answered) before the child was forked."""


class _Job:
    def __init__(self) -> None:
        self.forked = threading.Event()
        self.done = threading.Event()
        self.pid: int | None = None
        self.status: int | None = None


class WarmServer:
    def __init__(self, env: dict, keras: bool) -> None:
        self.env = env
        self.keras = keras
        self.lock = threading.Lock()
        self.jobs: dict[int, _Job] = {}
        self.next_id = 0
        self.dead = False
        self.why = ""
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-B", str(SERVER), *(["--keras"] if keras else [])],
            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            start_new_session=True, cwd=env.get("TMPDIR") or None)
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> bool:
        if not self._ready.wait(timeout):
            self.why = self.why or f"the warm-start server did not come up within {timeout:g} s"
            self.close()
            return False
        return not self.dead

    def _read(self) -> None:
        for raw in self.proc.stdout:
            try:
                message = json.loads(raw)
            except ValueError:
                continue
            if "ready" in message:
                if not message["ready"]:
                    self.why = message.get("why", "the warm-start server refused")
                    self.dead = True
                self._ready.set()
                continue
            with self.lock:
                job = self.jobs.get(message.get("id"))
            if job is None:
                continue
            if "pid" in message:
                job.pid = message["pid"]
                job.forked.set()
            if "status" in message:
                job.status = message["status"]
                job.done.set()
        with self.lock:  # the server has ended: nobody will answer for the jobs still open
            self.dead = True
            self.why = self.why or "the warm-start server ended"
            for job in self.jobs.values():
                job.forked.set()
                job.done.set()
        self._ready.set()

    def run(self, spec_path: Path, scratch: Path, env: dict, timeout: float) -> tuple[int | None, bool]:
        """(exit status or None when unknown, whether the time limit killed it) of one forked child."""
        return self.submit({"spec": str(spec_path), "scratch": str(scratch), "env": env}, timeout)

    def submit(self, request: dict, timeout: float) -> tuple[int | None, bool]:
        """As :meth:`run`, for any request the server takes (a model's child, or a traced script)."""
        job = _Job()
        with self.lock:
            if self.dead:
                raise ServerGone(self.why)
            self.next_id += 1
            ident = self.next_id
            self.jobs[ident] = job
            try:
                line = json.dumps({"id": ident, **request})
                self.proc.stdin.write((line + "\n").encode("utf-8"))
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError, ValueError) as exc:
                self.dead = True
                raise ServerGone(f"the warm-start server stopped reading ({exc})") from None
        start = time.monotonic()
        try:
            if not job.forked.wait(FORK_TIMEOUT_S) or job.pid is None:
                raise ServerGone(self.why or "the warm-start server did not fork the child")
            remaining = timeout - (time.monotonic() - start)
            if job.done.wait(max(0.0, remaining)) and job.status is not None:
                return job.status, False
            if job.done.is_set():  # the server died while this child ran: follow the child by its pid
                while _alive(job.pid) and time.monotonic() - start < timeout:
                    time.sleep(0.02)
                if not _alive(job.pid):
                    return None, False
            _kill_group(job.pid)
            job.done.wait(5.0)
            return None, True
        finally:
            with self.lock:
                self.jobs.pop(ident, None)

    def peak_mb(self) -> float | None:
        """The server's peak resident memory so far (Linux), or None."""
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except (OSError, ValueError, IndexError):
            pass
        return None

    def close(self) -> None:
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _kill_group(self.proc.pid)
            self.proc.wait()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def unavailable() -> str | None:
    """Why a warm start cannot be tried here, or None."""
    if os.environ.get("ACTLINT_COLD_START", "").strip() not in ("", "0"):
        return "ACTLINT_COLD_START is set"
    if not hasattr(os, "fork") or not sys.platform.startswith("linux"):
        return f"fork is not available or not safe on {sys.platform}"
    return None


def _start(env: dict, keras: bool) -> tuple[WarmServer | None, str]:
    """A ready server, or None and why not."""
    try:
        server = WarmServer(env, keras)
    except OSError as exc:
        return None, f"the warm-start server could not start: {exc}"
    if not server.wait_ready():
        return None, server.why
    return server, ""


class WarmStart:
    """The server of one run, started again once if it dies; cold children when there is none.

    The server is launched at once and waited for only when the first child is due, so its imports
    overlap the parent's own preparation (the static pass, the targets)."""

    RESTARTS = 1

    def __init__(self, env: dict, keras: bool) -> None:
        self.env, self.keras = env, keras
        self.lock = threading.Lock()
        self.restarts = 0
        self.peak_mb: float | None = None  # the server's, read when it is closed
        self.home: Path | None = None  # the server's own folder (its TMPDIR), removed by its owner
        self.why = unavailable() or ""
        self.server = None
        self.checked = False  # whether the server's readiness was waited for
        self.started = False  # whether it came up (then the children were forked)
        if not self.why:
            try:
                self.server = WarmServer(env, keras)
            except OSError as exc:
                self.why = f"the warm-start server could not start: {exc}"

    def available(self) -> bool:
        """Whether children can be forked (waits for the server the first time it is asked)."""
        with self.lock:
            if not self.checked:
                self.checked = True
                if self.server is not None and not self.server.wait_ready():
                    self.why = self.server.why
                    self.server = None
                self.started = self.server is not None
            return self.server is not None

    def describe(self) -> str:
        if self.started:
            return "warm start: one fork server imported " + ("torch and keras" if self.keras else "torch") + \
                   " once; each model runs in a child forked from it"
        if not self.checked and not self.why:
            return "warm start: no child was needed"
        return f"cold start: each model runs in a fresh interpreter ({self.why})"

    def run(self, spec_path: Path, scratch: Path, env: dict, timeout: float) -> tuple[int | None, bool]:
        """As :meth:`WarmServer.run`; ServerGone once no server is left (the caller runs the child cold)."""
        return self.submit({"spec": str(spec_path), "scratch": str(scratch), "env": env}, timeout)

    def script(self, argv: list[str], cwd: Path, env: dict, output: Path, timeout: float) -> tuple[int | None, bool]:
        """A traced ``python FILE``/``python -m MODULE`` (``argv`` without the interpreter), forked; its output
        is appended to ``output``.  ServerGone when no server is left (the caller starts it cold)."""
        return self.submit({"kind": "script", "argv": list(argv), "cwd": str(cwd), "env": env,
                            "output": str(output)}, timeout)

    def submit(self, request: dict, timeout: float) -> tuple[int | None, bool]:
        if not self.available():
            raise ServerGone(self.why)
        for _ in range(self.RESTARTS + 1):
            server = self.server
            if server is None:
                break
            try:
                return server.submit(request, timeout)
            except ServerGone as exc:
                with self.lock:
                    if self.server is server:
                        server.close()
                        self.server = None
                        self.why = str(exc)
                        if self.restarts < self.RESTARTS:
                            self.restarts += 1
                            self.server, why = _start(self.env, self.keras)
                            self.why = why or self.why
        raise ServerGone(self.why)

    def close(self) -> None:
        with self.lock:
            server, self.server = self.server, None
        if server is not None:
            self.peak_mb = server.peak_mb()
            server.close()

"""The warm start's server: import the frameworks once, fork one child per model.

Run by the parent (:mod:`warm`) as ``python -I -B forkserver.py [--keras]``, with the
children's reduced environment.  It imports torch (and Keras, when a Keras model is queued)
and the child's own modules, and says ``{"ready": true}`` on stdout, or why it cannot serve:
an import that fails, or a framework that started threads (forking a threaded process is not
safe).  Then it reads one request per line on stdin and forks: a model's child
(``{"id", "spec", "scratch", "env"}``), or a traced script (``{"id", "kind": "script", "argv",
"cwd", "env", "output"}``: ``python FILE ARGS`` or ``python -m MODULE ARGS`` as the tracer runs
it, :func:`_script`).  It answers ``{"id", "pid"}``; when that child ends, ``{"id", "status"}``
(the exit code, negative for a signal, as :mod:`subprocess` gives it).

A forked child is a cold child minus the imports: it starts its own session (a hang is
killed whole, by the parent), works in its scratch folder (also its TMPDIR), sends stdout
to nothing and stderr to ``stderr.txt`` there, takes the request's environment, draws
fresh random state (as a new interpreter would), and runs
the same ``child.main``, which installs the audit hook before any user code.  The server
never runs user code and never touches CUDA, so each child initialises CUDA itself.  When
stdin closes (the parent is done, or gone), children still running are killed.
"""

from __future__ import annotations

import json
import os
import select
import signal
import sys
import traceback

if __package__ in (None, ""):  # run as a script under -I: make this checkout's actlint importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))

STDERR_FILE = "stderr.txt"


def _say(message: dict) -> None:
    os.write(1, (json.dumps(message) + "\n").encode("utf-8"))


def _threads() -> int:
    """Threads of this process (native ones included), or 1 where the platform does not say."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 1


def _preload(keras: bool):
    import torch  # noqa: F401 - the point of the server: imported once, shared by every fork

    if keras:
        # as a cold child imports it: the torch backend unless one is chosen, its home in a scratch folder
        os.environ["KERAS_BACKEND"] = os.environ.get("KERAS_BACKEND") or "torch"
        os.environ["KERAS_HOME"] = os.path.join(os.environ.get("TMPDIR") or os.getcwd(), "keras_home")
        import keras  # noqa: F401
    from actlint.verify.build import child

    return child


def _fresh_random_state() -> None:
    """Seed every generator from the system's entropy, as a new process finds them: a fork would otherwise
    hand each child the server's state, and two unseeded builds (ACT107's evidence) would come out equal.
    Python's ``random`` reseeds itself after a fork; torch's and numpy's global generators do not."""
    import torch

    torch.seed()
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()


def _keras_home(scratch: str) -> None:
    """Keras fixed its home folder when the server imported it; a cold child's is ``keras_home`` in its scratch
    folder (``child._import_framework``), so a forked child's is too."""
    config = sys.modules.get("keras.src.backend.config")
    if config is not None and hasattr(config, "_KERAS_DIR"):
        config._KERAS_DIR = os.path.join(scratch, "keras_home")
        os.makedirs(config._KERAS_DIR, exist_ok=True)


def _detach(cwd: str, out: str | None, err: str, append: bool, env: dict) -> None:
    """The forked process on its own, as a fresh one would be: its own session (a hang is killed whole),
    ``cwd``, stdin from nothing, stdout to ``out`` (nothing when None) and stderr to ``err``, the request's
    environment, fresh random state."""
    os.setsid()
    os.chdir(cwd)
    null = os.open(os.devnull, os.O_RDWR)
    target = os.open(err, os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC), 0o600)
    os.dup2(null, 0)
    os.dup2(target if out == err else null, 1)
    os.dup2(target, 2)
    os.close(null)
    os.close(target)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.environ.clear()
    os.environ.update(env)
    import tempfile

    tempfile.tempdir = None  # TMPDIR is the request's now
    _fresh_random_state()


def _end(code) -> None:
    """A forked process ends here: its output flushed, then ``os._exit`` (the server's own exit handlers are not
    its to run)."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:  # noqa: BLE001 - a closed stream: nothing left to say
        pass
    os._exit(code or 0)


def _child(child, request: dict) -> None:
    """In the forked process: become a cold child's equal, run it, never return."""
    code = 1
    try:
        scratch = request["scratch"]
        _detach(scratch, None, os.path.join(scratch, STDERR_FILE), False, request["env"])
        _keras_home(scratch)
        child.SCRATCH = scratch
        sys.argv = [child.__file__, request["spec"]]
        code = child.main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - the parent reads the traceback from stderr.txt
        traceback.print_exc()
        code = 1
    finally:
        _end(code)


def _script(request: dict) -> None:
    """In the forked process: the user's script as ``python FILE`` (or ``-m MODULE``) would run it, with the
    tracer loaded first as ``sitecustomize`` loads it there; never return."""
    code = 1
    try:
        env = request["env"]
        _detach(request["cwd"], request["output"], request["output"], True, env)
        import torch

        threads = int(env.get("OMP_NUM_THREADS") or 0) or os.cpu_count() or 1
        torch.set_num_threads(threads)  # the server imported with one; a script gets what its environment says
        config = sys.modules.get("keras.src.backend.config")
        if config is not None and hasattr(config, "_KERAS_DIR"):  # where a fresh import would put it
            config._KERAS_DIR = env.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
        argv = list(request["argv"])
        module = argv[1] if argv[0] == "-m" else None
        first = os.getcwd() if module else os.path.dirname(os.path.abspath(argv[0]))
        extra = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        sys.path[:] = [first, *extra, *sys.path[1:]]
        import runpy

        boot = next((p for p in extra if os.path.isfile(os.path.join(p, "sitecustomize.py"))), None)
        if boot is not None:
            runpy.run_path(os.path.join(boot, "sitecustomize.py"), run_name="sitecustomize")
        try:
            if module:
                sys.argv = [module, *argv[2:]]
                runpy.run_module(module, run_name="__main__", alter_sys=True)
            else:
                sys.argv = argv
                runpy.run_path(argv[0], run_name="__main__")
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if not isinstance(exc.code, (int, type(None))):
                print(exc.code, file=sys.stderr)
        except BaseException:  # noqa: BLE001 - as the interpreter does: the hook prints it (the tracer records it)
            sys.excepthook(*sys.exc_info())
            code = 1
        import atexit
        import threading

        threading._shutdown()  # as the interpreter ends: wait for the script's threads, then the atexit hooks
        atexit._run_exitfuncs()
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
    finally:
        _end(code)


def serve(argv: list[str]) -> int:
    try:
        child = _preload("--keras" in argv)
    except BaseException as exc:  # noqa: BLE001 - the parent falls back to cold children and says why
        _say({"ready": False, "why": f"importing the frameworks failed: {type(exc).__name__}: {exc}"[:300]})
        return 1
    threads = _threads()
    if threads > 1:
        _say({"ready": False, "why": f"the frameworks started {threads - 1} thread(s) at import, so forking "
                                     f"is not safe"})
        return 1
    _say({"ready": True, "pid": os.getpid()})
    running: dict[int, int] = {}
    pending = b""
    reading = True
    while reading or running:
        ready = select.select([0], [], [], 0.02)[0] if reading else []
        if not reading:
            select.select([], [], [], 0.02)
        if ready:
            chunk = os.read(0, 65536)
            if not chunk:
                reading = False
                for pid in running:  # the parent is done or gone: nobody waits for these
                    try:
                        os.killpg(pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                request = json.loads(line)
                pid = os.fork()
                if pid == 0:
                    _script(request) if request.get("kind") == "script" else _child(child, request)
                running[pid] = request["id"]
                _say({"id": request["id"], "pid": pid})
        while running:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            ident = running.pop(pid, None)
            if ident is not None and reading:
                _say({"id": ident, "status": os.waitstatus_to_exitcode(status)})
    return 0


if __name__ == "__main__":
    raise SystemExit(serve(sys.argv[1:]))

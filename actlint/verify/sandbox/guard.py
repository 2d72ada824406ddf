"""The audit hook that fences user code in a verifier child: no network, no new programs, writes only to scratch.

Installed in the child before any user code runs (``sys.addaudithook`` cannot be removed,
so it is switched on and off through :data:`STATE`).  The synthetic build also refuses
pickle loading (it never needs the user's checkpoints); a traced run (the user's own
script) may load pickles, fork its data-loader workers and start Python itself, and with
``--allow-network`` it may connect.
"""

from __future__ import annotations

import os
import sys

STATE = {"on": False, "scratch": os.getcwd(), "network": False, "processes": False, "pickle": False,
         "label": "actlint --verify"}
_NETWORK = ("socket.connect", "socket.bind", "socket.getaddrinfo", "urllib.Request")
_PROGRAMS = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn")
_CHANGES = ("os.remove", "os.rename", "os.mkdir", "os.rmdir", "shutil.rmtree", "os.truncate")


def _audit(event: str, args) -> None:
    if not STATE["on"]:
        return
    label = STATE["label"]
    if event in _NETWORK and not STATE["network"]:
        local = event in ("socket.connect", "socket.bind") and len(args) > 1 and isinstance(args[1], (str, bytes))
        if local and STATE["processes"]:
            return  # a Unix socket between the run's own processes (tensors shared with data-loader workers)
        raise PermissionError(f"{label}: network access is disabled")
    if event in _PROGRAMS and not _allowed_program(event, args):
        raise PermissionError(f"{label}: starting processes is disabled")
    if event == "os.fork" and not STATE["processes"]:
        raise PermissionError(f"{label}: starting processes is disabled")
    if event == "pickle.find_class" and not STATE["pickle"]:
        raise PermissionError(f"{label}: loading pickles is disabled")
    if event == "open":
        path, mode = args[0], args[1]
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(args[2], int) and args[2] & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
        if writing and isinstance(path, (str, bytes, os.PathLike)):
            refuse_outside(path)
    elif event in _CHANGES:
        if args and isinstance(args[0], (str, bytes, os.PathLike)):
            refuse_outside(args[0])


def _allowed_program(event: str, args) -> bool:
    """A traced run may start Python itself (multiprocessing's spawn, a compile worker), nothing else."""
    if not STATE["processes"]:
        return False
    exe = args[0] if args else None
    try:
        exe = os.fsdecode(exe) if exe is not None else ""
    except TypeError:
        return False
    return os.path.realpath(exe) == os.path.realpath(sys.executable)


def refuse_outside(path) -> None:
    scratch = STATE["scratch"]
    full = os.path.realpath(os.fsdecode(path))
    if not (full == scratch or full.startswith(scratch + os.sep) or full.startswith("/dev/")):
        raise PermissionError(f"{STATE['label']}: writing {full} is disabled (only the scratch folder is writable)")


def install(scratch: str, *, network: bool = False, processes: bool = False, pickle: bool = False,
            label: str = "actlint --verify") -> None:
    """Add the hook (once per process) and switch it on for ``scratch``."""
    STATE.update(scratch=os.path.realpath(scratch), network=network, processes=processes, pickle=pickle,
                 label=label)
    if not STATE.get("installed"):
        sys.addaudithook(_audit)
        STATE["installed"] = True
    STATE["on"] = True


def pause() -> None:
    STATE["on"] = False


def resume() -> None:
    STATE["on"] = True

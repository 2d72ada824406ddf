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
         "label": "actlint --verify", "mirror": None}
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
            if STATE["mirror"]:
                flags = args[2] if isinstance(args[2], int) else 0
                _own_copy(path, keep="w" not in mode if isinstance(mode, str) else not flags & os.O_TRUNC)
            refuse_outside(path)
    elif event in _CHANGES:
        if not args or not isinstance(args[0], (str, bytes, os.PathLike)):
            return
        if event == "os.mkdir" and os.path.isdir(args[0]):
            return  # ``os.makedirs(cache, exist_ok=True)`` on a folder that is there changes nothing
        if STATE["mirror"]:
            _change_in_mirror(event, args)
        else:
            refuse_outside(args[0])


def _change_in_mirror(event: str, args) -> None:
    """A change in a traced run's folder: links of the mirror may go; what a change writes is copied first."""
    if event in ("os.remove", "os.rename") and _link_in_mirror(args[0]):
        pass  # the link goes (or moves), the user's file stays
    elif event in ("os.mkdir", "os.truncate"):
        _own_copy(args[0], keep=event == "os.truncate")
        refuse_outside(args[0])
    else:
        refuse_outside(args[0])
    if event == "os.rename" and len(args) > 1 and isinstance(args[1], (str, bytes, os.PathLike)):
        _own_copy(args[1], keep=False)
        refuse_outside(args[1])

# Programs a training script asks for facts (the terminal's width, the commit, the GPUs), that change nothing.
INFORMATIONAL = frozenset({"stty", "tput", "nvidia-smi", "uname", "hostname", "whoami", "nproc", "lscpu", "id",
                           "date"})
_GIT_READS = frozenset({"rev-parse", "describe", "log", "status", "branch", "show", "diff", "config"})
_SHELL = set(";&|<>`$()\n\\")


def _informational(argv: list[str]) -> bool:
    """``stty size``, ``git rev-parse HEAD``, ``nvidia-smi`` (directly, or as one plain shell command)."""
    if len(argv) == 3 and os.path.basename(argv[0]) in ("sh", "bash", "dash") and argv[1] == "-c":
        if _SHELL & set(argv[2]):
            return False  # redirections, pipes, several commands: not a plain question
        argv = argv[2].split()
    if not argv:
        return False
    name = os.path.basename(argv[0])
    if name == "git":
        words = [a for a in argv[1:] if not a.startswith("-")]
        return bool(words) and words[0] in _GIT_READS and (words[0] != "config" or "--get" in argv or
                                                          "--list" in argv or "-l" in argv)
    return name in INFORMATIONAL


def _argv(event: str, args) -> list[str] | None:
    try:
        if event == "os.system":
            return ["sh", "-c", os.fsdecode(args[0])]
        if event == "subprocess.Popen":
            cmd = args[1]
            if isinstance(cmd, (str, bytes, os.PathLike)):
                return [os.fsdecode(cmd)]
            return [os.fsdecode(a) for a in cmd]
    except (TypeError, IndexError):
        return None
    return None


def _allowed_program(event: str, args) -> bool:
    """A traced run may start Python itself (multiprocessing's spawn, a compile worker) and ask the system
    a question that changes nothing (:data:`INFORMATIONAL`, git's reads); nothing else."""
    if not STATE["processes"]:
        return False
    argv = _argv(event, args)
    if argv and _informational(argv):
        return True
    exe = args[0] if args else None
    try:
        exe = os.fsdecode(exe) if exe is not None else ""
    except TypeError:
        return False
    return os.path.realpath(exe) == os.path.realpath(sys.executable)


def _inside_mirror(path) -> str | None:
    """``path`` made absolute (links not followed) where it lies in the mirrored working folder, else None."""
    try:
        full = os.path.abspath(os.fsdecode(path))
    except (TypeError, ValueError):
        return None
    mirror = STATE["mirror"]
    return full if full == mirror or full.startswith(mirror + os.sep) else None


def _link_in_mirror(path) -> bool:
    """A link the mirror made (in a folder of scratch), not a path through one into the user's folder."""
    full = _inside_mirror(path)
    return bool(full) and os.path.islink(full) and \
        os.path.realpath(os.path.dirname(full)).startswith(STATE["scratch"] + os.sep)


def _own_copy(path, *, keep: bool) -> None:
    """Copy-on-write for the mirror of the user's folder: before the run writes ``path``, each linked folder
    on the way becomes a real one (of links), and a linked file becomes the run's own (copied if ``keep``:
    appended to or updated in place).  The user's files are never written."""
    import shutil

    full = _inside_mirror(path)
    if full is None:
        return
    STATE["on"] = False
    try:
        here = STATE["mirror"]
        parts = os.path.relpath(full, here).split(os.sep)
        for i, part in enumerate(parts):
            here = os.path.join(here, part)
            last = i == len(parts) - 1
            if not os.path.islink(here):
                if not os.path.isdir(here):
                    return
                continue
            target = os.path.realpath(here)
            if os.path.isdir(target) and not last:
                os.unlink(here)
                os.mkdir(here)
                for entry in os.scandir(target):
                    os.symlink(entry.path, os.path.join(here, entry.name), target_is_directory=entry.is_dir())
            elif last and not os.path.isdir(target):
                os.unlink(here)
                if keep and os.path.exists(target):
                    shutil.copyfile(target, here)
            else:
                return
    except OSError:
        pass
    finally:
        STATE["on"] = True


def refuse_outside(path) -> None:
    scratch = STATE["scratch"]
    full = os.path.realpath(os.fsdecode(path))
    if not (full == scratch or full.startswith(scratch + os.sep) or full.startswith("/dev/")):
        raise PermissionError(f"{STATE['label']}: writing {full} is disabled (only the scratch folder is writable)")


def install(scratch: str, *, network: bool = False, processes: bool = False, pickle: bool = False,
            label: str = "actlint --verify", mirror: str | None = None) -> None:
    """Add the hook (once per process) and switch it on for ``scratch``; ``mirror``: a folder of ``scratch``
    whose entries link to the user's (a traced run's working folder), written copy-on-write."""
    STATE.update(scratch=os.path.realpath(scratch), network=network, processes=processes, pickle=pickle,
                 label=label, mirror=os.path.abspath(mirror) if mirror else None)
    if not STATE.get("installed"):
        sys.addaudithook(_audit)
        STATE["installed"] = True
    STATE["on"] = True


def pause() -> None:
    STATE["on"] = False


def resume() -> None:
    STATE["on"] = True

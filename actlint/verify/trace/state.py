"""What the tracer knows while the user's code runs: the spec, the user's files, the captured records.

Shared by the torch and Keras captures and by the Python API.  In a traced command the records go
to ``result.json`` in the scratch folder (written after each capture, so a command killed later
still reports); in the API (``STATE["api"]``) they stay in this process.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback

from actlint.verify.sandbox import guard
from actlint.verify.trace import hooks

SPEC: dict = {}
ASSUMPTIONS: list[str] = []
_FRESH = {"measuring": False, "depth": 0, "done": False, "started": 0.0, "claimed": False, "exception": None,
          "optimizers": False, "api": False, "on_done": None}
STATE: dict = dict(_FRESH, models=[], notes=[])
LOCK = threading.RLock()
RESETS: list = []  # the captures' own registries, cleared with the state (the Python API starts afresh)


def reset() -> None:
    """Forget every capture (the Python API measures one model at a time in a long-lived process)."""
    STATE.clear()
    STATE.update(_FRESH, models=[], notes=[], started=time.perf_counter())
    STATE.pop("internal", None)
    ASSUMPTIONS.clear()
    _USER.clear()
    for fn in RESETS:
        fn()


def user_file(name: str):
    """The real path of ``name`` when it is the user's code (under the project, not an installed package)."""
    cached = _USER.get(name)
    if cached is not None or name in _USER:
        return cached
    real = None
    if name and not name.startswith("<"):
        full = os.path.realpath(name)
        inside = any(full == r or full.startswith(r + os.sep) for r in SPEC.get("_roots", []))
        if inside and "site-packages" not in full and "dist-packages" not in full and not full.startswith(_ACTLINT):
            real = full
    _USER[name] = real
    return real


_USER: dict = {}


_ACTLINT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))) + os.sep


def user_place():
    """``(file, line)`` of the innermost frame of the user's code on the stack, or None."""
    frame = sys._getframe(1)
    while frame is not None:
        real = user_file(frame.f_code.co_filename)
        if real:
            return (real, frame.f_lineno)
        frame = frame.f_back
    return None


def shown(real: str) -> str:
    root = SPEC.get("_roots", [os.getcwd()])[0]
    try:
        rel = os.path.relpath(real, root)
    except ValueError:
        return real
    return real if rel.startswith("..") else rel


def claim() -> bool:
    """Only one process of the command records (the first that trains: not a data loader's worker)."""
    if STATE["claimed"] or STATE.get("api"):
        return True
    try:
        fd = os.open(os.path.join(SPEC["scratch"], "claimed"), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    STATE["claimed"] = True
    return True


def write(final: bool = False) -> None:
    if STATE.get("api"):
        return
    with LOCK:
        if STATE["claimed"] or final:
            write_file(SPEC["scratch"], result_of(final))


def write_file(scratch: str, result: dict) -> None:
    paused = guard.STATE.get("on")
    guard.pause()
    try:
        tmp = os.path.join(scratch, f"result.json.{os.getpid()}")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(result, fh, default=str)
        os.replace(tmp, os.path.join(scratch, "result.json"))
    finally:
        if paused:
            guard.resume()


def finish() -> None:
    """Stop the command: its models have taken their steps (nothing of the user's cleanup runs).

    In the Python API (``watch``, the callbacks) the process is the user's own: only the capture stops.
    """
    STATE["done"] = True
    if STATE.get("api"):
        done, STATE["on_done"] = STATE.get("on_done"), None
        if done is not None:
            done()
        return
    write()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:  # noqa: BLE001
        pass
    os._exit(0)


def result_of(final: bool) -> dict:
    models = list(STATE["models"])
    result = {"ok": bool(models), "models": models, "assumptions": list(ASSUMPTIONS), "notes": list(STATE["notes"]),
              "patch_errors": list(hooks.errors), "substituted": substituted(),
              "wall_s": time.perf_counter() - STATE["started"], "stopped": STATE["done"]}
    if STATE.get("internal"):
        result["internal_traceback"] = STATE["internal"]
    if not models:
        result["reason"] = no_model_reason(final)
    return result


def no_model_reason(final: bool) -> str:
    exc = STATE.get("exception")
    if exc is not None:
        kind, value, tb = exc
        frames = [f for f in traceback.extract_tb(tb) if user_file(f.filename)]
        where = f" at {shown(user_file(frames[-1].filename))}:{frames[-1].lineno}" if frames else ""
        text = str(value).strip().splitlines()[0] if str(value).strip() else ""
        return f"the command raised {kind.__name__}{where} before any model took a training step: {text}"[:500]
    failed = [n for n in STATE["notes"] if n.startswith("internal error")]
    if failed:  # a training step came, but measuring its model failed: actlint's fault, said as such
        return "a model took a training step, but actlint could not measure it (" + "; ".join(failed) + ")"
    if STATE.get("optimizers"):
        return "; ".join(STATE["notes"]) or "an optimizer stepped, but no model could be captured"
    return "the command ended before any model took a training step (no optimizer step, fit or train_on_batch)"


def substituted() -> list[dict]:
    mod = sys.modules.get("actlint.verify.trace.datasets")
    return list(getattr(mod, "SUBSTITUTED", []) or [])


def reason(exc: BaseException, stage: str) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__} while {stage}: {text}"[:400]


def rng_state(torch):
    state = {"cpu": torch.random.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(torch, state) -> None:
    torch.random.set_rng_state(state["cpu"])
    if "cuda" in state:
        torch.cuda.set_rng_state_all(state["cuda"])


def describe_batch(x) -> dict:
    import torch

    items = list(x) if isinstance(x, tuple) else [x]
    if isinstance(x, tuple):
        items += list(getattr(x, "kwargs", {}).values())
    shapes, dtypes = [], []
    for t in items:
        if isinstance(t, torch.Tensor):
            shapes.append(list(t.shape))
            dtypes.append(str(t.dtype).replace("torch.", ""))
        else:
            shapes.append(type(t).__name__)
            dtypes.append(None)
    first = next((t for t in items if isinstance(t, torch.Tensor) and t.is_floating_point()), None)
    desc = {"shape": shapes[0] if shapes and isinstance(shapes[0], list) else shapes, "inputs": shapes,
            "dtypes": dtypes}
    if first is not None and first.numel():
        f = first.detach().float()
        desc.update(min=float(f.min()), max=float(f.max()), mean=float(f.mean()),
                    std=float(f.std()) if f.numel() > 1 else 0.0)
    return desc


def probes_for(files: set[str]) -> list[dict]:
    """The static findings of ``files`` as experiment requests, places as ``(file, line)``."""
    from actlint.verify.build.targets import PROBE_KIND, TWIN_CODES

    findings = [f for f in SPEC.get("findings", []) if f["path"] in files]
    probes = []
    for f in findings:
        kind = PROBE_KIND.get(f["code"])
        if not kind:
            continue
        same = [g for g in findings if g["code"] == f["code"]] if f["code"] in TWIN_CODES else [f]
        lines = sorted({(g["path"], ln) for g in same for ln in range(g["line"], g["end_line"] + 1)})
        probes.append({"id": f["id"], "code": f["code"], "kind": kind, "lines": lines,
                       "loss_family": "binary" if f["code"] == "ACT110" else "categorical",
                       "complement": f.get("complement"), "eps": f.get("eps")})
    return probes


def data_note() -> str:
    subs = list(dict.fromkeys(s["dataset"] for s in substituted()))
    return f" (data: synthetic stand-in for {', '.join(subs)})" if subs else ""

"""The tracer: loaded into the user's own process before their code (``actlint run``, ``--verify`` on a script).

It captures every model that trains, as the script trains it:

- torch: the module whose parameters an optimizer steps (``torch.optim`` step hooks), with the
  batch it was last called on before that step (global module hooks see every top-level call),
  the loss the script computed from its output (the ``torch.nn.functional`` losses, which the
  ``nn.*Loss`` modules call, are wrapped) and its targets;
- Keras: ``Model.fit`` / ``train_on_batch``, with the first batch of the data given and the
  compiled loss.

At a model's first step it measures a copy of the model as it was before that step (its
initial weights) on the captured batch with the replayed loss, runs the per-rule experiments
(:mod:`actlint.verify.measure.record`), and after the ``steps``-th step looks again; then it
writes ``result.json`` and ends the command (``continue``: the command trains on).  Nothing
here changes what the user's own steps compute; the RNG state is put back after measuring.
"""

from __future__ import annotations

import atexit
import copy
import json
import os
import sys
import threading
import time
import traceback
import weakref

from actlint.verify.sandbox import guard
from actlint.verify.trace import hooks

SPEC: dict = {}
ASSUMPTIONS: list[str] = []
_STATE = {"measuring": False, "depth": 0, "done": False, "written": False, "started": 0.0, "claimed": False,
          "exception": None, "models": [], "notes": []}
_LOCK = threading.RLock()
LOSS_FUNCTIONS = ("cross_entropy", "nll_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
                  "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "kl_div", "poisson_nll_loss",
                  "soft_margin_loss", "multilabel_soft_margin_loss", "multi_margin_loss", "gaussian_nll_loss",
                  "hinge_embedding_loss", "cosine_embedding_loss", "margin_ranking_loss", "triplet_margin_loss")
_LOSS_KIND = {"cross_entropy": "cross_entropy", "nll_loss": "nll", "binary_cross_entropy": "bce",
              "binary_cross_entropy_with_logits": "bce_logits", "mse_loss": "mse"}
_VIEWS = ("ViewBackward", "ReshapeAliasBackward", "UnsafeViewBackward", "SqueezeBackward", "UnsqueezeBackward",
          "ExpandBackward", "CloneBackward", "ToCopyBackward", "AliasBackward", "ContiguousBackward")


# --------------------------------------------------------------------------- start


def start(spec_path: str) -> None:
    """Read the spec, fence the process, and put the patches in place for when the user imports a framework."""
    with open(spec_path, encoding="utf-8") as fh:
        SPEC.update(json.load(fh))
    _STATE["started"] = time.perf_counter()
    root = SPEC.get("project_root") or os.getcwd()
    SPEC["_roots"] = [os.path.realpath(r) for r in [root] + list(SPEC.get("extra_roots", []))]
    guard.install(SPEC["scratch"], network=bool(SPEC.get("allow_network")), processes=True, pickle=True,
                  label="actlint run")
    try:
        from actlint.verify.trace import datasets

        datasets.install(ASSUMPTIONS, SPEC["scratch"], bool(SPEC.get("allow_network")))
    except ImportError:  # pragma: no cover - the stand-ins are optional
        pass
    if not os.environ.get("KERAS_BACKEND"):
        os.environ["KERAS_BACKEND"] = "torch"
        SPEC["_keras_backend_set"] = True
    _tensorflow_shim()
    hooks.when_imported("torch", _on_torch)
    hooks.when_imported("keras", _on_keras)
    for name in ("lightning.pytorch", "pytorch_lightning"):
        hooks.when_imported(name, _on_lightning)
    atexit.register(_at_exit)
    previous = sys.excepthook

    def excepthook(kind, value, tb):
        _STATE["exception"] = (kind, value, tb)
        previous(kind, value, tb)

    sys.excepthook = excepthook


def failed_to_start(spec_path: str, exc: BaseException) -> None:
    with open(spec_path, encoding="utf-8") as fh:
        spec = json.load(fh)
    _write_file(spec["scratch"], {"ok": False, "reason": f"the tracer could not start: {type(exc).__name__}: {exc}",
                                  "traceback": traceback.format_exc()[-3000:], "models": []})


def _tensorflow_shim() -> None:
    """``tf.keras`` code without TensorFlow runs on Keras 3 (torch backend), as ``--verify`` runs it."""
    import importlib.util

    if importlib.util.find_spec("tensorflow") is not None or not SPEC.get("tf_shim", True):
        return

    class _Finder:
        @staticmethod
        def find_spec(name, path=None, target=None):
            if name != "tensorflow" or "tensorflow" in sys.modules or not _imported_by_user():
                return None  # a library probing for TensorFlow (torch._dynamo does) must still find none
            sys.meta_path.remove(_Finder)
            from actlint.verify.build import tf_alias

            tf_alias.install()
            ASSUMPTIONS.append(tf_alias.ASSUMPTION)
            return importlib.util.spec_from_loader("tensorflow", _Present())

    class _Present:
        @staticmethod
        def create_module(spec):
            return sys.modules["tensorflow"]

        @staticmethod
        def exec_module(module):
            return None

    sys.meta_path.insert(0, _Finder)


def _imported_by_user() -> bool:
    """Whether the import in progress is a statement of the user's code (not a library's probe)."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename.startswith("<frozen importlib"):
        frame = frame.f_back
    return frame is not None and user_file(frame.f_code.co_filename) is not None


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


def _user_place():
    """``(file, line)`` of the innermost frame of the user's code on the stack, or None."""
    frame = sys._getframe(1)
    while frame is not None:
        real = user_file(frame.f_code.co_filename)
        if real:
            return (real, frame.f_lineno)
        frame = frame.f_back
    return None


# --------------------------------------------------------------------------- torch


_ROOTS: "dict[int, dict]" = {}   # id(module) -> its latest top-level call
_LOSSES: list = []               # the loss calls since the latest step (most recent last)
_BACKWARDS: list = []            # loss values of the latest backward calls
_OPTIMIZERS: dict = {}           # id(optimizer) -> its capture state
_ORIGINAL: dict = {}             # the unwrapped loss functions (the replay calls these)


def _on_torch(torch) -> None:
    from actlint.verify.measure import recorder

    recorder.USER_FILES = user_file
    recorder.patch_constructors("torch")
    recorder.patch_inits()
    from torch.nn.modules import module as torch_module
    from torch.optim import optimizer as torch_optim

    torch_module.register_module_forward_pre_hook(_pre_forward)
    torch_module.register_module_forward_hook(_post_forward, with_kwargs=True, always_call=True)
    torch_optim.register_optimizer_step_pre_hook(_pre_step)
    torch_optim.register_optimizer_step_post_hook(_post_step)
    import torch.nn.functional as F

    for name in LOSS_FUNCTIONS:
        original = getattr(F, name, None)
        if original is None:
            continue
        _ORIGINAL[name] = original
        setattr(F, name, _wrap_loss(name, original))
    backward = torch.Tensor.backward

    def traced_backward(self, *args, **kwargs):
        if not _STATE["measuring"] and self.numel() == 1:
            _BACKWARDS.append(float(self.detach().float().reshape(())))
            del _BACKWARDS[:-8]
        return backward(self, *args, **kwargs)

    torch.Tensor.backward = traced_backward


def _wrap_loss(name: str, original):
    def loss(input, target=None, *args, **kwargs):
        value = original(input, target, *args, **kwargs) if target is not None or args else original(input, **kwargs)
        if not _STATE["measuring"] and not _STATE["done"]:
            _LOSSES.append({"fn": name, "input": input, "target": target, "args": args, "kwargs": kwargs,
                            "place": _user_place()})
            del _LOSSES[:-8]
        return value

    loss.__wrapped__ = original
    loss.__name__ = original.__name__
    loss.__doc__ = original.__doc__
    return loss


def _pre_forward(module, args):
    if _STATE["measuring"]:
        return
    _STATE["depth"] += 1


def _post_forward(module, args, kwargs, output):
    if _STATE["measuring"]:
        return
    _STATE["depth"] = max(0, _STATE["depth"] - 1)
    if _STATE["depth"] or _STATE["done"]:
        return
    try:
        ref = weakref.ref(module)
    except TypeError:
        return
    _ROOTS[id(module)] = {"ref": ref, "args": args, "kwargs": kwargs, "output": output, "place": _user_place(),
                          "at": time.perf_counter(), "grads": _watch_output_grads(output)}
    if len(_ROOTS) > 32:
        oldest = min(_ROOTS, key=lambda k: _ROOTS[k]["at"])
        _ROOTS.pop(oldest, None)


def _watch_output_grads(output) -> dict:
    """The gradient the user's loss sends into each output tensor (a loss the replay cannot call again)."""
    grads: dict = {}
    for path, t in _tensors(output):
        if getattr(t, "requires_grad", False):
            try:
                t.register_hook(lambda g, p=path: grads.__setitem__(p, g.detach()))
            except RuntimeError:
                pass
    return grads


def _tensors(output, path=()):
    """``(path, tensor)`` for every tensor in a model's output (a tensor, tuple, list or dict)."""
    import torch

    if isinstance(output, torch.Tensor):
        yield path, output
    elif isinstance(output, (tuple, list)):
        for i, item in enumerate(output):
            yield from _tensors(item, path + (i,))
    elif isinstance(output, dict):
        for k, item in output.items():
            yield from _tensors(item, path + (k,))
    elif hasattr(output, "logits"):  # a transformers-style output object
        yield from _tensors(getattr(output, "logits"), path + ("logits",))


def _select(output, path):
    for p in path:
        output = getattr(output, p) if p == "logits" and not isinstance(output, dict) else output[p]
    return output


def _pre_step(optimizer, args, kwargs):
    if _STATE["measuring"] or _STATE["done"]:
        return
    state = _OPTIMIZERS.get(id(optimizer))
    if state is None:
        state = _OPTIMIZERS[id(optimizer)] = {"steps": 0, "model": None, "since": _STATE.get("last_step", 0.0)}
    if state["steps"] == 0:
        # the weights before the first update: the model the script built (a closure runs forward inside step)
        state["snapshot"] = {id(p): p.detach().clone() for g in optimizer.param_groups for p in g["params"]}


def _post_step(optimizer, args, kwargs):
    if _STATE["measuring"] or _STATE["done"]:
        return
    state = _OPTIMIZERS.get(id(optimizer))
    if state is None:
        return
    state["steps"] += 1
    if _BACKWARDS:
        state.setdefault("losses", []).append(_BACKWARDS[-1])
    now = time.perf_counter()
    try:
        if state["steps"] == 1:
            _capture_torch(optimizer, state)
        elif state.get("model") is not None and state["steps"] == int(SPEC.get("steps", 3)):
            _after_torch(optimizer, state)
    except Exception as exc:  # noqa: BLE001 - an actlint failure must not change the user's run
        _STATE["notes"].append(f"internal error while measuring: {type(exc).__name__}: {exc}")
        _STATE.setdefault("internal", traceback.format_exc()[-3000:])
    finally:
        _STATE["last_step"] = now
        state["since"] = now
        _LOSSES.clear()
    _maybe_finish()


def _model_for(optimizer, since: float):
    """The module called at top level since ``since`` (else ever) that owns most of the stepped parameters."""
    stepped = {id(p) for g in optimizer.param_groups for p in g["params"]}
    best, best_key = None, None
    for recent in (True, False):
        for entry in list(_ROOTS.values()):
            if recent and entry["at"] < since:
                continue
            module = entry["ref"]()
            if module is None:
                continue
            params = [p for p in module.parameters()]
            overlap = sum(1 for p in params if id(p) in stepped)
            if not overlap:
                continue
            key = (overlap, len(params), entry["at"])
            if best_key is None or key > best_key:
                best, best_key = (module, entry), key
        if best is not None:
            return best
    return None


def _capture_torch(optimizer, state) -> None:
    import torch

    found = _model_for(optimizer, state["since"])
    if found is None:
        _STATE["notes"].append(f"a {type(optimizer).__name__} stepped parameters that no module called since its "
                               f"previous step owns (parameters used without a module, or a model called "
                               f"outside torch's module hooks)")
        return
    if not _claim():
        return
    model, entry = found
    model = _unwrap(model)
    state["model"] = model
    state["entry"] = entry
    _STATE["measuring"] = True
    rng = _rng_state(torch)
    try:
        pristine = _pristine(model, state.get("snapshot") or {})
        state["snapshot"] = None
        record = _measure_torch(model, pristine, entry, optimizer, state)
        state["record"] = record
        _STATE["models"].append(record)
    finally:
        _set_rng_state(torch, rng)
        _STATE["measuring"] = False
    _write()


def _unwrap(model):
    """The user's network inside DataParallel, DDP or ``torch.compile``."""
    for _ in range(4):
        inner = getattr(model, "_orig_mod", None)
        if inner is None and type(model).__name__ in ("DataParallel", "DistributedDataParallel"):
            inner = getattr(model, "module", None)
        if inner is None:
            return model
        model = inner
    return model


def _pristine(model, snapshot: dict):
    """A copy of ``model`` with the weights it had before its first step (None if it cannot be copied)."""
    import torch

    try:
        twin = copy.deepcopy(model)
    except Exception:  # noqa: BLE001 - the twin experiments say so
        return None
    with torch.no_grad():
        for (_, mine), (_, theirs) in zip(model.named_parameters(), twin.named_parameters()):
            before = snapshot.get(id(mine))
            if before is not None and before.shape == theirs.shape:
                theirs.copy_(before)
            theirs.grad = None
    return twin


def _label(model) -> tuple[str, str | None, int | None]:
    """``("model.py:Net", file, def line)``: the class when the user wrote it, else where it was built."""
    import inspect

    cls = type(model)
    try:
        src = inspect.getsourcefile(cls)
        real = user_file(src) if src else None
        if real:
            line = inspect.getsourcelines(cls)[1]
            return f"{_shown(real)}:{cls.__name__}", real, line
    except (TypeError, OSError):
        pass
    place = getattr(model, "_actlint_line", None)
    if isinstance(place, tuple):
        return f"{_shown(place[0])}:{cls.__name__}@{place[1]}", place[0], place[1]
    return cls.__name__, None, None


def _shown(real: str) -> str:
    root = SPEC.get("_roots", [os.getcwd()])[0]
    try:
        rel = os.path.relpath(real, root)
    except ValueError:
        return real
    return real if rel.startswith("..") else rel


def _batch_of(entry):
    from actlint.verify.measure.recorder import Batch

    args = tuple(entry["args"])
    kwargs = dict(entry.get("kwargs") or {})
    if not kwargs and len(args) == 1:
        return args[0]
    return Batch.of(args, kwargs)


def _describe_batch(x) -> dict:
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


def _derivation(loss_input, output) -> tuple[tuple | None, str]:
    """Which output tensor reaches the loss, and how: ``"same"``, ``"reshaped"`` or ``"computed"``."""
    for path, t in _tensors(output):
        if loss_input is t:
            return path, "same"
    targets = {id(t.grad_fn): path for path, t in _tensors(output) if t.grad_fn is not None}
    if not targets or getattr(loss_input, "grad_fn", None) is None:
        return None, "unrelated"
    seen, frontier, only_views = set(), [(loss_input.grad_fn, True)], {}
    steps = 0
    while frontier and steps < 400:
        fn, views = frontier.pop()
        steps += 1
        if fn is None or id(fn) in seen:
            continue
        seen.add(id(fn))
        if id(fn) in targets:
            only_views[targets[id(fn)]] = only_views.get(targets[id(fn)], True) and views
            continue
        is_view = any(type(fn).__name__.startswith(v) for v in _VIEWS)
        for nxt, _ in getattr(fn, "next_functions", ()):
            frontier.append((nxt, views and is_view))
    if not only_views:
        return None, "unrelated"
    path = next(iter(only_views))
    return path, "reshaped" if only_views[path] else "computed"


def _replay(entry, model_label: str):
    """The user's loss as a function of the model's output, and what the evidence should say about it."""
    import torch

    output = entry["output"]
    candidates = []
    for call in reversed(_LOSSES):
        if not isinstance(call["input"], torch.Tensor):
            continue
        path, how = _derivation(call["input"], output)
        if path is not None:
            candidates.append((call, path, how))
    described = {"source": "run"}
    exact = [c for c in candidates if c[2] in ("same", "reshaped")]
    if exact:
        call, path, how = exact[0]
        fn = _ORIGINAL.get(call["fn"], None)
        target = call["target"].detach() if isinstance(call["target"], torch.Tensor) else call["target"]
        kwargs = {k: (v.detach() if isinstance(v, torch.Tensor) else v) for k, v in call["kwargs"].items()}
        args = tuple(a.detach() if isinstance(a, torch.Tensor) else a for a in call["args"])
        shape = tuple(call["input"].shape)
        kind = _LOSS_KIND.get(call["fn"], call["fn"])

        def replay(out, _path=path, _shape=shape):
            t = _select(out, _path)
            if tuple(t.shape) != _shape:
                t = t.reshape(_shape)
            value = fn(t, target, *args, **kwargs) if target is not None or args else fn(t, **kwargs)
            return value, kind

        place = call.get("place")
        described.update(kind=kind, fn=f"F.{call['fn']}", replay="exact" if how == "same" else "reshaped",
                         output=list(path), where=f"{_shown(place[0])}:{place[1]}" if place else None,
                         target=_describe_batch(target) if isinstance(target, torch.Tensor) else None,
                         loss_input=_describe_batch(call["input"]))
        return replay, described, call
    grads = entry.get("grads") or {}
    if grads:
        path, g = next(iter(grads.items()))

        def surrogate(out, _path=path, _g=g):
            t = _select(out, _path)
            return (t * _g.to(t.dtype)).sum(), "the user's loss, replayed through its gradient at the output"

        why = ("computed from the output through other operations" if candidates else
               "not one of torch.nn.functional's losses")
        described.update(kind="gradient", replay="gradient", output=list(path),
                         note=f"the loss is {why}: replayed as the gradient it sent into the output at step 1 "
                              f"(exact for the base run, first-order for the twins)")
        return surrogate, described, None
    return None, dict(described, kind=None, replay=None,
                      note="no loss of the step reached this model's output"), None


def _probes_for(files: set[str]) -> list[dict]:
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
                       "loss_family": "binary" if f["code"] == "ACT110" else "categorical"})
    return probes


def _files_of(model, loss_call, optimizer_place) -> set[str]:
    """The files that defined the model (its class, its layers), its loss, its init and its training step."""
    from actlint.verify.measure.recorder import INIT_CALLS

    files = set()
    _, real, _ = _label(model)
    if real:
        files.add(real)
    params = {id(p) for p in model.parameters()}
    for m in model.modules():
        place = getattr(m, "_actlint_line", None)
        if isinstance(place, tuple):
            files.add(place[0])
    for place, _, t in INIT_CALLS:
        if isinstance(place, tuple) and id(t) in params:
            files.add(place[0])
    for place in ((loss_call or {}).get("place"), optimizer_place):
        if place:
            files.add(place[0])
    return files


def _reason(exc: BaseException, stage: str) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__} while {stage}: {text}"[:400]


def _measure_torch(model, pristine, entry, optimizer, state) -> dict:
    """The record of one captured torch model: base run on its first batch, experiments, digest."""
    import torch

    from actlint.verify.measure.record import base_record, run_probes
    from actlint.verify.measure.recorder import Run, digest, named_params

    label, real, line = _label(model)
    params = named_params(model)
    x = _batch_of(entry)
    device = next((str(p.device) for _, p in params), "cpu")
    place = _user_place()
    replay, loss_desc, call = _replay(entry, label)
    files = _files_of(model, call, place)
    record = {"ok": False, "source": "run", "label": label, "file": real, "line": line, "framework": "torch",
              "device": device.split(":")[0] if device.startswith("cuda") else device,
              "optimizer": type(optimizer).__name__, "files": sorted(files),
              "batch": dict(_describe_batch(x), why=_where_called(entry, label)),
              "loss_replay": loss_desc, "losses": list(_BACKWARDS[-1:]), "timings": {}}
    record["input"] = {"shape": record["batch"]["shape"], "why": record["batch"]["why"]}
    base_model = pristine
    if pristine is None:
        record["assumptions"] = ["the model cannot be deep-copied: measured on the model itself, no twins"]
    source = pristine if pristine is not None else model
    record["digest"] = digest(source)
    record["digest_params"] = sum(p.numel() for _, p in named_params(source))
    if SPEC.get("digest_only"):
        record["ok"] = True
        return record
    t0 = time.perf_counter()
    if pristine is not None:
        base_model = copy.deepcopy(pristine)
    saved_grads = None
    if base_model is model:
        saved_grads = [(p, p.grad) for _, p in params]
    try:
        if replay is None:
            record["reason"] = "the run's loss could not be found: " + loss_desc.get("note", "")
            return record
        base = Run(base_model, x, "torch")
        base.forward()
        base.backward(replay, 0)
        record.update(base_record(base, base_model, "torch"), ok=True)
        record["loss"]["kind"] = loss_desc.get("kind")
        record["timings"]["run_s"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        ctx = {"base": base, "x": x, "framework": "torch", "seed": 0, "device": device,
               "candidates": [], "inputs": [x], "fresh": lambda: _fresh(pristine),
               "base_layers": record["layers"], "loss": replay}
        record["probes"] = run_probes(ctx, _probes_for(files), "torch", _reason)
        record["timings"]["probe_s"] = time.perf_counter() - t1
    except Exception as exc:  # noqa: BLE001 - the user's model under our measurement: a reason
        record.update(ok=False, reason=_reason(exc, "measuring the captured model"),
                      traceback=traceback.format_exc()[-3000:])
    finally:
        if saved_grads is not None:
            for p, g in saved_grads:
                p.grad = g
    return record


def _fresh(pristine):
    if pristine is None:
        raise RuntimeError("the model cannot be deep-copied, so no twin can start from its weights")
    return copy.deepcopy(pristine)


def _where_called(entry, label: str) -> str:
    place = entry.get("place")
    at = f" at {_shown(place[0])}:{place[1]}" if place else ""
    subs = [s["dataset"] for s in _substituted()]
    data = f" (data: synthetic stand-in for {', '.join(subs)})" if subs else ""
    return f"the batch the script called {label.rpartition(':')[2]} on{at} before its first training step{data}"


def _substituted() -> list[dict]:
    mod = sys.modules.get("actlint.verify.trace.datasets")
    return list(getattr(mod, "SUBSTITUTED", []) or [])


def _after_torch(optimizer, state) -> None:
    """The second look, after the script's own steps: its model now, on the batch of the latest step."""
    import torch

    from actlint.verify.measure.record import after_steps_record
    from actlint.verify.measure.recorder import Run

    model, record = state["model"], state.get("record")
    if record is None or not record.get("ok"):
        return
    entry = _ROOTS.get(id(model)) or state["entry"]
    _STATE["measuring"] = True
    rng = _rng_state(torch)
    try:
        replay, _, _ = _replay(entry, record["label"])
        try:
            now = copy.deepcopy(model)
        except Exception:  # noqa: BLE001
            return
        run = Run(now, _batch_of(entry), "torch")
        run.forward()
        if replay is not None:
            run.backward(replay, 0)
        record["after_training"] = after_steps_record(run, list(state.get("losses", [])))
    finally:
        _set_rng_state(torch, rng)
        _STATE["measuring"] = False
    state["after"] = True
    _write()


def _rng_state(torch):
    state = {"cpu": torch.random.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(torch, state) -> None:
    torch.random.set_rng_state(state["cpu"])
    if "cuda" in state:
        torch.cuda.set_rng_state_all(state["cuda"])


# --------------------------------------------------------------------------- Keras


def _on_keras(keras) -> None:
    from actlint.verify.measure import recorder

    if recorder.USER_FILES is None:
        recorder.USER_FILES = user_file
    if SPEC.get("_keras_backend_set"):
        ASSUMPTIONS.append("Keras run on the torch backend (KERAS_BACKEND was not set)")
    recorder.patch_constructors("keras")
    model_cls = keras.Model
    fit, train_on_batch = model_cls.fit, model_cls.train_on_batch

    def traced_fit(self, x=None, y=None, batch_size=None, *args, **kwargs):
        if not _STATE["measuring"] and not _STATE["done"] and not getattr(self, "_actlint_seen", False):
            _capture_keras(self, x, y, batch_size, kwargs, train_on_batch)
            if _STATE["done"]:
                return None
        return fit(self, x, y, batch_size, *args, **kwargs)

    def traced_train_on_batch(self, x, y=None, *args, **kwargs):
        if not _STATE["measuring"] and not _STATE["done"] and not getattr(self, "_actlint_seen", False):
            _capture_keras(self, x, y, None, {}, train_on_batch, single=True)
        return train_on_batch(self, x, y, *args, **kwargs)

    model_cls.fit = traced_fit
    model_cls.train_on_batch = traced_train_on_batch


def _first_batch(x, y, batch_size):
    """The first batch of ``fit``'s data: array-likes sliced, a generator or dataset peeked (put back)."""
    import numpy as np

    bs = batch_size or 32
    if x is None:
        return None, None, x
    if isinstance(x, (list, tuple)) and x and hasattr(x[0], "shape") and y is not None:
        return [np.asarray(a[:bs]) for a in x], _slice(y, bs), x
    if hasattr(x, "shape") and hasattr(x, "__getitem__"):
        return _np(x[:bs]), _slice(y, bs), x
    if isinstance(x, dict):
        return {k: _np(v[:bs]) for k, v in x.items()}, _slice(y, bs), x
    if hasattr(x, "__getitem__") and hasattr(x, "__len__") and not isinstance(x, (list, tuple)):  # PyDataset
        first = x[0]
        return _unpack(first) + (x,)
    if hasattr(x, "__next__") or hasattr(x, "__iter__"):
        import itertools

        it = iter(x)
        first = next(it)
        return _unpack(first) + (itertools.chain([first], it),)
    return None, None, x


def _unpack(item):
    if isinstance(item, (tuple, list)) and len(item) >= 2:
        return _np(item[0]), _np(item[1])
    return _np(item), None


def _slice(y, bs):
    if y is None:
        return None
    if isinstance(y, (list, tuple)):
        return [_np(a[:bs]) for a in y]
    if isinstance(y, dict):
        return {k: _np(v[:bs]) for k, v in y.items()}
    return _np(y[:bs])


def _np(a):
    import numpy as np

    if hasattr(a, "detach"):
        return a
    return np.asarray(a)


def _capture_keras(model, x, y, batch_size, fit_kwargs, train_on_batch, single: bool = False) -> None:
    if not _claim():
        return
    object.__setattr__(model, "_actlint_seen", True)
    _STATE["measuring"] = True
    import torch

    rng = _rng_state(torch)
    try:
        record = _measure_keras(model, x, y, batch_size, train_on_batch, single)
        _STATE["models"].append(record)
    except Exception as exc:  # noqa: BLE001
        _STATE["notes"].append(f"internal error while measuring a Keras model: {type(exc).__name__}: {exc}")
        _STATE.setdefault("internal", traceback.format_exc()[-3000:])
    finally:
        _set_rng_state(torch, rng)
        _STATE["measuring"] = False
    _write()
    if not SPEC.get("continue") or SPEC.get("digest_only"):
        _finish()


def _measure_keras(model, x, y, batch_size, train_on_batch, single) -> dict:
    import keras
    import torch

    from actlint.verify.measure.record import after_steps_record, base_record, run_probes
    from actlint.verify.measure.recorder import Run, digest, named_params

    label, real, line = _keras_label(model)
    xb, yb, _ = (x, y, x) if single else _first_batch(x, y, batch_size)
    record = {"ok": False, "source": "run", "label": label, "file": real, "line": line, "framework": "keras",
              "device": "cpu", "timings": {}}
    if xb is None:
        record["reason"] = "the data given to fit could not be read as a batch (a tf.data pipeline?)"
        return record
    xt = keras.ops.convert_to_tensor(xb) if not isinstance(xb, (list, dict)) else xb
    if not model.built:
        model(xt)
    record["digest"] = digest(model)
    record["digest_params"] = sum(int(v.numel()) for _, v in named_params(model))
    record["device"] = next((str(v.device).split(":")[0] for _, v in named_params(model)), "cpu")
    record["batch"] = dict(_describe_batch(xt if hasattr(xt, "shape") else torch.zeros(0)),
                           why=f"the first batch of the data given to {'train_on_batch' if single else 'fit'}"
                               + _data_note())
    record["input"] = {"shape": record["batch"]["shape"], "why": record["batch"]["why"]}
    place = _user_place()
    files = {real} if real else set()
    for layer in getattr(model, "layers", []):
        p = getattr(layer, "_actlint_line", None)
        if isinstance(p, tuple):
            files.add(p[0])
    if place:
        files.add(place[0])
    record["files"] = sorted(files)
    if SPEC.get("digest_only"):
        record["ok"] = True
        return record
    yt = keras.ops.convert_to_tensor(yb) if yb is not None and not isinstance(yb, (list, dict)) else yb
    loss_name = getattr(model, "loss", None)
    kind = loss_name if isinstance(loss_name, str) else type(loss_name).__name__

    def replay(out):
        return model.compute_loss(x=xt, y=yt, y_pred=out), kind

    record["loss_replay"] = {"source": "run", "kind": kind, "replay": "compiled",
                             "fn": "model.compute_loss (the loss given to compile)"}
    t0 = time.perf_counter()
    base = Run(model, xt, "keras")
    base.forward()
    base.backward(replay, 0)
    record.update(base_record(base, model, "keras"), ok=True)
    record["timings"]["run_s"] = time.perf_counter() - t0
    ctx = {"base": base, "x": xt, "framework": "keras", "seed": 0, "device": record["device"], "candidates": [],
           "inputs": [xt], "fresh": lambda: (_ for _ in ()).throw(RuntimeError("a Keras model is not copied")),
           "base_layers": record["layers"], "loss": replay}
    t1 = time.perf_counter()
    record["probes"] = run_probes(ctx, _probes_for(files), "keras", _reason)
    record["timings"]["probe_s"] = time.perf_counter() - t1
    steps = int(SPEC.get("steps", 3))
    losses = []
    if steps > 0 and yb is not None:
        for _ in range(steps):
            out = train_on_batch(model, xb, yb, return_dict=True)
            losses.append(float(out.get("loss", 0.0)) if isinstance(out, dict) else float(out))
        run = Run(model, xt, "keras")
        run.forward()
        run.backward(replay, 0)
        record["after_training"] = after_steps_record(run, losses)
        record["assumptions"] = [f"the {steps} training steps were taken on the first batch with train_on_batch "
                                 f"(the model's own optimizer and loss)"]
    return record


def _keras_label(model) -> tuple[str, str | None, int | None]:
    import inspect

    cls = type(model)
    if cls.__module__.split(".")[0] != "keras":
        try:
            src = inspect.getsourcefile(cls)
            real = user_file(src) if src else None
            if real:
                return f"{_shown(real)}:{cls.__name__}", real, inspect.getsourcelines(cls)[1]
        except (TypeError, OSError):
            pass
    place = getattr(model, "_actlint_line", None)
    if isinstance(place, tuple):
        return f"{_shown(place[0])}:{cls.__name__}@{place[1]}", place[0], place[1]
    return cls.__name__, None, None


def _data_note() -> str:
    subs = [s["dataset"] for s in _substituted()]
    return f" (data: synthetic stand-in for {', '.join(subs)})" if subs else ""


# --------------------------------------------------------------------------- Lightning


def _on_lightning(module) -> None:
    """Lightning trains with torch optimizers (captured above); its logs and checkpoints go to scratch."""
    trainer_cls = getattr(module, "Trainer", None)
    if trainer_cls is None:
        return
    init = trainer_cls.__init__

    def traced_init(self, *args, **kwargs):
        if "default_root_dir" not in kwargs:
            kwargs["default_root_dir"] = os.path.join(SPEC["scratch"], "lightning")
            note = "Lightning's logs and checkpoints written to the run's scratch folder"
            if note not in ASSUMPTIONS:
                ASSUMPTIONS.append(note)
        init(self, *args, **kwargs)

    trainer_cls.__init__ = traced_init


# --------------------------------------------------------------------------- ending


def _claim() -> bool:
    """Only one process of the command records (the first that trains: not a data loader's worker)."""
    if _STATE["claimed"]:
        return True
    try:
        fd = os.open(os.path.join(SPEC["scratch"], "claimed"), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    _STATE["claimed"] = True
    return True


def _maybe_finish() -> None:
    states = [s for s in _OPTIMIZERS.values() if s.get("model") is not None]
    if not states:
        return
    steps = int(SPEC.get("steps", 3))
    if SPEC.get("digest_only") or all(s["steps"] >= steps for s in states):
        _write()
        if not SPEC.get("continue") or SPEC.get("digest_only"):
            _finish()


def _finish() -> None:
    """Stop the command: its models have taken their steps (nothing of the user's cleanup runs)."""
    _STATE["done"] = True
    _write()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:  # noqa: BLE001
        pass
    os._exit(0)


def _at_exit() -> None:
    """A command that ends on its own: say why nothing was captured (unless another of its processes did)."""
    if _STATE["claimed"] or not os.path.exists(os.path.join(SPEC["scratch"], "claimed")):
        _write(final=True)


def _result(final: bool) -> dict:
    models = list(_STATE["models"])
    result = {"ok": bool(models), "models": models, "assumptions": list(ASSUMPTIONS), "notes": list(_STATE["notes"]),
              "patch_errors": list(hooks.errors), "substituted": _substituted(),
              "wall_s": time.perf_counter() - _STATE["started"], "stopped": _STATE["done"]}
    if _STATE.get("internal"):
        result["internal_traceback"] = _STATE["internal"]
    if not models:
        result["reason"] = _no_model_reason(final)
    return result


def _no_model_reason(final: bool) -> str:
    exc = _STATE.get("exception")
    if exc is not None:
        kind, value, tb = exc
        frames = [f for f in traceback.extract_tb(tb) if user_file(f.filename)]
        where = f" at {_shown(user_file(frames[-1].filename))}:{frames[-1].lineno}" if frames else ""
        text = str(value).strip().splitlines()[0] if str(value).strip() else ""
        return f"the command raised {kind.__name__}{where} before any model took a training step: {text}"[:500]
    if _OPTIMIZERS:
        return "; ".join(_STATE["notes"]) or "an optimizer stepped, but no model could be captured"
    return "the command ended before any model took a training step (no optimizer step, fit or train_on_batch)"


def _write(final: bool = False) -> None:
    with _LOCK:
        if _STATE["claimed"] or final:
            _write_file(SPEC["scratch"], _result(final))


def _write_file(scratch: str, result: dict) -> None:
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

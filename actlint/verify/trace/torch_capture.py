"""Capturing torch models as the user's code trains them (inside the user's process).

- Global module hooks note each top-level module call (its arguments, output, and the gradient the
  loss later sends into that output); the ``torch.nn.functional`` losses (which every
  ``nn.*Loss`` module calls) are wrapped to note their input and target.
- At an optimizer's first step the model is the module called since the previous step that owns
  most of the stepped parameters; its weights before the step are restored in a copy (a closure
  runs the forward inside ``step``), measured on its batch with the user's loss replayed on the
  copy's output (:func:`_replay`), and every finding of its files gets its experiment.
- After the ``steps``-th step the model is looked at again (the runtime diagnostics' second look).
- A script that updates its parameters itself (``p -= lr * p.grad`` with no ``torch.optim``
  optimizer owning them) counts each ``backward()`` as a step once the second finds the parameters
  changed: the module whose parameters got gradients is captured, with its weights from before the
  script's first update.
"""

from __future__ import annotations

import copy
import time
import traceback
import weakref

from actlint.verify.trace.state import (ASSUMPTIONS, RESETS, SPEC, STATE, claim, data_note, describe_batch, finish, probes_for,  # noqa: F401
                                        reason, rng_state, set_rng_state, shown, substituted, user_file,
                                        user_place, write)

LOSS_FUNCTIONS = ("cross_entropy", "nll_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
                  "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "kl_div", "poisson_nll_loss",
                  "soft_margin_loss", "multilabel_soft_margin_loss", "multi_margin_loss", "gaussian_nll_loss",
                  "hinge_embedding_loss", "cosine_embedding_loss", "margin_ranking_loss", "triplet_margin_loss")


_LOSS_KIND = {"cross_entropy": "cross_entropy", "nll_loss": "nll", "binary_cross_entropy": "bce",
              "binary_cross_entropy_with_logits": "bce_logits", "mse_loss": "mse"}


_VIEWS = ("ViewBackward", "ReshapeAliasBackward", "UnsafeViewBackward", "SqueezeBackward", "UnsqueezeBackward",
          "ExpandBackward", "CloneBackward", "ToCopyBackward", "AliasBackward", "ContiguousBackward")


_ROOTS: "dict[int, dict]" = {}   # id(module) -> its latest top-level call


_LOSSES: list = []               # the loss calls since the latest step (most recent last)


_BACKWARDS: list = []            # loss values of the latest backward calls


_OPTIMIZERS: dict = {}           # id(optimizer) -> its capture state


_ORIGINAL: dict = {}             # the unwrapped loss functions (the replay calls these)


_OWNED: set = set()              # ids of the parameters some torch.optim optimizer was built with


class ManualUpdates:
    """Stands for the optimizer of a script that updates its parameters itself (``p -= lr * p.grad``)."""

    def __init__(self) -> None:
        self.param_groups: list[dict] = [{"params": []}]


MANUAL = "the script updates its parameters itself (no torch.optim optimizer): each backward() counts as a step"


def _reset() -> None:
    _ROOTS.clear()
    _LOSSES.clear()
    _BACKWARDS.clear()
    _OPTIMIZERS.clear()
    _OWNED.clear()


RESETS.append(_reset)
_INSTALLED = {"done": False}


def install_once(torch) -> None:
    """:func:`install`, unless it already ran in this process (the Python API may be entered many times)."""
    if not _INSTALLED["done"]:
        install(torch)


def install(torch) -> None:
    from actlint.verify.measure import recorder

    _INSTALLED["done"] = True
    if not STATE.get("api"):  # the API has its own idea of the user's files, and has patched these already
        recorder.USER_FILES = user_file
        recorder.patch_constructors("torch")
        recorder.patch_inits()
        from actlint.verify.trace import cpu_fallback

        cpu_fallback.install(torch, ASSUMPTIONS)  # a script that hard-codes CUDA, on a machine without it
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
    built = torch_optim.Optimizer.__init__

    def traced_init(self, *args, **kwargs):
        built(self, *args, **kwargs)
        _OWNED.update(id(p) for g in self.param_groups for p in g["params"])

    torch_optim.Optimizer.__init__ = traced_init
    backward = torch.Tensor.backward

    def traced_backward(self, *args, **kwargs):
        leaves = None
        if not STATE["measuring"] and self.numel() == 1:
            _BACKWARDS.append(float(self.detach().float().reshape(())))
            del _BACKWARDS[:-8]
            if not STATE["done"] and not STATE.get("optimizers") and "manual" not in _OPTIMIZERS:
                leaves = _leaves(self)  # before the graph is freed: the tensors this loss trains
        out = backward(self, *args, **kwargs)
        if not STATE["measuring"] and not STATE["done"]:
            try:
                if not _manual_step() and leaves:
                    _bare_step(leaves)
            except Exception as exc:  # noqa: BLE001 - an actlint failure must not change the user's run
                STATE["notes"].append(f"internal error while measuring: {type(exc).__name__}: {exc}")
                STATE.setdefault("internal", traceback.format_exc()[-3000:])
        return out

    torch.Tensor.backward = traced_backward


_RAISED = object()  # the output a forward hook gets when the forward raised


def _wrap_loss(name: str, original):
    def loss(input, target=None, *args, **kwargs):
        value = original(input, target, *args, **kwargs) if target is not None or args else original(input, **kwargs)
        if not STATE["measuring"] and not STATE["done"]:
            _LOSSES.append({"fn": name, "input": input, "target": target, "args": args, "kwargs": kwargs,
                            "place": user_place()})
            del _LOSSES[:-8]
        return value

    loss.__wrapped__ = original
    loss.__name__ = original.__name__
    loss.__doc__ = original.__doc__
    return loss


def _pre_forward(module, args):
    if STATE["measuring"]:
        return
    STATE["depth"] += 1


def _post_forward(module, args, kwargs, output=_RAISED):
    """After every forward; torch calls it without ``output`` when the forward raised (always_call)."""
    if STATE["measuring"]:
        return
    STATE["depth"] = max(0, STATE["depth"] - 1)
    if STATE["depth"] or STATE["done"] or output is _RAISED:
        return
    try:
        ref = weakref.ref(module)
    except TypeError:
        return
    _ROOTS[id(module)] = {"ref": ref, "args": args, "kwargs": kwargs, "output": output, "place": user_place(),
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
    if STATE["measuring"] or STATE["done"]:
        return
    state = _OPTIMIZERS.get(id(optimizer))
    if state is None:
        STATE["optimizers"] = True
        state = _OPTIMIZERS[id(optimizer)] = {"steps": 0, "model": None, "since": STATE.get("last_step", 0.0)}
    if state["steps"] == 0:
        # the weights before the first update: the model the script built (a closure runs forward inside step)
        state["snapshot"] = {id(p): p.detach().clone() for g in optimizer.param_groups for p in g["params"]}


def _post_step(optimizer, args, kwargs):
    if STATE["measuring"] or STATE["done"]:
        return
    state = _OPTIMIZERS.get("manual" if isinstance(optimizer, ManualUpdates) else id(optimizer))
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
        STATE["notes"].append(f"internal error while measuring: {type(exc).__name__}: {exc}")
        STATE.setdefault("internal", traceback.format_exc()[-3000:])
    finally:
        STATE["last_step"] = now
        state["since"] = now
        _LOSSES.clear()
    maybe_finish()


def _manual_step() -> None:
    """A backward() whose gradients no optimizer will apply: the script's own update follows (see the module doc)."""
    state = _OPTIMIZERS.get("manual")
    if state is None:
        since = STATE.get("last_step", 0.0)
        for entry in sorted(_ROOTS.values(), key=lambda e: -e["at"]):
            module = entry["ref"]()
            if module is None or entry["at"] < since or _keras(module):
                continue  # a Keras model on the torch backend steps with its own optimizer
            params = [p for p in module.parameters() if p.requires_grad]
            if params and all(p.grad is not None for p in params) and not any(id(p) in _OWNED for p in params):
                break
        else:
            return False  # an optimizer's step will follow, or no module made this loss
        manual = ManualUpdates()
        manual.param_groups[0]["params"] = params
        _OPTIMIZERS["manual"] = {"steps": 0, "model": None, "since": since, "optimizer": manual, "pending": True,
                                 "snapshot": {id(p): p.detach().clone() for p in params}}
        return True
    if state.get("pending"):  # the second backward: did the script update the parameters in between?
        params = state["optimizer"].param_groups[0]["params"]
        before = state["snapshot"]
        if not any(id(p) in before and not p.detach().equal(before[id(p)]) for p in params):
            _OPTIMIZERS.pop("manual", None)  # backward() without any update: not training
            return False
        state["pending"] = False
        if MANUAL not in ASSUMPTIONS:
            ASSUMPTIONS.append(MANUAL)
    _post_step(state["optimizer"], (), {})
    return True


def _leaves(loss) -> list:
    """The leaf tensors ``loss`` sends gradients to (its graph's AccumulateGrad nodes), in a fixed order."""
    found, seen, stack = [], set(), [loss.grad_fn]
    while stack:
        fn = stack.pop()
        if fn is None or id(fn) in seen:
            continue
        seen.add(id(fn))
        variable = getattr(fn, "variable", None)
        if variable is not None:
            found.append(variable)
        stack.extend(f for f, _ in reversed(getattr(fn, "next_functions", ())))
    return found


BARE = "a network of bare tensors (no nn.Module, no torch.optim optimizer): only its initial values are compared " \
       "(ACT107); the other rules need a module to measure"


def _bare_step(leaves) -> None:
    """A backward() into tensors that no module and no optimizer own: a network of bare tensors, updated by hand.

    Its record holds the digest of those tensors before the first update (for ACT107's two runs) and the
    reason nothing else is measured; the run stops after ``steps`` of them."""
    from actlint.verify.measure.recorder import tensors_digest

    import torch

    if any(id(t) in _OWNED or isinstance(t, torch.nn.Parameter) for t in leaves):
        return  # an optimizer's tensors, or a module's (a Keras model on the torch backend steps its own way)
    state = _OPTIMIZERS.get("bare")
    if state is None:
        if not claim():
            return
        place = user_place() or (None, None)
        names = [_bound_name(t, place[0]) for t in leaves] if place[0] else []
        shown_names = ", ".join(n for n in names if n) or f"{len(leaves)} tensors"
        record = {"ok": False, "source": "run", "label": f"{shown(place[0]) if place[0] else '?'}:{shown_names}",
                  "file": place[0], "line": place[1], "framework": "torch", "optimizer": None,
                  "files": [place[0]] if place[0] else [], "reason": BARE, "assumptions": [BARE],
                  "digest": tensors_digest(leaves), "digest_model": shown_names,
                  "digest_params": {"tensors": len(leaves), "elements": int(sum(t.numel() for t in leaves))}}
        state = _OPTIMIZERS["bare"] = {"steps": 0, "model": None, "unowned": True, "bare": True}
        STATE["models"].append(record)
        write()
    state["steps"] += 1
    maybe_finish()


def _keras(module) -> bool:
    return any(c.__module__.split(".")[0] == "keras" for c in type(module).__mro__)


def _model_for(optimizer, since: float):
    """The module called at top level since ``since`` (else ever) that owns most of the stepped parameters.

    Under ``watch(model)`` only that model (or one of its submodules) counts.
    """
    stepped = {id(p) for g in optimizer.param_groups for p in g["params"]}
    only = SPEC.get("only")
    if only is not None:
        stepped &= {id(p) for p in only.parameters()}
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
        state["unowned"] = True
        STATE["notes"].append(f"a {type(optimizer).__name__} stepped parameters that no module called since its "
                               f"previous step owns (parameters used without a module, or a model called "
                               f"outside torch's module hooks)")
        return
    if not claim():
        return
    model, entry = found
    model = _unwrap(model)
    state["model"] = model
    state["entry"] = entry
    STATE["measuring"] = True
    rng = rng_state(torch)
    try:
        pristine = _pristine(model, state.get("snapshot") or {})
        state["snapshot"] = None
        record = measure_torch(model, pristine, entry, optimizer, state)
        state["record"] = record
        STATE["models"].append(record)
    finally:
        set_rng_state(torch, rng)
        STATE["measuring"] = False
    write()


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
            return f"{shown(real)}:{cls.__name__}", real, line
    except (TypeError, OSError):
        pass
    place = getattr(model, "_actlint_line", None)
    if isinstance(place, tuple):
        name = _bound_name(model, place[0]) or f"{cls.__name__}@{place[1]}"
        return f"{shown(place[0])}:{name}", place[0], place[1]
    return cls.__name__, None, None


def _bound_name(obj, file: str) -> str | None:
    """The global name of the user's file that holds ``obj`` (``model = nn.Sequential(...)``), if one does."""
    import sys

    frame = sys._getframe(1)
    while frame is not None:
        if user_file(frame.f_code.co_filename) == file:
            for scope in (frame.f_locals, frame.f_globals):
                for name, value in scope.items():
                    if value is obj and not name.startswith("_"):
                        return name
        frame = frame.f_back
    return None


def _batch_of(entry):
    from actlint.verify.measure.recorder import Batch

    args = tuple(entry["args"])
    kwargs = dict(entry.get("kwargs") or {})
    if not kwargs and len(args) == 1:
        return args[0]
    return Batch.of(args, kwargs)


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
                         output=list(path), where=f"{shown(place[0])}:{place[1]}" if place else None,
                         target=describe_batch(target) if isinstance(target, torch.Tensor) else None,
                         loss_input=describe_batch(call["input"]))
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
        return surrogate, described, (candidates[0][0] if candidates else None)
    return None, dict(described, kind=None, replay=None,
                      note="no loss of the step reached this model's output"), None


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


def measure_torch(model, pristine, entry, optimizer, state, *, replay=None, loss_desc=None, why=None,
                  source="run", extra_files=()) -> dict:
    """The record of one captured torch model: base run on its batch, experiments, digest.

    ``entry`` is a top-level call (``args``, ``kwargs``, ``output``); the loss is replayed from the step's loss
    calls unless the caller gives ``replay`` (the Python API passes the user's own loss).
    """
    from actlint.verify.measure.record import base_record, run_probes
    from actlint.verify.measure.recorder import Run, digest, named_params

    label, real, line = _label(model)
    params = named_params(model)
    x = _batch_of(entry)
    device = next((str(p.device) for _, p in params), "cpu")
    place = user_place()
    call = None
    if replay is None:
        replay, loss_desc, call = _replay(entry, label)
    files = _files_of(model, call, place) | set(extra_files)
    record = {"ok": False, "source": source, "label": label, "file": real, "line": line, "framework": "torch",
              "device": device.split(":")[0] if device.startswith("cuda") else device,
              "optimizer": type(optimizer).__name__ if optimizer is not None else None, "files": sorted(files),
              "batch": dict(describe_batch(x), why=why or _where_called(entry, label)),
              "loss_replay": loss_desc, "losses": list(_BACKWARDS[-1:]), "timings": {}}
    record["input"] = {"shape": record["batch"]["shape"], "why": record["batch"]["why"]}
    base_model = pristine
    if pristine is None:
        record["assumptions"] = ["the model cannot be deep-copied: measured on the model itself, no twins"]
    source = pristine if pristine is not None else model
    record["digest"] = digest(source)
    hashed = named_params(source)
    record["digest_params"] = {"tensors": len(hashed), "elements": int(sum(p.numel() for _, p in hashed))}
    record["digest_model"] = label
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
            record["reason"] = "the run's loss could not be found: " + (loss_desc or {}).get("note", "")
            return record
        base = Run(base_model, x, "torch")
        base.forward()
        base.backward(replay, 0)
        record.update(base_record(base, base_model, "torch"), ok=True)
        record["loss"]["kind"] = (loss_desc or {}).get("kind")
        record["timings"]["run_s"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        ctx = {"base": base, "x": x, "framework": "torch", "seed": 0, "device": device,
               "candidates": [], "inputs": [x], "fresh": lambda: _fresh(pristine),
               "base_layers": record["layers"], "loss": replay}
        probes = probes_for(files)
        record["probes"] = run_probes(ctx, probes, "torch", reason)
        if call is not None:
            _loss_side(record["probes"], probes, call, ctx)
        record["timings"]["probe_s"] = time.perf_counter() - t1
    except Exception as exc:  # noqa: BLE001 - the user's model under our measurement: a reason
        record.update(ok=False, reason=reason(exc, "measuring the captured model"),
                      traceback=traceback.format_exc()[-3000:])
    finally:
        if saved_grads is not None:
            for p, g in saved_grads:
                p.grad = g
    return record


_LOSS_SIDE = ("ACT102", "ACT103", "ACT105", "ACT110", "ACT113")
_PRODUCERS = {"SoftmaxBackward": "softmax", "SigmoidBackward": "sigmoid", "LogSoftmaxBackward": "log_softmax"}


def _loss_side(results: dict, probes: list[dict], call: dict, ctx: dict) -> None:
    """Findings whose softmax/sigmoid sits between the model and the loss (``criterion(F.softmax(model(x)), y)``,
    a ``training_step``): the model's own forward never runs it, so their experiment reads the tensor the
    user's loss received, as the recorder would have recorded that op."""
    from types import SimpleNamespace

    import torch

    from actlint.verify.measure.experiments import PROBES
    from actlint.verify.measure.recorder import stats

    place = call.get("place")
    p = call["input"]
    if place is None or not isinstance(p, torch.Tensor) or not p.is_floating_point():
        return
    producer = type(p.grad_fn).__name__ if p.grad_fn is not None else ""
    fn = next((name for prefix, name in _PRODUCERS.items() if producer.startswith(prefix)), None)
    for probe in probes:
        got = results.get(probe["id"]) or {}
        if probe["code"] not in _LOSS_SIDE or "did not run" not in str(got.get("error", "")):
            continue
        if tuple(place) not in {tuple(ln) for ln in probe["lines"]} and fn is None:
            continue  # neither on the loss call's line nor a softmax/sigmoid feeding it: not this finding's tensor
        v = p.detach().float()
        if fn in ("softmax", "log_softmax"):
            z = v if fn == "log_softmax" else torch.log(v.clamp_min(1e-30))
            kind = "softmax" if fn == "softmax" else "log_softmax"
        elif fn == "sigmoid":
            z, kind = torch.log(v.clamp_min(1e-30)) - torch.log1p(-v.clamp(max=1 - 1e-7)), "sigmoid"
        else:
            z, kind = v, "none"
        key = (kind, tuple(place), None, None, 0, 0)
        rec = SimpleNamespace(ops={key: {"fn": kind, "line": tuple(place), "module_line": None, "out": stats(v)}},
                              order=[key] if kind != "none" else [], inputs={key: z}, outputs={key: v})
        seen = dict(ctx, base=SimpleNamespace(out=v, rec=rec, model=ctx["base"].model, x=ctx["x"]))
        try:
            result = PROBES[probe["kind"]](seen, probe)
        except Exception as exc:  # noqa: BLE001 - this finding keeps its first reason
            got["loss_side_error"] = reason(exc, "reading the loss's input")
            continue
        result["observed"] = (f"the tensor the loss received at {shown(place[0])}:{place[1]}"
                              + (f" (made by {kind}; its input recovered from it)" if kind != "none" else ""))
        results[probe["id"]] = result


def _fresh(pristine):
    if pristine is None:
        raise RuntimeError("the model cannot be deep-copied, so no twin can start from its weights")
    return copy.deepcopy(pristine)


def _where_called(entry, label: str) -> str:
    place = entry.get("place")
    at = f" at {shown(place[0])}:{place[1]}" if place else ""
    return f"the batch the script called {label.rpartition(':')[2]} on{at} before its first training step{data_note()}"


def _after_torch(optimizer, state) -> None:
    """The second look, after the script's own steps: its model now, on the batch of the latest step."""
    import torch

    from actlint.verify.measure.record import after_steps_record
    from actlint.verify.measure.recorder import Run

    model, record = state["model"], state.get("record")
    if record is None or not record.get("ok"):
        return
    entry = _ROOTS.get(id(model)) or state["entry"]
    STATE["measuring"] = True
    rng = rng_state(torch)
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
        set_rng_state(torch, rng)
        STATE["measuring"] = False
    state["after"] = True
    write()


def maybe_finish() -> None:
    states = [s for s in _OPTIMIZERS.values() if s.get("model") is not None]
    steps = int(SPEC.get("steps", 3))
    if not states and _OPTIMIZERS and all(s.get("unowned") and s["steps"] >= steps for s in _OPTIMIZERS.values()) \
            and not SPEC.get("continue"):
        write(final=True)  # every optimizer steps bare tensors: nothing to capture, no reason to wait for the timeout
        finish()
    if not states:
        return
    if SPEC.get("digest_only") or all(s["steps"] >= steps for s in states):
        write()
        if not SPEC.get("continue") or SPEC.get("digest_only"):
            finish()

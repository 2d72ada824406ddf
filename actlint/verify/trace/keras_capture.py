"""Capturing Keras models as the user's code trains them: ``Model.fit`` and ``train_on_batch``.

At the first ``fit`` (or ``train_on_batch``) of a model, its first batch is read from the data given
(arrays sliced, a generator or ``PyDataset`` peeked), the model is measured on it with its compiled
loss (``compute_loss``), the experiments run in place (Keras twins restore every weight), and the
model takes ``steps`` training steps with its own optimizer before the second look.
"""

from __future__ import annotations

import time
import traceback

from actlint.verify.trace.state import (ASSUMPTIONS, SPEC, STATE, claim, data_note, describe_batch, finish,  # noqa: F401
                                        probes_for, reason, rng_state, set_rng_state, shown, user_file,
                                        user_place, write)

_ORIGINAL: dict = {}


def original_train_on_batch():
    """``keras.Model.train_on_batch`` as Keras defines it (not the traced one)."""
    import keras

    return _ORIGINAL.get("train_on_batch") or keras.Model.train_on_batch


def install(keras) -> None:
    from actlint.verify.measure import recorder

    if recorder.USER_FILES is None:
        recorder.USER_FILES = user_file
    if SPEC.get("_keras_backend_set"):
        ASSUMPTIONS.append("Keras run on the torch backend (KERAS_BACKEND was not set)")
    recorder.patch_constructors("keras")
    model_cls = keras.Model
    fit, train_on_batch = model_cls.fit, model_cls.train_on_batch
    _ORIGINAL.update(fit=fit, train_on_batch=train_on_batch)

    def traced_fit(self, x=None, y=None, batch_size=None, *args, **kwargs):
        if not STATE["measuring"] and not STATE["done"] and not getattr(self, "_actlint_seen", False):
            _capture_keras(self, x, y, batch_size, kwargs, train_on_batch)
            if STATE["done"]:
                return None
        return fit(self, x, y, batch_size, *args, **kwargs)

    def traced_train_on_batch(self, x, y=None, *args, **kwargs):
        if not STATE["measuring"] and not STATE["done"] and not getattr(self, "_actlint_seen", False):
            _capture_keras(self, x, y, None, {}, train_on_batch, single=True)
        return train_on_batch(self, x, y, *args, **kwargs)

    model_cls.fit = traced_fit
    model_cls.train_on_batch = traced_train_on_batch


def _tensors(keras, xb) -> tuple:
    """The tensors of a model's several inputs (a list, or a dict by input name), as the batch shows them."""
    values = list(xb.values()) if isinstance(xb, dict) else list(xb) if isinstance(xb, (list, tuple)) else []
    out = []
    for v in values:
        try:
            out.append(keras.ops.convert_to_tensor(v))
        except Exception:  # noqa: BLE001 - shown by its type
            out.append(v)
    return tuple(out)


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
    if isinstance(x, (list, tuple)) and x and not hasattr(x[0], "shape"):  # nested Python numbers: one array
        return np.asarray(x)[:bs], _slice(y, bs), x
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
    if isinstance(y, (list, tuple)) and y and not hasattr(y[0], "shape"):  # Python numbers: one array
        import numpy as np

        return np.asarray(y)[:bs]
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
    if not claim():
        return
    object.__setattr__(model, "_actlint_seen", True)
    STATE["measuring"] = True
    import torch

    rng = rng_state(torch)
    try:
        record = measure_keras(model, x, y, batch_size, train_on_batch, single)
        STATE["models"].append(record)
    except Exception as exc:  # noqa: BLE001
        STATE["notes"].append(f"internal error while measuring a Keras model: {type(exc).__name__}: {exc}")
        STATE.setdefault("internal", traceback.format_exc()[-3000:])
        return  # the user's own fit runs next: an error in their data is theirs to raise, and is reported so
    finally:
        set_rng_state(torch, rng)
        STATE["measuring"] = False
        write()
    if not SPEC.get("continue") or SPEC.get("digest_only"):
        finish()


def measure_keras(model, x, y, batch_size, train_on_batch, single, *, source="run", extra_files=(),
                  why=None, take_steps=True) -> dict:
    """The record of one Keras model on its first batch (``single``: ``x``/``y`` are that batch)."""
    import keras
    import torch

    from actlint.verify.measure.record import after_steps_record, base_record, run_probes
    from actlint.verify.measure.recorder import Run, digest, named_params

    label, real, line = _keras_label(model)
    xb, yb, _ = (x, y, x) if single else _first_batch(x, y, batch_size)
    record = {"ok": False, "source": source, "label": label, "file": real, "line": line, "framework": "keras",
              "device": "cpu", "timings": {}}
    if xb is None:
        record["reason"] = "the data given to fit could not be read as a batch (a tf.data pipeline?)"
        return record
    xt = keras.ops.convert_to_tensor(xb) if not isinstance(xb, (list, dict)) else xb
    if not model.built:
        model(xt)
    record["digest"] = digest(model)
    hashed = named_params(model)
    record["digest_params"] = {"tensors": len(hashed), "elements": int(sum(int(v.numel()) for _, v in hashed))}
    record["digest_model"] = label
    record["device"] = next((str(v.device).split(":")[0] for _, v in named_params(model)), "cpu")
    record["batch"] = dict(describe_batch(xt if hasattr(xt, "shape") else _tensors(keras, xt)),
                           why=why or (f"the first batch of the data given to "
                                       f"{'train_on_batch' if single else 'fit'}" + data_note()))
    record["input"] = {"shape": record["batch"]["shape"], "why": record["batch"]["why"]}
    place = user_place()
    files = {real} if real else set()
    for layer in getattr(model, "layers", []):
        p = getattr(layer, "_actlint_line", None)
        if isinstance(p, tuple):
            files.add(p[0])
    if place:
        files.add(place[0])
    files.update(extra_files)
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
    record["probes"] = run_probes(ctx, probes_for(files), "keras", reason)
    record["timings"]["probe_s"] = time.perf_counter() - t1
    steps = int(SPEC.get("steps", 3))
    losses = []
    if steps > 0 and yb is not None and take_steps:
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
                return f"{shown(real)}:{cls.__name__}", real, inspect.getsourcelines(cls)[1]
        except (TypeError, OSError):
            pass
    place = getattr(model, "_actlint_line", None)
    if isinstance(place, tuple):
        return f"{shown(place[0])}:{cls.__name__}@{place[1]}", place[0], place[1]
    return cls.__name__, None, None

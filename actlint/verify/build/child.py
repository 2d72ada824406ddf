"""The child process: build one model from its restricted source, run it, measure, write JSON.

Run as ``python -I -B child.py SPEC.json`` in a scratch folder (see :mod:`runner`); the
spec names the restricted module source (imports, definitions and constants only: see
:mod:`builder`), how to build the model, the input, the loss and the probes to run.
The result goes to ``result.json`` in the scratch folder, never to stdout (user code prints).

Guards installed before user code runs: an audit hook refuses network connections, new
processes, pickle loading and file writes outside the scratch folder.  A standard dataset that
the module loads and cannot reach offline gets the same stand-in as a traced run
(:mod:`actlint.verify.trace.datasets`), said under ``assumptions``.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import time
import traceback

if __package__ in (None, ""):  # run as a script under -I: make this checkout's actlint importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))

from actlint.verify.build import loader  # noqa: E402
from actlint.verify.measure import recorder as measure  # noqa: E402
from actlint.verify.sandbox import guard  # noqa: E402
from actlint.verify.measure.record import base_record, run_probes  # noqa: E402
from actlint.verify.measure.recorder import (INIT_CALLS, Run, digest, input_candidates, named_params,  # noqa: E402
                                             output_tensor, patch_constructors, patch_inits, train_steps,
                                             zero_grads)

SPEC: dict = {}
SCRATCH = os.getcwd()


def _exec_module():
    """The restricted source as the user's module (guarded imports, package, argparse defaults)."""
    return loader.exec_module(SPEC["source"], measure.USER_FILE, SPEC.get("module_name"), SPEC.get("package_root"),
                              SPEC.get("device"))


def _build(module):
    build = SPEC["build"]
    ns = module.__dict__
    if build["kind"] == "var":
        return ns[build["name"]]
    if build["kind"] == "factory":
        import importlib

        mod_name, _, attr = build["factory"].partition(":")
        target = importlib.import_module(mod_name)
        for part in attr.split("."):
            target = getattr(target, part)
        args = [eval(a, ns) if isinstance(a, str) and build.get("source_args") else a for a in build.get("args", [])]
        return target(*args, **build.get("kwargs", {}))
    cls = ns[build["name"]]
    if build.get("source_args"):
        args = [eval(a, ns) for a in build.get("args", [])]
        kwargs = {k: eval(v, ns) for k, v in build.get("kwargs", {}).items()}
    else:
        args, kwargs = list(build.get("args", [])), dict(build.get("kwargs", {}))
    return cls(*args, **kwargs)


# --------------------------------------------------------------------------- main


def _reason(exc: BaseException, stage: str) -> str:
    if getattr(exc, "actlint_reason", False):  # already a plain sentence
        return str(exc)[:400]
    if getattr(exc, "actlint_import", False):  # a placeholder of an import that failed, now really used
        return f"{exc} (needed while {stage})"[:400]
    if isinstance(exc, SystemExit):
        tb = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == measure.USER_FILE]
        where = f" at line {tb[-1].lineno}" if tb else ""
        return f"the model's code exited{where} while {stage} (SystemExit: {exc.code})"
    if isinstance(exc, ModuleNotFoundError):
        name = (exc.name or str(exc)).split(".")[0]
        return f"{name} is not installed"
    if isinstance(exc, MemoryError) or "out of memory" in str(exc).lower():
        return f"out of memory while {stage}"
    if isinstance(exc, PermissionError) and "actlint --verify" in str(exc):
        return f"the model's code tried something the verifier forbids while {stage}: {exc}"
    where = ""
    tb = traceback.extract_tb(exc.__traceback__)
    user = [f for f in tb if f.filename == measure.USER_FILE]
    if user:
        where = f" (line {user[-1].lineno})"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__} while {stage}{where}: {text}"[:400]


def _import_framework(framework: str):
    """Import torch (and keras on its torch backend); returns torch."""
    alias = False
    if SPEC.get("needs_tensorflow"):
        import importlib.util

        if importlib.util.find_spec("tensorflow") is not None:
            import tensorflow  # noqa: F401 - installed: the user's own TensorFlow
        elif SPEC.get("tf_real"):  # decided in the parent: code beyond the Keras API
            what, line = SPEC["tf_real"]
            exc = ModuleNotFoundError(f"needs tensorflow (uses {what} at line {line}), which is not installed",
                                      name="tensorflow")
            exc.actlint_reason = True
            raise exc
        else:
            alias = True
    if framework == "keras" or alias:
        os.environ["KERAS_BACKEND"] = os.environ.get("KERAS_BACKEND") or "torch"
        os.environ["KERAS_HOME"] = os.path.join(SCRATCH, "keras_home")
        import keras  # noqa: F401

        from actlint.verify.build import keras_legacy

        keras_legacy.install(loader.ASSUMPTIONS)
        keras_legacy.install_functional(loader.ASSUMPTIONS)
    if alias:
        from actlint.verify.build import tf_alias

        tf_alias.install()
        loader.ASSUMPTIONS.append(tf_alias.ASSUMPTION)
    import torch

    if SPEC.get("threads"):
        torch.set_num_threads(int(SPEC["threads"]))
    return torch


TRIAL_BATCH = 2          # candidates are tried at this batch, without gradients
MIN_BATCH = 4
COST_BUDGET = 1e9        # multiply-adds of one forward pass over the whole batch (VGG-16 at 32x32: batch 4)
MAX_CPU_COST = 5e9       # per sample: past this, a CPU run (base, probes, training steps) cannot finish in time


def _fits(out, batch: int) -> bool:
    """A strict fit keeps the batch: the output's first or second dimension is the input's batch."""
    t = output_tensor(out)
    return t is not None and t.dim() >= 1 and (t.shape[0] == batch or (t.dim() > 1 and t.shape[1] == batch))


def _restore(model, buffers: dict) -> None:
    import torch

    if buffers:
        with torch.no_grad():
            for k, v in model.named_buffers():
                if k in buffers and buffers[k].shape == v.shape:
                    v.copy_(buffers[k])


def _same(tried: dict, candidates: list[dict], batch: int) -> dict:
    """The candidate ``tried`` (made at the trial batch) made again at ``batch``."""
    for c in candidates:
        if c.get("why") == tried.get("why") and c.get("rest") == tried.get("rest") and len(c["shape"]) == len(
                tried["shape"]) and all(a == b or (a == TRIAL_BATCH and b == batch)
                                        for a, b in zip(tried["shape"], c["shape"])):
            return c
    return dict(tried, shape=[batch] + list(tried["shape"][1:]))


def _describe(desc: dict, xs) -> dict:
    shapes = [list(x.shape) if hasattr(x, "shape") else (None if x is None else type(x).__name__) for x in xs]
    shown = {k: v for k, v in desc.items() if k != "rest" and (v or k not in ("double", "high"))}
    if len(xs) > 1:
        shown["inputs"] = shapes
    return shown


def _first_run(model, framework: str, device: str, seed: int, ns: dict | None = None):
    """The base run: the first synthetic input that fits the model (tried cheaply), forward and backward.

    Candidates come from the file's hints, then the first layers (:func:`input_candidates`); each
    is tried at batch 2 without gradients, at most ``MAX_FAILURES`` failing ones.  The batch of
    the measured run is the configured one, smaller for a model whose forward pass is expensive.
    """
    import torch

    from actlint.verify.measure.recorder import MAX_FAILURES, conv_size_for_linear, input_cost, make_inputs

    hints = SPEC.get("input_hints") or {}
    batch = int(SPEC.get("batch", 64))
    configured = SPEC.get("input")
    trial = input_candidates(model, framework, TRIAL_BATCH, configured, hints, ns)
    if not trial:
        raise RuntimeError("cannot infer the input shape from the model or its file; set "
                           "[tool.actlint.verify] models = {\"file.py:Model\" = {input = [...]}}")
    double = hints.get("model_dtype") == "double" and framework == "torch"
    if framework == "torch":
        empty = next(((n, tuple(p.shape)) for n, p in model.named_parameters() if p.numel() == 0), None)
        if empty is not None:
            raise RuntimeError(f"the parameter {empty[0]} has shape {empty[1]}: a size that comes from data the "
                               f"verifier does not load (an empty vocabulary?); set the constructor arguments in "
                               f"[tool.actlint.verify]")
    buffers = {k: v.detach().clone() for k, v in model.named_buffers()} if framework == "torch" else {}
    errors, chosen, loose, failures, cost, searched, extra = [], None, None, 0, 0.0, False, []
    for i, desc in enumerate(trial):
        if configured:
            chosen = i
            break
        desc = dict(desc, double=double)
        try:
            xs = make_inputs(desc, device, seed, model)
            out, cost = input_cost(model, xs)
        except Exception as exc:
            if isinstance(exc, MemoryError) or "out of memory" in str(exc).lower():
                raise
            failures += 1
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            if "mat1 and mat2" in text and len(desc["shape"]) == 4 and not searched and framework == "torch":
                searched = True  # a conv stack whose flattened maps miss the Linear: solve for the image size
                found = conv_size_for_linear(model, device, double)
                if found is not None:
                    h, w = found["size"]
                    trial.insert(i + 1, {"shape": [TRIAL_BATCH, found["channels"], h, w], "dtype": "float",
                                         "high": None, "why": found["why"]})
                    extra.append(trial[i + 1])
            errors.append(f"{tuple(desc['shape'])}: {type(exc).__name__}: {text[:120]}")
            if failures >= MAX_FAILURES:
                break
            continue
        if _fits(out, desc["shape"][0]) or (len(desc["shape"]) > 1 and _fits(out, desc["shape"][1])):
            chosen = i
            break
        if loose is None:
            loose = (i, cost)
    _restore(model, buffers)  # the trials ran the model: its running statistics go back to the built ones
    if chosen is None and loose is not None:
        chosen, cost = loose
    if chosen is None:
        raise RuntimeError(f"no synthetic input fits the model (tried {len(errors)}: " + "; ".join(errors)[:400] + ")")
    if device == "cpu" and cost > MAX_CPU_COST and not configured:
        raise RuntimeError(f"the smallest input that fits, {tuple(trial[chosen]['shape'][1:])} per sample, costs "
                           f"{cost / 1e9:.0f} G multiply-adds per sample: too slow on CPU (use --device cuda, or "
                           f"configure a smaller input)")
    note = None
    if not configured and framework == "torch" and chosen is not None and cost * batch > COST_BUDGET:
        small = max(MIN_BATCH, int(COST_BUDGET // cost))
        if small < batch:
            note = f"batch {small} instead of {batch}: {cost / 1e6:.0f} M multiply-adds per sample"
            batch = small
    candidates = input_candidates(model, framework, batch, configured, hints, ns)
    candidates += [dict(c, shape=[batch] + c["shape"][1:]) for c in extra]
    desc = dict(_same(trial[chosen], candidates, batch), double=double)
    if note:
        desc["batch_note"] = note
    torch.manual_seed(seed)  # the measured run does not depend on how many candidates failed
    xs = make_inputs(desc, device, seed, model)
    run = Run(model, xs if len(xs) > 1 else xs[0], framework)
    try:
        run.forward()
    except Exception as exc:  # the fit held at the trial batch only (a batch written into the model's code)
        if configured or batch == TRIAL_BATCH or isinstance(exc, MemoryError):
            raise
        _restore(model, buffers)
        first = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        desc = dict(trial[chosen], double=double, batch_note=f"batch {TRIAL_BATCH}: at batch {batch}: {first}")
        torch.manual_seed(seed)
        xs = make_inputs(desc, device, seed, model)
        run = Run(model, xs if len(xs) > 1 else xs[0], framework)
        run.forward()
    run.backward(SPEC.get("loss"), seed)
    shown = _describe(desc, xs)
    rank = len(desc["shape"])
    others = [dict(c, double=double) for j, c in enumerate(candidates) if j != chosen and len(c["shape"]) != rank]
    return run, shown, [desc] + others[:2]


def _known(desc: dict) -> bool:
    """A candidate input the file or the configuration states (not one guessed from the first layer)."""
    return not (desc.get("why") or "").startswith("guessed")


def _unbuilt(model, framework: str) -> bool:
    """Weights not made yet: a Keras model whose layers wait for an input, a torch lazy module."""
    if framework == "keras":
        return not getattr(model, "weights", None) and bool(getattr(model, "layers", None) or
                                                            not getattr(model, "built", True))
    import torch

    return any(isinstance(p, torch.nn.parameter.UninitializedParameter) for p in model.parameters())


def _digest(model, framework: str, device: str, seed: int, ns: dict) -> dict:
    """ACT107's record of one build: the weights' sha256 and how many it hashed.

    A model whose weights are not made yet is first called on an input, as the user's own first step
    would: the ones the file states first, then the guessed ones, in the same order in both builds (the
    weights' shapes follow the input's, their values come from the seed alone); if none fits, it
    stays unbuilt and says so.
    """
    out: dict = {"digest_model": type(model).__name__, "digest_framework": framework}
    if _unbuilt(model, framework):
        out["digest_unbuilt"] = True
        hints = SPEC.get("input_hints") or {}
        candidates = input_candidates(model, framework, TRIAL_BATCH, SPEC.get("input"), hints, ns)
        ordered = [c for c in candidates if _known(c)] + [c for c in candidates if not _known(c)]
        for desc in ordered[:measure.MAX_FAILURES]:
            try:
                xs = measure.make_inputs(desc, device, seed, model)
                import torch

                with torch.no_grad():
                    measure.call_model(model, tuple(xs))
            except Exception:  # noqa: BLE001 - this input does not fit: try the next one the file states
                continue
            if not _unbuilt(model, framework):
                out.update(digest_unbuilt=False, digest_built_from=f"{tuple(desc['shape'][1:])} per sample, "
                                                                    f"{desc.get('why')}")
                break
    if out.get("digest_unbuilt"):
        out.update(digest=None, digest_params={"tensors": 0, "elements": 0})
        return out
    params = named_params(model)
    out["digest_params"] = {"tensors": len(params), "elements": int(sum(p.numel() for _, p in params))}
    out["digest"] = digest(model)
    return out


def _data_standins() -> None:
    """A standard dataset the module loads at import (``mnist.load_data()``) gets the run's offline stand-in."""
    from actlint.verify.trace import datasets

    datasets.install(loader.ASSUMPTIONS, SCRATCH, allow_network=False)


def _copy(pristine):
    if pristine is None:
        raise RuntimeError("the model cannot be deep-copied, so no twin can start from its weights")
    return copy.deepcopy(pristine)


def main() -> int:
    global SPEC
    with open(sys.argv[1], encoding="utf-8") as fh:
        SPEC = json.load(fh)
    measure.USER_FILE = SPEC["user_file"]
    if SPEC.get("kind") == "functions":  # findings outside any model: run the flagged expressions
        from actlint.verify.measure.function_probes import run_spec

        return run_spec(SPEC, SCRATCH, lambda: guard.install(SCRATCH))
    result: dict = {"ok": False, "timings": {}, "source": "synthetic"}
    timings = result["timings"]
    t0 = time.perf_counter()
    stage = "importing the framework"
    try:
        framework = SPEC.get("framework", "torch")
        torch = _import_framework(framework)
        device = SPEC.get("device") or ("cuda" if torch.cuda.is_available() else "cpu")
        result["device"] = device
        if framework == "keras" and device != "cpu":
            torch.set_default_device(device)
        timings["import_s"] = time.perf_counter() - t0
        for folder in reversed(SPEC.get("sys_path", [])):
            sys.path.insert(0, folder)
        patch_constructors(framework)
        patch_inits()
        guard.install(SCRATCH)
        _data_standins()

        t1 = time.perf_counter()
        seed = int(SPEC.get("seed", 0))
        if SPEC.get("digest") or SPEC.get("digest_only"):
            # ACT107: the weights as the user's own code makes them, with no seed of ours.
            stage = "building the model"
            unseeded = _exec_module()
            result.update(_digest(_build(unseeded), framework, device, seed, unseeded.__dict__))
            if SPEC.get("digest_only"):
                result["ok"] = True
                return 0
        torch.manual_seed(seed)  # the measured build is seeded, so that verdicts repeat from run to run
        if framework == "keras":  # Keras draws initial weights from its own seed generator
            import keras

            keras.utils.set_random_seed(seed)
        INIT_CALLS.clear()
        stage = "importing the model's module"
        module = _exec_module()
        stage = "building the model"
        model = _build(module)
        pristine = None
        if framework == "torch":
            model = torch.nn.Module.train(model.to(device))  # not a train() the model overrides (a training loop)
            if (SPEC.get("input_hints") or {}).get("model_dtype") == "double":
                model = model.double()  # the file runs it in double precision (``net.double()``)
            try:
                pristine = copy.deepcopy(model)  # twins start from exactly these weights
            except Exception:  # noqa: BLE001 - only the twin probes need it; they say so
                pristine = None
        timings["build_s"] = time.perf_counter() - t1

        t2 = time.perf_counter()
        torch.manual_seed(seed)
        stage = "running the model on synthetic input"
        base, desc, candidates = _first_run(model, framework, device, seed, module.__dict__)
        result.update(base_record(base, model, framework), ok=True, input=desc)
        layers = result["layers"]
        timings["run_s"] = time.perf_counter() - t2

        t3 = time.perf_counter()
        stage = "probing"
        ctx = {"base": base, "x": base.x, "framework": framework, "seed": seed, "device": device,
               "candidates": candidates,
               "fresh": lambda: _copy(pristine), "base_layers": layers, "loss": SPEC.get("loss")}
        result["probes"] = run_probes(ctx, SPEC.get("probes", []), framework, _reason)
        if framework == "torch" and SPEC.get("train_steps", 0):
            stage = "training a few steps"
            zero_grads(model)
            result["after_training"] = train_steps(model, base.x, int(SPEC["train_steps"]), seed,
                                                   SPEC.get("loss"), float(SPEC.get("lr", 1e-3)))
        timings["probe_s"] = time.perf_counter() - t3
    except BaseException as exc:  # noqa: BLE001 - every failure becomes a reason
        result.update(ok=False, reason=_reason(exc, stage), stage=stage, traceback=traceback.format_exc()[-4000:])
    finally:
        timings["total_s"] = time.perf_counter() - t0
        if loader.ASSUMPTIONS:
            result["assumptions"] = list(loader.ASSUMPTIONS)
        guard.pause()
        with open(os.path.join(SCRATCH, "result.json"), "w", encoding="utf-8") as fh:
            json.dump(result, fh, default=str)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

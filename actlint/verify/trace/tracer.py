"""The tracer of a traced command (``actlint run``, a training script under ``--verify``).

Loaded by ``boot/sitecustomize.py`` into every Python the command starts, before the user's code:
it fences the process (:mod:`actlint.verify.sandbox.guard`: no network, writes only to the
scratch folder), puts the dataset stand-ins in place (:mod:`.datasets`), and arranges for the
torch and Keras captures (:mod:`.torch_capture`, :mod:`.keras_capture`) to be installed when the
user's code imports those frameworks.  Lightning trains with torch optimizers; its logs go to
the scratch folder.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import time
import traceback

from actlint.verify.sandbox import guard
from actlint.verify.trace import hooks, keras_capture, torch_capture
from actlint.verify.trace.state import ASSUMPTIONS, SPEC, STATE, user_file, write, write_file

def start(spec_path: str) -> None:
    """Read the spec, fence the process, and put the patches in place for when the user imports a framework."""
    with open(spec_path, encoding="utf-8") as fh:
        SPEC.update(json.load(fh))
    STATE["started"] = time.perf_counter()
    root = SPEC.get("project_root") or os.getcwd()
    SPEC["_roots"] = [os.path.realpath(r) for r in [root] + list(SPEC.get("extra_roots", []))]
    guard.install(SPEC["scratch"], network=bool(SPEC.get("allow_network")), processes=True, pickle=True,
                  label="actlint run", mirror=os.path.join(SPEC["scratch"], "work"))
    try:
        from actlint.verify.trace import datasets

        datasets.install(ASSUMPTIONS, SPEC["scratch"], bool(SPEC.get("allow_network")))
    except ImportError:  # pragma: no cover - the stand-ins are optional
        pass
    if not os.environ.get("KERAS_BACKEND"):
        os.environ["KERAS_BACKEND"] = "torch"
        SPEC["_keras_backend_set"] = True
    _tensorflow_shim()
    hooks.when_imported("torch", torch_capture.install)
    hooks.when_imported("keras", _keras_legacy)
    hooks.when_imported("keras", keras_capture.install)
    for name in ("lightning.pytorch", "pytorch_lightning"):
        hooks.when_imported(name, _on_lightning)
    hooks.when_imported("matplotlib", _on_matplotlib)
    atexit.register(_at_exit)
    previous = sys.excepthook

    def excepthook(kind, value, tb):
        STATE["exception"] = (kind, value, tb)
        previous(kind, value, tb)

    sys.excepthook = excepthook


def failed_to_start(spec_path: str, exc: BaseException) -> None:
    with open(spec_path, encoding="utf-8") as fh:
        spec = json.load(fh)
    write_file(spec["scratch"], {"ok": False, "reason": f"the tracer could not start: {type(exc).__name__}: {exc}",
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


def _keras_legacy(keras) -> None:
    """Keras 1/2 code (``Adam(lr=…)``, ``keras.layers.core``, ``fit_generator``) runs on Keras 3 as it ran on
    Keras 2, each reading said under the run's assumptions when the script uses it (as the synthetic child)."""
    from actlint.verify.build import keras_legacy

    if SPEC.get("keras_legacy", True):
        keras_legacy.install(ASSUMPTIONS)
        keras_legacy.install_functional(ASSUMPTIONS)
    _optional_drawing(keras.utils)


def _optional_drawing(utils) -> None:
    """``keras.utils.plot_model`` that cannot draw (no pydot or Graphviz, or the program refused) is skipped:
    a picture of the model changes nothing it trains."""
    original = getattr(utils, "plot_model", None)
    if original is None or getattr(original, "_actlint_optional", False):
        return

    def plot_model(*args, **kwargs):
        try:
            return original(*args, **kwargs)
        except (ImportError, OSError) as exc:
            note = f"keras.utils.plot_model skipped ({type(exc).__name__}: {str(exc)[:120]}): a picture of the " \
                   f"model changes nothing it trains"
            if note not in ASSUMPTIONS:
                ASSUMPTIONS.append(note)
            return None

    plot_model._actlint_optional = True
    utils.plot_model = plot_model


def _on_lightning(module) -> None:
    """Lightning trains with torch optimizers (captured above); its logs and checkpoints go to scratch."""
    trainer_cls = getattr(module, "Trainer", None)
    if trainer_cls is None:
        return
    init = trainer_cls.__init__

    def traced_init(self, *args, **kwargs):
        import torch

        from actlint.verify.trace import cpu_fallback

        kwargs = cpu_fallback.lightning_kwargs(kwargs, torch.cuda.is_available(), ASSUMPTIONS)
        if "default_root_dir" not in kwargs:
            kwargs["default_root_dir"] = os.path.join(SPEC["scratch"], "lightning")
            note = "Lightning's logs and checkpoints written to the run's scratch folder"
            if note not in ASSUMPTIONS:
                ASSUMPTIONS.append(note)
        init(self, *args, **kwargs)

    trainer_cls.__init__ = traced_init


_FILE_BACKENDS = ("agg", "pdf", "svg", "ps", "pgf", "cairo", "template")


def _on_matplotlib(module) -> None:
    """Plots draw off screen: ``matplotlib.use("TkAgg")`` keeps Agg (a traced run has no display to open)."""
    use = module.use

    def traced_use(backend, *args, **kwargs):
        name = str(backend).lower()
        if name.startswith("module://") or name in _FILE_BACKENDS:
            return use(backend, *args, **kwargs)
        note = f"matplotlib.use({backend!r}) kept the off-screen Agg backend (a traced run opens no window)"
        if note not in ASSUMPTIONS:
            ASSUMPTIONS.append(note)
        return None

    module.use = traced_use


def _at_exit() -> None:
    """A command that ends on its own: say why nothing was captured (unless another of its processes did)."""
    if STATE["claimed"] or not os.path.exists(os.path.join(SPEC["scratch"], "claimed")):
        write(final=True)

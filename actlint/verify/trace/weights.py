"""Pretrained weights that cannot be downloaded: the model keeps its random initial weights, said so.

``resnet18(pretrained=True)``, ``torch.hub.load_state_dict_from_url(url)``, ``VGG16(weights="imagenet")``:
offline (or with the cache folder not writable) the download fails before the script's first step.
The real loader always runs first, so weights already in the user's cache are used as they are.
When it fails, torch's loader hands back an empty :class:`RandomWeights`, which
``Module.load_state_dict`` takes as "keep the weights the model has"; a Keras application is built
again with ``weights=None``.  Each such substitution is one sentence under ``assumptions``.
"""

from __future__ import annotations

import functools
import inspect

from . import datasets, hooks


class RandomWeights(dict):
    """The state dict of weights that could not be downloaded: loading it leaves the model as it is."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url


def install() -> None:
    """Patch the downloaders lazily; what is said goes where :func:`datasets.install` put its sentences."""
    hooks.when_imported("torch.hub", _patch_hub)
    hooks.when_imported("torch.utils.model_zoo", _patch_hub)
    hooks.when_imported("torchvision.models._api", _patch_hub)
    hooks.when_imported("torchvision.models._utils", _patch_hub)
    hooks.when_imported("torch.nn.modules.module", _patch_load)
    hooks.when_imported("keras.src.utils.file_utils", _patch_get_file)
    hooks.when_imported("keras.applications", _patch_applications)


def _say(sentence: str) -> None:
    state = datasets._STATE
    with datasets._LOCK:
        if sentence not in state["said"]:
            state["said"].add(sentence)
            state["assumptions"].append(sentence)


def _offline() -> str:
    return "" if datasets._STATE["network"] else " offline"


def _unreachable(exc: BaseException) -> bool:
    """A failed download: no network, a refused cache folder, a URL that cannot be opened."""
    text = str(exc)
    return isinstance(exc, OSError) or "network access is disabled" in text or \
        "is disabled (only the scratch folder is writable)" in text or type(exc).__name__ in ("URLError", "HTTPError")


# ---------------------------------------------------------------------------------------
# torch.hub / torchvision
# ---------------------------------------------------------------------------------------

def _patch_hub(module) -> None:
    for name in ("load_state_dict_from_url", "load_url"):
        original = getattr(module, name, None)
        if callable(original) and not getattr(original, "__actlint_standin__", False):
            setattr(module, name, _offline_url_loader(original))


@functools.lru_cache(maxsize=None)
def _offline_url_loader(original):
    @functools.wraps(original)
    def load(url, *args, **kwargs):
        try:
            return original(url, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - only a failed download is replaced; see _unreachable
            if not _unreachable(exc):
                raise
            _say(f"pretrained weights {url} could not be downloaded{_offline()} ({datasets._reason(exc)}): "
                 "the model keeps its random initial weights")
            return RandomWeights(url)

    load.__actlint_standin__ = True
    return load


def _patch_load(module) -> None:
    cls = module.Module
    original = cls.load_state_dict
    if getattr(original, "__actlint_standin__", False):
        return

    @functools.wraps(original)
    def load_state_dict(self, state_dict, *args, **kwargs):
        if isinstance(state_dict, RandomWeights) and not state_dict:
            from torch.nn.modules.module import _IncompatibleKeys
            return _IncompatibleKeys([], [])
        return original(self, state_dict, *args, **kwargs)

    load_state_dict.__actlint_standin__ = True
    cls.load_state_dict = load_state_dict


# ---------------------------------------------------------------------------------------
# keras.applications
# ---------------------------------------------------------------------------------------

class WeightsUnreachable(Exception):
    """``keras.utils.get_file`` could not fetch an application's weights (the original error as ``cause``)."""

    def __init__(self, cause: BaseException, origin: str) -> None:
        super().__init__(str(cause))
        self.cause, self.origin = cause, origin


def _patch_get_file(module) -> None:
    original = module.get_file
    if getattr(original, "__actlint_standin__", False):
        return

    @functools.wraps(original)
    def get_file(*args, **kwargs):
        try:
            return original(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - a failed fetch is told to the application wrapper
            if not _unreachable(exc) or not _in_application():
                raise
            origin = kwargs.get("origin") or (args[1] if len(args) > 1 else "")
            raise WeightsUnreachable(exc, str(origin)) from exc

    get_file.__actlint_standin__ = True
    module.get_file = get_file


def _in_application() -> bool:
    import sys

    frame = sys._getframe(2)
    while frame is not None:
        if "/keras/src/applications/" in frame.f_code.co_filename.replace("\\", "/"):
            return True
        frame = frame.f_back
    return False


def _patch_applications(package) -> None:
    import types

    modules = [package] + [getattr(package, n) for n in dir(package)
                           if isinstance(getattr(package, n, None), types.ModuleType)]
    for module in modules:
        for name in dir(module):
            fn = getattr(module, name, None)
            if inspect.isfunction(fn) and name[:1].isupper() and not getattr(fn, "__actlint_standin__", False):
                try:
                    takes = "weights" in inspect.signature(fn).parameters
                except (TypeError, ValueError):
                    takes = False
                if takes:
                    setattr(module, name, _offline_application(fn))


@functools.lru_cache(maxsize=None)
def _offline_application(original):
    signature = inspect.signature(original)

    @functools.wraps(original)
    def build(*args, **kwargs):
        try:
            return original(*args, **kwargs)
        except WeightsUnreachable as exc:
            bound = signature.bind(*args, **kwargs)
            bound.arguments["weights"] = None
            _say(f"keras.applications.{original.__name__} weights {exc.origin} could not be downloaded{_offline()} "
                 f"({datasets._reason(exc.cause)}): built with weights=None, random initial weights")
            return original(*bound.args, **bound.kwargs)

    build.__actlint_standin__ = True
    return build

"""Post-import hooks: run a function right after a module is imported, without importing it ourselves.

The tracer must not import torch, keras or torchvision before the user's code does (a Keras
script never pays for torch's import twice, a script without torchvision never gets one), yet
its patches must be in place before the user's first line that uses them.  ``when_imported``
calls ``callback(module)`` as soon as the module named has finished executing (at once when it
already has).
"""

from __future__ import annotations

import importlib.abc
import sys
import threading

_PENDING: dict[str, list] = {}
_LOCK = threading.RLock()
_FINDER: "_Finder | None" = None


def when_imported(name: str, callback) -> None:
    """Call ``callback(module)`` once ``name`` is imported (now, when it already is)."""
    global _FINDER
    with _LOCK:
        module = sys.modules.get(name)
        if module is not None and name not in _PENDING:
            _safe(callback, module)
            return
        _PENDING.setdefault(name, []).append(callback)
        if _FINDER is None:
            _FINDER = _Finder()
            sys.meta_path.insert(0, _FINDER)


def _safe(callback, module) -> None:
    try:
        callback(module)
    except Exception as exc:  # noqa: BLE001 - a failed patch must never break the user's import
        errors.append(f"{getattr(callback, '__qualname__', callback)}: {type(exc).__name__}: {exc}")


errors: list[str] = []  # patches that failed (the tracer reports them with its result)


class _Finder(importlib.abc.MetaPathFinder):
    """Finds nothing itself: wraps the loader of a watched module so that its callbacks run after it."""

    def find_spec(self, fullname, path, target=None):
        if fullname not in _PENDING:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        original = loader.exec_module

        def exec_module(module, _original=original, _name=fullname):
            _original(module)
            with _LOCK:
                callbacks = _PENDING.pop(_name, [])
            for callback in callbacks:
                _safe(callback, module)

        try:
            loader.exec_module = exec_module
        except (AttributeError, TypeError):  # a loader that refuses attributes: wrap it instead
            spec.loader = _Wrapped(loader, exec_module)
        return spec


class _Wrapped(importlib.abc.Loader):
    def __init__(self, loader, exec_module) -> None:
        self._loader = loader
        self.exec_module = exec_module

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def __getattr__(self, name):
        return getattr(self._loader, name)

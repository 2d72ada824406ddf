"""The rule registry: every module in this package defines rules; importing them registers them.

Nothing heavy is imported until :func:`all_rules` (or ``Rule``/``FileContext``) is first asked for.
"""

from __future__ import annotations

import importlib
import pkgutil

_loaded = False


def all_rules() -> dict:
    """Every known rule class by code, in code order."""
    global _loaded
    from actlint.checks.base import REGISTRY

    if not _loaded:
        for info in pkgutil.iter_modules(__path__):
            if info.name not in ("base", "rewrite"):
                importlib.import_module(f"{__name__}.{info.name}")
        _loaded = True
    return dict(sorted(REGISTRY.items()))


def __getattr__(name: str):
    if name in ("Rule", "FileContext"):
        from actlint.checks import base

        return getattr(base, name)
    raise AttributeError(name)


__all__ = ["FileContext", "Rule", "all_rules"]

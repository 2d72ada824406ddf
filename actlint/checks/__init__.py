"""The rule registry: every module in this package defines rules; importing them registers them."""

from __future__ import annotations

import importlib
import pkgutil

from actlint.checks.base import REGISTRY, FileContext, Rule

_loaded = False


def all_rules() -> dict[str, type[Rule]]:
    """Every known rule class by code, in code order."""
    global _loaded
    if not _loaded:
        for info in pkgutil.iter_modules(__path__):
            if info.name != "base":
                importlib.import_module(f"{__name__}.{info.name}")
        _loaded = True
    return dict(sorted(REGISTRY.items()))


__all__ = ["FileContext", "Rule", "all_rules"]

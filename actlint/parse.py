"""LibCST's parser, without re-validating the nodes it builds.

Every LibCST node checks itself on construction (``CSTNode.__post_init__`` calls
``_validate``).  For a tree the parser itself builds from valid source those checks
cannot fail, and they cost about a sixth of the parse (LibCST's own comment there
says as much).  While the parser runs they are switched off; nodes built anywhere
else, fixes included, are still validated.
"""

from __future__ import annotations

import libcst as cst

_VALIDATING = cst.CSTNode.__dict__.get("__post_init__")


def _trusted(self) -> None:
    """Parser-built node: valid by construction."""


def parse_module(text: str) -> cst.Module:
    if _VALIDATING is None:  # a LibCST that validates elsewhere: nothing to switch off
        return cst.parse_module(text)
    cst.CSTNode.__post_init__ = _trusted
    try:
        return cst.parse_module(text)
    finally:
        cst.CSTNode.__post_init__ = _VALIDATING

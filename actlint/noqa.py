"""``# noqa`` and ``# noqa: ACT101,ACT102`` suppression, flake8-compatible."""

from __future__ import annotations

import re

_NOQA = re.compile(r"#\s*noqa(?::[\s]?(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.IGNORECASE)
_CODE = re.compile(r"[A-Z]+[0-9]+", re.IGNORECASE)

ALL = frozenset({"*"})


def suppressions(text: str) -> dict[int, frozenset[str]]:
    """Line number (1-based) -> suppressed codes, or ``ALL`` for a bare ``# noqa``."""
    result: dict[int, frozenset[str]] = {}
    if "noqa" not in text and "NOQA" not in text.upper():
        return result
    for number, line in enumerate(text.splitlines(), start=1):
        if "#" not in line:
            continue
        match = _NOQA.search(line)
        if match is None:
            continue
        codes = match.group("codes")
        result[number] = ALL if codes is None else frozenset(c.upper() for c in _CODE.findall(codes))
    return result


def is_suppressed(code: str, line: int, table: dict[int, frozenset[str]]) -> bool:
    codes = table.get(line)
    if codes is None:
        return False
    return codes is ALL or any(code.startswith(c) for c in codes)

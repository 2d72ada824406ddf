"""``# noqa`` and ``# noqa: ACT101,ACT102`` suppression, flake8-compatible; and a whole file's
``# actlint: noqa`` (every code) or ``# actlint: noqa: ACT101`` on a line of its own."""

from __future__ import annotations

import re

_NOQA = re.compile(r"#\s*noqa(?::[\s]?(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.IGNORECASE)
_CODE = re.compile(r"[A-Z]+[0-9]+", re.IGNORECASE)

_FILE_NOQA = re.compile(r"^[ \t]*#[ \t]*actlint:[ \t]*noqa(?:[ \t]*:[ \t]*(?P<codes>[A-Z]+[0-9]+(?:[, \t]+[A-Z]+[0-9]+)*))?"
                        r"[ \t]*$", re.IGNORECASE | re.MULTILINE)

ALL = frozenset({"*"})
FILE = 0  # the table's key for what the whole file suppresses


def suppressions(text: str) -> dict[int, frozenset[str]]:
    """Line number (1-based) -> suppressed codes, or ``ALL`` for a bare ``# noqa``; ``FILE`` (0) -> what a
    file-level ``# actlint: noqa`` suppresses everywhere."""
    result: dict[int, frozenset[str]] = {}
    if "noqa" not in text and "NOQA" not in text.upper():
        return result
    for match in _FILE_NOQA.finditer(text):
        codes = match.group("codes")
        if codes is None:
            result[FILE] = ALL
        elif result.get(FILE) is not ALL:
            result[FILE] = result.get(FILE, frozenset()) | {c.upper() for c in _CODE.findall(codes)}
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
    return any(codes is ALL or any(code.startswith(c) for c in codes)
               for codes in (table.get(line), table.get(FILE)) if codes is not None)


def suppressing(code: str, line: int, table: dict[int, frozenset[str]]) -> list[tuple[int, str]]:
    """The (key, code) entries of the table that suppress ``code`` on ``line`` (key: the line, or ``FILE``);
    a bare ``# noqa`` is ``(key, "*")``.  Empty when the finding is not suppressed."""
    hits = []
    for key in (line, FILE):
        codes = table.get(key)
        if codes is ALL:
            hits.append((key, "*"))
        elif codes:
            hits.extend((key, c) for c in codes if code.startswith(c))
    return hits


def file_directive_lines(text: str) -> dict[str, list[int]]:
    """Code -> the lines of the file-level ``# actlint: noqa: ...`` comments that name it."""
    lines: dict[str, list[int]] = {}
    for match in _FILE_NOQA.finditer(text):
        if match.group("codes") is not None:
            number = text.count("\n", 0, match.start()) + 1
            for code in _CODE.findall(match.group("codes")):
                lines.setdefault(code.upper(), []).append(number)
    return lines

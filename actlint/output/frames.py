"""Code frames: the flagged line with a caret under the span, and each related location under it.

A related location in another file (or another notebook cell) gets a ``:::`` header naming it.  Source is
read from disk when the report is written; a line that cannot be read (a file since changed or deleted, a
binary file) is left out of the frame, never an error.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

from actlint.findings import Finding, where

RED, BLUE, BOLD, RESET = "\x1b[1;31m", "\x1b[1;34m", "\x1b[1m", "\x1b[0m"

_GIVEN: dict[str, str] = {}  # path -> source not on disk (stdin), quoted in its place while set


@contextmanager
def given_source(path: str, text: str):
    """While the block runs, frames (and fingerprints) quote ``text`` as the content of ``path``: the source
    read from stdin, which the file on disk (if there is one) need not match."""
    _GIVEN[path] = text
    try:
        yield
    finally:
        _GIVEN.pop(path, None)


class Sources:
    """The lines of the files (and notebook cells) frames quote, each read once."""

    def __init__(self) -> None:
        self._files: dict[str, object] = {}

    def line(self, path: str, number: int, cell: int | None = None) -> str | None:
        """Line ``number`` (1-based) of a file, or of a cell of a notebook; None when it cannot be read."""
        if path not in self._files:
            self._files[path] = self._read(path)
        content = self._files[path]
        if isinstance(content, dict):  # a notebook: cell number -> lines
            lines = content.get(cell) if cell is not None else None
        else:
            lines = content if cell is None else None
        if not lines or not 1 <= number <= len(lines):
            return None
        return lines[number - 1]

    @staticmethod
    def _read(path: str):
        from actlint.engine import DecodeError, decode

        try:
            given = _GIVEN.get(path)
            data = Path(path).read_bytes() if given is None else b""
            if path.endswith(".ipynb"):
                cells = json.loads(data.decode("utf-8") if given is None else given)["cells"]
                return {n: _cell_text(c).splitlines() for n, c in enumerate(cells, start=1) if isinstance(c, dict)}
            return (decode(data) if given is None else given).splitlines()
        except (OSError, DecodeError, ValueError, KeyError, TypeError):
            return None


def _cell_text(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(map(str, source)) if isinstance(source, list) else str(source)


def _marks(text: str, column: int, end_line: int, line: int, end_column: int, char: str) -> tuple[str, str]:
    """(indent, marks) under ``text`` for a span starting at ``column``: tabs kept so the marks line up."""
    start = min(max(column - 1, 0), len(text))
    stop = end_column - 1 if end_line == line else len(text.rstrip())
    indent = "".join(c if c == "\t" else " " for c in text[:start])
    return indent, char * max(1, stop - start)


def frame(finding: Finding, sources: Sources, color: bool = False) -> list[str]:
    """The lines of a finding's code frame (empty when its own line cannot be read)."""
    own = sources.line(finding.path, finding.line, finding.cell)
    if own is None:
        return []
    snippets = [(finding.path, finding.cell, finding.line, finding.column, finding.end_line, finding.end_column,
                 own, "^", "")]
    for r in finding.related:
        text = sources.line(r["path"], r["line"], r.get("cell"))
        if text is not None:
            snippets.append((r["path"], r.get("cell"), r["line"], r["column"], r["end_line"], r["end_column"],
                             text, "-", r["message"]))
    width = max(len(str(s[2])) for s in snippets)
    paint = (lambda code, text: f"{code}{text}{RESET}") if color else (lambda code, text: text)
    gutter = paint(BLUE, " " * width + " |")
    out = []
    for path, cell, line, column, end_line, end_column, text, char, label in snippets:
        if (path, cell) != (finding.path, finding.cell):
            out.append(paint(BLUE, " " * width + " ::: ") + where(path, line, column, cell))
        out.append(gutter)
        out.append(paint(BLUE, f"{line:>{width}} |") + " " + text)
        indent, marks = _marks(text, column, end_line, line, end_column, char)
        out.append(f"{gutter} {indent}{paint(RED if char == '^' else BLUE, marks)}" + (f" {label}" if label else ""))
    out.append(gutter)
    return out

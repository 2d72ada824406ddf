"""Applying fixes: edits spliced into the source, re-parsed, written atomically.

A fix whose result does not parse is dropped and reported; the file keeps its
encoding (and a byte-order mark if it had one) and its line endings, which the
edits never touch.
"""

from __future__ import annotations

import difflib
import tokenize
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

import libcst as cst

from actlint.atomic import write_bytes_atomic
from actlint.findings import Edit, Finding

MAX_ROUNDS = 4  # fixes can overlap; later rounds pick up what an earlier one set aside


@dataclass
class FixOutcome:
    path: str
    original: str
    fixed: str
    applied: list[Finding] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.fixed != self.original

    def diff(self) -> str:
        """A unified diff; for a notebook, one per changed code cell, of the cell's code (not its JSON)."""
        if self.path.endswith(".ipynb"):
            cells = _cell_sources(self.original), _cell_sources(self.fixed)
            if cells[0] is not None and cells[1] is not None and len(cells[0]) == len(cells[1]):
                return "".join(_unified(old, new, f"{self.path}:cell {number}")
                               for number, (old, new) in enumerate(zip(*cells), start=1) if old != new)
        return _unified(self.original, self.fixed, self.path)


def _unified(old: str, new: str, name: str) -> str:
    old_lines, new_lines = old.splitlines(keepends=True), new.splitlines(keepends=True)
    for lines in (old_lines, new_lines):  # a last line without a newline still ends its diff line
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n\\ No newline at end of file\n"
    return "".join(difflib.unified_diff(old_lines, new_lines, fromfile=f"a/{name}", tofile=f"b/{name}"))


def _cell_sources(raw: str) -> list[str] | None:
    """Every cell's source (code cells' only; others as ""), or None for text that is not a notebook."""
    import json

    from actlint.notebook import NotebookError, source_text

    try:
        return [source_text(c.get("source", "")) if c.get("cell_type") == "code" else ""
                for c in json.loads(raw)["cells"]]
    except (ValueError, KeyError, TypeError, AttributeError, NotebookError):
        return None


def _offsets(text: str) -> list[int]:
    starts = [0]
    for index, char in enumerate(text):
        if char == "\n":
            starts.append(index + 1)
    return starts


def _span(starts: list[int], edit: Edit) -> tuple[int, int]:
    return starts[edit.line - 1] + edit.column - 1, starts[edit.end_line - 1] + edit.end_column - 1


def apply_edits(text: str, findings: list[Finding], unsafe: bool) -> tuple[str, list[Finding]]:
    """Splice the chosen fixes' edits into ``text``; overlapping fixes wait for the next round."""
    starts = _offsets(text)
    chosen: list[tuple[int, int, str]] = []
    applied: list[Finding] = []
    for finding in sorted(findings, key=lambda f: f.sort_key):
        fix = finding.fix
        if fix is None or (not fix.safe and not unsafe):
            continue
        spans = [(*_span(starts, e), e.content) for e in fix.edits]
        if any(a < e2 and b > s2 or (a == b == s2 == e2) for a, b, _ in spans for s2, e2, _ in chosen):
            continue
        chosen.extend(spans)
        applied.append(finding)
    for start, end, content in sorted(chosen, reverse=True):
        text = text[:start] + content + text[end:]
    return text, applied


def fix_text(text: str, path: str, lint, unsafe: bool) -> FixOutcome:
    """Fix until nothing fixable is left; ``lint(text)`` returns the findings of a text."""
    outcome = FixOutcome(path, text, text)
    current = text
    for _ in range(MAX_ROUNDS):
        candidate, applied = apply_edits(current, lint(current), unsafe)
        if not applied:
            break
        try:
            cst.parse_module(candidate)
        except (cst.ParserSyntaxError, RecursionError) as exc:
            codes = ", ".join(sorted({f.code for f in applied}))
            outcome.problems.append(f"{path}: fixes for {codes} dropped: the result would not parse "
                                    f"({str(exc).splitlines()[0]})")
            break
        current = candidate
        outcome.applied.extend(applied)
    outcome.fixed = current
    return outcome


def source_encoding(data: bytes) -> tuple[str, bool]:
    """The file's encoding and whether it starts with a UTF-8 byte-order mark."""
    bom = data.startswith(b"\xef\xbb\xbf")
    encoding, _ = tokenize.detect_encoding(BytesIO(data).readline)
    return ("utf-8" if encoding == "utf-8-sig" else encoding), bom


class ChangedWhileFixing(OSError):
    """The file on disk is no longer what the fixes were computed from."""


def write_fixed(path: Path, text: str, encoding: str, bom: bool, original: bytes) -> None:
    """Write the fixed text atomically, unless someone changed the file since it was read."""
    data = (b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding)
    if path.read_bytes() != original:
        raise ChangedWhileFixing("the file changed while actlint was fixing it; left as it is now")
    write_bytes_atomic(path, data)

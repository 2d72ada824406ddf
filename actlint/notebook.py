"""Jupyter notebooks (nbformat 4): code cells joined into one program, positions mapped back to cells.

Nothing is executed.  IPython syntax (magics, ``!shell``, ``obj?``) is read as
Jupyter reads it (:mod:`actlint.ipython_syntax`), line for line, so positions
stay true.  A cell that does not parse is blanked (and reported with the
parser's reason and place), so the other cells are still linted.  Fixes
are written back by replacing only the changed cells' ``source`` values in the
original JSON text, leaving every other byte as it was.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from actlint.ipython_syntax import python_source


class NotebookError(ValueError):
    """The file is not a notebook actlint can read (its message says why)."""


@dataclass
class Cell:
    number: int          # 1-based position among all cells, as a reader counts them
    source: str
    start: int = 0       # first line of the cell in the joined program (1-based)
    lines: int = 0
    error: str | None = None


@dataclass
class Notebook:
    raw: str
    cells: list[Cell] = field(default_factory=list)   # code cells only
    program: str = ""

    def locate(self, line: int) -> tuple[int, int]:
        """Joined-program line -> (cell number, line in cell)."""
        for cell in self.cells:
            if cell.start <= line < cell.start + max(cell.lines, 1):
                return cell.number, line - cell.start + 1
        last = self.cells[-1] if self.cells else Cell(1, "")
        return last.number, max(1, line - last.start + 1)


def source_text(value) -> str:
    """A cell's ``source`` as one string (nbformat allows a string or a list of lines)."""
    if isinstance(value, list):
        return "".join(str(part) for part in value)
    if isinstance(value, str):
        return value
    raise NotebookError("a cell's source is neither a string nor a list of strings")


def read_notebook(text: str, parses=None) -> Notebook:
    """Parse notebook JSON; ``parses(source) -> error or None`` checks each cell when given."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(f"not valid notebook JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        if isinstance(data, dict) and "worksheets" in data:
            raise NotebookError(f"nbformat {data.get('nbformat', 3)} notebooks are not supported; "
                                f"convert with `jupyter nbconvert --to notebook --nbformat 4`")
        raise NotebookError("not a Jupyter notebook: no list of cells")
    if data.get("nbformat", 4) < 4:
        raise NotebookError(f"nbformat {data.get('nbformat')} notebooks are not supported; "
                            f"convert with `jupyter nbconvert --to notebook --nbformat 4`")
    notebook = Notebook(raw=text)
    pieces: list[str] = []
    line = 1
    for number, cell in enumerate(data["cells"], start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = python_source(source_text(cell.get("source", "")))
        entry = Cell(number, source)
        if parses is not None and source.strip():
            entry.error = parses(source)
            if entry.error is not None:
                source = "\n".join("" for _ in source.split("\n"))
        if not source.endswith("\n"):
            source += "\n"
        entry.start, entry.lines = line, source.count("\n")
        line += entry.lines
        pieces.append(source)
        notebook.cells.append(entry)
    notebook.program = "".join(pieces)
    return notebook


def _cell_source_spans(raw: str) -> dict[int, tuple[int, int]]:
    """Cell number -> (start, end) of its ``"source"`` value in the raw JSON text."""
    decoder = json.JSONDecoder()
    spans: dict[int, tuple[int, int]] = {}
    ws = re.compile(r"\s*")

    def skip(i: int) -> int:
        return ws.match(raw, i).end()

    i = skip(0)
    if raw[i] != "{":
        return spans
    i += 1
    while True:
        i = skip(i)
        if raw[i] == "}":
            return spans
        key, i = decoder.raw_decode(raw, i)
        i = skip(skip(i) + 1)  # past ':'
        if key != "cells":
            _, i = decoder.raw_decode(raw, i)
        else:
            i = skip(i + 1)  # past '['
            number = 0
            while raw[i] != "]":
                number += 1
                i = skip(i + 1)  # past '{'
                while raw[i] != "}":
                    ckey, i = decoder.raw_decode(raw, i)
                    i = skip(skip(i) + 1)
                    start = i
                    _, i = decoder.raw_decode(raw, i)
                    if ckey == "source":
                        spans[number] = (start, i)
                    i = skip(i)
                    if raw[i] == ",":
                        i = skip(i + 1)
                i = skip(i + 1)
                if raw[i] == ",":
                    i = skip(i + 1)
            i += 1
        i = skip(i)
        if raw[i] == ",":
            i += 1


def _render_source(new: str, old_value: str) -> str:
    """The new source in the layout of the old value (a list of lines as nbformat writes it, or one string)."""
    if old_value.lstrip().startswith('"'):
        return json.dumps(new, ensure_ascii=False)
    lines = new.splitlines(keepends=True)
    if not lines:
        return "[]"
    opening = re.match(r"\[(\s*)", old_value)
    closing = re.search(r"(\s*)\]$", old_value)
    sep = opening.group(1) if opening else ""
    end = closing.group(1) if closing else ""
    if "\n" not in sep:
        sep, end = (sep or ""), (end or "")
    body = ("," + (sep if "\n" in sep else " ")).join(json.dumps(line, ensure_ascii=False) for line in lines)
    return "[" + sep + body + end + "]"


def write_back(notebook: Notebook, fixed_program: str) -> str:
    """The notebook's JSON text with only the changed code cells' sources replaced."""
    new_lines = fixed_program.split("\n")
    spans = _cell_source_spans(notebook.raw)
    data = json.loads(notebook.raw)
    edits = []
    for cell in notebook.cells:
        if cell.error is not None:
            continue
        new_source = "\n".join(new_lines[cell.start - 1: cell.start - 1 + cell.lines])
        original = source_text(data["cells"][cell.number - 1].get("source", ""))
        blanked = python_source(original)
        if new_source.rstrip("\n") == blanked.rstrip("\n"):
            continue
        # put the magics back where they were (fixes never touch those lines)
        old_lines, fixed_lines = original.split("\n"), new_source.split("\n")
        blank_lines = blanked.split("\n")
        merged = [o if b != o else f for o, b, f in zip(old_lines, blank_lines, fixed_lines)]
        merged += fixed_lines[len(old_lines):]
        text = "\n".join(merged)
        if original.endswith("\n") and not text.endswith("\n"):
            text += "\n"
        elif not original.endswith("\n") and text.endswith("\n"):
            text = text[:-1]
        start, end = spans[cell.number]
        edits.append((start, end, _render_source(text, notebook.raw[start:end])))
    raw = notebook.raw
    for start, end, replacement in sorted(edits, reverse=True):
        raw = raw[:start] + replacement + raw[end:]
    return raw

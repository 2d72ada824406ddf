"""Notebooks under ``--verify``: the code cells as one program in a scratch ``.py``, positions mapped back to cells.

The program is the one the static pass linted (:func:`actlint.engine.read_notebook_program`:
IPython magics and shell lines blanked, cells that do not parse blanked), so its line
numbers are the static findings' program lines.  It is written to a scratch folder (never
beside the notebook) because the child compiles it under a real file name: frames from
that file are the user's code.  Findings go in as program lines and come back with their
cell; diagnostics, reasons and the measured layers' lines are mapped the same way.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from actlint.findings import Finding

_LINE_IN_REASON = re.compile(r"\(line (\d+)\)")
_PLACEHOLDER = re.compile(r"\bget_ipython\(\)[ \t]*$", re.M)  # see actlint.ipython_syntax


class NotebookProgram:
    """One notebook's program: where it was written, and the mapping between program and cell lines."""

    def __init__(self, notebook, source: Path, scratch_file: Path) -> None:
        self.notebook = notebook
        self.source = source              # the .ipynb
        self.file = scratch_file          # the program, as a .py the child can compile under its name
        self.text = notebook.program
        self._originals: dict[int, Finding] = {}

    @classmethod
    def write(cls, source: Path, text: str, scratch: Path) -> "NotebookProgram":
        """Read the notebook JSON ``text`` and write its program into a fresh subfolder of ``scratch``."""
        from actlint.engine import read_notebook_program

        notebook = read_notebook_program(text)
        folder = scratch / str(len(list(scratch.iterdir())) + 1)
        folder.mkdir()
        scratch_file = folder / ((re.sub(r"\W", "_", source.stem) or "notebook") + ".py")
        scratch_file.write_text(notebook.program, encoding="utf-8")
        return cls(notebook, source, scratch_file)

    def write_runnable(self) -> None:
        """Make the program file a script Python can run top to bottom: each line of IPython syntax (a magic, a
        shell command, help), which the static program holds as ``get_ipython()``, does nothing (``None``)."""
        self.file.write_text(_PLACEHOLDER.sub("None", self.text), encoding="utf-8")

    def program_line(self, cell_number: int | None, line: int) -> int:
        for cell in self.notebook.cells:
            if cell.number == cell_number:
                return cell.start + line - 1
        return line

    def to_program(self, f: Finding) -> Finding:
        """A cell-based static finding as a finding on the program's lines (remembered for :meth:`original`)."""
        start = self.program_line(f.cell, f.line)
        moved = replace(f, line=start, end_line=start + max(0, f.end_line - f.line), cell=None, fix=None)
        self._originals[id(moved)] = f
        return moved

    def original(self, f: Finding) -> Finding:
        """The cell-based finding a program finding came from (a new finding, e.g. a diagnostic: mapped)."""
        return self._originals.get(id(f)) or self.to_cells(f)

    def to_cells(self, f: Finding) -> Finding:
        cell, line = self.notebook.locate(f.line)
        _, end_line = self.notebook.locate(f.end_line)
        return replace(f, line=line, end_line=max(line, end_line), cell=cell)

    def where(self, line: int) -> str:
        cell, in_cell = self.notebook.locate(line)
        return f"cell {cell}, line {in_cell}"

    def reason(self, text: str | None) -> str | None:
        """A child's reason with its ``(line N)`` of the program given as ``(cell C, line L)``."""
        if not text:
            return text
        return _LINE_IN_REASON.sub(lambda m: f"({self.where(int(m.group(1)))})", text)

    def name_places(self, data: dict, program: str, shown: str) -> None:
        """Every ``PROGRAM:LINE`` in the strings of ``data`` (a run's evidence) as ``NOTEBOOK cell C, line L``, and
        ``PROGRAM:Net`` as ``SHOWN:Net``, in place: the program is a scratch file the user never sees."""
        line = re.compile(re.escape(program) + r":(\d+)")
        label = re.compile(re.escape(program) + r":(?=[A-Za-z_])")

        def named(text: str) -> str:
            text = line.sub(lambda m: f"{self.source.name} {self.where(int(m.group(1)))}", text)
            return label.sub(f"{shown}:", text)

        for key, value in list(data.items()):
            if isinstance(value, str):
                data[key] = named(value)
            elif isinstance(value, dict):
                self.name_places(value, program, shown)

    def map_result(self, data: dict) -> None:
        """Give each measured layer and activation its cell (``cell``) and line in the cell, in place."""
        if data.get("reason"):
            data["reason"] = self.reason(data["reason"])
        rows = list(data.get("layers") or []) + list(data.get("ops") or [])
        after = data.get("after_training") or {}
        rows += list(after.get("layers") or []) + list(after.get("ops") or [])
        for row in rows:
            if not isinstance(row, dict):
                continue
            for key in ("line", "module_line"):
                if isinstance(row.get(key), int):
                    cell, in_cell = self.notebook.locate(row[key])
                    row[key] = in_cell
                    row["cell" if key == "line" else "module_cell"] = cell


__all__ = ["NotebookProgram"]

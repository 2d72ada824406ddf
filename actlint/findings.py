"""What a check reports: one finding per mistake, with its place in the file."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


# Reported by the engine itself, not by a check: an unreadable file (ACT000), an unused noqa code (ACT100).
# Neither is a claim about a model, so the verifier passes them through without a verdict.
ENGINE_CODES = ("ACT000", "ACT100")


def where(path: str, line: int, column: int, cell: int | None = None) -> str:
    """``path:line:col``, or ``path:cell N:line:col`` in a notebook (a finding's or a related location's)."""
    return f"{path}:{'' if cell is None else f'cell {cell}:'}{line}:{column}"


@dataclass(frozen=True)
class Edit:
    """Replace the text between two positions (1-based lines and columns, end exclusive)."""

    line: int
    column: int
    end_line: int
    end_column: int
    content: str


@dataclass(frozen=True)
class Fix:
    """One or more edits that together repair a finding; ``safe`` fixes keep the program's meaning."""

    message: str
    edits: tuple[Edit, ...]
    safe: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "applicability": "safe" if self.safe else "unsafe",
            "message": self.message,
            "edits": [asdict(e) for e in self.edits],
        }


@dataclass(frozen=True)
class Finding:
    code: str
    name: str
    message: str
    path: str
    line: int
    column: int
    end_line: int
    end_column: int
    fix: Fix | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    cell: int | None = None  # the notebook cell (1-based) when the file is a notebook
    # For a finding placed in an importing file: where it really is (path, line, column, end_line,
    # end_column and the message as read there), used when that file is linted too.
    home: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    # The other places the message names (the loss call, the layer an init feeds), each a dict of path,
    # line, column, end_line, end_column, message (what the place is) and, in a notebook, cell.
    related: tuple[dict[str, Any], ...] = field(default=(), compare=False, hash=False)

    @property
    def sort_key(self) -> tuple:
        return (self.path, self.cell or 0, self.line, self.column, self.code)

    @property
    def where(self) -> str:
        """``path:line:col``, or ``path:cell N:line:col`` in a notebook."""
        return where(self.path, self.line, self.column, self.cell)

    def to_dict(self) -> dict[str, Any]:
        data = {
            "code": self.code,
            "name": self.name,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
            "message": self.message,
            "fix": self.fix.to_dict() if self.fix else None,
            "related": [dict(r) for r in self.related],
        }
        if self.cell is not None:
            data["cell"] = self.cell
        data.update(self.extra)
        return data


@dataclass(frozen=True)
class InternalError:
    """A failure inside actlint itself (a rule that raised): reported, never fatal to other files."""

    path: str
    rule: str
    error: str

    def __str__(self) -> str:
        return f"{self.path}: internal error in {self.rule}: {self.error}"

"""The rule API: a rule is one small class that declares itself and checks a file.

A rule subclass sets ``code``, ``name``, ``summary`` (one line for tables),
``tokens`` (substrings without which the rule cannot fire: files containing
none of any enabled rule's tokens are never parsed; a rule that needs more than
one of them overrides :meth:`Rule.could_fire`) and optional ``options`` with
their defaults, then implements :meth:`Rule.check`, yielding findings made with
:meth:`Rule.finding`.  Defining the class registers it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterator

import libcst as cst

from actlint.findings import Edit, Finding, Fix
from actlint.index import FileIndex

REGISTRY: dict[str, type["Rule"]] = {}

# A place a message names, rendered once the finding's file is known: ``line 16`` in the same file,
# ``tagger/train.py:16`` in another one, ``line 4 of cell 3`` in a notebook.  The marker carries the
# node's span and a short label (what the place is: "the CrossEntropyLoss call"), which becomes the
# message of the finding's related location there.
_PLACE = re.compile(r"(line )?\x01([^\x02]*)\x02(\d+)\x02(\d+)\x02(\d+)\x02(\d+)\x02([^\x03]*)\x03")
UNLABELLED = "named in the message"


class Line(int):
    """A line number that remembers its file (and the node's span), so a message can say where it is."""

    def __new__(cls, place: tuple, label: str = "") -> "Line":
        line = int.__new__(cls, place[1])
        line.place = place
        line.label = re.sub(r"[\x01-\x03]", "", label)
        return line

    def __format__(self, spec: str = "") -> str:
        return "\x01{}\x02{}\x02{}\x02{}\x02{}\x02{}\x03".format(*self.place, self.label)

    def __str__(self) -> str:
        return self.__format__()


def render(message: str, home: str, notebook: tuple | None = None) -> str:
    """The message as read in the file ``home``: places there are line numbers, others ``path:line``.
    ``notebook`` is (path, locate): places in that notebook are a cell and a line in it."""

    def say(m: re.Match) -> str:
        prefix, path, line = m.group(1) or "", m.group(2), int(m.group(3))
        if notebook is not None and path == notebook[0]:
            cell, line = notebook[1](line)
            return f"{prefix}{line} of cell {cell}" if path == home else f"{path}:cell {cell}:{line}"
        return f"{prefix}{line}" if path == home else f"{path}:{line}"

    return _PLACE.sub(say, message)


def places(message: str) -> list[tuple]:
    """(path, line, column, end line, end column, label) of each place a message names, in order."""
    return [(m.group(2), *map(int, m.group(3, 4, 5, 6)), m.group(7)) for m in _PLACE.finditer(message)]


def related_entry(place: tuple, notebook: tuple | None = None) -> dict[str, Any]:
    """A related location as findings carry it: path, (cell,) line, column, end line, end column, message."""
    path, line, col, end_line, end_col, label = place
    entry: dict[str, Any] = {"path": path}
    if notebook is not None and path == notebook[0]:
        entry["cell"], line = notebook[1](line)
        end_line = notebook[1](end_line)[1]
    entry.update(line=line, column=col, end_line=end_line, end_column=end_col, message=label or UNLABELLED)
    return entry


def related(message: str, own: tuple, notebook: tuple | None = None, first: tuple = ()) -> tuple[dict, ...]:
    """The related locations of a finding at ``own`` (path, line, column): ``first`` places, then every place
    its message names, each once, the finding's own place left out."""
    seen, out = {tuple(own[:3])}, []
    for place in (*first, *places(message)):
        if tuple(place[:3]) not in seen:
            seen.add(tuple(place[:3]))
            out.append(related_entry(place, notebook))
    return tuple(out)


@dataclass
class FileContext:
    """Everything a rule may read about one file."""

    path: str
    text: str
    index: FileIndex
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    project: Any = None  # actlint.project.Project: the local modules this file may import (None: none looked for)
    notebook: Any = None  # line in the joined program -> (cell, line in cell), when the file is a notebook
    _cache: dict[str, Any] = field(default_factory=dict)

    def other_modules(self) -> list:
        """(how findings name it, FileIndex) of each local module the model picture read."""
        picture = self._cache.get("picture")
        return picture.modules if picture is not None else []

    def cached(self, key: str, build):
        """A per-file value that several rules share (the model picture, say)."""
        if key not in self._cache:
            self._cache[key] = build(self)
        return self._cache[key]

    def release(self) -> None:
        """When every rule is done with the file: free what they shared now, without waiting for the cyclic
        garbage collector (see ``Picture.release``).  Nothing is read from the context afterwards."""
        picture = self._cache.get("picture")
        if picture is not None:
            picture.release()


class Rule:
    code: ClassVar[str]
    name: ClassVar[str]
    summary: ClassVar[str]
    tokens: ClassVar[tuple[str, ...]] = ()
    options: ClassVar[dict[str, Any]] = {}
    default: ClassVar[bool] = True
    fixes: ClassVar[str | None] = None  # "safe" or "unsafe": the kind of fix the rule offers, where it offers one

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "code" in cls.__dict__:
            if cls.code in REGISTRY and REGISTRY[cls.code] is not cls:
                raise RuntimeError(f"rule code {cls.code} is defined twice")
            REGISTRY[cls.code] = cls

    @classmethod
    def could_fire(cls, text: str) -> bool:
        """Whether the file's text could hold a finding (cheap: no parse)."""
        return any(token in text for token in cls.tokens)

    def __init__(self, ctx: FileContext) -> None:
        self.ctx = ctx
        self.index = ctx.index
        self.opts = {**self.options, **ctx.options.get(self.code, {})}

    def check(self) -> Iterator[Finding]:
        raise NotImplementedError

    def edit(self, node: cst.CSTNode, content: str | cst.CSTNode) -> Edit:
        """Replace ``node``'s text with ``content`` (text, or a node rendered in this file's style)."""
        if isinstance(content, cst.CSTNode):
            content = self.index.code_for(content)
        path, line, col, end_line, end_col = self.locate(node)
        if path != self.ctx.path:
            return Edit(0, 0, 0, 0, content)  # in another file: the finding drops this fix
        return Edit(line, col, end_line, end_col, content)

    def locate(self, node: cst.CSTNode) -> tuple:
        """(path, line, column, end line, end column) of a node of this file or of a local module it imports."""
        position = self.index.find_position(node)
        if position is not None:
            return (self.ctx.path, *position)
        for shown, index in self.ctx.other_modules():
            position = index.find_position(node)
            if position is not None:
                return (shown, *position)
        raise KeyError(f"no file holds the node {type(node).__name__}")

    def line(self, node: cst.CSTNode, label: str = "") -> Line:
        """The node's line, for a message: it reads ``path:line`` when the finding is in another file.
        ``label`` says what the node is; it is the message of the finding's related location there."""
        return Line(self.locate(node), label)

    def loss_line(self, site, label: str = "the loss this output is fed to") -> Line:
        """The line of a loss site (a loss call, a compile), labelled with the loss's name."""
        return self.line(site.node, f"{site.spec.label}: {label}")

    def named(self, op) -> str:
        """How a message names an op: ``sigmoid``, or ``sigmoid (nn.Sigmoid built at line 12)`` when the op
        is the call of a module built elsewhere."""
        if op.built is None:
            return op.fn
        maker = op.built.func if isinstance(op.built, cst.Call) else op.built
        made = self.index.code_for(maker)
        return f"{op.fn} ({made} built at line {self.line(op.built, f'the {made} that is called as {op.fn}')})"

    def finding(self, node: cst.CSTNode, message: str, fix: Fix | None = None, **extra: Any) -> Finding | None:
        """A finding at ``node``.  At a node of an imported module it is placed at the first place in this file
        that the message names (the loss call that completes it), naming the node's own place, and keeps that
        place as its ``home`` (where a run that lints both files reports it); with no such place in this file
        it is not this file's finding (the module reports it itself): None.  Every other place the message
        names is a related location."""
        path, line, col, end_line, end_col = self.locate(node)
        notebook = (self.ctx.path, self.ctx.notebook) if self.ctx.notebook is not None else None
        if fix is not None and any(e.line == 0 for e in fix.edits):
            fix = None
        if path == self.ctx.path:
            return Finding(self.code, self.name, render(message, path, notebook), path, line, col, end_line,
                           end_col, fix=fix, extra=extra, related=related(message, (path, line, col), notebook))
        anchor = next((p for p in places(message) if p[0] == self.ctx.path), None)
        if anchor is None:
            return None
        own = (path, line, col, end_line, end_col, "the flagged code")
        home = {"path": path, "line": line, "column": col, "end_line": end_line, "end_column": end_col,
                "message": render(message, path, notebook),
                "related": list(related(message, own, notebook))}
        return Finding(self.code, self.name, f"{path}:{line}: {render(message, self.ctx.path, notebook)}",
                       *anchor[:5], extra=extra, home=home, related=related(message, anchor, notebook, (own,)))

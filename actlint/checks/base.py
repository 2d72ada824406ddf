"""The rule API: a rule is one small class that declares itself and checks a file.

A rule subclass sets ``code``, ``name``, ``summary`` (one line for tables),
``tokens`` (substrings without which the rule cannot fire: files containing
none of any enabled rule's tokens are never parsed; a rule that needs more than
one of them overrides :meth:`Rule.could_fire`) and optional ``options`` with
their defaults, then implements :meth:`Rule.check`, yielding findings made with
:meth:`Rule.finding`.  Defining the class registers it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterator

import libcst as cst

from actlint.findings import Edit, Finding, Fix
from actlint.index import FileIndex

REGISTRY: dict[str, type["Rule"]] = {}


@dataclass
class FileContext:
    """Everything a rule may read about one file."""

    path: str
    text: str
    index: FileIndex
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    _cache: dict[str, Any] = field(default_factory=dict)

    def cached(self, key: str, build):
        """A per-file value that several rules share (the model picture, say)."""
        if key not in self._cache:
            self._cache[key] = build(self)
        return self._cache[key]


class Rule:
    code: ClassVar[str]
    name: ClassVar[str]
    summary: ClassVar[str]
    tokens: ClassVar[tuple[str, ...]] = ()
    options: ClassVar[dict[str, Any]] = {}
    default: ClassVar[bool] = True

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
        line, col, end_line, end_col = self.index.position(node)
        return Edit(line, col, end_line, end_col, content)

    def line(self, node: cst.CSTNode) -> int:
        return self.index.position(node)[0]

    def named(self, op) -> str:
        """How a message names an op: ``sigmoid``, or ``sigmoid (nn.Sigmoid built at line 12)`` when the op
        is the call of a module built elsewhere."""
        if op.built is None:
            return op.fn
        maker = op.built.func if isinstance(op.built, cst.Call) else op.built
        return f"{op.fn} ({self.index.code_for(maker)} built at line {self.line(op.built)})"

    def finding(self, node: cst.CSTNode, message: str, fix: Fix | None = None, **extra: Any) -> Finding:
        line, col, end_line, end_col = self.index.position(node)
        return Finding(
            code=self.code,
            name=self.name,
            message=message,
            path=self.ctx.path,
            line=line,
            column=col,
            end_line=end_line,
            end_column=end_col,
            fix=fix,
            extra=extra,
        )

"""One walk over a parsed file that the checks share.

The walk records what every check needs — the calls with their resolved
names, each node's parent, the classes and functions — so that no check walks
the tree again.  Names come from :mod:`actlint.names` (imports only), never
from a full scope analysis.
"""

from __future__ import annotations

from functools import cached_property

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from actlint.names import Bindings


class _Walker(cst.CSTVisitor):
    def __init__(self, index: "FileIndex") -> None:
        super().__init__()
        self.index = index
        self.stack: list[cst.CSTNode] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        index = self.index
        if self.stack:
            index.parents[id(node)] = self.stack[-1]
        self.stack.append(node)
        if isinstance(node, cst.Call):
            index.calls.append(node)
        elif isinstance(node, cst.Import):
            index.bindings.add_import(node)
        elif isinstance(node, cst.ImportFrom):
            index.bindings.add_import_from(node)
        elif isinstance(node, cst.ClassDef):
            index.classes.append(node)
        elif isinstance(node, cst.FunctionDef):
            index.functions.append(node)
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        self.stack.pop()


class FileIndex:
    """The shared facts about one parsed module."""

    def __init__(self, module: cst.Module) -> None:
        self.module = module
        self.bindings = Bindings()
        self.calls: list[cst.Call] = []
        self.classes: list[cst.ClassDef] = []
        self.functions: list[cst.FunctionDef] = []
        self.parents: dict[int, cst.CSTNode] = {}
        module.visit(_Walker(self))
        self._bind_module_aliases()

    def _bind_module_aliases(self) -> None:
        for stmt in self.module.body:
            if not isinstance(stmt, cst.SimpleStatementLine):
                continue
            for small in stmt.body:
                if (
                    isinstance(small, cst.Assign)
                    and len(small.targets) == 1
                    and isinstance(small.targets[0].target, cst.Name)
                    and isinstance(small.value, (cst.Name, cst.Attribute))
                ):
                    self.bindings.add_alias(small.targets[0].target.value, small.value)

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        return self.parents.get(id(node))

    def ancestors(self, node: cst.CSTNode):
        parent = self.parent(node)
        while parent is not None:
            yield parent
            parent = self.parent(parent)

    def qualname(self, node: cst.BaseExpression) -> str | None:
        return self.bindings.resolve(node)

    def call_name(self, call: cst.Call) -> str | None:
        return self.bindings.resolve(call.func)

    @cached_property
    def _positions(self):
        # Positions cost a code-generation pass; only files with findings pay it.
        wrapper = MetadataWrapper(self.module, unsafe_skip_copy=True)
        return wrapper.resolve(PositionProvider)

    def position(self, node: cst.CSTNode):
        """(line, column, end_line, end_column), 1-based columns."""
        rng = self._positions[node]
        return rng.start.line, rng.start.column + 1, rng.end.line, rng.end.column + 1

    def code_for(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)

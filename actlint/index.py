"""One walk over a parsed file that the checks share.

The walk records what every check needs — the calls with their resolved
names, each node's parent, the classes and functions — so that no check walks
the tree again.  Names come from :mod:`actlint.names` (imports only), never
from a full scope analysis.
"""

from __future__ import annotations

from functools import cached_property

import dataclasses

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from actlint.names import Bindings


# Node types that hold only whitespace, punctuation or operators: never walked into.
_SKIP = (
    cst.BaseParenthesizableWhitespace, cst.Comma, cst.Dot, cst.LeftParen, cst.RightParen, cst.LeftSquareBracket,
    cst.RightSquareBracket, cst.LeftCurlyBrace, cst.RightCurlyBrace, cst.EmptyLine, cst.TrailingWhitespace,
    cst.Newline, cst.Semicolon, cst.Colon, cst.AssignEqual, cst.BaseBinaryOp, cst.BaseBooleanOp, cst.BaseCompOp,
    cst.BaseUnaryOp, cst.BaseAugOp, cst.ImportStar, cst.Integer,
    cst.Float, cst.Imaginary, cst.SimpleString,
)
_FIELDS: dict[type, tuple[str, ...] | None] = {}


def _child_fields(cls: type) -> tuple[str, ...] | None:
    """The fields of a node type that may hold nodes worth walking; None for skipped types and non-nodes."""
    try:
        return _FIELDS[cls]
    except KeyError:
        pass
    if not issubclass(cls, cst.CSTNode) or issubclass(cls, _SKIP):
        fields = None
    else:
        fields = tuple(f.name for f in dataclasses.fields(cls)
                       if not f.name.startswith(("whitespace", "lpar", "rpar", "leading_lines", "lines_after",
                                                 "comma", "semicolon", "equal", "operator", "header", "footer",
                                                 "star", "dot", "colon", "newline", "indent")))
    _FIELDS[cls] = fields
    return fields


def _walk(index: "FileIndex", root: cst.CSTNode) -> None:
    """Collect calls, imports, classes and functions without LibCST's visitor dispatch (several times faster)."""
    calls, classes, functions, methods = index.calls, index.classes, index.functions, index.methods
    stack: list = [root]
    push, fields = stack.append, _FIELDS
    class_body: set[int] = set()  # ids of IndentedBlocks that are a class's body
    while stack:
        node = stack.pop()
        cls = type(node)
        if cls is cst.Call:
            calls.append(node)
        elif cls is cst.Import:
            index.bindings.add_import(node)
            continue
        elif cls is cst.ImportFrom:
            index.bindings.add_import_from(node)
            continue
        elif cls is cst.ClassDef:
            classes.append(node)
            class_body.add(id(node.body))
        elif cls is cst.FunctionDef:
            functions.append(node)
        elif cls is cst.IndentedBlock and id(node) in class_body:
            methods.update(id(s) for s in node.body if type(s) is cst.FunctionDef)
        # _push_children, inlined with the field table read directly: this loop runs once per node
        for name in (fields[cls] if cls in fields else _child_fields(cls)) or ():
            value = getattr(node, name)
            kind = type(value)
            if kind is tuple or kind is list:
                for item in reversed(value):
                    kind = type(item)
                    if (fields[kind] if kind in fields else _child_fields(kind)) is not None:
                        push(item)
            elif (fields[kind] if kind in fields else _child_fields(kind)) is not None:
                push(value)


def _push_children(stack: list, node: cst.CSTNode, cls: type) -> None:
    """Push the children of ``node`` worth walking, last first (so they pop in source order)."""
    for name in _child_fields(cls) or ():
        value = getattr(node, name)
        if type(value) in (tuple, list):
            for item in reversed(value):
                if _child_fields(type(item)) is not None:
                    stack.append(item)
        elif _child_fields(type(value)) is not None:  # a node worth walking (None, str: not)
            stack.append(value)


def walk(root: cst.CSTNode):
    """Every node below ``root`` worth looking at (not whitespace or punctuation), in source order;
    LibCST's ``children`` runs a visitor per node and costs several times more."""
    stack: list = [root]
    while stack:
        node = stack.pop()
        yield node
        _push_children(stack, node, type(node))


class FileIndex:
    """The shared facts about one parsed module."""

    def __init__(self, module: cst.Module, places=None) -> None:
        self.module = module
        self.places = places  # a quick tree's places (:class:`actlint.skeleton.Places`); None: LibCST's own
        self.bindings = Bindings()
        self.calls: list[cst.Call] = []
        self.classes: list[cst.ClassDef] = []
        self.functions: list[cst.FunctionDef] = []
        self.methods: set[int] = set()  # ids of FunctionDefs directly in a class body
        _walk(self, module)
        self._bind_module_aliases()

    def _bind_module_aliases(self) -> None:
        """``act = nn.ReLU`` at module level: ``act`` names ``torch.nn.ReLU`` everywhere, unless the module
        binds the name more than once (a notebook's next cell rebinding it): then the flow follows which
        binding is in force where."""
        aliases, bound = [], {}
        for stmt in self.module.body:
            if not isinstance(stmt, cst.SimpleStatementLine):
                continue
            for small in stmt.body:
                if not isinstance(small, (cst.Assign, cst.AnnAssign, cst.AugAssign)):
                    continue
                targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else [small.target]
                for target in targets:
                    if isinstance(target, cst.Name):
                        bound[target.value] = bound.get(target.value, 0) + 1
                if (
                    isinstance(small, cst.Assign)
                    and len(small.targets) == 1
                    and isinstance(small.targets[0].target, cst.Name)
                    and isinstance(small.value, (cst.Name, cst.Attribute))
                ):
                    aliases.append((small.targets[0].target.value, small.value))
        for name, value in aliases:
            if bound[name] == 1:
                self.bindings.add_alias(name, value)

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
        found = self.find_position(node)
        if found is None:
            raise KeyError(f"{type(node).__name__} has no place in this file")
        return found

    def find_position(self, node: cst.CSTNode | None):
        """Like :meth:`position`, but None for a node that has no place in this file (None, or another tree's)."""
        if node is None:
            return None
        if self.places is not None:
            return self.places.find(node)
        rng = self._positions.get(node)
        if rng is None:
            return None
        return rng.start.line, rng.start.column + 1, rng.end.line, rng.end.column + 1

    def code_for(self, node: cst.CSTNode) -> str:
        if self.places is not None:
            return self.places.code(node)
        return self.module.code_for_node(node)


def quick_index(text: str) -> FileIndex | None:
    """The index of the text's quick tree (:mod:`actlint.skeleton`); None where the tree cannot be built
    (CPython's parser rejects the text, or it holds a construct the quick tree does not mirror)."""
    from actlint.skeleton import NOT_BUILT, skeleton

    try:
        module, places = skeleton(text)
    except NOT_BUILT:
        return None
    return FileIndex(module, places)


def call_ids(root: cst.CSTNode) -> set[int]:
    """The ids of the calls under ``root`` (the fast walk of :func:`_walk`)."""
    found: set[int] = set()
    stack: list = [root]
    while stack:
        node = stack.pop()
        cls = type(node)
        if cls is cst.Call:
            found.add(id(node))
        _push_children(stack, node, cls)
    return found

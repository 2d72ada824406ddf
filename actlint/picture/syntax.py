"""Small helpers over LibCST nodes shared by the evaluator and the framework semantics."""

from __future__ import annotations

import libcst as cst

from actlint.picture.values import Const, Value


def int_of(value: Value) -> int | None:
    if isinstance(value, Const) and isinstance(value.value, int) and not isinstance(value.value, bool):
        return value.value
    return None


def literal(node: cst.BaseExpression):
    """The Python value of a literal expression; ValueError when it is not one."""
    cls = type(node)
    if cls is cst.Integer:
        return int(node.value.replace("_", ""), 0)
    if cls is cst.Float:
        return float(node.value.replace("_", ""))
    if cls is cst.SimpleString and node.prefix in ("", "r", "u", "R", "U") and "\\" not in node.raw_value:
        return node.raw_value  # the common case, without LibCST's literal_eval (a compile per string)
    if cls in (cst.SimpleString, cst.ConcatenatedString):
        value = node.evaluated_value
        return value.decode("latin-1") if isinstance(value, bytes) else value
    if type(node) is cst.Name and node.value in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[node.value]
    if type(node) is cst.UnaryOperation and type(node.operator) is cst.Minus:
        inner = literal(node.expression)
        if isinstance(inner, (int, float)) and not isinstance(inner, bool):
            return -inner
    raise ValueError


def call_arg(node: cst.Call, position: int, keyword: str) -> cst.Arg | None:
    """The argument passed at ``position`` or as ``keyword`` (None after a ``*args``)."""
    index = 0
    for arg in node.args:
        if arg.keyword is not None:
            if arg.keyword.value == keyword:
                return arg
            continue
        if arg.star:
            return None
        if index == position:
            return arg
        index += 1
    return None


def head(expr) -> str:
    """``a`` in ``a.b.c``."""
    while type(expr) is cst.Attribute:
        expr = expr.value
    return expr.value if type(expr) is cst.Name else ""


def body(node) -> list:
    """The statements of a compound statement, class or function."""
    block = node.body
    if type(block) is cst.IndentedBlock:
        return list(block.body)
    if type(block) is cst.SimpleStatementSuite:
        return [cst.SimpleStatementLine(body=block.body)]
    return list(block) if isinstance(block, (list, tuple)) else []


def text(index, node) -> str:
    """The source of a node in a :class:`~actlint.index.FileIndex`'s file."""
    try:
        return index.code_for(node)
    except Exception:  # pragma: no cover - code generation of a detached node
        return "..."

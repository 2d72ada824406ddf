"""Small helpers for building fixes from CST nodes (shared by the rules that offer them)."""

from __future__ import annotations

import re

import libcst as cst


def call_input(call: cst.CSTNode) -> cst.BaseExpression | None:
    """The data a function-form (``torch.sigmoid(x)``) or method-form (``x.sigmoid()``) call acts on."""
    if not isinstance(call, cst.Call):
        return None
    if isinstance(call.func, cst.Attribute) and not call.args:
        return call.func.value  # x.sigmoid()
    if call.args and call.args[0].keyword is None and not call.args[0].star:
        return call.args[0].value
    return None


def is_method_form(call: cst.Call) -> bool:
    return isinstance(call.func, cst.Attribute) and call_input(call) is call.func.value


def local_name_for(index, qualname: str) -> str | None:
    """How this file spells a module: ``F`` for torch.nn.functional, or ``torch.nn.functional``."""
    best = None
    for local, bound in index.bindings.items():
        if bound == qualname:
            return local
        if qualname.startswith(bound + ".") and (best is None or len(bound) > len(best[1])):
            best = (local, bound)
    if best is not None:
        return best[0] + qualname[len(best[1]):]
    return None


def name_uses(text: str, name: str) -> int:
    return len(re.findall(rf"(?<![\w.]){re.escape(name)}\b", text)) + len(re.findall(rf"\.{re.escape(name)}\b", text))


def single_line(index, node: cst.CSTNode) -> bool:
    line, _, end_line, _ = index.position(node)
    return line == end_line


def assignment_of(module: cst.Module, value: cst.CSTNode) -> cst.Assign | None:
    """The ``name = value`` statement whose value is exactly this node (searched only when a fix needs it)."""
    found: list[cst.Assign] = []

    class _Find(cst.CSTVisitor):
        def visit_Assign(self, node: cst.Assign) -> bool:
            if node.value is value and len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name):
                found.append(node)
            return not found

    module.visit(_Find())
    return found[0] if found else None


def strip_epsilon(expr: cst.BaseExpression) -> cst.BaseExpression:
    """``p + 1e-9`` (or ``1e-9 + p``) → ``p``: the epsilon people add to dodge log(0)."""
    if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Add):
        if isinstance(expr.right, (cst.Float, cst.Integer)):
            return expr.left
        if isinstance(expr.left, (cst.Float, cst.Integer)):
            return expr.right
    return expr

"""ACT109 log-of-probabilities: log(softmax(x)) or log(sigmoid(x)) instead of the fused, stable form."""

from __future__ import annotations

import libcst as cst

from actlint.checks.base import Rule
from actlint.checks.rewrite import (assignment_of, call_input, is_method_form, local_name_for, name_uses,
                                    single_line, strip_epsilon)
from actlint.findings import Fix
from actlint.picture import picture_of


class LogOfProbabilities(Rule):
    code = "ACT109"
    name = "log-of-probabilities"
    summary = "log() of a softmax or sigmoid output instead of log_softmax / logsigmoid"
    fixes = "safe"
    tokens = ("log(", "log_(")

    @classmethod
    def could_fire(cls, text: str) -> bool:
        """A log, and a softmax or sigmoid for it to take (or the exp of one written by hand)."""
        return super().could_fire(text) and any(t in text for t in ("oftmax", "igmoid", "expit", "exp("))

    def check(self):
        reported: set = set()
        # a log in a module this file imports is that module's finding (linted there), not this file's
        placed = [(self.index.find_position(site.op.node), site) for site in picture_of(self.ctx).log_sites]
        sites = [site for where, site in sorted((p for p in placed if p[0] is not None), key=lambda p: p[0][:2])]
        for site in sites:
            log_op, source = site.op, site.source
            if id(log_op.node) in reported:
                continue
            guarded = _adds_epsilon(log_op.node) or any(op.kind == "clamp" for op in site.through)
            if guarded and site.no_grad:
                continue  # finite, and no gradient to lose: a matching cost or a metric
            reported.add(id(log_op.node))
            clamp = next((op for op in site.through if op.kind == "clamp"), None)
            if clamp is not None:
                # log(p) and log(1 - p) of one clamped probability: one clamp, one mistake (unclamped, the two
                # logs fail on opposite sides, and are two findings)
                if ("clamp", id(clamp.node), site.data) in reported:
                    continue
                reported.add(("clamp", id(clamp.node), site.data))
            written = "hand-written " if dict(source.extra).get("hand_written") else ""
            where = f"the {written}{source.fn} at line {self.line(source.node, f'the {source.fn} the log reads')}"
            if guarded:
                problem = (f"log of {where}, kept off zero by an epsilon or a clamp, flattens at log(eps) once the "
                           f"{source.fn} saturates, so the gradient vanishes where the fused form keeps it")
            else:
                problem = f"log of {where} underflows to -inf once a probability rounds to 0"
            exact = not written and not any(op.kind in ("clamp", "select") or dict(op.extra).get("complement")
                                            for op in site.through)
            yield self.finding(log_op.node, f"{problem}; {_fused(source, site.complement)}",
                               fix=self._fix(log_op, source) if exact else None)

    def _fix(self, log_op, source) -> Fix | None:
        """Only where the log takes the activation directly: ``log(softmax(x, d))`` → ``log_softmax(x, d)``."""
        log_call, act = log_op.node, source.node
        if not (isinstance(log_call, cst.Call) and isinstance(act, cst.Call)):
            return None
        if call_input(log_call) is not act:
            return self._fix_through_variable(log_call, act, source)
        if not single_line(self.index, log_call) or not isinstance(act.func, cst.Attribute):
            return None
        if source.fn == "softmax":
            renamed = act.with_changes(func=act.func.with_changes(attr=cst.Name("log_softmax")))
            return Fix("use log_softmax", (self.edit(log_call, renamed),))
        data = call_input(act)
        if data is None or (not is_method_form(act) and len(act.args) != 1):
            return None
        framework = "tensorflow.math.log_sigmoid" if source.framework == "keras" else "torch.nn.functional.logsigmoid"
        spelled = local_name_for(self.index, framework)
        if spelled is None:
            return None
        return Fix(f"use {spelled.rsplit('.', 1)[-1]}",
                   (self.edit(log_call, f"{spelled}({self.index.code_for(data)})"),))

    def _fix_through_variable(self, log_call: cst.Call, act: cst.Call, source) -> Fix | None:
        """``p = softmax(z, d)`` … ``log(p + eps)`` where p has no other use → ``log_p = log_softmax(z, d)`` … ``log_p``."""
        if source.fn != "softmax" or not isinstance(act.func, cst.Attribute):
            return None
        argument = call_input(log_call)
        name = strip_epsilon(argument) if argument is not None else None
        assign = assignment_of(self.index.module, act)
        if not isinstance(name, cst.Name) or assign is None or assign.targets[0].target.value != name.value:
            return None
        new_name = f"log_{name.value}"
        if name_uses(self.ctx.text, name.value) != 2 or name_uses(self.ctx.text, new_name):
            return None
        renamed = act.with_changes(func=act.func.with_changes(attr=cst.Name("log_softmax")))
        if not single_line(self.index, act):
            return None
        return Fix("compute log_softmax once and use it", (
            self.edit(assign.targets[0].target, new_name),
            self.edit(act, renamed),
            self.edit(log_call, new_name),
        ))


def _fused(source, complement: bool) -> str:
    """The fused form that computes the same quantity from the logits."""
    if source.fn == "sigmoid":
        if complement:
            return "use logsigmoid(-z) on the logits z (it is log(1 - sigmoid(z)), computed stably)"
        return "use logsigmoid (log(1 - sigmoid(x)) is logsigmoid(-x))"
    if complement:
        return ("compute it from the logits: log(1 - softmax(z)_i) is the logsumexp of the other classes' "
                "logits minus logsumexp(z); log_softmax gives log(p), not log(1 - p)")
    return "use log_softmax"


def _adds_epsilon(log_call: cst.CSTNode) -> bool:
    """``log(p + 1e-8)``, ``(p + self.eps).log()``: the guard people add against log(0)."""
    data = call_input(log_call) if isinstance(log_call, cst.Call) else None
    if isinstance(data, cst.BinaryOperation) and isinstance(data.operator, cst.Subtract) and \
            _tiny_literal(data.left):
        return True  # log(1e-10 + 1 - p)
    if not (isinstance(data, cst.BinaryOperation) and isinstance(data.operator, cst.Add)):
        return False
    if strip_epsilon(data) is not data:
        return True
    names = [side.attr.value if isinstance(side, cst.Attribute) else side.value
             for side in (data.left, data.right) if isinstance(side, (cst.Name, cst.Attribute))]
    return any("eps" in name.lower() for name in names)


def _tiny_literal(expr) -> bool:
    """Whether a sum of literals holds an epsilon (``1e-10 + 1``)."""
    if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Add):
        return _tiny_literal(expr.left) or _tiny_literal(expr.right)
    if isinstance(expr, cst.Float):
        try:
            return 0 < float(expr.value) < 1e-3
        except ValueError:
            return False
    return False

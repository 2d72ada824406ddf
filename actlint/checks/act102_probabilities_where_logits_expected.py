"""ACT102 probabilities-where-logits-expected: a normalised output fed to a loss that normalises itself."""

from __future__ import annotations

import libcst as cst

from actlint.checks.base import Rule
from actlint.checks.rewrite import call_input
from actlint.findings import Fix
from actlint.picture import picture_of


def _problem(spec, op) -> str | None:
    if spec.family == "categorical" and spec.expects == "logits" and op.fn in ("softmax", "sigmoid", "hardsigmoid"):
        return "applies log-softmax itself"
    if spec.family == "binary" and spec.expects == "logits" and op.fn in ("sigmoid", "hardsigmoid"):
        return "applies a sigmoid itself"
    if spec.family == "nll" and op.fn == "softmax":
        return "expects log-probabilities"
    return None


class ProbabilitiesWhereLogitsExpected(Rule):
    code = "ACT102"
    name = "probabilities-where-logits-expected"
    summary = "Softmax or sigmoid output fed to a loss that expects logits (or log-probabilities)"
    fixes = "unsafe"
    tokens = ("CrossEntropy", "cross_entropy", "NLLLoss", "nll_loss", "WithLogits", "with_logits", "from_logits")

    def check(self):
        reported: set[int] = set()
        for site in picture_of(self.ctx).loss_sites:
            ops = site.last_ops()
            if not ops or any(op is None for op in ops):
                continue
            problems = [(op, _problem(site.spec, op)) for op in ops]
            if not all(why for _, why in problems):
                continue  # some path feeds the loss correctly (a validation-only softmax, say)
            for op, why in problems:
                if id(op.node) in reported:
                    continue
                reported.add(id(op.node))
                if site.spec.family == "nll":
                    fix = "use log_softmax instead"
                elif site.spec.framework == "keras" and site.spec.expects == "logits" and "from_logits" in site.spec.label:
                    fix = "drop the activation, or set from_logits=False"
                else:
                    fix = "return the logits"
                yield self.finding(
                    op.node,
                    f"{self.named(op)} output is fed to {site.spec.label} at line {self.loss_line(site)}, which {why}; {fix}",
                    fix=self._fix(op, site),
                )

    def _fix(self, op, site) -> Fix | None:
        """Unsafe: remove the activation; anything else reading the output then gets logits too."""
        if site.spec.family == "nll":
            return None
        node = op.node
        if isinstance(node, cst.Call) and call_input(node) is not None and op.kind == "activation":
            if len(node.args) <= 2 or isinstance(node.func, cst.Attribute) and not node.args:
                return Fix(f"remove the {op.fn}", (self.edit(node, self.index.code_for(call_input(node))),),
                           safe=False)
        if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)) and op.framework == "keras":
            return Fix(f"remove the {op.fn} activation", (self.edit(node, "None"),), safe=False)
        return None

"""ACT103 sigmoid-then-bce: BCELoss on a sigmoid output instead of BCEWithLogitsLoss."""

from __future__ import annotations

import libcst as cst

from actlint.checks.base import Rule
from actlint.checks.rewrite import call_input, name_uses
from actlint.findings import Fix
from actlint.picture import picture_of


class SigmoidThenBce(Rule):
    code = "ACT103"
    name = "sigmoid-then-bce"
    summary = "BCELoss / F.binary_cross_entropy on a sigmoid output"
    fixes = "safe"
    tokens = ("BCELoss", "binary_cross_entropy")

    def check(self):
        reported: set[int] = set()
        for site in picture_of(self.ctx).loss_sites:
            spec = site.spec
            if not (spec.framework == "torch" and spec.family == "binary" and spec.expects == "probs"):
                continue
            ops = site.last_ops()
            if not ops or not all(op is not None and op.fn == "sigmoid" for op in ops):
                continue
            for op in ops:
                if id(op.node) not in reported:
                    reported.add(id(op.node))
                    yield self.finding(
                        op.node,
                        f"{self.named(op)} output is fed to {spec.label} at line {self.loss_line(site)}: this is numerically "
                        f"unsafe and refused under autocast; drop the sigmoid and use BCEWithLogitsLoss",
                        fix=self._fix(site, op),
                    )

    def _fix(self, site, op) -> Fix | None:
        """Drop an inline sigmoid and switch the loss to its logits form, when nothing else sees either."""
        loss, act = site.node, op.node
        if not (isinstance(loss, cst.Call) and isinstance(act, cst.Call) and loss.args):
            return None
        if loss.args[0].value is not act or call_input(act) is None:
            return None  # the sigmoid's output may be used elsewhere
        edits = [self.edit(act, self.index.code_for(call_input(act)))]
        maker = site.made_at
        target = maker.func if isinstance(maker, cst.Call) else None
        if not isinstance(target, cst.Attribute):
            return None
        new_name = {"BCELoss": "BCEWithLogitsLoss",
                    "binary_cross_entropy": "binary_cross_entropy_with_logits"}.get(target.attr.value)
        if new_name is None:
            return None
        if maker is not loss:
            # a criterion object: only when this call is its one use
            called = loss.func.attr.value if isinstance(loss.func, cst.Attribute) else getattr(loss.func, "value", None)
            if maker is not loss.func and (called is None or name_uses(self.ctx.text, called) != 2):
                return None
        edits.append(self.edit(target.attr, new_name))
        return Fix(f"drop the sigmoid and use {new_name}", tuple(edits))

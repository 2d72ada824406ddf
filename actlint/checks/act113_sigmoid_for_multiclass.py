"""ACT113 sigmoid-for-multiclass: independent sigmoids fed to a single-label multi-class loss."""

from __future__ import annotations

from actlint.checks.base import Rule
from actlint.picture import picture_of
from actlint.picture.sites import output_units
from actlint.picture.values import options


class SigmoidForMulticlass(Rule):
    code = "ACT113"
    name = "sigmoid-for-multiclass"
    summary = "Multi-unit sigmoid output with a single-label multi-class loss"
    tokens = ("categorical_crossentropy", "CategoricalCrossentropy")

    def check(self):
        reported: set[int] = set()
        for site in picture_of(self.ctx).loss_sites:
            spec = site.spec
            if not (spec.framework == "keras" and spec.family == "categorical" and spec.expects == "probs"):
                continue
            ops = site.last_ops()
            if not ops or not all(op is not None and op.fn == "sigmoid" for op in ops):
                continue
            if any(output_units(v) == 1 for v in options(site.pred)):
                continue  # one unit: ACT114's business
            for op in ops:
                if id(op.node) not in reported:
                    reported.add(id(op.node))
                    yield self.finding(
                        op.node,
                        f"{self.named(op)} outputs do not compete, but {spec.label} at line {self.loss_line(site)} treats "
                        f"them as one distribution over classes; use softmax (or logits with from_logits=True)",
                    )

"""ACT103 sigmoid-then-bce: BCELoss on a sigmoid output instead of BCEWithLogitsLoss."""

from __future__ import annotations

from actlint.checks.base import Rule
from actlint.picture import picture_of


class SigmoidThenBce(Rule):
    code = "ACT103"
    name = "sigmoid-then-bce"
    summary = "BCELoss / F.binary_cross_entropy on a sigmoid output"
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
                        f"sigmoid output is fed to {spec.label} at line {self.line(site.node)}: this is numerically "
                        f"unsafe and refused under autocast; drop the sigmoid and use BCEWithLogitsLoss",
                    )

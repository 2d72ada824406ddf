"""ACT111 single-unit-softmax: a softmax over a dimension of size 1 always outputs 1.0."""

from __future__ import annotations

from actlint.checks.base import Rule
from actlint.picture import picture_of


class SingleUnitSoftmax(Rule):
    code = "ACT111"
    name = "single-unit-softmax"
    summary = "Softmax over a layer with a single output unit: the output is always 1.0"
    tokens = ("oftmax",)

    def check(self):
        picture = picture_of(self.ctx)
        reported: set[int] = set()
        for layer, op in picture.pairs:
            if layer.units != 1 or op.fn != "softmax" or id(op.node) in reported:
                continue
            if op.framework == "torch" and op.dim not in (-1, 1):
                continue  # dim missing (unknown), or not the feature dimension
            reported.add(id(op.node))
            yield self.finding(
                op.node,
                f"softmax over the single unit of the layer at line {self.line(layer.node)} always outputs 1.0, "
                f"so nothing trains; use a sigmoid for one binary output (or more units for several classes)",
            )

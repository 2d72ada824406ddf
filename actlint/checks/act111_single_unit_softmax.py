"""ACT111 single-unit-softmax: a softmax over a dimension of size 1 always outputs 1.0."""

from __future__ import annotations

from actlint.checks.base import Rule
from actlint.picture import picture_of
from actlint.picture.values import Tensor, options


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
            if op.framework == "torch" and not self._over_units(layer, op, picture):
                continue
            reported.add(id(op.node))
            unit = self.line(layer.node, "the single-unit layer")
            yield self.finding(
                op.node,
                f"{self.named(op)} over the single unit of the layer at line {unit} always outputs 1.0, "
                f"so nothing trains; use a sigmoid for one binary output (or more units for several classes)",
            )

    @staticmethod
    def _over_units(layer, op, picture) -> bool:
        """Whether a torch softmax's dim is the layer's unit dimension.

        Convolutions put units on dim 1, linear layers on the last dim.  ``dim=1`` is
        the last dim only for 2-D data, so after a linear layer it counts only where the
        softmax ends a chain or reaches a loss (losses take classes on dim 1); on
        (batch, seq, 1) scores it is attention pooling over the sequence, which is right.
        """
        conv = layer.fn.startswith("conv")
        if op.dim == -1:
            return not conv
        if op.dim != 1:
            return False  # dim missing (unknown), or not the unit dimension
        if conv or id(op.node) in picture.chain_ends:
            return True
        return any(step is op for site in picture.loss_sites for value in options(site.pred)
                   if isinstance(value, Tensor) for step in value.trail)

"""ACT101 saturating-hidden-activation: sigmoid or tanh between two learned layers."""

from __future__ import annotations

from actlint.checks.base import Rule
from actlint.picture import hidden_activations, picture_of
from actlint.picture.catalog import SATURATING


class SaturatingHiddenActivation(Rule):
    code = "ACT101"
    name = "saturating-hidden-activation"
    summary = "Sigmoid or tanh as the nonlinearity between two learned layers"
    tokens = ("igmoid", "tanh", "Tanh", "expit")
    options = {"tanh_min_depth": 2}

    def check(self):
        min_tanh = int(self.opts["tanh_min_depth"])
        flagged: dict[int, tuple] = {}
        for trail in picture_of(self.ctx).trails:
            hidden = [op for op in hidden_activations(trail) if op.fn in SATURATING]
            tanh_depth = sum(op.fn == "tanh" for op in hidden)
            for op in hidden:
                if op.fn == "tanh" and tanh_depth < min_tanh:
                    continue
                if id(op.node) not in flagged or tanh_depth > flagged[id(op.node)][1]:
                    flagged[id(op.node)] = (op, tanh_depth)
        for op, tanh_depth in flagged.values():
            if op.fn == "tanh":
                why = (f"{self.named(op)} in {tanh_depth} stacked hidden layers saturates (derivative ≤ 1, near 0 past |x| > 2) "
                       f"and the gradient shrinks with depth")
            else:
                why = f"{self.named(op)} between learned layers shrinks the gradient at least 4× per layer (its slope is ≤ 0.25)"
            yield self.finding(op.node, f"{why}; use ReLU, GELU or SiLU with Kaiming init")

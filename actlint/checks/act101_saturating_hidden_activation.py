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
        picture = picture_of(self.ctx)
        smooth = self._differentiated(picture)
        flagged: dict[int, tuple] = {}
        for trail in picture.trails:
            hidden = [op for op in hidden_activations(trail) if op.fn in SATURATING and not smooth(op)
                      and not dict(op.extra).get("conditional")]
            # depth is counted: a pass the analysis only assumes a loop of unknown length makes is not a layer
            tanh_depth = sum(op.fn == "tanh" and not dict(op.extra).get("assumed") for op in hidden)
            for op in hidden:
                if op.fn == "tanh" and tanh_depth < min_tanh:
                    continue
                if id(op.node) not in flagged or tanh_depth > flagged[id(op.node)][1]:
                    flagged[id(op.node)] = (op, tanh_depth)
        for op, tanh_depth in flagged.values():
            if op.fn == "tanh":
                why = (f"{self.named(op)} in {tanh_depth} stacked hidden layers saturates (derivative ≤ 1, near 0 "
                       f"past |x| > 2) and the gradient shrinks with depth")
            else:
                why = (f"{self.named(op)} between learned layers shrinks the gradient at least 4× per layer "
                       f"(its slope is ≤ 0.25)")
            path = dict(op.extra).get("path")
            if path:
                why += f" (on the path this code takes: {', '.join(path)})"
            yield self.finding(op.node, f"{why}; use ReLU, GELU or SiLU with Kaiming init")

    def _differentiated(self, picture):
        """Whether an op belongs to a model whose output is differentiated with respect to its input.

        Such models (PINNs, neural SDFs, score matching) need smooth activations: ReLU's second
        derivative is zero.  A model is its class, or the ops of the differentiated output itself.
        """
        if not picture.differentiated:
            return lambda op: False
        nodes = {id(n) for out in picture.differentiated for op in out.trail for n in (op.node, op.built) if n is not None}
        classes = {id(c) for out in picture.differentiated for op in out.trail
                   for c in (self._class_of(op.node),) if c is not None}
        return lambda op: id(op.node) in nodes or id(self._class_of(op.node)) in classes

    def _class_of(self, node):
        """The innermost class whose body holds ``node``, or None."""
        position = self.index.find_position(node) if node is not None else None
        if position is None:
            return None  # in no class of this file
        line = position[0]
        spans = [(self.index.position(c), c) for c in self.index.classes]
        inside = [(end - start, c) for (start, _, end, _), c in spans if start <= line <= end]
        return min(inside, key=lambda item: item[0])[1] if inside else None

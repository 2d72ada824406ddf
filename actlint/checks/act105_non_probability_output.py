"""ACT105 non-probability-output: an unbounded output fed to a loss that expects probabilities."""

from __future__ import annotations

from actlint.checks.base import Rule
from actlint.picture import picture_of
from actlint.picture.catalog import LEARNED, UNBOUNDED_OUTPUT


class NonProbabilityOutput(Rule):
    code = "ACT105"
    name = "non-probability-output"
    summary = "ReLU, tanh or linear output fed to a loss that expects probabilities"
    tokens = ("BCELoss", "binary_cross_entropy", "crossentropy", "Crossentropy", "CrossEntropy", "cross_entropy")

    def check(self):
        reported: set[int] = set()
        for site in picture_of(self.ctx).loss_sites:
            spec = site.spec
            ops = site.last_ops()
            if not ops or any(op is None for op in ops):
                continue
            for op in ops:
                if id(op.node) in reported:
                    continue
                # names and lines cost the file's positions: asked for only when there is a message
                message = self._message(spec, op, lambda op=op: self.named(op), lambda: self.loss_line(site))
                if message is None:
                    continue
                reported.add(id(op.node))
                yield self.finding(op.node, message)

    @staticmethod
    def _message(spec, op, name, loss_line) -> str | None:
        """The message for ``op`` fed to a loss of ``spec`` (None: nothing wrong); ``name`` and ``loss_line``
        are called for the op's name and the loss's line."""
        if spec.expects == "probs" and spec.family in ("binary", "categorical"):
            want = "a sigmoid" if spec.family == "binary" else "a softmax"
            logits = ("feed the raw output to BCEWithLogitsLoss" if spec.framework == "torch"
                      else "return logits and set from_logits=True")
            if op.kind == LEARNED:
                return (f"this output layer has no activation, but {spec.label} at line {loss_line()} expects "
                        f"probabilities in [0, 1]; end with {want}, or {logits}")
            if op.fn in UNBOUNDED_OUTPUT:
                return (f"{name()} output is not a probability, but {spec.label} at line {loss_line()} expects values "
                        f"in [0, 1]; use {want} here, or {logits}")
        if spec.expects == "logits" and spec.family == "categorical" and op.fn in _WHAT_IT_DOES_TO_LOGITS:
            return (f"{name()} on the logits fed to {spec.label} at line {loss_line()} "
                    f"{_WHAT_IT_DOES_TO_LOGITS[op.fn]}; return the last layer's output without an activation")
        return None


# What each activation of the ReLU family does to the scores a softmax then reads.
_WHAT_IT_DOES_TO_LOGITS = {
    "relu": "clips every negative score to 0, so classes the model rules out all tie and get no gradient",
    "relu6": "clips every score into [0, 6], so ruled-out classes tie at 0 and confident ones at 6",
    "leaky_relu": "shrinks every negative score by its slope (0.01 by default), so the scores of the classes "
                  "the model rules out are squeezed together near 0",
    "prelu": "scales every negative score by a learned slope, so the scores of ruled-out classes are bent "
             "unlike the others'",
    "rrelu": "shrinks every negative score by a random slope, so the scores of ruled-out classes are squeezed "
             "together near 0",
    "elu": "squashes every negative score into (-1, 0], so classes the model rules out nearly tie",
    "celu": "squashes every negative score into (-alpha, 0], so classes the model rules out nearly tie",
    "selu": "squashes every negative score into (-1.76, 0], so classes the model rules out nearly tie",
    "softplus": "squashes every negative score towards 0, so classes the model rules out nearly tie",
    "mish": "bounds every score below at about -0.31, so classes the model rules out nearly tie",
    "hardswish": "sets every score below -3 to 0, so classes the model rules out tie there",
}

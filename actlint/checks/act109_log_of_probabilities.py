"""ACT109 log-of-probabilities: log(softmax(x)) or log(sigmoid(x)) instead of the fused, stable form."""

from __future__ import annotations

from actlint.checks.base import Rule
from actlint.picture import picture_of


class LogOfProbabilities(Rule):
    code = "ACT109"
    name = "log-of-probabilities"
    summary = "log() of a softmax or sigmoid output instead of log_softmax / logsigmoid"
    tokens = ("log",)

    def check(self):
        reported: set[int] = set()
        for log_op, source in picture_of(self.ctx).log_sites:
            if id(log_op.node) in reported:
                continue
            reported.add(id(log_op.node))
            fused = "log_softmax" if source.fn == "softmax" else "logsigmoid (log(1 - sigmoid(x)) is logsigmoid(-x))"
            yield self.finding(
                log_op.node,
                f"log of the {source.fn} at line {self.line(source.node)} underflows to -inf once a probability "
                f"rounds to 0; use {fused}",
            )

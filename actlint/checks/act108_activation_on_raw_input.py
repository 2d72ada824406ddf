"""ACT108 activation-on-raw-input: the trained model applies an activation before its first learned layer."""

from __future__ import annotations

from actlint.checks.base import Rule
from actlint.picture import picture_of
from actlint.picture.catalog import ACTIVATION, LEARNED, NEUTRAL_KINDS
from actlint.picture.values import Tensor, options


class ActivationOnRawInput(Rule):
    code = "ACT108"
    name = "activation-on-raw-input"
    summary = "The trained model applies an activation to its raw input, before any learned layer"
    tokens = (".parameters()", ".fit(", ".compile(")

    def check(self):
        reported: set[int] = set()
        for output in picture_of(self.ctx).input_trails:
            for trail in (o.trail for o in options(output) if isinstance(o, Tensor) and o.origin == "input"):
                ops = [op for op in trail if op.kind not in NEUTRAL_KINDS]
                if len(ops) < 2 or ops[0].kind != ACTIVATION or ops[0].fn in ("softmax", "log_softmax"):
                    continue
                first_learned = next((op for op in ops if op.kind == LEARNED), None)
                if first_learned is None or id(ops[0].node) in reported:
                    continue
                reported.add(id(ops[0].node))
                learned = self.line(first_learned.node, "the first learned layer")
                yield self.finding(
                    ops[0].node,
                    f"{self.named(ops[0])} is applied to the model's raw input, before its first learned layer (line "
                    f"{learned}); it distorts the features (a ReLU drops every negative "
                    f"value); scale the input instead and apply activations after learned layers",
                )

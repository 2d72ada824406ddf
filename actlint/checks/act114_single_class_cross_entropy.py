"""ACT114 single-class-cross-entropy: a categorical cross-entropy over an output of size 1."""

from __future__ import annotations

from actlint.checks.base import Rule
from actlint.picture import picture_of
from actlint.picture.sites import last_learned
from actlint.picture.values import options


class SingleClassCrossEntropy(Rule):
    code = "ACT114"
    name = "single-class-cross-entropy"
    summary = "Categorical cross-entropy over a single output unit: the loss is always 0"
    tokens = ("CrossEntropy", "cross_entropy", "categorical_crossentropy", "CategoricalCrossentropy", "NLLLoss", "nll_loss")

    def check(self):
        reported: set[int] = set()
        for site in picture_of(self.ctx).loss_sites:
            if site.spec.family not in ("categorical", "nll"):
                continue
            layers = [last_learned(v) for v in options(site.pred)]
            if not layers or any(layer is None or layer.units != 1 for layer in layers):
                continue
            for layer in layers:
                if id(layer.node) in reported:
                    continue
                reported.add(id(layer.node))
                binary = "BCEWithLogitsLoss" if site.spec.framework == "torch" else "'binary_crossentropy'"
                loss = self.loss_line(site, "the loss over this 1-unit output")
                yield self.finding(
                    layer.node,
                    f"this output layer has 1 unit, and {site.spec.label} at line {loss} over a "
                    f"single class is 0 whatever the weights, so nothing trains; use {binary} for a binary target, "
                    f"or one unit per class",
                )

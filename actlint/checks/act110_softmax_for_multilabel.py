"""ACT110 softmax-for-multilabel: softmax output fed to a per-label binary loss."""

from __future__ import annotations

from actlint.checks.base import Rule
from actlint.picture import picture_of
from actlint.picture.sites import output_units
from actlint.picture.values import options


class SoftmaxForMultilabel(Rule):
    code = "ACT110"
    name = "softmax-for-multilabel"
    summary = "Softmax output fed to a per-label binary loss (BCELoss, BCEWithLogitsLoss, binary_crossentropy)"
    tokens = ("BCE", "binary_cross", "inary_crossentropy", "BinaryCrossentropy")

    def check(self):
        reported: set[int] = set()
        for site in picture_of(self.ctx).loss_sites:
            if site.spec.family != "binary":
                continue
            ops = site.last_ops()
            if not ops or not all(op is not None and op.fn == "softmax" for op in ops):
                continue
            if any(output_units(v) == 1 for v in options(site.pred)):
                continue  # a softmax over one unit: ACT111's business
            for op in ops:
                if id(op.node) not in reported:
                    reported.add(id(op.node))
                    yield self.finding(
                        op.node,
                        f"{self.named(op)} makes the labels compete (they sum to 1), but {site.spec.label} at line "
                        f"{self.loss_line(site)} scores each label on its own; use a sigmoid per label "
                        f"(or logits with {'BCEWithLogitsLoss' if site.spec.framework == 'torch' else 'from_logits=True'})",
                    )

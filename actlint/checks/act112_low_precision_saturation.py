"""ACT112 low-precision-saturation: float16 where a saturating softmax/sigmoid underflows."""

from __future__ import annotations

from actlint.checks.base import Rule
from actlint.picture import picture_of
from actlint.picture.catalog import SATURATING
from actlint.picture.sites import last_op
from actlint.picture.values import options


def _float32(op) -> bool:
    dtype = dict(op.extra).get("dtype")
    return isinstance(dtype, str) and dtype.endswith("float32")


class LowPrecisionSaturation(Rule):
    code = "ACT112"
    name = "low-precision-saturation"
    summary = "float16 with a saturating output or loss: mixed_float16 softmax, BCELoss under autocast, .half() sigmoids"
    tokens = ("mixed_float16", "autocast", ".half(")

    def check(self):
        picture = picture_of(self.ctx)
        reported: set[int] = set()

        def once(node) -> bool:
            if id(node) in reported:
                return False
            reported.add(id(node))
            return True

        if picture.mixed_precision is not None:
            policy_line = self.line(picture.mixed_precision, "the mixed_float16 policy")
            outputs = [v for site in picture.loss_sites if site.spec.framework == "keras" for v in options(site.pred)]
            outputs += [v for out in picture.input_trails for v in options(out)]
            for value in outputs:
                op = last_op(value)
                if op is None or op.framework != "keras" or op.fn not in ("softmax", "sigmoid") or _float32(op) \
                        or dict(op.extra).get("policy") != "mixed_float16":  # built before the policy was set
                    continue
                if once(op.node):
                    yield self.finding(
                        op.node,
                        f"under the mixed_float16 policy (line {policy_line}) this {self.named(op)} output is computed in "
                        f"float16, where it saturates to exactly 0 or 1 and the loss turns inf/NaN; give the output "
                        f"layer dtype='float32' (e.g. Activation('{op.fn}', dtype='float32'))",
                    )
        for site in picture.loss_sites:
            spec = site.spec
            if not (site.autocast and spec.framework == "torch" and spec.family == "binary" and spec.expects == "probs"):
                continue
            ops = [last_op(v) for v in options(site.pred)]
            target = ops[0].node if ops and ops[0] is not None and ops[0].fn == "sigmoid" else site.node
            if once(target):
                loss = self.loss_line(site, "the loss, run under torch.autocast")
                yield self.finding(
                    target,
                    f"{spec.label} at line {loss} runs under torch.autocast, which refuses it "
                    f"(float16 probabilities round to 0 and 1); return logits and use BCEWithLogitsLoss",
                )
        for node, hidden in picture.half_hidden:
            saturating = [op for op in hidden if op.fn in SATURATING]
            if saturating and once(node):
                lines = ", ".join(str(self.line(op.node, f"a hidden {op.fn} cast to float16")) for op in saturating[:4])
                yield self.finding(
                    node,
                    f".half() casts a model with hidden {saturating[0].fn} layers (line {lines}) to float16, where "
                    f"saturated units round to exactly 0 or 1 and their gradients vanish; use torch.autocast with "
                    f"float32 weights, or ReLU-family activations",
                )

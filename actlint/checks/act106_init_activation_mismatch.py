"""ACT106 init-activation-mismatch: Xavier init under ReLU, Kaiming init under tanh/sigmoid."""

from __future__ import annotations

from actlint.checks.base import Rule
from actlint.picture import picture_of
from actlint.picture.catalog import LEARNED, SATURATING
from actlint.picture.values import Op

# Xavier is the reference init for GELU/SiLU transformer MLPs; only plain ReLUs are flagged.
_RELU = frozenset({"relu", "relu6", "leaky_relu", "prelu", "rrelu"})


class InitActivationMismatch(Rule):
    code = "ACT106"
    name = "init-activation-mismatch"
    summary = "Xavier/Glorot init on a layer feeding ReLU, or Kaiming/He init on a layer feeding tanh/sigmoid"
    tokens = ("xavier", "kaiming", "glorot", "he_normal", "he_uniform", "HeNormal", "HeUniform", "Glorot")
    _XAVIER = ("xavier", "glorot", "Glorot")
    _HE = ("kaiming", "he_normal", "he_uniform", "HeNormal", "HeUniform")

    @classmethod
    def could_fire(cls, text: str) -> bool:
        """Xavier needs a ReLU in the file, He a tanh or sigmoid."""
        xavier = any(t in text for t in cls._XAVIER) and ("relu" in text or "ReLU" in text)
        return xavier or (any(t in text for t in cls._HE) and any(t in text for t in ("tanh", "Tanh", "igmoid")))

    def check(self):
        picture = picture_of(self.ctx)
        reported: set[int] = set()
        for site in picture.init_sites:
            if site.explicit or id(site.node) in reported:
                continue
            wrong = _RELU if site.scheme == "xavier" else SATURATING
            follower = self._mismatch(picture, site.layers, wrong)
            if follower is None:
                continue
            reported.add(id(site.node))
            if site.scheme == "xavier":
                advice = ("use kaiming_uniform_(w, nonlinearity='relu')" if follower.framework == "torch"
                          else "use kernel_initializer='he_normal'")
                why = "Xavier/Glorot assumes a symmetric activation, so activations shrink layer by layer under ReLU"
            else:
                advice = ("use xavier_uniform_(w, gain=nn.init.calculate_gain('tanh')) or pass nonlinearity="
                          f"'{follower.fn}'" if follower.framework == "torch"
                          else "use kernel_initializer='glorot_uniform'")
                why = f"Kaiming/He scales for ReLU and pushes {follower.fn} into saturation"
            fed = self.line(follower.node, f"the {follower.fn} the initialised layer feeds")
            yield self.finding(
                site.node,
                f"{site.label} initialises a layer that feeds {follower.fn} (line {fed}): "
                f"{why}; {advice}",
            )

    @staticmethod
    def _mismatch(picture, layers, wrong) -> Op | None:
        for layer in layers:
            for part in layer.parts:
                if not isinstance(part, Op) or part.kind != LEARNED:
                    continue
                for follower in picture.followers.get(id(part.node), ()):
                    if follower.fn in wrong:
                        return follower
        return None

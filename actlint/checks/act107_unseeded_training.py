"""ACT107 unseeded-training: a script trains with no framework seed set."""

from __future__ import annotations

from actlint.checks.base import Rule
from actlint.picture import picture_of
from actlint.picture.catalog import FRAMEWORK_SEEDS, OTHER_SEEDS


class UnseededTraining(Rule):
    code = "ACT107"
    name = "unseeded-training"
    summary = "A script trains a model with no seed set for its framework"
    tokens = (".backward(", ".fit(", "train_on_batch")

    def check(self):
        # training in this file (a local module's code run from here is that module's)
        calls = [c for c in picture_of(self.ctx).training_calls
                 if c.reachable and self.index.find_position(c.node) is not None]
        if not calls:
            return
        other = []
        for call in self.index.calls:
            qual = self.index.call_name(call)
            if qual is None:
                continue
            if qual in FRAMEWORK_SEEDS or self._seed_helper(qual):
                return
            if qual in OTHER_SEEDS:
                other.append((qual, call))
        first = min(calls, key=lambda c: self.index.position(c.node)[:2])
        keras = ".fit" in first.label or "train_on_batch" in first.label
        seed = "keras.utils.set_random_seed(0)" if keras else "torch.manual_seed(0)"
        if other:
            qual, call = other[0]
            seeded = self.line(call, f"the only seeding call ({qual})")
            message = (f"training starts here, but only {qual} is seeded (line {seeded}), which does not "
                       f"seed {'the framework' if keras else 'torch'}; call {seed} before building the model")
        else:
            message = (f"training starts here with no seed set on any path to it, so runs are not reproducible; "
                       f"call {seed} before building the model")
        yield self.finding(first.node, message)

    @staticmethod
    def _seed_helper(qual: str) -> bool:
        """A project helper (``utils.set_seed``) imported from another file: assumed to seed."""
        last = qual.rsplit(".", 1)[-1].lower()
        framework = qual.split(".")[0] in ("torch", "tensorflow", "keras", "numpy", "random", "jax")
        return "seed" in last and not framework

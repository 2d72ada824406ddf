"""ACT107 unseeded-training: a script trains with no framework seed set."""

from __future__ import annotations

import re

import libcst as cst

from actlint.checks.base import Rule
from actlint.index import walk
from actlint.picture import picture_of
from actlint.picture.catalog import FRAMEWORK_SEEDS, OTHER_SEEDS, RANDOM_CALLS, RANDOM_METHODS, RANDOM_PREFIXES

# The seeding call each framework's training needs: (the module it is spelled from, the rest of the call).
_SEEDS = {
    "torch": ("torch", "manual_seed(0)"),
    "lightning": ("lightning", "seed_everything(0)"),
    "keras": ("keras", "utils.set_random_seed(0)"),
    "tensorflow": ("tensorflow", "random.set_seed(0)"),
    "tf1": ("tensorflow", "compat.v1.set_random_seed(0)"),
    "jax": ("jax", "random.key(0)"),
}
_DEFAULT_SPELLING = {"torch": "torch", "lightning": "L", "keras": "keras", "tensorflow": "tf", "tf1": "tf",
                     "jax": "jax"}
_STANDALONE_KERAS = re.compile(r"^\s*(import keras\b|from keras\b)", re.MULTILINE)
# In-place tensor updates: with a ``.grad`` in their arguments, a parameter update written by hand.
_GRAD_UPDATES = frozenset({"sub_", "add_", "copy_", "addcmul_", "addcdiv_", "mul_"})


class UnseededTraining(Rule):
    code = "ACT107"
    name = "unseeded-training"
    summary = "A script trains a model with no seed set for its framework"
    tokens = (".backward(", ".fit(", ".fit_generator(", "train_on_batch", "apply_gradients", "minimize(",
              "apply_updates", "KerasClassifier", "KerasRegressor", "SKLearnClassifier", "SKLearnRegressor")

    def check(self):
        # training in this file (a local module's code run from here is that module's)
        calls = [c for c in picture_of(self.ctx).training_calls
                 if c.reachable and self.index.find_position(c.node) is not None]
        if not calls or not self._updates_parameters(calls) or self._nothing_random():
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
        first = self._start(calls)
        framework = next((c.framework for c in calls if c.update), first.framework)
        seed = self._seed_call(framework)
        if framework == "jax":
            message = (f"training starts here and nothing on any path to it makes a random key, so runs are not "
                       f"reproducible; initialise the parameters and shuffle from {seed}")
        elif other:
            qual, call = other[0]
            seeded = self.line(call, f"the only seeding call ({qual})")
            message = (f"training starts here, but only {qual} is seeded (line {seeded}), which does not "
                       f"seed {_framework_name(framework)}; call {seed} before building the model")
        else:
            message = (f"training starts here with no seed set on any path to it, so runs are not reproducible; "
                       f"call {seed} before building the model")
        yield self.finding(first.node, message)

    def _start(self, calls):
        """Where training starts: the first update, or the last ``backward()`` before it (an autograd
        demonstration earlier in a tutorial is not where the training is)."""
        place = lambda c: self.index.position(c.node)[:2]  # noqa: E731
        ordered = sorted(calls, key=place)
        update = next((c for c in ordered if c.update), None)
        if update is None:
            return ordered[0]
        before = [c for c in ordered if not c.update and place(c) < place(update)]
        return before[-1] if before else update

    def _seed_call(self, framework: str) -> str:
        """The seeding call of the framework the file trains with, spelled as the file imports it."""
        if framework in ("keras", "tensorflow"):
            # Keras 3 on its own seeds every backend; tf.keras is seeded through TensorFlow
            framework = "keras" if _STANDALONE_KERAS.search(self.ctx.text) else "tensorflow"
        module, rest = _SEEDS[framework]
        if framework == "tf1":
            names = dict((qual, local) for local, qual in self.index.bindings.items())
            if "tensorflow.compat.v1" in names:  # ``import tensorflow.compat.v1 as tf``
                return f"{names['tensorflow.compat.v1']}.set_random_seed(0)"
            if "compat.v1" not in self.ctx.text:
                rest = "set_random_seed(0)"
        roots = ("lightning", "pytorch_lightning", "lightning.pytorch") if framework == "lightning" else (module,)
        for local, qual in self.index.bindings.items():
            if qual in roots:
                return f"{local}.{rest}"
        return f"{_DEFAULT_SPELLING[framework]}.{rest}"

    def _updates_parameters(self, calls) -> bool:
        """Whether the training changes parameters: more than gradients computed by ``backward()`` (an autograd
        demonstration, a one-backward smoke test): an optimizer step, or parameters updated by hand."""
        if any(c.update for c in calls):
            return True
        for call in self.index.calls:
            func = call.func
            if isinstance(func, cst.Attribute) and func.attr.value in ("step", "optimizer_step"):
                return True  # an optimizer the flow did not follow (made by a helper, a scaler's step)
            if isinstance(func, cst.Attribute) and func.attr.value in _GRAD_UPDATES and _reads_grad(call):
                return True  # ``w.data.sub_(lr * w.grad)``
        return any(_reads_grad(node.value) for node in _assignments(self.index.module))

    def _nothing_random(self) -> bool:
        """Whether the file computes nothing random to seed: no layer with random initial weights, no random
        tensor, dropout or shuffling, nothing from another module that could hold them."""
        if self.index.bindings.stars:
            return False
        local = {fn.name.value for fn in self.index.functions} | {c.name.value for c in self.index.classes}
        for call in self.index.calls:
            func = call.func
            if isinstance(func, cst.Attribute) and func.attr.value in RANDOM_METHODS:
                return False  # ``w.normal_()``, ``x.uniform_(-1, 1)``
            qual = self.index.call_name(call)
            if qual is None:
                if isinstance(func, cst.Name) and func.value not in local and func.value not in _BUILTINS:
                    return False  # a name bound at run time or by a construct not followed here
                continue
            if qual in RANDOM_CALLS or qual.startswith(RANDOM_PREFIXES):
                return False
            if not qual.startswith(_DETERMINISTIC_ROOTS) and qual.split(".")[0] not in _BUILTINS:
                return False  # another library's model, data loader or initialiser
        return not self.index.classes or not any(
            self.index.bindings.resolve(base.value) for cls in self.index.classes for base in cls.bases)

    @staticmethod
    def _seed_helper(qual: str) -> bool:
        """A project helper (``utils.set_seed``) imported from another file: assumed to seed."""
        last = qual.rsplit(".", 1)[-1].lower()
        framework = qual.split(".")[0] in ("torch", "tensorflow", "keras", "numpy", "random", "jax")
        return "seed" in last and not framework


_BUILTINS = frozenset({"print", "len", "range", "enumerate", "zip", "list", "tuple", "dict", "set", "float", "int",
                       "str", "abs", "min", "max", "sum", "round", "isinstance", "format", "sorted", "repr",
                       "type", "super", "map", "filter", "any", "all", "iter", "next", "open", "math"})
# Modules whose calls are deterministic unless listed as random in the catalog.
_DETERMINISTIC_ROOTS = ("torch.", "numpy.", "math.", "tensorflow.", "jax.numpy.", "jax.grad", "jax.jit",
                        "jax.value_and_grad", "jax.vmap")


def _framework_name(framework: str) -> str:
    return {"torch": "torch", "lightning": "torch", "jax": "JAX"}.get(framework, "the framework")


def _reads_grad(node) -> bool:
    """Whether an expression reads a ``.grad`` (a parameter update written by hand)."""
    return any(type(current) is cst.Attribute and current.attr.value == "grad" for current in walk(node))


def _assignments(module: cst.Module):
    """Every assignment and augmented assignment in the module (``w -= lr * w.grad``)."""
    return (current for current in walk(module) if type(current) in (cst.AugAssign, cst.Assign))

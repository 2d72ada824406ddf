"""The model picture of one file: what the rules read."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import libcst as cst

from actlint.picture.catalog import (ACTIVATION, AFFINE, CLAMP, DROPOUT, LEARNED, NEUTRAL_KINDS, RESHAPE, SELECT,
                                     SHAPE_KEEPING, LossSpec)
from actlint.picture.values import Op, Tensor, Value, options

# Ops that do not change what a loss receives (a view, dropout, adding an epsilon).
_TRANSPARENT_TO_LOSS = frozenset({RESHAPE, DROPOUT, AFFINE})
# ... nor which probability a log takes (a clamp against log(0), a ``where`` choosing p or 1 - p).
TRANSPARENT_TO_LOG = _TRANSPARENT_TO_LOSS | {CLAMP, SELECT}


@dataclass
class LossSite:
    spec: LossSpec
    node: cst.CSTNode       # the loss call (or ``compile``)
    made_at: cst.CSTNode    # where the loss was created (criterion constructor, ``loss=`` argument)
    pred: Value             # what reaches the loss as predictions
    autocast: bool = False  # called inside ``torch.autocast``

    def last_ops(self) -> list[Op | None]:
        """For each possible prediction value, the op that produced it (None: not known)."""
        return [last_op(v) for v in options(self.pred)]


@dataclass
class LogSite:
    op: Op                  # the log
    source: Op              # the softmax / sigmoid it takes the log of
    no_grad: bool = False   # computed where no gradient is recorded (a matcher cost, an eval metric)
    through: tuple = ()     # the ops between them (an epsilon added, a clamp, ``1 - p``, a ``where``)
    data: tuple = ()        # which data the probability is of (the ops up to the source, by identity)

    @property
    def complement(self) -> bool:
        """``log(1 - p)``: the log of the probability of the other outcome."""
        return any(dict(op.extra).get("complement") for op in self.through)


@dataclass
class InitSite:
    scheme: str             # xavier | kaiming
    label: str              # the initialiser as written
    node: cst.CSTNode       # the init call, or the ``kernel_initializer=`` argument
    layers: tuple           # Layer values it initialises
    explicit: bool          # a gain / nonlinearity chosen on purpose


@dataclass
class TrainingCall:
    node: cst.CSTNode
    label: str
    reachable: bool         # runs when the file runs as a script
    framework: str = "torch"  # whose seed it needs: torch | keras | tensorflow | tf1 | lightning | jax
    update: bool = True     # changes parameters (a bare ``backward()`` only computes gradients)


@dataclass
class Picture:
    # Every trail at the moment a learned op was appended to it.
    trails: list[tuple[Op, ...]] = field(default_factory=list)
    # For each learned op (by its node), the ops that directly followed it in some trail.
    followers: dict[int, list[Op]] = field(default_factory=lambda: defaultdict(list))
    loss_sites: list[LossSite] = field(default_factory=list)
    init_sites: list[InitSite] = field(default_factory=list)
    training_calls: list[TrainingCall] = field(default_factory=list)
    # (learned op, a later op that still sees its units: only activations and shape-keeping ops between):
    # per construction, so sizes from arguments stay paired.
    pairs: list[tuple[Op, Op]] = field(default_factory=list)
    # Nodes of the ops that end an nn.Sequential / keras Sequential (what such a chain outputs).
    chain_ends: set[int] = field(default_factory=set)
    log_sites: list[LogSite] = field(default_factory=list)
    # Models handed to an optimiser, compiled or fitted.
    trained: list[Value] = field(default_factory=list)
    # Each trained model's output for fresh input data (trails starting at the raw input).
    input_trails: list[Value] = field(default_factory=list)
    # (the ``.half()`` call, the model it casts)
    half_casts: list[tuple[cst.CSTNode, Value]] = field(default_factory=list)
    # (the ``.half()`` call, the hidden activations of the model it casts)
    half_hidden: list[tuple[cst.CSTNode, list[Op]]] = field(default_factory=list)
    # Model outputs differentiated with respect to the input (``autograd.grad(u, x, create_graph=True)``).
    differentiated: list[Tensor] = field(default_factory=list)
    # The ``set_global_policy("mixed_float16")`` call, if any.
    mixed_precision: cst.CSTNode | None = None
    # (how findings name it, its FileIndex) for each local module the flow read: where foreign nodes are.
    modules: list = field(default_factory=list)
    # The flow that made it (actlint.picture.flow.Flow), until released.
    flow: Any = field(default=None, repr=False, compare=False)

    def release(self) -> None:
        """Once the rules are done with it: break the reference cycles of the flow that made it, so its
        values and the file's tree are freed at once (see ``Flow.release``).  The picture is not read after."""
        if self.flow is not None:
            self.flow.release()


def last_op(value: Value, skip: frozenset = _TRANSPARENT_TO_LOSS) -> Op | None:
    return producer(value.trail, skip) if isinstance(value, Tensor) else None


def producer(trail: tuple[Op, ...], skip: frozenset = _TRANSPARENT_TO_LOSS) -> Op | None:
    """The last op of a trail that changes the data's meaning."""
    for op in reversed(trail):
        if op.kind not in skip:
            return op
    return None


def keeps_units(op: Op) -> bool:
    """Whether the unit count of the layer before ``op`` still describes the data after it."""
    if op.kind == RESHAPE:
        return op.fn in SHAPE_KEEPING
    if op.kind == AFFINE and dict(op.extra).get("broadcast"):
        return False  # ``logits + self.bias`` with a bias of another size broadcasts
    return op.kind in NEUTRAL_KINDS or op.kind == ACTIVATION


def output_units(value: Value) -> int | None:
    """The unit count of the last learned layer that produced a value (activations looked through)."""
    layer = last_learned(value)
    return None if layer is None else layer.units


def last_learned(value: Value) -> Op | None:
    """The learned layer whose units the value still has (a view or squeeze in between: unknown)."""
    if not isinstance(value, Tensor):
        return None
    for op in reversed(value.trail):
        if op.kind == LEARNED:
            return op
        if not keeps_units(op):
            return None
    return None


def previous_op(trail: tuple[Op, ...], index: int) -> Op | None:
    """The op before ``trail[index]``, skipping ops that keep the data's meaning."""
    for op in reversed(trail[:index]):
        if op.kind not in NEUTRAL_KINDS:
            return op
    return None


def hidden_activations(trail: tuple[Op, ...]) -> list[Op]:
    """Activations with a learned layer before and after them (only neutral ops between).

    Only the last segment counts: a merge (residual add, gate), a recurrence or a
    call not understood starts a new one.
    """
    found = []
    next_learned = False
    for index in range(len(trail) - 1, -1, -1):
        op = trail[index]
        if op.kind in NEUTRAL_KINDS:
            continue
        if op.kind == LEARNED:
            next_learned = True
            continue
        if op.kind != ACTIVATION:
            break
        if next_learned:
            before = previous_op(trail, index)
            if before is not None and before.kind == LEARNED:
                found.append(op)
        next_learned = False
    return list(reversed(found))

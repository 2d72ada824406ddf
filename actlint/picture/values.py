"""The abstract values the flow analysis computes: tensors carry the trail of layers that made them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import libcst as cst

from actlint.picture.catalog import LossSpec


@dataclass(frozen=True, eq=False)
class Op:
    """One layer or function applied to the data, at a place in the source."""

    kind: str                 # see catalog: learned, activation, norm, ...
    fn: str                   # linear, conv2d, dense, sigmoid, softmax, ...
    node: cst.CSTNode         # where a finding about this op points
    framework: str = "torch"
    units: int | None = None  # output units of a learned layer, when known
    dim: Any = None           # softmax dim/axis when known (int, or "missing")
    qual: str | None = None   # the constructor's qualified name (nn.Linear, keras.layers.Dense)
    extra: tuple = ()
    built: cst.CSTNode | None = None  # the module's construction, when ``node`` is a call of a module built elsewhere

    def __repr__(self) -> str:
        return f"Op({self.kind}:{self.fn})"


class Value:
    """Anything an expression may evaluate to."""


class Unknown(Value):
    def __repr__(self) -> str:
        return "?"


UNKNOWN = Unknown()


@dataclass(eq=False)
class Tensor(Value):
    """Data, with the trail of ops that produced it (oldest first)."""

    trail: tuple[Op, ...] = ()
    origin: str = "input"  # input: a model's input; opaque: came from something not understood


@dataclass(eq=False)
class Const(Value):
    value: Any


@dataclass(eq=False)
class Layer(Value):
    """A callable layer or chain: applying it to a tensor applies its parts in order.

    A part is an :class:`Op`, or another callable value (a user block, a nested chain).
    """

    parts: list = field(default_factory=list)
    node: cst.CSTNode | None = None
    framework: str = "torch"
    container: str | None = None  # sequential | keras-sequential | None


@dataclass(eq=False)
class LayerList(Value):
    """A Python list / ModuleList of layers (mutable, like the real thing)."""

    items: list = field(default_factory=list)


@dataclass(eq=False)
class Mapping(Value):
    """A dict or ``nn.ModuleDict`` with literal keys (mutable, like the real thing)."""

    entries: dict = field(default_factory=dict)


@dataclass(eq=False)
class Criterion(Value):
    spec: LossSpec
    node: cst.CSTNode


@dataclass(eq=False)
class Optimizer(Value):
    node: cst.CSTNode
    framework: str = "torch"  # torch | keras (TF2 eager: ``minimize`` trains) | tf1 (``minimize`` makes a train op)


@dataclass(eq=False)
class TrainOp(Value):
    """TF1's ``optimizer.minimize(loss)``: running it in a session (``sess.run(train_op)``) trains."""

    node: cst.CSTNode


@dataclass(eq=False)
class KerasModel(Value):
    """A Keras functional model: the output tensor is known."""

    output: Value
    node: cst.CSTNode


@dataclass(eq=False)
class ClassRef(Value):
    info: Any  # ClassInfo


@dataclass(eq=False)
class Instance(Value):
    """An instance of a class defined in the file (an nn.Module or keras.Model subclass, usually)."""

    info: Any
    attrs: dict = field(default_factory=dict)


@dataclass(eq=False)
class Function(Value):
    node: cst.FunctionDef
    bound: Value | None = None  # the instance for a bound method
    owner: Any = None           # ClassInfo for methods
    scope: Any = None           # the scope it was defined in (closures)


@dataclass(eq=False)
class ModuleRef(Value):
    """A local module of the project (``import model``, ``from . import network``): its attributes are its globals."""

    unit: Any  # flow.Unit


@dataclass(eq=False)
class FrameworkName(Value):
    """A framework object held in a variable (``non_linear = nn.Tanh``): calling it calls ``qual``."""

    qual: str


@dataclass(eq=False)
class Handle(Value):
    """An object of a framework class known by name (accelerate's ``Accelerator``): ``h.m(...)`` calls ``qual.m``."""

    qual: str


@dataclass(eq=False)
class EachModule(Value):
    """``m`` in ``model.apply(fn)`` / ``for m in model.modules()``: every layer of a model, maybe filtered."""

    root: Value
    only: frozenset | None = None  # qualified class names from isinstance filters


@dataclass(eq=False)
class Weight(Value):
    """``layer.weight``: the parameter an init call touches."""

    layers: tuple  # Layer values


@dataclass(eq=False)
class Parameter(Value):
    """A learned tensor made by hand (``nn.Parameter``, ``tf.Variable``): ``x @ w + b`` with it is a layer."""

    node: cst.CSTNode
    framework: str = "torch"


@dataclass(eq=False)
class Union(Value):
    """One of several values, e.g. the returns of a function with several paths."""

    options: tuple


def options(value: Value) -> tuple:
    return value.options if type(value) is Union else (value,)


def union(values) -> Value:
    """The values as one: itself when there is one, else a Union of the distinct ones (by identity, at most 6)."""
    if len(values) == 1 and type(values[0]) is not Union:
        return values[0]  # the common case: one path
    flat: list = []
    for v in values:
        for o in (v.options if type(v) is Union else (v,)):
            # a scan by identity: the lists are short (a Union holds at most 6), so it beats a set of ids
            for seen in flat:
                if seen is o:
                    break
            else:
                flat.append(o)
    if not flat:
        return UNKNOWN
    if len(flat) == 1:
        return flat[0]
    return Union(tuple(flat[:6]))

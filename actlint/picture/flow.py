"""Follow the data through a file: an abstract interpreter over the model code.

Module code, class bodies and functions are executed over abstract values
(:mod:`actlint.picture.values`).  A tensor carries the trail of layers that
produced it, so ``x = torch.sigmoid(self.fc1(x)); x = self.fc2(x)`` leaves the
trail ``Linear → sigmoid → Linear``.  Calls to functions and methods defined in
the file are followed with their arguments (bounded depth and budget), so a
model built in one function and fed to a loss in another is one flow.

Branches are merged into :class:`Union` values; loops over known layer lists
run once per element, other loops twice (so a layer applied in a loop shows up
as a stack).  What is not understood becomes an opaque value: it can hide a
finding, never invent one.

This module knows how Python values flow; what a framework name means (a layer,
a loss, a wrapper, ``compile``) is asked of the framework semantics
(:mod:`~actlint.picture.torch_semantics`, :mod:`~actlint.picture.keras_semantics`)
by qualified-name prefix, with the evaluator passed in to evaluate arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import libcst as cst

from actlint.index import FileIndex, call_ids, walk
from actlint.picture import catalog as C
from actlint.picture import keras_semantics, torch_semantics
from actlint.picture.sites import (TRANSPARENT_TO_LOG, LogSite, LossSite, Picture, TrainingCall, hidden_activations,
                                   last_learned, producer)
from actlint.picture.syntax import body, call_arg, head, int_of, literal, text
from actlint.picture.values import (UNKNOWN, ClassRef, Const, Criterion, EachModule, FrameworkName, Function,
                                    Handle, Instance,
                                    KerasModel, Layer, LayerList, Mapping, ModuleRef, Op, Parameter, Tensor, Union,
                                    Value, Weight, options, union)
from actlint.project import is_library

# What framework names mean, one module per framework, asked in this order.
SEMANTICS = (torch_semantics, keras_semantics)
_FRAMEWORK_PREFIXES = tuple(p for sem in SEMANTICS for p in sem.PREFIXES)

MAX_DEPTH = 5          # nested calls followed
MAX_TRAIL = 64         # ops kept per tensor
MAX_ITEMS = 64         # list elements iterated one by one
MAX_RANGE = 8          # passes of a loop over a known ``range``
STEP_BUDGET = 12_000   # statements executed per file before calls stop being followed
MAX_IMPORTS = 3        # local modules loaded inside one another (a imports b imports c)
MAX_MODULE_VALUES = 64  # top-level assignments of an imported module evaluated


@dataclass
class ClassInfo:
    node: cst.ClassDef
    name: str
    base_exprs: list
    methods: dict = field(default_factory=dict)
    framework: str | None = None  # torch | keras | None
    default: Instance | None = None
    unit: "Unit | None" = None    # the module that defines it


class Unit:
    """One module as the flow sees it: what its imports bind and its globals (the linted file, or a local module
    it imports, evaluated as if written there but resolving names through its own imports)."""

    def __init__(self, index: FileIndex, path=None, shown: str = "") -> None:
        self.index = index
        self.resolve = index.bindings.resolve
        self.scope = Scope()
        self.scope.unit = self
        self.path = path     # absolute path on disk (None for text without a file)
        self.shown = shown   # how findings name the file


class Scope:
    unit: "Unit | None" = None  # set on a module's global scope

    def __init__(self, parent: "Scope | None" = None) -> None:
        self.vars: dict[str, Value] = {}
        self.parent = parent

    def get(self, name: str) -> Value | None:
        scope = self
        while scope is not None:
            if name in scope.vars:
                return scope.vars[name]
            scope = scope.parent
        return None


class _Frame:
    def __init__(self, node, reachable: bool) -> None:
        self.node = node
        self.returns: list[Value] = []
        self.reachable = reachable
        self.decided: tuple = ()  # conditions known here that chose a path (``self.batch_norm`` is False)


class Flow:
    def __init__(self, index: FileIndex, project=None, path: str = "") -> None:
        self.main = Unit(index, project.path if project is not None else None, path)
        self.project = project  # actlint.project.Project: where local imports are found (None: not looked for)
        self.units: dict = {self.main.path: self.main} if project is not None else {}
        self.loading = 0
        self.watch = False    # note whether an unknown callee may come from a local module (``missed``)
        self.missed = False
        self._enter(self.main)
        self.picture = Picture()
        self.picture.flow = self  # released with it (Picture.release)
        self.classes: dict[int, ClassInfo] = {}
        self.frames: list[_Frame] = []
        self.steps = 0
        self.sequentials: list[Layer] = []
        self.autocast = 0  # depth of ``with torch.autocast(...)`` blocks being executed
        self.no_grad = 0  # depth of no-grad code being executed (``with torch.no_grad()``, ``@torch.no_grad()``)
        self.mixed_policy = False  # a Keras mixed_float16 policy is in force (layers built now compute in float16)
        self.conditional = 0  # depth of branches being executed whose condition is not known
        self._owners = None   # (classes known, method node id -> ClassInfo)
        self._command_table = None  # application name -> functions registered as its commands
        self.subcommands: list = []  # functions an argparse parser dispatches to (``set_defaults(func=train)``)
        self.assumed = 0  # depth of loop passes run on the assumption that a loop of unknown length repeats
        self.effects = 0  # data through a layer, or a list or dict grown: a loop whose pass had none needs no second
        self.instances: dict[tuple, Instance] = {}
        self.memo: dict[tuple, Value] = {}  # calls whose arguments carry no trail: same call, same result
        self._memo_held: list = []  # what the memo's keys name by id(), kept alive so no id is reused
        self._literals: dict[int, tuple] = {}  # id(node) -> (node, its literal value): see _literal
        self._closures: list[Scope] = []  # function scopes that define a function (freed by release)
        self.uses_torch = index.bindings.imports_any("torch")
        self.fit_frameworks = index.bindings.imports_any("keras", "tensorflow", "lightning", "pytorch_lightning")
        self.gradient_frameworks = index.bindings.imports_any("keras", "tensorflow", "flax", "optax", "jax")
        self._add_classes(self.main)

    def release(self) -> None:
        """Break the flow's reference cycles (a class's default instance and its class, a module's scope and
        its unit, the functions a scope holds and that scope) once nothing reads its picture any more, so the
        file's trees and values are freed as soon as the file is done instead of by a pass of the cyclic
        garbage collector over all of them (the flow is not usable afterwards)."""
        for info in self.classes.values():
            info.default = None
            info.unit = None
            info.methods = {}
        for unit in [self.main, *self.units.values()]:
            unit.scope.vars.clear()
            unit.scope.unit = None
        for scope in self._closures:
            scope.vars.clear()
        self._closures = []
        self.units = {}
        self.classes = {}
        self.instances.clear()
        self.memo.clear()
        self._memo_held.clear()
        self._literals.clear()
        self.sequentials.clear()
        self.subcommands.clear()
        self._owners = None
        if self.picture.flow is self:
            self.picture.flow = None

    def _add_classes(self, unit: Unit) -> None:
        for node in unit.index.classes:
            self.classes[id(node)] = ClassInfo(node, node.name.value, [b.value for b in node.bases],
                                               {s.name.value: s for s in body(node)
                                                if type(s) is cst.FunctionDef}, unit=unit)

    def _enter(self, unit: Unit) -> Unit:
        """Evaluate in ``unit``'s names from now on; returns the unit left."""
        left = getattr(self, "unit", None)
        self.unit, self.index, self.resolve, self.module_scope = unit, unit.index, unit.resolve, unit.scope
        return left

    def _define(self, unit: Unit) -> None:
        """Top-level definitions exist before any code runs (forward references are common)."""
        for stmt in unit.index.module.body:
            if type(stmt) is cst.FunctionDef:
                unit.scope.vars[stmt.name.value] = Function(stmt, scope=unit.scope)
            elif type(stmt) is cst.ClassDef:
                unit.scope.vars[stmt.name.value] = ClassRef(self.classes[id(stmt)])

    # ------------------------------------------------------------ local modules
    def _maybe_local(self, func, scope: Scope) -> bool:
        """Whether an unknown callee may come from a local module (a relative or non-library import, or a
        star import): what a flow with the project would have followed."""
        name = head(func)
        if not name or scope.get(name) is not None:
            return False
        qual = self.resolve(func)
        if qual is None:
            return bool(self.index.bindings.stars)
        return not is_library(qual)  # relative names (".model.Net") are never a library's

    def global_name(self, node: cst.Name) -> Value | None:
        """A name the current module's code did not bind itself: from a local module it imports, if it is one."""
        if self.project is None:
            return None
        qual = self.resolve(node)
        if qual is not None:
            return self.import_value(qual)
        if not node.value.startswith("_"):
            for module in self.unit.index.bindings.stars:
                unit = self.import_value(module)
                if isinstance(unit, ModuleRef) and node.value in unit.unit.scope.vars:
                    return unit.unit.scope.vars[node.value]
        return None

    def import_value(self, qual: str) -> Value | None:
        """The value a qualified name has when it names a local module or something defined in one."""
        found = self.project.locate(qual, self.unit.path)
        if found is None:
            return None
        path, rest = found
        unit = self.load(path)
        if unit is None:
            return None
        value: Value = ModuleRef(unit)
        for part in rest.split(".") if rest else ():
            value = self.attribute(value, part)
        return value

    def load(self, path) -> Unit | None:
        """A local module's unit, its module code run once per flow; on a cycle, its globals so far (as Python)."""
        unit = self.units.get(path)
        if unit is not None:
            return unit
        if self.loading >= MAX_IMPORTS:
            return None
        summary = self.project.summary(path)
        if summary is None:
            return None
        unit = Unit(summary.index, path, self.project.shown(path, self.main.shown))
        self.units[path] = unit
        self.picture.modules.append((unit.shown, summary.index))
        self._add_classes(unit)
        self._define(unit)
        left = self._enter(unit)
        self.loading += 1
        self.frames.append(_Frame(summary.index.module, reachable=False))
        try:
            self.exec_block(_module_values(summary.index.module), unit.scope)
        finally:
            self.frames.pop()
            self.loading -= 1
            self._enter(left)
        return unit

    def module_attribute(self, ref: ModuleRef, name: str) -> Value:
        value = ref.unit.scope.vars.get(name)
        if value is not None:
            return value
        if ref.unit.path is not None and ref.unit.path.name == "__init__.py" and self.project is not None:
            found = self.project.locate("." + name, ref.unit.path)  # a submodule of the package
            if found is not None and not found[1]:
                unit = self.load(found[0])
                if unit is not None:
                    return ModuleRef(unit)
        return UNKNOWN

    # ------------------------------------------------------------------ driver
    def run(self) -> Picture:
        module = self.index.module
        self._define(self.main)
        self.frames.append(_Frame(module, reachable=True))
        self.exec_block(module.body, self.module_scope)
        self.frames.pop()
        # Every function and method on its own, with unknown arguments: library code too.
        for info in [i for i in self.classes.values() if i.unit is self.main]:
            instance = self.default_instance(info)
            for name, method in info.methods.items():
                if name == "__init__":
                    continue
                self.invoke(Function(method, bound=instance, owner=info, scope=self.module_scope), [], {},
                            standalone=True)
        for fn in self.index.functions:
            if not self._is_method(fn):
                self.invoke(Function(fn, scope=self.module_scope), [], {}, standalone=True)
        for seq in self.sequentials:
            self.apply(seq, Tensor())
            last = seq
            while isinstance(last, Layer) and last.parts:
                last = last.parts[-1]
            if isinstance(last, Op):
                self.picture.chain_ends.add(id(last.node))
        # The hidden activations of each model cast to float16.
        for node, model in self.picture.half_casts:
            start = len(self.picture.trails)
            self.apply(model, Tensor(origin="input"))
            hidden = [op for trail in self.picture.trails[start:] for op in hidden_activations(trail)]
            self.picture.half_hidden.append((node, hidden))
        # What each trained model does to fresh input (ACT108 reads the start of these trails).
        seen: set[int] = set()
        for model in self.picture.trained:
            if id(model) not in seen:
                seen.add(id(model))
                self.picture.input_trails.append(self.apply(model, Tensor(origin="input")))
        return self.picture

    def _disables_grad(self, expr: cst.BaseExpression) -> bool:
        """``torch.no_grad()`` / ``torch.inference_mode()``, called or bare (as a decorator)."""
        target = expr.func if type(expr) is cst.Call else expr
        return torch_semantics.disables_grad(self.resolve(target) or "")

    def _is_method(self, fn: cst.FunctionDef) -> bool:
        return id(fn) in self.index.methods

    # -------------------------------------------------------------- classes
    def framework_of(self, info: ClassInfo, seen=None) -> str | None:
        if info.framework is not None:
            return info.framework or None
        seen = seen or set()
        seen.add(id(info))
        result = ""
        for base in info.base_exprs:
            qual = info.unit.resolve(base)
            result = next((sem.FRAMEWORK for sem in SEMANTICS if qual and sem.is_model_base(qual)), "")
            if not result:
                other = self.class_named(base, info.unit)
                if other is not None and id(other) not in seen:
                    result = self.framework_of(other, seen) or ""
            if result:
                break
        info.framework = result
        return result or None

    def class_named(self, expr, unit: Unit) -> ClassInfo | None:
        """The class a base-class expression names, in the module that wrote it (imported ones too)."""
        if type(expr) is cst.Name and self.project is None:
            value = unit.scope.get(expr.value)
            return value.info if isinstance(value, ClassRef) else None
        if type(expr) in (cst.Name, cst.Attribute):
            left = self._enter(unit)
            try:
                value = self.ev(expr, unit.scope)
            finally:
                self._enter(left)
            if isinstance(value, ClassRef):
                return value.info
        return None

    def find_method(self, info: ClassInfo, name: str, seen=None) -> tuple[cst.FunctionDef, ClassInfo] | None:
        if name in info.methods:
            return info.methods[name], info
        seen = seen or set()
        seen.add(id(info))
        for base in info.base_exprs:
            other = self.class_named(base, info.unit)
            if other is not None and id(other) not in seen:
                found = self.find_method(other, name, seen)
                if found:
                    return found
        return None

    def is_sequential_subclass(self, info: ClassInfo) -> bool:
        return any(info.unit.resolve(b) in torch_semantics.SEQUENTIAL_BASES for b in info.base_exprs)

    def default_instance(self, info: ClassInfo) -> Instance:
        if info.default is None:
            info.default = Instance(info)
            self.construct(info.default, [], {}, standalone=True)
        return info.default

    def construct(self, instance: Instance, args, kwargs, standalone=False) -> None:
        found = self.find_method(instance.info, "__init__")
        if found is not None:
            method, owner = found
            self.invoke(Function(method, bound=instance, owner=owner, scope=owner.unit.scope), args, kwargs,
                        standalone=standalone)

    def instantiate(self, info: ClassInfo, args, kwargs) -> Instance:
        """``Net(784, 10)``: instances built from the same literal arguments are one abstract instance."""
        signature = _signature(args, kwargs)
        if signature is not None:
            if not any(isinstance(v, Const) for v in list(args) + list(kwargs.values())):
                return self.default_instance(info)  # nothing known that the default build does not assume
            cached = self.instances.get((id(info), signature))
            if cached is not None:
                return cached
        instance = Instance(info)
        if signature is not None:
            self.instances[(id(info), signature)] = instance
        self.construct(instance, args, kwargs)
        if signature is not None and self.framework_of(info) is not None:
            # Run the model once as built here: its layer sizes may come from these arguments.
            self.call_instance(instance, [Tensor(origin="input")], {})
        return instance

    def call_instance(self, instance: Instance, args, kwargs) -> Value:
        if "__seq__" in instance.attrs and not self.find_method(instance.info, "forward"):
            return self.apply(instance.attrs["__seq__"], args[0] if args else Tensor())
        for name in ("forward", "call", "__call__"):
            found = self.find_method(instance.info, name)
            if found is not None:
                method, owner = found
                return self.invoke(Function(method, bound=instance, owner=owner, scope=owner.unit.scope),
                                   args, kwargs)
        return Tensor(origin="opaque")

    # ------------------------------------------------------------ functions
    def invoke(self, fn: Function, args: list, kwargs: dict, standalone: bool = False) -> Value:
        node = fn.node
        if any(f.node is node for f in self.frames) or len(self.frames) > MAX_DEPTH:
            return UNKNOWN
        if not standalone and self.steps > STEP_BUDGET:
            return UNKNOWN
        memo_key = _memo_key(fn, args, kwargs, standalone)
        if memo_key is not None and memo_key in self.memo:
            return self.memo[memo_key]
        result = self._invoke(fn, args, kwargs, standalone)
        if memo_key is not None:
            self.memo[memo_key] = result
            self._memo_held.append((fn.bound, args, kwargs))
        return result

    def _invoke(self, fn: Function, args: list, kwargs: dict, standalone: bool) -> Value:
        unit = _unit_of(fn.scope)
        if unit is None or unit is self.unit:
            return self._run_function(fn, args, kwargs, standalone)
        left = self._enter(unit)  # a function of an imported module: its own imports and globals
        try:
            return self._run_function(fn, args, kwargs, standalone)
        finally:
            self._enter(left)

    def _run_function(self, fn: Function, args: list, kwargs: dict, standalone: bool) -> Value:
        node = fn.node
        scope = Scope(fn.scope or self.module_scope)
        params = node.params
        positional = list(params.posonly_params) + list(params.params)
        is_static = any(self.resolve(d.decorator) in ("staticmethod",) or
                        (type(d.decorator) is cst.Name and d.decorator.value == "staticmethod")
                        for d in node.decorators)
        given = list(args)
        if fn.bound is not None and positional and not is_static:
            scope.vars[positional[0].name.value] = fn.bound
            positional = positional[1:]
        first_data = True
        for param in positional + list(params.kwonly_params):
            name = param.name.value
            if given and param in positional:
                scope.vars[name] = given.pop(0)
            elif name in kwargs:
                scope.vars[name] = kwargs[name]
            elif param.default is not None:
                scope.vars[name] = self.ev(param.default, self.module_scope)
            elif standalone:
                # An argument nobody passed: data (a model's input when it is forward's first).
                is_input = first_data and node.name.value in ("forward", "call")
                scope.vars[name] = Tensor(origin="input" if is_input else "opaque")
            else:
                scope.vars[name] = UNKNOWN
            first_data = False
        for star in (params.star_arg, params.star_kwarg):
            if type(star) is cst.Param:
                scope.vars[star.name.value] = UNKNOWN
        reachable = bool(self.frames) and self.frames[-1].reachable and not standalone
        frame = _Frame(node, reachable)
        self.frames.append(frame)
        no_grad = any(self._disables_grad(d.decorator) for d in node.decorators)
        self.no_grad += no_grad
        try:
            self.exec_block(_stmts(node), scope)
        finally:
            self.frames.pop()
            self.no_grad -= no_grad
        return union(frame.returns) if frame.returns else Const(None)

    # ------------------------------------------------------------ statements
    def exec_block(self, stmts, scope: Scope) -> None:
        for stmt in stmts:
            self.steps += 1
            self.exec_stmt(stmt, scope)

    def exec_stmt(self, stmt, scope: Scope) -> None:
        if type(stmt) is cst.SimpleStatementLine:
            for small in stmt.body:
                self.exec_small(small, scope)
        elif type(stmt) is cst.If:
            self.exec_if(stmt, scope)
        elif type(stmt) is cst.For:
            self.exec_for(stmt, scope)
        elif type(stmt) is cst.While:
            self.ev(stmt.test, scope)
            self.exec_block(_stmts(stmt), scope)
            self.exec_block(_stmts(stmt), scope)
        elif type(stmt) is cst.With:
            autocast = no_grad = False
            for item in stmt.items:
                call = item.item
                if type(call) is cst.Call and torch_semantics.is_autocast(self.resolve(call.func) or ""):
                    autocast = True
                no_grad = no_grad or self._disables_grad(call)
                value = self.ev(item.item, scope)
                if item.asname is not None:
                    self.assign(item.asname.name, value, scope)
            self.autocast += autocast
            self.no_grad += no_grad
            try:
                self.exec_block(_stmts(stmt), scope)
            finally:
                self.autocast -= autocast
                self.no_grad -= no_grad
        elif type(stmt) is cst.Try:
            self.exec_block(_stmts(stmt), scope)
            for handler in stmt.handlers:
                self.exec_block(_stmts(handler), scope)
            if stmt.orelse is not None:
                self.exec_block(_stmts(stmt.orelse), scope)
            if stmt.finalbody is not None:
                self.exec_block(_stmts(stmt.finalbody), scope)
        elif type(stmt) is cst.FunctionDef:
            scope.vars[stmt.name.value] = Function(stmt, scope=scope)
            if scope.parent is not None:
                self._closures.append(scope)  # a cycle (the scope holds a function that holds it): see release
        elif type(stmt) is cst.ClassDef:
            scope.vars[stmt.name.value] = ClassRef(self.classes[id(stmt)])

    def framework_name(self, expr, value: Value) -> Value:
        """``value``, or the framework name ``expr`` spells (``torch.sigmoid``) where evaluating it gave nothing."""
        if value is UNKNOWN and type(expr) in (cst.Name, cst.Attribute):
            qual = self.resolve(expr)
            if qual is not None and qual.startswith(_FRAMEWORK_PREFIXES):
                return FrameworkName(qual)
        return value

    def exec_small(self, small, scope: Scope) -> None:
        if type(small) is cst.Assign:
            value = self.framework_name(small.value, self.ev(small.value, scope))
            for target in small.targets:
                self.assign(target.target, value, scope)
        elif type(small) is cst.AnnAssign:
            if small.value is not None:
                self.assign(small.target, self.ev(small.value, scope), scope)
        elif type(small) is cst.AugAssign:
            current = self.ev(small.target, scope)
            value = self.ev(small.value, scope)
            if isinstance(current, LayerList) and isinstance(value, LayerList):
                current.items.extend(value.items)
                return
            self.assign(small.target, self.binary(current, value, small.operator, small), scope)
        elif type(small) is cst.Expr:
            self.ev(small.value, scope)
        elif type(small) is cst.Return:
            value = self.ev(small.value, scope) if small.value is not None else Const(None)
            if self.frames:
                self.frames[-1].returns.append(value)

    def assign(self, target, value: Value, scope: Scope) -> None:
        if type(target) is cst.Name:
            scope.vars[target.value] = value
        elif type(target) is cst.Attribute:
            owner = self.ev(target.value, scope)
            if isinstance(owner, Instance):
                owner.attrs[target.attr.value] = value
        elif type(target) is cst.Subscript:
            owner = self.ev(target.value, scope)
            key = self._key(target, scope)
            if isinstance(owner, Mapping) and key is not None:
                owner.entries[key.value] = value
            elif isinstance(owner, LayerList) and key is not None and int_of(key) is not None \
                    and -len(owner.items) <= key.value < len(owner.items):
                owner.items[key.value] = value
        elif type(target) in (cst.Tuple, cst.List):
            elements = [e.value for e in target.elements]
            if isinstance(value, LayerList) and len(value.items) == len(elements):
                for element, item in zip(elements, value.items):
                    self.assign(element, item, scope)
            else:
                # Unpacking a tensor (chunk, unbind): every part keeps the trail.
                part = value if isinstance(value, Tensor) else UNKNOWN
                for element in elements:
                    if type(element) is cst.StarredElement:
                        element = element.value
                    self.assign(element, part, scope)

    def exec_if(self, stmt: cst.If, scope: Scope) -> None:
        test = self.ev(stmt.test, scope)
        if isinstance(test, Const):
            # a known condition (a default argument, a flag in the file): the path the code takes
            if self.frames and _configures(stmt.test, self.frames[-1].node):
                said = f"{self.index.code_for(stmt.test)} is {_truth(test.value)}"
                if said not in self.frames[-1].decided and len(self.frames[-1].decided) < 3:
                    self.frames[-1].decided += (said,)
            if _truth(test.value):
                self.exec_block(_stmts(stmt), scope)
            elif type(stmt.orelse) is cst.If:
                self.exec_if(stmt.orelse, scope)
            elif stmt.orelse is not None:
                self.exec_block(_stmts(stmt.orelse), scope)
            return
        self.conditional += 1
        try:
            self._exec_branches(stmt, scope)
        finally:
            self.conditional -= 1

    def _exec_branches(self, stmt: cst.If, scope: Scope) -> None:
        """Both branches of an ``if`` whose condition is not known; names they bind become unions."""
        before = dict(scope.vars)
        narrowed = self._isinstance_filter(stmt.test, scope)
        if narrowed is not None:
            scope.vars[narrowed[0]] = narrowed[1]
        self.exec_block(_stmts(stmt), scope)
        if narrowed is not None and scope.vars.get(narrowed[0]) is narrowed[1]:
            scope.vars[narrowed[0]] = before[narrowed[0]]
        after_body = scope.vars
        scope.vars = before  # not read again: the else branch starts from it as it is
        if stmt.orelse is not None:
            if type(stmt.orelse) is cst.If:
                self.exec_if(stmt.orelse, scope)
            else:
                self.exec_block(_stmts(stmt.orelse), scope)
        after_else = scope.vars
        merged = {}
        body_get, else_get = after_body.get, after_else.get
        for key in after_body.keys() | after_else.keys():
            a, b = body_get(key), else_get(key)
            merged[key] = a if b is None or a is b else b if a is None else union([a, b])
        scope.vars = merged

    def _isinstance_filter(self, test, scope: Scope):
        if not (type(test) is cst.Call and type(test.func) is cst.Name and test.func.value == "isinstance"
                and len(test.args) == 2 and type(test.args[0].value) is cst.Name):
            return None
        subject = scope.get(test.args[0].value.value)
        if not isinstance(subject, EachModule):
            return None
        kinds = test.args[1].value
        exprs = [e.value for e in kinds.elements] if type(kinds) is cst.Tuple else [kinds]
        quals = frozenset(q for q in (self.resolve(e) for e in exprs) if q)
        return test.args[0].value.value, EachModule(subject.root, quals)

    def exec_for(self, stmt: cst.For, scope: Scope) -> None:
        iterable = self.ev(stmt.iter, scope)
        if isinstance(iterable, Mapping):
            iterable = LayerList([Const(k) for k in iterable.entries])
        if isinstance(iterable, LayerList) and 0 < len(iterable.items) <= MAX_ITEMS:
            for item in list(iterable.items):
                self.assign(stmt.target, item, scope)
                self.exec_block(_stmts(stmt), scope)
        elif isinstance(iterable, EachModule):
            self.assign(stmt.target, iterable, scope)
            self.exec_block(_stmts(stmt), scope)
        else:
            element = Tensor(origin="opaque")
            if isinstance(iterable, Layer) and iterable.container:
                element = LayerList([p for p in iterable.parts])
                element = Union(tuple(iterable.parts[:6])) if len(iterable.parts) > 1 else UNKNOWN
            for repeat in range(2):
                before = self.effects
                self.assign(stmt.target, element, scope)
                self.assumed += repeat
                try:
                    self.exec_block(_stmts(stmt), scope)
                finally:
                    self.assumed -= repeat
                if self.effects == before or self.assumed:
                    # the body put no data through a layer and grew no list: a second pass adds nothing; inside
                    # an assumed pass already, one pass of an inner loop shows the repetition (and keeps the
                    # cost linear in the nesting depth, not exponential)
                    break
        if stmt.orelse is not None:
            self.exec_block(_stmts(stmt.orelse), scope)

    # ------------------------------------------------------------ expressions
    def ev(self, node, scope: Scope) -> Value:
        if node is None:
            return UNKNOWN
        cls = type(node)  # LibCST's node types are concrete leaves: ``is`` beats the ABC isinstance
        if cls is cst.Name:
            name = node.value
            while scope is not None:  # Scope.get, inlined: names are most of what is evaluated
                vars_ = scope.vars
                if name in vars_:
                    value = vars_[name]
                    if value is not None:
                        return value
                    break
                scope = scope.parent
            if name in _NAME_CONSTANTS:
                return Const(_NAME_CONSTANTS[name])
            return self.global_name(node) or UNKNOWN
        if cls is cst.Call:
            return self.call(node, scope)
        if cls is cst.Attribute:
            return self.attribute(self.ev(node.value, scope), node.attr.value)
        if cls is cst.BinaryOperation:
            return self.binary(self.ev(node.left, scope), self.ev(node.right, scope), node.operator, node)
        if cls is cst.UnaryOperation:
            known = self._literal(node)
            if known is not _NOT_LITERAL:
                return Const(known)
            value = self.ev(node.expression, scope)
            if type(node.operator) is cst.Not:
                return Const(not _truth(value.value)) if isinstance(value, Const) else UNKNOWN
            return self.extend(value, Op(C.AFFINE, "neg", node)) if isinstance(value, Tensor) else UNKNOWN
        if cls in (cst.List, cst.Tuple):
            items = []
            for element in node.elements:
                if type(element) is cst.StarredElement:
                    inner = self.ev(element.value, scope)
                    items.extend(inner.items if isinstance(inner, LayerList) else [inner])
                else:
                    items.append(self.ev(element.value, scope))
            return LayerList(items)
        if cls in (cst.ListComp, cst.GeneratorExp):
            return self.comprehension(node, scope)
        if cls is cst.Subscript:
            return self.subscript(self.ev(node.value, scope), node, scope)
        if cls is cst.IfExp:
            self.ev(node.test, scope)
            return union([self.ev(node.body, scope), self.ev(node.orelse, scope)])
        if cls is cst.Await:
            return self.ev(node.expression, scope)
        if cls in (cst.Integer, cst.Float, cst.SimpleString, cst.ConcatenatedString):
            try:
                known = self._literal(node)
            except Exception:  # noqa: BLE001 - a string LibCST cannot evaluate
                return UNKNOWN
            return UNKNOWN if known is _NOT_LITERAL else Const(known)
        if cls is cst.Dict:
            entries = {}
            for element in node.elements:
                if type(element) is cst.DictElement:
                    key, value = self.ev(element.key, scope), self.ev(element.value, scope)
                    if isinstance(key, Const) and _hashable(key.value):
                        entries[key.value] = value
                else:
                    spread = self.ev(element.value, scope)
                    if isinstance(spread, Mapping):
                        entries.update(spread.entries)
            return Mapping(entries)
        if cls is cst.FormattedString:
            return self.formatted(node, scope)
        if cls is cst.Comparison:
            return self.compare(node, scope)
        if cls is cst.BooleanOperation:
            left, right = self.ev(node.left, scope), self.ev(node.right, scope)
            if isinstance(left, Const) and isinstance(right, Const):
                is_and = type(node.operator) is cst.And
                return left if _truth(left.value) != is_and else right
            if isinstance(left, Const) and _truth(left.value) == (type(node.operator) is cst.Or):
                return left  # ``True or x``, ``False and x``
            return UNKNOWN
        return UNKNOWN

    def _literal(self, node):
        """:func:`literal` of a node, remembered per node (a function's literals are read each time it runs);
        ``_NOT_LITERAL`` where it raises ValueError.  (A fresh :class:`Const` is made from it each time.)"""
        hit = self._literals.get(id(node))
        if hit is not None and hit[0] is node:
            return hit[1]
        try:
            value = literal(node)
        except ValueError:
            value = _NOT_LITERAL
        self._literals[id(node)] = (node, value)  # the node is kept: its id is not reused meanwhile
        return value

    def compare(self, node: cst.Comparison, scope: Scope) -> Value:
        """A comparison of known values (``self.act == "tanh"``, ``i < len(self.layers) - 1``), else unknown."""
        left = self.ev(node.left, scope)
        known = isinstance(left, Const)
        result = True
        for target in node.comparisons:
            right = self.ev(target.comparator, scope)
            if not known:
                continue
            if isinstance(right, LayerList) and all(isinstance(i, Const) for i in right.items):
                right = Const(tuple(i.value for i in right.items))
            outcome = _compare(left.value, target.operator, right.value) if isinstance(right, Const) else None
            if outcome is None:
                known = False
                continue
            result = result and outcome
            left = right
        return Const(result) if known else UNKNOWN

    def call_lambda(self, node: cst.Lambda, args: list, scope: Scope) -> Value:
        """The value of ``(lambda a, b: body)(*args)``."""
        inner = Scope(scope)
        params = list(node.params.posonly_params) + list(node.params.params)
        for index, param in enumerate(params):
            inner.vars[param.name.value] = args[index] if index < len(args) else UNKNOWN
        return self.ev(node.body, inner)

    def comprehension(self, node, scope: Scope) -> Value:
        inner = Scope(scope)
        comp = node.for_in
        iterable = self.ev(comp.iter, scope)
        if isinstance(iterable, LayerList) and 0 < len(iterable.items) <= MAX_ITEMS:
            items = []
            for item in iterable.items:
                self.assign(comp.target, item, inner)
                items.append(self.ev(node.elt, inner))
            return LayerList(items)
        self.assign(comp.target, Tensor(origin="opaque"), inner)
        element = self.ev(node.elt, inner)
        return LayerList([element, element])

    def _key(self, node: cst.Subscript, scope: Scope) -> Const | None:
        """The literal key of ``d[key]``, or None."""
        if len(node.slice) == 1 and type(node.slice[0].slice) is cst.Index:
            key = self.ev(node.slice[0].slice.value, scope)
            if isinstance(key, Const) and _hashable(key.value):
                return key
        return None

    def formatted(self, node: cst.FormattedString, scope: Scope) -> Value:
        """An f-string whose parts are all known (``f"fc{i}"`` in a loop over ``range``)."""
        pieces = []
        for part in node.parts:
            if type(part) is cst.FormattedStringText:
                pieces.append(part.value)
                continue
            value = self.ev(part.expression, scope)
            if not isinstance(value, Const) or part.format_spec or part.conversion:
                return UNKNOWN
            pieces.append(str(value.value))
        return Const("".join(pieces))

    def subscript(self, value: Value, node: cst.Subscript, scope: Scope) -> Value:
        if isinstance(value, Mapping):
            key = self._key(node, scope)
            return value.entries.get(key.value, UNKNOWN) if key is not None else UNKNOWN
        index = None
        if len(node.slice) == 1 and type(node.slice[0].slice) is cst.Index:
            index = int_of(self.ev(node.slice[0].slice.value, scope))
        if isinstance(value, LayerList):
            if index is not None and -len(value.items) <= index < len(value.items):
                return value.items[index]
            if len(node.slice) == 1 and type(node.slice[0].slice) is cst.Slice:
                return LayerList(list(value.items))
            return UNKNOWN
        if isinstance(value, Layer) and value.container:
            if index is not None and -len(value.parts) <= index < len(value.parts):
                part = value.parts[index]
                return Layer([part], node=value.node, framework=value.framework) if isinstance(part, Op) else part
            return UNKNOWN
        if isinstance(value, Tensor):
            return self.extend(value, Op(C.RESHAPE, "index", node))
        return UNKNOWN

    def attribute(self, obj: Value, name: str) -> Value:
        if isinstance(obj, ModuleRef):
            return self.module_attribute(obj, name)
        if isinstance(obj, Instance):
            if name in obj.attrs:
                return obj.attrs[name]
            found = self.find_method(obj.info, name)
            if found is not None:
                method, owner = found
                return Function(method, bound=obj, owner=owner, scope=owner.unit.scope)
            return obj if name in torch_semantics.WRAPPED_ATTRIBUTES else UNKNOWN
        if isinstance(obj, Layer) and name in torch_semantics.WRAPPED_ATTRIBUTES:
            return obj
        if name in ("weight", "bias"):
            if isinstance(obj, Layer):
                return Weight((obj,))
            if isinstance(obj, EachModule):
                return Weight(tuple(self.layers_of(obj.root, obj.only)))
        if isinstance(obj, Tensor) and name in ("T", "mT", "data"):
            return obj
        if isinstance(obj, Union):
            return union([self.attribute(o, name) for o in obj.options])
        return UNKNOWN

    def binary(self, left: Value, right: Value, operator, node) -> Value:
        results = []
        for a in options(left):
            for b in options(right):
                if isinstance(a, Const) and isinstance(b, Const):
                    results.append(_arithmetic(a.value, operator, b.value))
                elif isinstance(a, Parameter) or isinstance(b, Parameter):
                    fn = _PRODUCT_OPERATORS.get(type(operator))
                    pair = [a, b] if isinstance(a, Tensor) or isinstance(b, Tensor) else []
                    made = self.learned_product(pair, fn, node, None) if fn and pair else None
                    results.append(made if made is not None else UNKNOWN)
                elif isinstance(a, Const) and isinstance(b, Tensor) and _is_one(a) and \
                        type(operator) is cst.Divide and (base := _hand_sigmoid_base(b)) is not None:
                    # 1 / (1 + exp(-z)): a sigmoid written by hand
                    results.append(self.extend(base, Op(C.ACTIVATION, "sigmoid", node, _framework_of(b),
                                                        extra=(("hand_written", True),))))
                elif isinstance(a, Tensor) and isinstance(b, Const) or isinstance(b, Tensor) and isinstance(a, Const):
                    # scaling or shifting by a number keeps the data's meaning (1 - p, p + eps, x / 2)
                    tensor = a if isinstance(a, Tensor) else b
                    complement = type(operator) is cst.Subtract and isinstance(a, Const)
                    results.append(self.extend(tensor, Op(C.AFFINE, type(operator).__name__.lower(), node,
                                                          extra=(("complement", True),) if complement else ())))
                elif isinstance(a, Tensor) and isinstance(b, Tensor) and type(operator) is cst.Divide and \
                        (base := _hand_softmax_base(a, b)) is not None:
                    # exp(x) / exp(x).sum(-1): a softmax written by hand
                    results.append(self.extend(base, Op(
                        C.ACTIVATION, "softmax", node, _framework_of(a), extra=(("hand_written", True),))))
                elif isinstance(a, Tensor) or isinstance(b, Tensor):
                    # with another tensor, or with anything not understood (it may be one): a merge, e.g. a gate
                    results.append(Tensor((Op(C.MERGE, type(operator).__name__.lower(), node),), origin="opaque"))
                elif isinstance(a, LayerList) and isinstance(b, LayerList):
                    results.append(LayerList(a.items + b.items))
                elif isinstance(a, LayerList) and int_of(b) is not None and int_of(b) > 0:
                    results.append(LayerList(a.items * min(int_of(b), 2)))
                else:
                    results.append(UNKNOWN)
        return union(results)

    # ------------------------------------------------------------ tensors & layers
    def extend(self, value: Value, op: Op) -> Value:
        if isinstance(value, Union):
            # data that took one of several paths (an optional layer): each path goes on
            return union([self.extend(option, op) for option in value.options])
        tensor = value if isinstance(value, Tensor) else Tensor(origin="opaque")
        trail = tensor.trail
        if op.kind == C.ACTIVATION and self.conditional:
            op = replace(op, extra=op.extra + (("conditional", True),))
        if op.kind == C.ACTIVATION and self.frames and self.frames[-1].decided:
            op = replace(op, extra=op.extra + (("path", self.frames[-1].decided),))
        if self.assumed and any(o.node is op.node for o in trail):
            op = replace(op, extra=op.extra + (("assumed", True),))
        if op.kind not in C.NEUTRAL_KINDS:
            self.effects += 1
            between = next((i for i in range(len(trail) - 1, -1, -1) if trail[i].kind not in C.NEUTRAL_KINDS), None)
            before = trail[between] if between is not None else None
            if before is not None and before.kind == C.LEARNED:
                self.picture.followers[id(before.node)].append(op)
            layer = last_learned(tensor)  # through activations too: Dense(1, activation="relu") then a softmax
            if layer is not None:
                self.picture.pairs.append((layer, op))
        if op.kind == C.LOG:
            source = producer(trail, TRANSPARENT_TO_LOG)
            if source is not None and source.kind == C.ACTIVATION and source.fn in ("softmax", "sigmoid"):
                at = max(i for i, o in enumerate(trail) if o is source)
                self.picture.log_sites.append(LogSite(op, source, self.no_grad > 0, trail[at + 1:],
                                                      tuple(id(o) for o in trail[:at + 1])))
        new = trail[-(MAX_TRAIL - 1):] + (op,) if op.kind not in (C.MERGE, C.UNKNOWN) else (op,)
        if op.kind == C.LEARNED:
            self.picture.trails.append(new)
        return Tensor(new, tensor.origin if op.kind not in (C.MERGE, C.UNKNOWN) else "opaque")

    def apply(self, layer: Value, value: Value) -> Value:
        """Run data through a callable value."""
        results = []
        if self._model_boundary(layer, value):
            # one model's output read by another model (a generator's images by a discriminator):
            # what the second model does starts afresh, the first one's last activation is its output
            value = Tensor((Op(C.UNKNOWN, "model input", None),), origin="opaque")
        for option in options(layer):
            if isinstance(option, Layer):
                current = value
                for part in option.parts:
                    current = self.extend(current, part) if isinstance(part, Op) else self.apply(part, current)
                results.append(current)
            elif isinstance(option, Instance):
                results.append(self.call_instance(option, [value], {}))
            elif isinstance(option, LayerList):
                current = value
                for part in option.items:
                    current = self.apply(part, current)
                results.append(current)
            elif isinstance(option, KerasModel):
                results.append(option.output)
            elif isinstance(option, Function):
                results.append(self.invoke(option, [value], {}))
            elif isinstance(option, Tensor) and option.origin == "input":
                results.append(value)  # keras.Input(...) listed in a Sequential
            else:
                results.append(Tensor((Op(C.UNKNOWN, "call", None),), origin="opaque"))
        return union(results)

    def _model_boundary(self, layer: Value, value: Value) -> bool:
        """Whether ``layer`` is a whole model applied, outside any model's forward, to another model's output."""
        if not all(isinstance(o, Instance) and self.framework_of(o.info) is not None
                   or isinstance(o, Layer) and o.container for o in options(layer)):
            return False  # checked first: most layers applied are single layers
        if not any(isinstance(o, Tensor) and any(op.kind == C.LEARNED for op in o.trail) for o in options(value)):
            return False
        for frame in reversed(self.frames):
            owner = self._model_method_owner(frame.node)
            if owner is not None:
                return frame.node.name.value not in _FORWARD_METHODS
        return True

    def _model_method_owner(self, node) -> ClassInfo | None:
        """The model class (torch or Keras) that ``node`` is a method of, or None."""
        if type(node) is not cst.FunctionDef:
            return None
        if self._owners is None or self._owners[0] != len(self.classes):
            owners = {id(m): info for info in self.classes.values() for m in info.methods.values()}
            self._owners = (len(self.classes), owners)
        info = self._owners[1].get(id(node))
        return info if info is not None and self.framework_of(info) is not None else None

    def layers_of(self, root: Value, only: frozenset | None, seen=None) -> list[Layer]:
        """Every layer a model holds (``model.modules()``), filtered by isinstance classes."""
        seen = seen if seen is not None else set()
        if id(root) in seen:
            return []
        seen.add(id(root))
        found: list[Layer] = []
        if isinstance(root, Instance):
            for value in root.attrs.values():
                found.extend(self.layers_of(value, only, seen))
        elif isinstance(root, Layer):
            ops = [p for p in root.parts if isinstance(p, Op)]
            if len(ops) == len(root.parts) and not root.container:
                if only is None or any(op.qual in only for op in ops) or "torch.nn.Module" in only:
                    found.append(root)
            for part in root.parts:
                if isinstance(part, Op):
                    if root.container and (only is None or part.qual in only):
                        found.append(Layer([part], node=part.node, framework=root.framework))
                else:
                    found.extend(self.layers_of(part, only, seen))
        elif isinstance(root, (LayerList, Union, Mapping)):
            items = root.items if isinstance(root, LayerList) else \
                list(root.entries.values()) if isinstance(root, Mapping) else root.options
            for item in items:
                found.extend(self.layers_of(item, only, seen))
        return found

    # ------------------------------------------------------------ calls
    def args(self, node: cst.Call, scope: Scope, names: bool = False):
        """The values of a call's positional and keyword arguments; with ``names``, a framework function or
        class passed as one (``Discriminator(…, torch.sigmoid)``) is kept as that name, as an assignment keeps it."""
        args, kwargs = [], {}
        for arg in node.args:
            value = self.ev(arg.value, scope)
            if names:
                value = self.framework_name(arg.value, value)
            if arg.keyword is not None:
                kwargs[arg.keyword.value] = value
            elif arg.star == "*":
                args.extend(value.items if isinstance(value, LayerList) else [UNKNOWN])
            elif arg.star == "**":
                continue
            else:
                args.append(value)
        return args, kwargs

    def call(self, node: cst.Call, scope: Scope) -> Value:
        func_node = node.func
        kind = type(func_node)  # LibCST node types are leaves: ``is`` beats the ABC isinstance
        qual = self.resolve(func_node)
        local = scope.get(head(func_node))
        if qual is not None and (local is None or local is UNKNOWN):
            if qual in _DISPATCHERS:
                return self.dispatch(qual, node, scope)
            if qual in C.KERAS_ESTIMATORS or qual.startswith("sklearn."):
                wrapped = self.keras_estimator(qual, node, scope)
                if wrapped is not None:
                    return wrapped
            if qual.startswith(_OTHER_LIBRARIES) and qual.rsplit(".", 1)[-1][:1].isupper():
                self.args(node, scope)
                return Handle(qual)  # ``LabelBinarizer().fit(y)``: another library's object, not a model
            handled = self.framework_call(qual, node, scope)
            if handled is not None:
                return handled
        if kind is cst.Name and func_node.value in self._commands():
            # ``app()`` of a typer / click application: its commands run
            for fn in self._commands()[func_node.value]:
                self.invoke(Function(fn, scope=self.module_scope), [], {})
        if kind is cst.Attribute and func_node.attr.value == "set_defaults":
            _, kwargs = self.args(node, scope)
            self.subcommands.extend(f for f in options(kwargs.get("func", UNKNOWN)) if isinstance(f, Function))
            return UNKNOWN
        if kind is cst.Attribute and func_node.attr.value == "func" and self.subcommands:
            args, kwargs = self.args(node, scope)  # ``args.func(args)``: the argparse sub-command chosen
            return union([self.invoke(f, args, kwargs) for f in self.subcommands])
        if kind is cst.Attribute:
            obj = self.ev(func_node.value, scope)
            handled = self.method_call(obj, func_node.attr.value, node, scope)
            if handled is not None:
                return handled
            func = self.attribute(obj, func_node.attr.value)
        elif kind is cst.Name and func_node.value == "super":
            return UNKNOWN
        elif kind is cst.Name and func_node.value in _BUILTINS and local is None \
                and self.module_scope.get(func_node.value) is None:
            return self.builtin(func_node.value, node, scope)
        else:
            func = self.ev(node.func, scope)
        if isinstance(func, FrameworkName):
            handled = self.framework_call(func.qual, node, scope)
            return handled if handled is not None else UNKNOWN
        if func is UNKNOWN and self.watch and not self.missed:
            self.missed = self._maybe_local(node.func, scope)
        callees = options(func)
        args, kwargs = self.args(node, scope, names=bool(callees) and all(
            isinstance(f, (ClassRef, Function)) for f in callees))  # the project's own code, given a framework name
        results = [self.call_value(f, args, kwargs, node) for f in callees]
        return union(results)

    def dispatch(self, qual: str, node: cst.Call, scope: Scope) -> Value:
        """A function started by a command-line dispatcher or a process launcher runs (``fire.Fire(train)``,
        ``mp.spawn(train, args=(cfg,))``); its arguments come from outside."""
        how = _DISPATCHERS[qual]
        args, kwargs = self.args(node, scope)
        target = args[0] if args else kwargs.get("target" if how == "process" else "fn", kwargs.get("component"))
        passed: list = []
        given = kwargs.get("args", UNKNOWN)
        if how == "spawn":
            passed = [Const(0)] + (list(given.items) if isinstance(given, LayerList) else [])
        elif how == "process" and isinstance(given, LayerList):
            passed = list(given.items)
        for option in options(target if target is not None else UNKNOWN):
            functions = list(option.entries.values()) if isinstance(option, Mapping) else [option]
            for fn in functions:
                if isinstance(fn, Function):
                    self.invoke(fn, passed, {})
        return UNKNOWN

    def _commands(self) -> dict:
        """Functions registered as commands of an application object: ``@app.command()`` -> {"app": [...]}."""
        if self._command_table is None:
            table: dict = {}
            for fn in self.index.functions:
                for decorator in fn.decorators:
                    expr = decorator.decorator.func if type(decorator.decorator) is cst.Call else \
                        decorator.decorator
                    if type(expr) is cst.Attribute and expr.attr.value in ("command", "callback") and \
                            type(expr.value) is cst.Name:
                        table.setdefault(expr.value.value, []).append(fn)
            self._command_table = table
        return self._command_table

    def builtin(self, name: str, node: cst.Call, scope: Scope) -> Value:
        """The Python builtins that move layers around: ``range``, ``len``, ``enumerate``, ``zip``, ``dict``, ..."""
        args, kwargs = self.args(node, scope)
        lists = [a for a in args if isinstance(a, LayerList)]
        if name == "range":
            bounds = [int_of(a) for a in args]
            if args and None not in bounds and len(bounds) <= 3 and bounds[-1] != 0:
                # a known count: the loop runs that many times (capped: the depth pattern shows by then);
                # past the cap the loop variable is not known (``if epoch > 100:`` may hold later)
                values = range(*bounds)
                if len(values) > MAX_RANGE:
                    return LayerList([UNKNOWN] * MAX_RANGE)
                return LayerList([Const(i) for i in values])
            return UNKNOWN
        if name == "len":
            if args and isinstance(args[0], (LayerList, Mapping)):
                return Const(len(args[0].items if isinstance(args[0], LayerList) else args[0].entries))
            return UNKNOWN
        if name == "enumerate" and args and isinstance(args[0], LayerList):
            start = int_of(args[1]) if len(args) > 1 else int_of(kwargs.get("start", Const(0)))
            return LayerList([LayerList([Const(i + (start or 0)), item]) for i, item in enumerate(args[0].items)])
        if name == "zip" and args and len(lists) == len(args):
            return LayerList([LayerList(list(items)) for items in zip(*(a.items for a in lists))])
        if name == "reversed" and len(lists) == 1 == len(args):
            return LayerList(list(reversed(lists[0].items)))
        if name in ("list", "tuple") and len(args) == 1:
            if isinstance(args[0], LayerList):
                return LayerList(list(args[0].items))
            if isinstance(args[0], Mapping):
                return LayerList([Const(k) for k in args[0].entries])
            return UNKNOWN
        if name == "dict":
            entries = dict(args[0].entries) if args and isinstance(args[0], Mapping) else {}
            entries.update(kwargs)
            return Mapping(entries)
        if name in ("setattr", "getattr") and len(args) >= 2 and isinstance(args[1], Const):
            if name == "getattr":
                found = self.attribute(args[0], str(args[1].value))
                return args[2] if found is UNKNOWN and len(args) > 2 else found
            if isinstance(args[0], Instance) and len(args) == 3:
                args[0].attrs[str(args[1].value)] = args[2]
            return Const(None)
        return UNKNOWN

    def call_value(self, func: Value, args, kwargs, node) -> Value:
        if isinstance(func, Function):
            return self.invoke(func, args, kwargs)
        if isinstance(func, ClassRef):
            return self.instantiate(func.info, args, kwargs)
        if isinstance(func, Criterion):
            if func.spec.framework == "keras":
                pred = args[1] if len(args) > 1 else kwargs.get("y_pred", UNKNOWN)
            else:
                pred = args[0] if args else kwargs.get("input", UNKNOWN)
            self.picture.loss_sites.append(LossSite(func.spec, node, func.node, pred, self.autocast > 0))
            return Tensor(origin="opaque")
        if isinstance(func, (Layer, Instance, KerasModel, LayerList)):
            data = args[0] if args else kwargs.get("x", kwargs.get("inputs", kwargs.get("input", Tensor())))
            if isinstance(func, Layer) and isinstance(data, LayerList):
                # a Keras merge layer called on a list of tensors
                return Tensor((Op(C.MERGE, "merge", node),), origin="opaque")
            if isinstance(func, Layer) and type(node.func) is cst.Attribute:
                func = _called_at(func, node)
            return self.apply(func, data)
        return UNKNOWN

    def method_call(self, obj: Value, name: str, node: cst.Call, scope: Scope) -> Value | None:
        if isinstance(obj, Mapping) and name in ("values", "items", "keys", "get", "update", "setdefault"):
            args, kwargs = self.args(node, scope)
            if name == "values":
                return LayerList(list(obj.entries.values()))
            if name == "items":
                return LayerList([LayerList([Const(k), v]) for k, v in obj.entries.items()])
            if name == "keys":
                return LayerList([Const(k) for k in obj.entries])
            key = args[0] if args else None
            known = isinstance(key, Const) and _hashable(key.value)
            if name == "update":
                self.effects += 1
                if args and isinstance(args[0], Mapping):
                    obj.entries.update(args[0].entries)
                obj.entries.update(kwargs)
                return Const(None)
            if name == "setdefault" and known and len(args) > 1:
                return obj.entries.setdefault(key.value, args[1])
            if known and key.value in obj.entries:
                return obj.entries[key.value]
            return args[1] if len(args) > 1 else UNKNOWN
        if isinstance(obj, LayerList) and name in ("append", "extend", "insert"):
            args, _ = self.args(node, scope)
            self.effects += 1
            if name == "append" and args:
                obj.items.append(args[0])
            elif name == "extend" and args:
                obj.items.extend(args[0].items if isinstance(args[0], LayerList) else [args[0]])
            elif name == "insert" and len(args) == 2 and int_of(args[0]) is not None:
                obj.items.insert(int_of(args[0]), args[1])
            return Const(None)
        if isinstance(obj, Handle) and obj.qual in C.KERAS_ESTIMATORS and name in ("fit", "partial_fit"):
            self.args(node, scope)
            self.training(node, f"{text(self.index, node.func)}(...)", "keras")
            return Const(None)
        if isinstance(obj, Handle):
            handled = self.framework_call(f"{obj.qual}.{name}", node, scope)
            if handled is not None:
                return handled
        if name == "__init__" and type(node.func.value) is cst.Call and type(node.func.value.func) is cst.Name \
                and node.func.value.func.value == "super":
            return self.super_init(node, scope)
        for semantics in SEMANTICS:
            handled = semantics.method(self, obj, name, node, scope)
            if handled is not None:
                return handled
        return None

    def super_init(self, node: cst.Call, scope: Scope) -> Value:
        frame_fn = self.frames[-1].node if self.frames else None
        args, kwargs = self.args(node, scope)
        this = None
        if type(frame_fn) is cst.FunctionDef and frame_fn.params.params:
            this = scope.get(frame_fn.params.params[0].name.value)
        if not isinstance(this, Instance):
            return Const(None)
        if self.is_sequential_subclass(this.info):
            this.attrs["__seq__"] = self.make_sequential(args, node, "torch")
            return Const(None)
        owner = next((i for i in self.classes.values() if any(m is frame_fn for m in i.methods.values())), None)
        if owner is not None:
            for base in owner.base_exprs:
                other = self.class_named(base, owner.unit)
                if other is not None:
                    found = self.find_method(other, "__init__")
                    if found:
                        self.invoke(Function(found[0], bound=this, owner=found[1], scope=found[1].unit.scope),
                                    args, kwargs)
                    break
        return Const(None)

    def keras_estimator(self, qual: str, node: cst.Call, scope: Scope) -> Value | None:
        """``KerasClassifier(build_fn=make_model, …)``: its builder runs, and it is a handle whose ``fit``
        trains; a scikit-learn search or pipeline given one is such a handle too, and ``cross_val_score``
        given one trains.  None for the scikit-learn calls that have no Keras estimator in them."""
        if qual in C.KERAS_ESTIMATORS:
            args, kwargs = self.args(node, scope)
            build = kwargs.get("build_fn", kwargs.get("model", args[0] if args else UNKNOWN))
            for fn in options(build):
                if isinstance(fn, Function):
                    self.invoke(fn, [], {})
            return Handle(qual)
        capitalised = qual.rsplit(".", 1)[-1][:1].isupper()
        if not (capitalised or qual in C.SKLEARN_FITTING or qual == "sklearn.pipeline.make_pipeline"):
            return None
        args, kwargs = self.args(node, scope)
        given = [v for a in [*args, *kwargs.values()] for v in _flattened(a)]
        keras = next((v.qual for v in given if isinstance(v, Handle) and v.qual in C.KERAS_ESTIMATORS), None)
        if keras is None:
            return Handle(qual) if capitalised else UNKNOWN
        if qual in C.SKLEARN_FITTING:
            self.training(node, f"{text(self.index, node.func)}(...)", "keras")
            return UNKNOWN
        return Handle(keras)  # a search or a pipeline around it: its fit trains the Keras model

    def training(self, node, label: str, framework: str = "torch", update: bool = True) -> None:
        reachable = bool(self.frames) and self.frames[-1].reachable
        self.picture.training_calls.append(TrainingCall(node, label, reachable, framework, update))

    def arg_value(self, node: cst.Call, position: int, keyword: str, scope: Scope):
        """The literal value of an argument: "missing" when not passed, None when not a literal."""
        arg = call_arg(node, position, keyword)
        if arg is None:
            return "missing"
        value = self.ev(arg.value, scope)
        return value.value if isinstance(value, Const) else None

    def ev_arg(self, node: cst.Call, position: int, keyword: str, scope: Scope) -> Value:
        arg = call_arg(node, position, keyword)
        return self.ev(arg.value, scope) if arg is not None else UNKNOWN

    # ------------------------------------------------------------ framework calls
    def framework_call(self, qual: str, node: cst.Call, scope: Scope) -> Value | None:
        """A call to a framework object, by qualified name: the semantics module whose prefix matches answers."""
        if qual == "optax.apply_updates":
            self.args(node, scope)
            self.training(node, f"{text(self.index, node.func)}(...)", "jax")
            return UNKNOWN
        for semantics in SEMANTICS:
            if qual.startswith(semantics.PREFIXES):
                return semantics.call(self, qual, node, scope)
        if qual == "collections.OrderedDict":
            args, _ = self.args(node, scope)
            if args and isinstance(args[0], LayerList):
                return LayerList([i.items[1] for i in args[0].items if isinstance(i, LayerList) and len(i.items) == 2])
            return UNKNOWN
        return None

    def function_op(self, qual: str, kind: str, fn: str, node: cst.Call, scope: Scope, framework: str,
                    dim_keyword: str) -> Value:
        """A framework function applied to data (``F.softmax(x, dim=1)``, ``tf.nn.sigmoid(x)``)."""
        args, kwargs = self.args(node, scope)
        if kind == C.MERGE:
            learned = self.learned_product(args, fn, node, framework, qual)
            if learned is not None:
                return learned
            if fn == "where" and len(args) >= 3:
                chosen = self.select(args[1], args[2], node)
                if chosen is not None:
                    return chosen
            return Tensor((Op(C.MERGE, fn, node),), origin="opaque")
        data = args[0] if args else kwargs.get("input", kwargs.get("x", kwargs.get("logits", UNKNOWN)))
        dim = None
        if fn in ("softmax", "log_softmax", "softmin"):
            dim = self.arg_value(node, 1, dim_keyword, scope)
        extra = (("policy", "mixed_float16"),) if framework == "keras" and self.mixed_policy else ()
        return union([self.extend(d, Op(kind, fn, node, framework, dim=dim, qual=qual, extra=extra))
                      for d in options(data)])

    def learned_product(self, args: list, fn: str, node, framework: str, qual: str | None = None) -> Value | None:
        """Data times a learned tensor (``tf.matmul(x, w)``, ``x @ self.W``) is a learned layer; data plus or times
        a learned tensor or a number (``+ b``, ``tf.nn.bias_add``) keeps its meaning.  None: neither."""
        operands = args[:2]
        if len(operands) != 2:
            return None
        if fn == "bias_add":  # its first argument is the data, whatever the bias is
            return self.extend(operands[0], Op(C.AFFINE, fn, node))
        data = [a for a in operands if any(isinstance(o, Tensor) for o in options(a))]
        other = [a for a in operands if isinstance(a, (Parameter, Const))]
        if len(data) != 1 or len(other) != 1:
            return None
        if fn in C.PRODUCTS and isinstance(other[0], Parameter):
            op = Op(C.LEARNED, "matmul", node, other[0].framework if framework is None else framework, qual=qual)
        elif fn in C.BIAS_FUNCTIONS:
            # a learned tensor of a shape not known here may broadcast the data to more units
            op = Op(C.AFFINE, fn, node, extra=(("broadcast", True),) if isinstance(other[0], Parameter) else ())
        else:
            return None
        return self.extend(data[0], op)

    def select(self, first: Value, second: Value, node) -> Value | None:
        """``where(cond, p, 1 - p)``: a choice between two forms of one probability is still that probability
        (focal losses); any other choice is a merge (None)."""
        sources = set()
        for branch in (first, second):
            tensors = [o for o in options(branch) if isinstance(o, Tensor)]
            if not tensors or len(tensors) != len(options(branch)):
                return None
            for tensor in tensors:
                source = producer(tensor.trail, TRANSPARENT_TO_LOG)
                if source is None or source.kind != C.ACTIVATION or source.fn not in ("softmax", "sigmoid"):
                    return None
                sources.add(id(source.node))
        if len(sources) != 1:
            return None
        return union([self.extend(branch, Op(C.SELECT, "where", node)) for branch in (first, second)])

    def make_sequential(self, parts: list, node, framework: str) -> Layer:
        flat = []
        for part in parts:
            if isinstance(part, LayerList):
                flat.extend(part.items)
            else:
                flat.append(part)
        container = "sequential" if framework == "torch" else "keras-sequential"
        layer = Layer(flat, node=node, framework=framework, container=container)
        self.sequentials.append(layer)
        return layer

def _flattened(value: Value, depth: int = 3) -> list[Value]:
    """``value`` and what the lists in it hold (``Pipeline([("mlp", KerasClassifier(...))])``)."""
    out = []
    for option in options(value):
        out.append(option)
        if isinstance(option, LayerList) and depth:
            for item in option.items:
                out.extend(_flattened(item, depth - 1))
    return out


# Libraries whose objects have a ``fit`` that is not a network's training (classical models, encoders).
_OTHER_LIBRARIES = ("sklearn.", "xgboost.", "lightgbm.", "catboost.", "statsmodels.", "pandas.", "numpy.",
                    "scipy.", "umap.", "imblearn.")
# Calls that start a function: how its arguments are passed.
_DISPATCHERS = {"fire.Fire": "cli", "typer.run": "cli", "torch.multiprocessing.spawn": "spawn",
                "torch.multiprocessing.start_processes": "spawn", "multiprocessing.Process": "process",
                "torch.multiprocessing.Process": "process", "threading.Thread": "process"}
# The methods that are a model's own computation: what they call is part of the model.
_FORWARD_METHODS = frozenset({"forward", "call", "__call__", "__init__", "build"})
_NOT_LITERAL = object()  # what Flow._literal gives for an expression that is not a literal
_NAME_CONSTANTS = {"True": True, "False": False, "None": None}
_BUILTINS = frozenset({"range", "len", "enumerate", "zip", "reversed", "list", "tuple", "dict", "setattr",
                       "getattr"})


def _configures(test, function) -> bool:
    """Whether a condition reads the configuration (an attribute of ``self``, a parameter of the function),
    not a loop counter: a finding on the path it chose says so."""
    if type(function) is not cst.FunctionDef:
        return False
    params = {p.name.value for p in (*function.params.params, *function.params.kwonly_params)} - {"self"}
    for node in walk(test):
        cls = type(node)
        if cls is cst.Attribute and type(node.value) is cst.Name and node.value.value == "self":
            return True
        if cls is cst.Name and node.value in params:
            return True
    return False


def _is_one(value: Const) -> bool:
    return isinstance(value.value, (int, float)) and not isinstance(value.value, bool) and value.value == 1


def _framework_of(tensor: Tensor) -> str:
    return next((op.framework for op in reversed(tensor.trail) if op.framework), "torch")


def _hand_sigmoid_base(denominator: Tensor) -> Tensor | None:
    """The ``z`` of ``1 + exp(-z)`` (or ``1 + exp(z)``): what a hand-written sigmoid is taken of, or None."""
    trail = denominator.trail
    if len(trail) < 2 or trail[-1].kind != C.AFFINE or trail[-1].fn != "add" or trail[-2].kind != C.EXP:
        return None
    base = trail[:-2]
    if base and base[-1].kind == C.AFFINE and base[-1].fn == "neg":
        base = base[:-1]
    return Tensor(base, denominator.origin)


def _hand_softmax_base(numerator: Tensor, denominator: Tensor) -> Tensor | None:
    """The ``x`` of ``exp(x) / exp(x).sum(dim)``: what a hand-written softmax is taken of, or None."""
    top, bottom = numerator.trail, denominator.trail
    if not top or top[-1].kind != C.EXP or len(bottom) < 2 or bottom[-1].kind != C.REDUCE or \
            bottom[-2].kind != C.EXP:
        return None
    return Tensor(top[:-1], numerator.origin)


def _truth(value) -> bool:
    try:
        return bool(value)
    except Exception:  # noqa: BLE001 - a literal whose truth Python itself would compute
        return True


_COMPARE = {cst.Equal: lambda a, b: a == b, cst.NotEqual: lambda a, b: a != b, cst.Is: lambda a, b: a is b,
            cst.IsNot: lambda a, b: a is not b, cst.In: lambda a, b: a in b, cst.NotIn: lambda a, b: a not in b,
            cst.LessThan: lambda a, b: a < b, cst.GreaterThan: lambda a, b: a > b,
            cst.LessThanEqual: lambda a, b: a <= b, cst.GreaterThanEqual: lambda a, b: a >= b}


def _compare(a, operator, b) -> bool | None:
    """``a <op> b`` for literals; None when Python would raise (``1 < "a"``) or the operator is unknown."""
    how = _COMPARE.get(type(operator))
    if how is None or (type(operator) in (cst.Is, cst.IsNot) and not (a is None or b is None)):
        return None  # ``is`` only means something known against None
    try:
        return bool(how(a, b))
    except Exception:  # noqa: BLE001
        return None


_PRODUCT_OPERATORS = {cst.MatrixMultiply: "matmul", cst.Add: "add", cst.Subtract: "add", cst.Multiply: "mul"}
_ARITHMETIC = {cst.Add: lambda a, b: a + b, cst.Subtract: lambda a, b: a - b, cst.Multiply: lambda a, b: a * b,
               cst.FloorDivide: lambda a, b: a // b, cst.Divide: lambda a, b: a / b, cst.Modulo: lambda a, b: a % b}


def _arithmetic(a, operator, b) -> Value:
    """Numbers combined (``hidden * 2``, ``depth - 1``); strings joined; anything else unknown."""
    how = _ARITHMETIC.get(type(operator))
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b))
    strings = type(operator) is cst.Add and isinstance(a, str) and isinstance(b, str)
    if how is None or not (numbers or strings):
        return UNKNOWN
    try:
        return Const(how(a, b))
    except Exception:  # noqa: BLE001 - division by zero and the like
        return UNKNOWN


def _hashable(value) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _called_at(layer: Layer, call: cst.Call) -> Layer:
    """An activation module held in an attribute (``self.act = nn.Sigmoid()``) and called as ``self.act(x)``:
    the call is where the data meets the activation, so the op points there and remembers the construction.
    (A layer called through a loop variable or an index keeps pointing at its construction.)"""
    if len(layer.parts) != 1 or layer.container or not isinstance(layer.parts[0], Op):
        return layer
    op = layer.parts[0]
    if op.kind != C.ACTIVATION:
        return layer
    return Layer([replace(op, node=call, built=layer.node)], node=layer.node, framework=layer.framework)


def _memo_key(fn: Function, args, kwargs, standalone: bool) -> tuple | None:
    if standalone:
        return None
    parts = []
    for value in list(args) + [kwargs[k] for k in sorted(kwargs)]:
        if isinstance(value, Tensor):
            if value.trail:
                return None  # the result continues this trail: evaluate it for real
            parts.append(("t", value.origin))
        elif isinstance(value, Const):
            try:
                hash(value.value)
            except TypeError:
                return None
            parts.append(("c", value.value))
        elif value is UNKNOWN:
            parts.append(("?",))
        else:
            parts.append(("o", id(value)))
    return (id(fn.node), id(fn.bound), tuple(parts), tuple(sorted(kwargs)))


def _signature(args, kwargs) -> tuple | None:
    """A hashable summary of constructor arguments, or None when one carries structure (a module, a list)."""
    parts = []
    for value in list(args) + [kwargs[k] for k in sorted(kwargs)]:
        if isinstance(value, Const):
            try:
                hash(value.value)
            except TypeError:
                return None
            parts.append(("c", value.value))
        elif isinstance(value, (Tensor, type(UNKNOWN))):
            parts.append(("?",))
        else:
            return None
    return tuple(parts) + tuple(sorted(kwargs))


_LITERALS = (cst.List, cst.Tuple, cst.Dict, cst.Set, cst.ListComp, cst.DictComp, cst.SetComp, cst.GeneratorExp)


def _module_values(module: cst.Module) -> list:
    """What an import runs of a local module, as far as importers need it: its simple top-level assignments
    (``model = Net()``, ``HIDDEN = 64``; big literal tables and ``if __name__ == "__main__"`` are skipped, so
    a large module costs its importers little).  Classes and functions are defined before."""
    kept = []
    for stmt in module.body:
        if type(stmt) is cst.SimpleStatementLine and all(
                type(small) in (cst.Assign, cst.AnnAssign) and not isinstance(small.value, _LITERALS)
                for small in stmt.body):
            kept.append(stmt)
            if len(kept) >= MAX_MODULE_VALUES:
                break
    return kept


def _stmts(node):
    """:func:`body` for executing: an indented block's own statements, not a copy."""
    block = node.body
    return block.body if type(block) is cst.IndentedBlock else body(node)


def _unit_of(scope: Scope | None) -> Unit | None:
    while scope is not None and scope.parent is not None:
        scope = scope.parent
    return scope.unit if scope is not None else None


def build_picture(index: FileIndex, project=None, path: str = "") -> Picture:
    """The picture of one file; with a project, the local modules it imports take part in its flow.

    The file is first evaluated on its own.  Only when that flow called something that may come from a
    local module and the file trains, or computes a loss of something it cannot trace (where a cross-file
    finding completes), is it evaluated again with its local modules: a library's model files, which
    import each other's blocks and compute their losses on their own layers, cost what they cost alone."""
    alone = Flow(index, None, path)
    alone.watch = project is not None
    picture = alone.run()
    if alone.missed and _completes_elsewhere(alone, picture):
        alone.release()  # its picture is not read
        return Flow(index, project, path).run()
    return picture


def _completes_elsewhere(flow: Flow, picture: Picture) -> bool:
    """Whether a flow through local modules could change the findings: training (a model or a seed from an
    imported helper), a model trained here that this file does not know, or a loss whose prediction it does
    not trace to an op, outside a model's own methods (a model class, one with ``forward`` or ``call``,
    computing a loss of its own layers' output, as library models do, is not completed elsewhere)."""
    if picture.training_calls or any(v is UNKNOWN for v in picture.trained):
        return True
    untraced = {id(site.node) for site in picture.loss_sites if None in site.last_ops()}
    if not untraced:
        return False
    for info in flow.classes.values():
        if info.unit is flow.main and ("forward" in info.methods or "call" in info.methods):
            untraced -= call_ids(info.node)
    return bool(untraced)

"""Input hints for one model, read from its file with ``ast`` alone (parent side, no framework import).

What the file says about the model's input: shapes of the tensors it passes to the model
(``x = torch.randn(64, 3, 32, 32); model(x)``, ``images.reshape(-1, sequence_length,
input_size)`` before ``model(images)``, ``model.fit(np.random.random((1000, 32)), ...)``),
the forward's own first reshape of its input (``x.view(-1, 28, 28)``), a dataset named in
the file (MNIST → 1×28×28), Keras ``Input(shape=...)``, the forward's parameters (which
submodule consumes each, which have defaults, an ``init_hidden`` method), integer inputs
(``.long()``, token-like names) and a double-precision model (``net.double()``).  The child
turns these hints into candidate inputs (:func:`actlint.verify.measure.recorder.input_candidates`).
"""

from __future__ import annotations

import ast
import functools
import re

# Per-sample shape (channels first) of the datasets tutorials name.
DATASETS = [
    (r"\b(?:Fashion|K|E|Q)?MNIST\b|\b(?:fashion_)?mnist\.load_data\b", "MNIST", [1, 28, 28]),
    (r"\bCIFAR(?:10|100)\b|\bcifar(?:10|100)\.load_data\b|\bSVHN\b", "CIFAR", [3, 32, 32]),
    (r"\bSTL10\b", "STL10", [3, 96, 96]),
    (r"\bImageNet\b|\bImageFolder\b|\bimagenet\b", "ImageNet", [3, 224, 224]),
]
HIDDEN_METHODS = ("init_hidden", "initHidden", "init_hidden_state", "init_state", "begin_state", "zero_state")
_SHAPE_FNS = {"randn", "rand", "zeros", "ones", "empty", "randint", "normal", "random", "uniform", "FloatTensor",
              "Tensor", "LongTensor", "random_sample", "standard_normal"}
_PASS_THROUGH = {"to", "cuda", "cpu", "float", "double", "detach", "contiguous", "requires_grad_", "clone", "Variable",
                 "tensor", "from_numpy", "as_tensor", "astype", "long", "int"}
_BATCH_NAMES = {"batch_size", "batch", "bs", "b", "n", "bsz", "batchsize", "n_batch", "num_samples"}
_INT_WORDS = ("token", "ids", "idx", "index", "indices", "word", "sentence", "src", "tgt", "trg", "text", "seq")


@functools.lru_cache(maxsize=8)
def parsed(text: str) -> ast.Module:
    """The tree of a source, parsed once for all the models of a file (callers read it, never change it)."""
    return ast.parse(text)


@functools.lru_cache(maxsize=8)
def nodes_of(tree: ast.AST) -> tuple:
    """Every node of a whole-file tree, walked once (``ast.walk`` per model and per question cost seconds
    on a notebook with many models)."""
    return tuple(ast.walk(tree))


class _Folder:
    """Folds integer expressions over the file's module-level integer constants."""

    def __init__(self, tree: ast.Module) -> None:
        self.consts: dict[str, int] = {}
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                t = node.targets[0]
                if isinstance(t, ast.Name):
                    v = self.fold(node.value)
                    if v is not None:
                        self.consts[t.id] = v
                elif isinstance(t, ast.Tuple) and isinstance(node.value, ast.Tuple) and len(t.elts) == len(
                        node.value.elts):
                    for a, b in zip(t.elts, node.value.elts):
                        v = self.fold(b)
                        if isinstance(a, ast.Name) and v is not None:
                            self.consts[a.id] = v

    def fold(self, e: ast.AST):
        if isinstance(e, ast.Constant) and isinstance(e.value, int) and not isinstance(e.value, bool):
            return e.value
        if isinstance(e, ast.Name):
            return self.consts.get(e.id)
        if isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.USub):
            v = self.fold(e.operand)
            return -v if v is not None else None
        if isinstance(e, ast.BinOp):
            a, b = self.fold(e.left), self.fold(e.right)
            if a is None or b is None:
                return None
            try:
                if isinstance(e.op, ast.Mult):
                    return a * b
                if isinstance(e.op, ast.Add):
                    return a + b
                if isinstance(e.op, ast.Sub):
                    return a - b
                if isinstance(e.op, ast.FloorDiv):
                    return a // b
                if isinstance(e.op, ast.Pow) and 0 <= b < 8:
                    return a ** b
            except ZeroDivisionError:
                return None
        return None


def _call_name(call: ast.Call) -> str:
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""


def _is_batch(e: ast.AST, first: bool) -> bool:
    """``-1`` (leading), ``x.size(0)``, ``x.shape[0]``, ``len(x)``, ``batch_size``: the batch dimension."""
    if first and isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.USub) and isinstance(e.operand, ast.Constant):
        return e.operand.value == 1
    if isinstance(e, ast.Call) and _call_name(e) == "size" and e.args and isinstance(e.args[0], ast.Constant):
        return e.args[0].value == 0
    if isinstance(e, ast.Subscript) and isinstance(e.value, ast.Attribute) and e.value.attr == "shape":
        return isinstance(e.slice, ast.Constant) and e.slice.value == 0
    if isinstance(e, ast.Call) and _call_name(e) == "len":
        return True
    return isinstance(e, ast.Name) and e.id.lower() in _BATCH_NAMES


class _Hints:
    def __init__(self, text: str, tree: ast.Module) -> None:
        self.text, self.tree = text, tree
        self.folder = _Folder(tree)

    def src(self, node: ast.AST) -> str:
        return (ast.get_source_segment(self.text, node) or "").strip().replace("\n", " ")[:80]

    def dims(self, args: list[ast.AST], allow_self: bool = False) -> list | None:
        """Reshape/size arguments as a shape: None for the batch, ints, or ``self.x`` source for the child."""
        if len(args) == 1 and isinstance(args[0], (ast.Tuple, ast.List)):
            args = list(args[0].elts)
        out: list = []
        for i, a in enumerate(args):
            if isinstance(a, ast.Starred):
                return None
            if i == 0 and _is_batch(a, True):
                out.append(None)
                continue
            v = self.folder.fold(a)
            if v is not None and v > 0:
                out.append(v)
            elif allow_self and isinstance(a, (ast.Attribute, ast.BinOp)) and "self." in self.src(a):
                out.append(self.src(a))
            else:
                return None
        return out or None

    # ---- shapes of tensors the file passes to the model

    def tensor_shape(self, e: ast.AST, scope: list[ast.stmt], before: int, depth: int = 0) -> dict | None:
        """The shape of expression ``e`` if the file makes it visibly: a constructor, a reshape, a variable."""
        if depth > 4:
            return None
        if isinstance(e, ast.Name):
            value = _last_assignment(scope, e.id, before)
            return self.tensor_shape(value, scope, value.lineno if value is not None else before, depth + 1) \
                if value is not None else None
        if not isinstance(e, ast.Call):
            return None
        name = _call_name(e)
        if name in ("view", "reshape") and isinstance(e.func, ast.Attribute):
            d = self.dims(list(e.args))
            if d and d[0] is None:
                return {"shape": d, "dtype": None, "why": f"{self.src(e)} at line {e.lineno}"}
            return None
        if name in _SHAPE_FNS:
            args = list(e.args)
            size = next((k.value for k in e.keywords if k.arg in ("size", "shape")), None)
            if name == "randint":
                args = args[2:] if len(args) >= 3 else args[1:]
                dtype = "long"
            elif name in ("normal", "uniform"):
                args = [size] if size is not None else []
                dtype = "float"
            else:
                dtype = "long" if name == "LongTensor" else "float"
            if size is not None and not args:
                args = [size]
            listed = name in ("Tensor", "FloatTensor", "LongTensor") and args and isinstance(
                args[0], (ast.List, ast.ListComp))
            if not args or listed:
                if dtype != "long":
                    return None
                return {"shape": None, "dtype": dtype, "why": f"{self.src(e)} at line {e.lineno}"}
            d = self.dims(args)
            if d:
                return {"shape": [None] + d[1:], "dtype": dtype, "literal": d,
                        "why": f"{self.src(e)} at line {e.lineno}"}
            return None
        if name in _PASS_THROUGH:
            inner = e.func.value if isinstance(e.func, ast.Attribute) and name not in (
                "Variable", "tensor", "from_numpy", "as_tensor") else (e.args[0] if e.args else None)
            if inner is None:
                return None
            found = self.tensor_shape(inner, scope, before, depth + 1)
            if found is not None and name in ("long", "int"):
                found = dict(found, dtype="long")
            return found
        return None


def _last_assignment(scope: list[ast.stmt], name: str, before: int) -> ast.AST | None:
    """The value last assigned to ``name`` in ``scope`` before line ``before`` (walks nested blocks)."""
    best = None
    for stmt in scope:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Assign) and node.lineno < before:
                for t in node.targets:
                    if isinstance(t, ast.Name) and t.id == name:
                        if best is None or node.lineno >= best.lineno:
                            best = node
                    elif isinstance(t, ast.Tuple) and isinstance(node.value, ast.Tuple):
                        for a, b in zip(t.elts, node.value.elts):
                            if isinstance(a, ast.Name) and a.id == name and (
                                    best is None or node.lineno >= best.lineno):
                                best = ast.Assign(targets=[a], value=b, lineno=node.lineno)
    if best is None:
        return None
    value = best.value
    value.lineno = getattr(value, "lineno", best.lineno)
    return value


def _enclosing_scope(tree: ast.Module, line: int) -> list[ast.stmt]:
    """The body of the innermost function containing ``line`` (the module body otherwise)."""
    best = None
    for node in nodes_of(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.lineno <= line <= node.end_lineno:
            if best is None or node.lineno >= best.lineno:
                best = node
    return best.body if best is not None else tree.body


def _find_method(tree: ast.Module, cls_name: str, names: tuple[str, ...], seen=None) -> ast.FunctionDef | None:
    seen = seen or set()
    if cls_name in seen:
        return None
    seen.add(cls_name)
    cls = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls_name), None)
    if cls is None:
        return None
    for node in cls.body:
        if isinstance(node, ast.FunctionDef) and node.name in names:
            return node
    for base in cls.bases:
        if isinstance(base, ast.Name):
            found = _find_method(tree, base.id, names, seen)
            if found is not None:
                return found
    return None


def _instances(tree: ast.Module, name: str) -> set[str]:
    """Variables bound to an instance of ``name`` (``net = Net(...).to(device)``, ``self.model = Net()``)."""
    out = {name}
    for node in nodes_of(tree):
        if isinstance(node, ast.Assign):
            value = node.value
            while isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr in (
                    "to", "cuda", "cpu", "double", "float", "train", "eval"):
                value = value.func.value
            if isinstance(value, ast.Call) and _call_name(value) == name:
                for t in node.targets:
                    if isinstance(t, ast.Name):
                        out.add(t.id)
                    elif isinstance(t, ast.Attribute):
                        out.add(t.attr)
    return out


def _called_instance(call: ast.Call, names: set[str]) -> str | None:
    """``net(x)`` / ``self.net(x)`` / ``net.forward(x)`` / ``net.fit(x, y)``: which input-taking call it is."""
    f = call.func
    if isinstance(f, ast.Name) and f.id in names:
        return "call"
    if isinstance(f, ast.Attribute):
        if f.attr in names and isinstance(f.value, ast.Name) and f.value.id == "self":
            return "call"
        obj = f.value
        if isinstance(obj, ast.Name) and obj.id in names and f.attr in (
                "forward", "fit", "predict", "train_on_batch", "evaluate", "test_on_batch", "predict_on_batch"):
            return f.attr
    return None


def input_hints(text: str, name: str, kind: str, framework: str) -> dict:
    """Hints for the input of model ``name`` (a class, or a module-level variable when ``kind`` is ``var``)."""
    try:
        tree = parsed(text)
    except SyntaxError:
        return {}
    h = _Hints(text, tree)
    out: dict = {"shapes": []}
    for pattern, label, shape in DATASETS:
        m = re.search(pattern, text)
        if m:
            line = text.count("\n", 0, m.start()) + 1
            out["dataset"] = {"name": label, "shape": shape, "why": f"{m.group(0)} at line {line}"}
            break
    # Keras Input(shape=...) / input_shape=... anywhere in the file
    for node in nodes_of(tree):
        if isinstance(node, ast.Call):
            shape_kw = None
            if _call_name(node) in ("Input", "InputLayer"):
                shape_kw = next((k.value for k in node.keywords if k.arg in ("shape", "batch_shape")),
                                node.args[0] if node.args else None)
            else:
                shape_kw = next((k.value for k in node.keywords if k.arg == "input_shape"), None)
                dim = next((k.value for k in node.keywords if k.arg == "input_dim"), None)
                if shape_kw is None and dim is not None:
                    shape_kw = ast.Tuple(elts=[dim], ctx=ast.Load())
            if isinstance(shape_kw, (ast.Tuple, ast.List)):
                d = [h.folder.fold(e) if not (isinstance(e, ast.Constant) and e.value is None) else None
                     for e in shape_kw.elts]
                if d and all(x is None or x > 0 for x in d) and not all(x is None for x in d):
                    out.setdefault("keras_input", {"shape": [None] + [x for x in d],
                                                   "why": f"{h.src(node)[:60]} at line {node.lineno}"})
    # the forward's signature, consumers, own reshape
    forward = None
    if kind != "var":
        forward = _find_method(tree, name, ("call",) if framework == "keras" else ("forward", "call"))
        hidden = _find_method(tree, name, HIDDEN_METHODS)
        if hidden is not None:
            out["init_hidden"] = {"method": hidden.name, "nargs": len(hidden.args.args) - 1}
    if forward is not None:
        a = forward.args
        params = (a.posonlyargs + a.args)[1:]
        n_def = len(a.defaults)
        out["params"] = [{"name": p.arg, "default": (i >= len(params) - n_def) if n_def else False}
                         for i, p in enumerate(params)]
        out["params_line"] = forward.lineno
        names = {p.arg for p in params}
        consumers: dict[str, str] = {}
        ints: dict[str, str] = {}
        for node in ast.walk(forward):
            if isinstance(node, ast.Call):
                f = node.func
                if (isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in names
                        and f.attr == "long"):
                    ints.setdefault(f.value.id, f"{h.src(node)} at line {node.lineno}")
                attr = _self_attr(f)
                if attr:
                    for arg in node.args:
                        if isinstance(arg, ast.Name) and arg.id in names and arg.id not in consumers:
                            consumers[arg.id] = attr
        out["consumers"] = consumers
        out["int_params"] = ints
        if params:
            first = params[0].arg
            for stmt in forward.body:
                found = _first_reshape(stmt, first, h)
                if found is not None:
                    out["shapes"].append(dict(found, source="forward"))
                    break
                if _rebinds(stmt, first):
                    break
        if re.search(r"torch\.(?:double|float64)\b", ast.get_source_segment(text, forward) or ""):
            out["model_dtype"] = "double"
    # what the file passes to the model
    inst = _instances(tree, name)
    for node in nodes_of(tree):
        if isinstance(node, ast.Call) and node.args:
            how = _called_instance(node, inst)
            if how is None:
                continue
            scope = _enclosing_scope(tree, node.lineno)
            shapes = []
            for arg in node.args[:1] if how in ("fit", "evaluate", "train_on_batch", "test_on_batch") else node.args:
                shapes.append(h.tensor_shape(arg, scope, node.lineno))
            if shapes and shapes[0] is not None:
                entry = dict(shapes[0], source="call", call_line=node.lineno)
                if len(shapes) > 1:
                    entry["others"] = shapes[1:]
                entry["why"] = f"{entry['why']}, passed to the model at line {node.lineno}"
                out["shapes"].insert(sum(1 for s in out["shapes"] if s.get("source") == "call"), entry)
    for node in nodes_of(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("double",)
                and isinstance(node.func.value, ast.Name) and node.func.value.id in inst):
            out["model_dtype"] = "double"
    if not out["shapes"]:
        del out["shapes"]
    return out


def _self_attr(f: ast.AST) -> str | None:
    """``self.encoder`` / ``self.layers[0]`` -> ``encoder``."""
    while isinstance(f, ast.Subscript):
        f = f.value
    parts = []
    while isinstance(f, ast.Attribute):
        parts.append(f.attr)
        f = f.value
    if isinstance(f, ast.Name) and f.id == "self" and parts:
        return ".".join(reversed(parts))
    return None


def _rebinds(stmt: ast.stmt, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Store) for n in ast.walk(stmt))


def _first_reshape(stmt: ast.stmt, name: str, h: _Hints) -> dict | None:
    """``x.view(-1, 28, 28)`` / ``x.reshape(B, 1, 28, 28)`` / ``torch.reshape(x, ...)`` applied to the raw input."""
    for node in ast.walk(stmt):
        if not isinstance(node, ast.Call):
            continue
        fn = _call_name(node)
        if fn in ("view", "reshape") and isinstance(node.func, ast.Attribute):
            obj = node.func.value
            args = list(node.args)
            if isinstance(obj, ast.Name) and obj.id in ("torch",) and args:
                obj, args = args[0], args[1:]
            if isinstance(obj, ast.Name) and obj.id == name:
                d = h.dims(args, allow_self=True)
                if d and d[0] is None and len(d) > 1:
                    return {"shape": d, "dtype": None, "why": f"{h.src(node)} at line {node.lineno}"}
    return None


__all__ = ["input_hints", "DATASETS"]

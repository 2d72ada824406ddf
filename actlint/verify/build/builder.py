"""The restricted module source a child executes: only what a model's definition needs.

From a file's top-level statements it keeps imports, class and function definitions,
simple assignments (constants, layer lists, a module-level ``Sequential``), the calls
that build a model in place (``model.add``, ``compile``, ``list.append``), seed and
precision-policy calls, and loops that only append layers — each only when the model
needs the names it binds.  Never kept: training calls, ``if __name__ == "__main__"``
blocks, other loops, ``with``/``try`` blocks, file writes.  Dropped lines are blanked,
so line numbers in the child match the user's file.
"""

from __future__ import annotations

import ast
import builtins
import symtable
from dataclasses import dataclass, field

TRAINING_ATTRS = frozenset({
    "backward", "step", "fit", "fit_generator", "train_on_batch", "evaluate", "predict", "zero_grad", "save",
    "save_weights", "load_state_dict", "load_weights", "to_csv", "savefig", "show", "write", "write_text",
    "write_bytes", "cuda", "run", "train", "summary", "print",
})
TRAINING_NAMES = frozenset({"open", "print", "input", "exec", "eval", "exit", "quit", "breakpoint",
                            "save_model", "load_model", "plot_model"})
SEED_ATTRS = frozenset({"manual_seed", "manual_seed_all", "seed", "set_seed", "set_random_seed", "seed_everything",
                        "set_global_policy", "set_floatx", "use_deterministic_algorithms"})
_BUILTINS = frozenset(dir(builtins))


@dataclass
class Stmt:
    node: ast.stmt
    binds: set[str] = field(default_factory=set)
    uses: set[str] = field(default_factory=set)
    kind: str = "other"  # import | def | assign | mutate | seed | loop | other


def _names_used(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _free_globals(node: ast.stmt) -> set[str]:
    """The module-level names a definition refers to, scope by scope (a parameter ``args`` of one
    method does not hide the global ``args`` another method reads); bases, decorators, defaults and
    annotations included."""
    try:
        top = symtable.symtable(ast.unparse(node), "<definition>", "exec")
    except (SyntaxError, ValueError, RecursionError):
        return _names_used(node) - _locals(node)
    names = {sym.get_name() for sym in top.get_symbols() if sym.is_referenced()}
    tables = list(top.get_children())
    while tables:
        table = tables.pop()
        names |= {sym.get_name() for sym in table.get_symbols() if sym.is_global() and sym.is_referenced()}
        tables.extend(table.get_children())
    return names


def _locals(node: ast.AST) -> set[str]:
    """Names a definition binds inside itself (parameters, assignments): not module-level needs."""
    names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    names |= {a.arg for n in ast.walk(node) if isinstance(n, ast.arguments)
              for a in n.posonlyargs + n.args + n.kwonlyargs + [x for x in (n.vararg, n.kwarg) if x]}
    globals_ = {g for n in ast.walk(node) if isinstance(n, ast.Global) for g in n.names}
    return names - globals_


def _call_roots(call: ast.Call, modules: frozenset[str] = frozenset()) -> set[str]:
    """The variables a call may change: the object of a method call (``model.add(x)``, not ``x``,
    and not ``args`` in ``env.reset(seed=args.seed)``); the positional arguments of a function or
    module function (``init(model)``, ``nn.init.zeros_(model[0].bias)``)."""
    roots = set()
    obj = _root_name(call.func.value) if isinstance(call.func, ast.Attribute) else None
    if obj is not None and obj not in modules:
        return {obj}
    for a in call.args:
        roots.add(_root_name(a))
    roots.discard(None)
    return roots


def _bound(target: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(target) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def _calls(node: ast.AST):
    return [n for n in ast.walk(node) if isinstance(n, ast.Call)]


def _trains(node: ast.AST) -> bool:
    """Calls that train, write or talk to the user: never executed by the verifier."""
    for call in _calls(node):
        f = call.func
        if isinstance(f, ast.Attribute) and f.attr in TRAINING_ATTRS:
            return True
        if isinstance(f, ast.Name) and f.id in TRAINING_NAMES:
            return True
    return False


def _root_name(expr: ast.AST) -> str | None:
    while isinstance(expr, (ast.Attribute, ast.Subscript)):
        expr = expr.value
    return expr.id if isinstance(expr, ast.Name) else None


def classify(node: ast.stmt, modules: frozenset[str] = frozenset()) -> Stmt:
    """What one top-level statement binds and uses, and whether the child may run it.

    ``modules`` are the names the file's imports bind (a call on one changes its arguments).
    """
    s = Stmt(node)
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        s.kind = "import"
        for alias in node.names:
            if alias.name != "*":
                s.binds.add((alias.asname or alias.name).split(".")[0])
        return s
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        s.kind = "def"
        s.binds.add(node.name)
        s.uses = _free_globals(node) - {node.name}
        return s
    if isinstance(node, (ast.If, ast.Try)) and not _is_main_guard(node) and _only_imports(node):
        # try: from torch import Tensor / except ImportError: ...; if TYPE_CHECKING: import x
        s.kind = "import"
        for n in ast.walk(node):
            if isinstance(n, (ast.Import, ast.ImportFrom)):
                s.binds |= classify(n).binds
            elif isinstance(n, (ast.Assign, ast.AnnAssign)):
                s.binds |= {b for t in (n.targets if isinstance(n, ast.Assign) else [n.target]) for b in _bound(t)}
        s.uses = _names_used(node) - s.binds
        return s
    if _trains(node):
        return s
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if node.value is None:
            return s
        s.kind = "assign"
        for t in targets:
            s.binds |= _bound(t)
            if not isinstance(t, ast.Name):  # obj.attr = ..., d[k] = ...: a mutation of obj
                root = _root_name(t)
                if root:
                    s.binds.add(root)
                    s.uses.add(root)
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            s.uses.add(node.target.id)
        s.uses |= _names_used(node.value)
        return s
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        f = node.value.func
        if isinstance(f, ast.Attribute) and f.attr in SEED_ATTRS:
            if _root_name(f.value) not in modules:
                return s  # env.seed(...), a data loader's seed: not the model's
            s.kind = "seed"
            s.uses = _names_used(node)
            return s
        # model.add(...), nn.init.zeros_(model[0].bias), model.apply(init): finishing a definition.
        s.kind = "mutate"
        s.binds = _call_roots(node.value, modules)
        s.uses = _names_used(node)
        return s
    if isinstance(node, ast.For) and not node.orelse and all(
            (isinstance(b, ast.Expr) and isinstance(b.value, ast.Call)) or isinstance(b, ast.AugAssign)
            for b in node.body):
        # A loop that only appends layers or initialises them is part of a definition, not training.
        s.kind = "loop"
        for b in node.body:
            if isinstance(b, ast.AugAssign):
                s.binds |= _bound(b.target) | {r for r in [_root_name(b.target)] if r}
            else:
                s.binds |= _call_roots(b.value, modules)
        s.binds |= {r for r in [_root_name(node.iter)] if r}
        s.binds -= _bound(node.target)
        s.uses = _names_used(node) - _bound(node.target)
        return s
    return s


def _is_main_guard(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and "__name__" in {n.id for n in ast.walk(node.test) if isinstance(n, ast.Name)}


def _only_imports(node: ast.stmt) -> bool:
    """An ``if``/``try`` block made only of imports, simple assignments of constants or names, ``pass``
    (the handlers of a ``try`` aside)."""
    def simple(stmt: ast.stmt) -> bool:
        if isinstance(stmt, (ast.Import, ast.ImportFrom, ast.Pass)):
            return True
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
            return not _calls(stmt.value)
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            return True
        if isinstance(stmt, (ast.If, ast.Try)):
            return _only_imports(stmt)
        return False
    # A handler runs only when an import fails, which a guarded import never does (see loader.py).
    blocks = [node.body, node.orelse] + ([node.finalbody] if isinstance(node, ast.Try) else [])
    return any(isinstance(n, (ast.Import, ast.ImportFrom)) for b in blocks for n in b) and all(
        simple(n) for b in blocks for n in b)


def _parse_args_blocks(tree: ast.Module, modules: frozenset[str]) -> list[tuple[Stmt, list[ast.stmt]]]:
    """``args = parser.parse_args()`` inside ``if __name__ == "__main__":`` or a function (``main()``):
    the parser's statements, to be run at module level when a kept definition or a call site reads ``args``."""
    out = []
    for node in tree.body:
        if not (_is_main_guard(node) or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))):
            continue
        body = node.body
        parsed = [b for b in body if isinstance(b, ast.Assign) and len(b.targets) == 1
                  and isinstance(b.targets[0], ast.Name) and any(
                      isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute)
                      and c.func.attr in ("parse_args", "parse_known_args") for c in ast.walk(b.value))]
        if not parsed:
            continue
        parsers = {_root_name(c.func.value) for b in parsed for c in ast.walk(b.value)
                   if isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute)
                   and c.func.attr in ("parse_args", "parse_known_args")} - {None}
        kept, names = [], set(parsers)
        for b in body:
            if b.lineno > parsed[-1].lineno:
                break
            value = getattr(b, "value", None)
            on_parser = (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
                         and _root_name(value.func.value) in names)
            if b in parsed:
                kept.append(b)
            elif isinstance(b, ast.Assign) and len(b.targets) == 1:
                makes = isinstance(value, ast.Call) and "ArgumentParser" in ast.unparse(value.func)
                if makes or on_parser or _bound(b.targets[0]) & names:
                    kept.append(b)  # parser = argparse.ArgumentParser(...); group = parser.add_argument_group()
                    names |= _bound(b.targets[0])
            elif isinstance(b, ast.Expr) and on_parser:
                kept.append(b)  # parser.add_argument(...)
        st = Stmt(node, kind="argblock")
        st.binds = {b.targets[0].id for b in parsed}
        st.uses = set().union(*(_names_used(b) for b in kept)) - names - st.binds
        out.append((st, kept))
    return out


def _channels_first_test(test: ast.expr) -> bool | None:
    """Whether an ``if`` test asks for Keras's channels-first layout (``K.image_dim_ordering() == 'th'``,
    ``K.image_data_format() == 'channels_first'``); None when it asks something else."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], (ast.Eq, ast.NotEq))):
        return None
    sides = [test.left, test.comparators[0]]
    asks = any(isinstance(c, ast.Call) and isinstance(c.func, (ast.Attribute, ast.Name))
               and (c.func.attr if isinstance(c.func, ast.Attribute) else c.func.id)
               in ("image_dim_ordering", "image_data_format") for c in sides)
    value = next((c.value for c in sides if isinstance(c, ast.Constant) and isinstance(c.value, str)), None)
    if not asks or value is None:
        return None
    first = value in ("th", "channels_first")
    return first if isinstance(test.ops[0], ast.Eq) else not first


def _constant_expr(expr: ast.expr, top: bool = True) -> bool:
    """A literal, or a tuple/list/arithmetic of literals and names with a literal in it
    (``(1, img_rows, img_cols)``, ``28 * 28``): not a bare name, which may be data."""
    if top:
        return _constant_expr(expr, False) and any(isinstance(n, ast.Constant) for n in ast.walk(expr))
    if isinstance(expr, (ast.Constant, ast.Name)):
        return True
    if isinstance(expr, (ast.Tuple, ast.List)):
        return all(_constant_expr(e, False) for e in expr.elts)
    if isinstance(expr, ast.BinOp):
        return _constant_expr(expr.left, False) and _constant_expr(expr.right, False)
    if isinstance(expr, ast.UnaryOp):
        return _constant_expr(expr.operand, False)
    return False


def _branch_constants(tree: ast.Module, bound_at_top: set[str]) -> list[tuple[Stmt, list[ast.stmt]]]:
    """Constants a module-level ``if``/``elif`` chain binds beside other work (``nc = 3`` next to a
    dataset's loader, ``input_shape = (img_rows, img_cols, 1)`` beside a reshape): the first branch's
    value of each name no top-level statement binds.  A test on Keras's image layout picks the
    channels-last branch first, the layout Keras 3 builds."""
    out = []
    for node in tree.body:
        if not isinstance(node, ast.If) or _is_main_guard(node):
            continue
        branches, cur = [node.body], node
        while len(cur.orelse) == 1 and isinstance(cur.orelse[0], ast.If):
            cur = cur.orelse[0]
            branches.append(cur.body)
        if cur.orelse:
            branches.append(cur.orelse)
        if len(branches) == 2 and _channels_first_test(node.test):
            branches.reverse()
        chosen: dict[str, ast.stmt] = {}
        for body in branches:
            for b in body:
                if not (isinstance(b, ast.Assign) and len(b.targets) == 1 and isinstance(b.targets[0], ast.Name)):
                    continue
                name = b.targets[0].id
                if name in bound_at_top or name in chosen or not _constant_expr(b.value):
                    continue
                chosen[name] = b
        if chosen:
            st = Stmt(node, kind="argblock")
            st.binds = set(chosen)
            st.uses = set().union(*(_names_used(b.value) for b in chosen.values())) - st.binds
            out.append((st, sorted(chosen.values(), key=lambda b: b.lineno)))
    return out


def restricted_source(source: str, roots: set[str], root_lines: tuple[int, int] | None = None) -> tuple[str, list[int]]:
    """The part of ``source`` needed to define ``roots`` (names), with every other line blanked.

    ``root_lines`` bounds a module-level model variable: after it, only statements that finish
    building it (``model.add``, ``nn.init.x_(model[0].weight)``, init loops) are kept.
    Returns the source and the line numbers kept.
    """
    tree = ast.parse(source)
    modules = import_names(tree)
    stmts = [classify(n, modules) for n in tree.body]
    for st in stmts:
        if st.kind in ("mutate", "loop"):
            st.binds -= modules  # ``nn.init.x_(...)`` changes its argument, not ``nn``
    bound_at_top = {n for st in stmts if st.kind != "other" for n in st.binds}
    blocks: dict[int, list[ast.stmt]] = {}
    for st, body in _parse_args_blocks(tree, modules) + _branch_constants(tree, bound_at_top):
        if not st.binds & bound_at_top:
            blocks[len(stmts)] = body
            stmts.append(st)
    limit = root_lines[1] if root_lines else None
    # A later ``model = …`` starts another model under the same name: this one ends there (a notebook's
    # second ``model = Sequential()`` and its ``model.add`` calls are not this model's layers).
    stop = min((st.node.lineno for st in stmts if limit is not None and st.node.lineno > limit
                and st.kind not in ("mutate", "loop") and st.binds & roots), default=None)
    needed = set(roots)
    keep: set[int] = set()
    changed = True
    while changed:
        changed = False
        for i, s in enumerate(stmts):
            if i in keep or s.kind == "other":
                continue
            if stop is not None and s.node.lineno >= stop:
                continue
            if (limit is not None and s.node.lineno > limit and s.kind not in ("def", "mutate", "loop")
                    and not (s.kind in ("assign", "import") and not s.binds & roots)):
                continue  # after a module-level model: what finishes it (add, init, compile's optimiser, the
                # imports its layers need), no rebinding
            if s.kind == "seed" or (s.binds & needed):
                keep.add(i)
                new = s.uses - needed - _BUILTINS
                if new:
                    needed |= new
                changed = True
    lines = source.splitlines()
    out = [""] * len(lines)
    kept_lines: list[int] = []
    for i in sorted(keep):
        node = stmts[i].node
        if i in blocks:  # a main block's parser, or an if-chain's constants: run at module level in place
            indent = len(lines[node.body[0].lineno - 1]) - len(lines[node.body[0].lineno - 1].lstrip())
            out[node.lineno - 1] = "if True:" if indent else ""
            for b in blocks[i]:
                for ln in range(b.lineno, b.end_lineno + 1):
                    out[ln - 1] = lines[ln - 1]
                    kept_lines.append(ln)
            continue
        start = min([d.lineno for d in getattr(node, "decorator_list", [])] + [node.lineno])
        for ln in range(start, node.end_lineno + 1):
            out[ln - 1] = lines[ln - 1]
            kept_lines.append(ln)
    return "\n".join(out) + "\n", kept_lines


def import_names(tree: ast.Module) -> frozenset[str]:
    """The names the module-level imports bind."""
    return frozenset(name for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))
                     for name in classify(n).binds)


def module_level_names(source: str) -> set[str]:
    """Names a child may evaluate in the restricted module (bound by keepable statements)."""
    tree = ast.parse(source)
    modules = import_names(tree)
    names: set[str] = set()
    for node in tree.body:
        s = classify(node, modules)
        if s.kind != "other":
            names |= s.binds
    for st, _ in _parse_args_blocks(tree, modules):
        names |= st.binds
    return names

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
from dataclasses import dataclass, field

TRAINING_ATTRS = frozenset({
    "backward", "step", "fit", "fit_generator", "train_on_batch", "evaluate", "predict", "zero_grad", "save",
    "save_weights", "load_state_dict", "load_weights", "to_csv", "savefig", "show", "write", "write_text",
    "write_bytes", "cuda", "run", "train", "summary", "print",
})
TRAINING_NAMES = frozenset({"open", "print", "input", "exec", "eval", "exit", "quit", "breakpoint"})
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


def _locals(node: ast.AST) -> set[str]:
    """Names a definition binds inside itself (parameters, assignments): not module-level needs."""
    names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    names |= {a.arg for n in ast.walk(node) if isinstance(n, ast.arguments)
              for a in n.posonlyargs + n.args + n.kwonlyargs + [x for x in (n.vararg, n.kwarg) if x]}
    globals_ = {g for n in ast.walk(node) if isinstance(n, ast.Global) for g in n.names}
    return names - globals_


def _call_roots(call: ast.Call) -> set[str]:
    """The variables a call may change: the object of a method call, and its arguments."""
    roots = set()
    if isinstance(call.func, ast.Attribute):
        roots.add(_root_name(call.func.value))
    for a in list(call.args) + [k.value for k in call.keywords]:
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


def classify(node: ast.stmt) -> Stmt:
    """What one top-level statement binds and uses, and whether the child may run it."""
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
        s.uses = _names_used(node) - {node.name} - _locals(node)
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
            s.kind = "seed"
            s.uses = _names_used(node)
            return s
        # model.add(...), nn.init.zeros_(model[0].bias), model.apply(init): finishing a definition.
        s.kind = "mutate"
        s.binds = _call_roots(node.value)
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
                s.binds |= _call_roots(b.value)
        s.binds |= {r for r in [_root_name(node.iter)] if r}
        s.binds -= _bound(node.target)
        s.uses = _names_used(node) - _bound(node.target)
        return s
    return s


def restricted_source(source: str, roots: set[str], root_lines: tuple[int, int] | None = None) -> tuple[str, list[int]]:
    """The part of ``source`` needed to define ``roots`` (names), with every other line blanked.

    ``root_lines`` bounds a module-level model variable: after it, only statements that finish
    building it (``model.add``, ``nn.init.x_(model[0].weight)``, init loops) are kept.
    Returns the source and the line numbers kept.
    """
    tree = ast.parse(source)
    stmts = [classify(n) for n in tree.body]
    modules = {name for st in stmts if st.kind == "import" for name in st.binds}
    for st in stmts:
        if st.kind in ("mutate", "loop"):
            st.binds -= modules  # ``nn.init.x_(...)`` changes its argument, not ``nn``
    limit = root_lines[1] if root_lines else None
    needed = set(roots)
    keep: set[int] = set()
    changed = True
    while changed:
        changed = False
        for i, s in enumerate(stmts):
            if i in keep or s.kind == "other":
                continue
            if limit is not None and s.node.lineno > limit and s.kind not in ("def", "mutate", "loop"):
                continue  # after a module-level model: only what finishes it (add, init), no rebinding
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
        start = min([d.lineno for d in getattr(node, "decorator_list", [])] + [node.lineno])
        for ln in range(start, node.end_lineno + 1):
            out[ln - 1] = lines[ln - 1]
            kept_lines.append(ln)
    return "\n".join(out) + "\n", kept_lines


def module_level_names(source: str) -> set[str]:
    """Names a child may evaluate in the restricted module (bound by keepable statements)."""
    tree = ast.parse(source)
    names: set[str] = set()
    for node in tree.body:
        s = classify(node)
        if s.kind != "other":
            names |= s.binds
    return names

"""Models made inside a module-level function, as the verifier can build them by calling it.

Two shapes of real code: a factory (``def get_model(): model = Sequential(); ...; return
model``) and a training function that builds its model and then fits it (``def imdb_lstm():
... model = Sequential(); model.add(...); model.compile(...); model.fit(x, y)``).  For each,
:func:`function_models` gives the file's text with that function cut down to the statements
that make the model (a backward slice from the model's variable, up to the first statement
that trains) and ``return <model>`` after them; every other line of the function is blank,
so line numbers stay the user's.  The child then calls the function like a constructor.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from actlint.verify.build.builder import classify, import_names

# Calls that start training: the model is complete before the first statement that makes one.
STEP_ATTRS = frozenset({"fit", "fit_generator", "train_on_batch", "backward", "step"})


@dataclass
class FunctionModel:
    function: ast.FunctionDef
    var: str | None              # the model's variable in the function (None: ``return Sequential(...)``)
    framework: str
    text: str                    # the file's text with the function cut (see the module docstring)
    params: list[str]            # the function's required parameters the kept statements read
    trains: bool                 # the function fits the model itself (its training is left out)


def _steps(node: ast.AST) -> bool:
    return any(isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute) and c.func.attr in STEP_ATTRS
               for c in ast.walk(node))


def _assigned_call(stmt: ast.stmt) -> tuple[str, ast.Call] | None:
    if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
            and isinstance(stmt.value, ast.Call)):
        return stmt.targets[0].id, stmt.value
    return None


def _choose(fn: ast.FunctionDef, containers: dict[str, str]) -> str | None:
    """The model of the function: the variable it returns, else one it trains, else the last one made."""
    returned = [s.value.id for s in fn.body if isinstance(s, ast.Return) and isinstance(s.value, ast.Name)]
    if returned and returned[-1] in containers:
        return returned[-1]
    trained = [c.func.value.id for c in ast.walk(fn) if isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute)
               and c.func.attr in STEP_ATTRS | {"compile"} and isinstance(c.func.value, ast.Name)
               and c.func.value.id in containers]
    if trained:
        return trained[0]
    return list(containers)[-1] if containers else None


def function_models(tree: ast.Module, text: str, framework_of) -> list[FunctionModel]:
    """The models the file's module-level functions make; ``framework_of(call)`` names the framework of a
    model container call (``Sequential(...)``, ``Model(...)``) or None."""
    out = []
    modules = import_names(tree)
    for fn in tree.body:
        if not isinstance(fn, ast.FunctionDef) or fn.decorator_list:
            continue
        containers: dict[str, str] = {}
        for stmt in fn.body:
            found = _assigned_call(stmt)
            if found is not None and framework_of(found[1]):
                containers[found[0]] = framework_of(found[1])
        direct = next((s for s in fn.body if isinstance(s, ast.Return) and isinstance(s.value, ast.Call)
                       and framework_of(s.value)), None)
        var = _choose(fn, containers)
        if var is None and direct is None:
            continue
        framework = containers[var] if var is not None else framework_of(direct.value)
        cut = _cut(fn, text, var, modules)
        if cut is None:
            continue
        new_text, used = cut
        a = fn.args
        params = a.posonlyargs + a.args
        required = [p.arg for p in params[:len(params) - len(a.defaults)]]
        out.append(FunctionModel(fn, var, framework, new_text, [p for p in required if p in used],
                                 trains=_steps(fn)))
    return out


def _block(stmt: ast.stmt) -> tuple[set[str], set[str]] | None:
    """A compound statement of the function (``for filters in sizes: x = Conv2D(filters, ...)(x)``,
    ``if patchgan: outputs = ...``) that trains nothing: the names it binds and the names it reads."""
    if not isinstance(stmt, (ast.If, ast.For, ast.While, ast.With)) or _steps(stmt):
        return None
    binds = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    uses = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return binds, uses


def _cut(fn: ast.FunctionDef, text: str, var: str | None, modules) -> tuple[str, set[str]] | None:
    """The text with ``fn`` reduced to what makes ``var``, then ``return var``; and the names those statements read."""
    body = fn.body
    stop = next((i for i, s in enumerate(body) if _steps(s)), len(body))
    head = body[:stop]
    if var is None:  # return Sequential([...]) with nothing to cut after it
        ret = next(i for i, s in enumerate(body) if isinstance(s, ast.Return) and isinstance(s.value, ast.Call))
        if ret >= stop:
            return None
        head, keep = head[:ret + 1], {ret}
        needed = {n.id for n in ast.walk(head[ret]) if isinstance(n, ast.Name)}
    else:
        if not any(var in classify(s, modules).binds for s in head if _assigned_call(s)):
            return None  # made inside an if/with block, or only after training starts
        needed, keep = {var}, set()
    used: set[str] = set(needed)
    for i in range(len(head) - 1, -1, -1):
        if i in keep:
            continue
        block = _block(head[i])
        if block is not None:
            binds, uses = block
            if binds & needed:
                keep.add(i)
                needed |= uses
                used |= uses
            continue
        st = classify(head[i], modules)
        if isinstance(head[i], ast.Return) and var is not None:
            if isinstance(head[i].value, ast.Name) and head[i].value.id == var:
                keep.add(i)
            continue
        if st.kind in ("import", "def", "assign", "mutate", "loop") and st.binds & needed or st.kind == "seed":
            keep.add(i)
            needed |= st.uses
            used |= st.uses
    if var is not None and not keep:
        return None
    lines = text.splitlines()
    for i, s in enumerate(body):
        if i in keep:
            continue
        for ln in range(s.lineno, s.end_lineno + 1):
            lines[ln - 1] = ""
    if var is not None and not any(isinstance(head[i], ast.Return) for i in keep):
        indent = " " * body[0].col_offset
        last = max(head[i].end_lineno for i in keep)
        if last < fn.end_lineno:
            lines[last] = f"{indent}return {var}"  # the line after the model's last statement is blank now
        elif not isinstance(head[max(keep)], (ast.For, ast.While, ast.If, ast.With, ast.Try)):
            lines[last - 1] += f"; return {var}"
        else:
            return None
    return "\n".join(lines) + "\n", used


def cut_function(fn: ast.FunctionDef, text: str, var: str | None, modules) -> str | None:
    """``text`` with ``fn`` reduced to the statements that make ``var``, then ``return var`` (``var`` None: up
    to its first ``return <call>``); None where it cannot be cut."""
    cut = _cut(fn, text, var, modules)
    return cut[0] if cut is not None else None


__all__ = ["FunctionModel", "function_models", "cut_function", "STEP_ATTRS"]

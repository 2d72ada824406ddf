"""Findings outside any model: an experiment on the flagged expression itself (parent side, no framework).

A softmax fed to ``F.cross_entropy`` inside ``train()``, ``torch.log(p)`` in an ``entropy``
helper, ``F.softmax(scores)`` in a utility: no model the verifier builds runs them. For
ACT102, ACT103, ACT104 and ACT109 this module reads, from the static model picture, which
op is the softmax/sigmoid/log and which loss it reaches, and writes a self-contained
experiment: the user's call forms with their input replaced by synthetic logits ``z``
(``F.softmax(z, dim=1)``), the loss or log as written, and the corrected form.  The child
runs them (:mod:`actlint.verify.measure.function_probes`); :mod:`actlint.verify.judge.verdicts` judges.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst

from actlint.findings import Finding
from actlint.verify.build.targets import Target

CODES = frozenset({"ACT102", "ACT103", "ACT104", "ACT109"})
_SAFE_IMPORTS = ("torch", "math", "numpy")
_CANON_ACT = {"softmax": "torch.softmax(z, dim={dim})", "sigmoid": "torch.sigmoid(z)",
              "log_softmax": "torch.log_softmax(z, dim={dim})"}


@dataclass
class FunctionTarget(Target):
    """The experiments for one file's findings outside any model, run in one child."""

    experiments: list = field(default_factory=list)

    def spec(self) -> dict:
        return {"kind": "functions", "user_file": str(self.file.resolve()), "imports": self.source,
                "experiments": self.experiments, "sys_path": [], "framework": "torch"}


def _names(node: cst.CSTNode) -> set[str]:
    found: set[str] = set()

    class V(cst.CSTVisitor):
        def visit_Attribute(self, n: cst.Attribute) -> bool:
            n.value.visit(self)  # ``F.softmax``: only the head is a free name
            return False

        def visit_Arg(self, n: cst.Arg) -> bool:
            n.value.visit(self)  # ``dim=1``: the keyword is not a name
            return False

        def visit_Name(self, n: cst.Name) -> None:
            found.add(n.value)

    node.visit(V())
    return found


class _Replace(cst.CSTTransformer):
    def __init__(self, mapping: dict) -> None:
        self.mapping = mapping  # id(node) -> replacement expression

    def on_leave(self, original, updated):
        return self.mapping.get(id(original), updated)


def _code(node: cst.CSTNode, mapping: dict | None = None) -> str:
    if mapping:
        node = node.visit(_Replace(mapping))
    return cst.Module([]).code_for_node(node)


class _File:
    """The picture of one file and what the experiments need from it."""

    def __init__(self, text: str) -> None:
        from actlint.index import FileIndex
        from actlint.picture.flow import build_picture

        self.module = cst.parse_module(text)
        self.index = FileIndex(self.module)
        self.picture = build_picture(self.index)
        self.aliases: set[str] = set()
        imports = []
        for stmt in self.module.body:
            if not isinstance(stmt, cst.SimpleStatementLine):
                continue
            for small in stmt.body:
                if isinstance(small, cst.Import):
                    if all(_code(a.name).split(".")[0] in _SAFE_IMPORTS for a in small.names):
                        imports.append(_code(small))
                        for a in small.names:
                            self.aliases.add(a.asname.name.value if a.asname else _code(a.name).split(".")[0])
                elif isinstance(small, cst.ImportFrom) and small.module is not None and not isinstance(
                        small.names, cst.ImportStar):
                    if _code(small.module).split(".")[0] in _SAFE_IMPORTS and not small.relative:
                        imports.append(_code(small))
                        for a in small.names:
                            self.aliases.add(a.asname.name.value if a.asname else _code(a.name))
        self.imports = "\n".join(imports)
        self.constants = self._constants()

    def _constants(self) -> dict[str, str]:
        """Module-level ``EPS = 1e-8``: names a flagged expression may use."""
        out = {}
        for stmt in self.module.body:
            if (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1
                    and isinstance(stmt.body[0], cst.Assign)):
                a = stmt.body[0]
                if len(a.targets) == 1 and isinstance(a.targets[0].target, cst.Name) and isinstance(
                        a.value, (cst.Float, cst.Integer)):
                    out[a.targets[0].target.value] = a.value.value
        return out

    def at(self, node) -> tuple[int, int]:
        line, col, _, _ = self.index.position(node)
        return line, col

    def runnable(self, node: cst.CSTNode, extra: set[str]) -> bool:
        return not (_names(node) - self.aliases - set(self.constants) - extra - {"True", "False", "None"})

    def act_form(self, op) -> str:
        """The user's softmax/sigmoid call with its input replaced by ``z``; else the canonical form."""
        from actlint.checks.rewrite import call_input

        node = op.node
        dim = op.dim if isinstance(op.dim, int) else -1
        canon = _CANON_ACT.get(op.fn, "torch.sigmoid(z)").format(dim=dim)
        if not isinstance(node, cst.Call):
            return canon
        qual = self.index.call_name(node) or ""
        last = qual.rsplit(".", 1)[-1]
        if last[:1].isupper():  # a module: nn.Softmax(dim=1) applied to z
            return f"{_code(node)}(z)" if self.runnable(node, set()) else canon
        data = call_input(node)
        if data is None:
            return canon
        form = node.deep_replace(data, cst.Name("z"))
        return _code(form) if self.runnable(form, {"z"}) else canon

    # ---- per rule

    def experiment(self, f: Finding) -> dict | str:
        pos = (f.line, f.column)
        if f.code in ("ACT102", "ACT103"):
            return self._loss_experiment(f, pos)
        if f.code == "ACT109":
            return self._log_experiment(pos)
        return self._dim_experiment(pos)

    def _loss_experiment(self, f: Finding, pos) -> dict | str:
        for site in self.picture.loss_sites:
            ops = [op for op in site.last_ops() if op is not None and self.at(op.node) == pos]
            if not ops:
                continue
            op, spec = ops[0], site.spec
            if spec.framework != "torch":
                return "the loss is a Keras loss; only PyTorch losses are run outside a model"
            act = self.act_form(op)
            dim = op.dim if isinstance(op.dim, int) else -1
            loss, fixed = _loss_forms(f.code, spec, dim)
            if loss is None:
                return f"the verifier does not run {spec.label} outside a model"
            return {"kind": "loss_chain", "act": act, "fn": op.fn, "loss": loss, "fixed": fixed,
                    "family": spec.family, "loss_label": spec.label, "loss_line": self.at(site.node)[0],
                    "autocast": bool(site.autocast)}
        return "the static picture has no loss site for this op"

    def _log_experiment(self, pos) -> dict | str:
        from actlint.checks.rewrite import call_input, strip_epsilon

        for site in self.picture.log_sites:
            log, src = site.op.node, site.source
            if self.at(log) != pos or not isinstance(log, cst.Call):
                continue
            act = self.act_form(src)
            dim = src.dim if isinstance(src.dim, int) else -1
            arg = call_input(log)
            bind: dict = {}
            mapping: dict = {}
            inner = _inside(log, src.node)
            if inner:  # log(softmax(x)) inline: run it on z
                data = call_input(src.node) if isinstance(src.node, cst.Call) else None
                if data is None:
                    return "the softmax/sigmoid inside the log has no input the verifier can replace"
                mapping[id(data)] = cst.Name("z")
            free = _names(log) - self.aliases - set(self.constants) - {"True", "False", "None"}
            translated = None
            qual = self.index.call_name(log) or ""
            if qual in ("tensorflow.log", "tensorflow.math.log"):  # TF1/TF2 log: the same float32 IEEE log
                mapping[id(log.func)] = cst.parse_expression("torch.log")
                free -= _names(log.func)
                translated = f"{_code(log.func)} run as torch.log (TensorFlow itself is not run)"
            if inner:
                free -= _names(data) if data is not None else set()
            free.discard("z")
            attrs = [a for a in _attrs(log) if a not in mapping]
            if not inner:
                if len(free) != 1:
                    return ("the log's argument uses " + (", ".join(sorted(free)) or "no variable")
                            + ": the verifier cannot tell which one holds the probabilities")
                bind[free.pop()] = act
            for node, value in attrs:
                mapping[id(node)] = cst.parse_expression(value)
            expr = _code(log, mapping)
            base = strip_epsilon(arg) if arg is not None else None
            complement = (isinstance(base, cst.BinaryOperation) and isinstance(base.operator, cst.Subtract)
                          and isinstance(base.left, (cst.Integer, cst.Float)))
            if src.fn == "softmax":
                fixed = f"torch.log_softmax(z, dim={dim})"
            else:
                fixed = "torch.nn.functional.logsigmoid(-z)" if complement else "torch.nn.functional.logsigmoid(z)"
            return {"kind": "log", "expr": expr, "bind": bind, "act": act, "fn": src.fn, "fixed": fixed,
                    "eps": strip_epsilon(arg) is not arg if arg is not None else False,
                    "constants": self.constants, "half": self.half, "translated": translated}
        return "the static picture has no log site at this line"

    def _dim_experiment(self, pos) -> dict | str:
        from actlint.checks.rewrite import call_input

        for call in self.index.calls:
            if self.at(call) != pos:
                continue
            qual = self.index.call_name(call) or ""
            if qual.rsplit(".", 1)[-1][:1].isupper():
                form = f"{_code(call)}(z)" if self.runnable(call, set()) else "torch.nn.Softmax()(z)"
                data = None
            else:
                data = call_input(call)
                if data is None:
                    return "the softmax has no input the verifier can replace"
                form = _code(call.deep_replace(data, cst.Name("z")))
                if not self.runnable(cst.parse_expression(form), {"z"}):
                    form = "torch.nn.functional.softmax(z)"
            rank = _rank(data, self) if data is not None else None
            return {"kind": "implicit_dim", "form": form, "rank": rank}
        return "the softmax call was not found"

    @property
    def half(self) -> bool:
        return bool(self.picture.half_casts) or any(s.autocast for s in self.picture.loss_sites)


def _inside(outer: cst.CSTNode, node: cst.CSTNode) -> bool:
    found = []

    class V(cst.CSTVisitor):
        def on_visit(self, n) -> bool:
            if n is node:
                found.append(n)
            return not found

    outer.visit(V())
    return bool(found)


def _attrs(node: cst.CSTNode) -> list:
    """``self.eps``-style attributes in the expression (the verifier substitutes 1e-8 only when named eps)."""
    out = []

    class V(cst.CSTVisitor):
        def visit_Attribute(self, n: cst.Attribute) -> bool:
            if isinstance(n.value, cst.Name) and n.value.value == "self" and "eps" in n.attr.value.lower():
                out.append((n, "1e-8"))
            return True

    node.visit(V())
    return out


def _loss_forms(code: str, spec, dim: int) -> tuple[str | None, str | None]:
    """The loss as a call on ``p`` (what the user feeds it) and the corrected form on logits ``z``."""
    F = "torch.nn.functional"
    if code == "ACT103":
        return f"{F}.binary_cross_entropy(p, y)", f"{F}.binary_cross_entropy_with_logits(z, y)"
    if spec.family == "categorical":
        return f"{F}.cross_entropy(p, y)", f"{F}.cross_entropy(z, y)"
    if spec.family == "binary":
        return f"{F}.binary_cross_entropy_with_logits(p, y)", f"{F}.binary_cross_entropy_with_logits(z, y)"
    if spec.family == "nll":
        return f"{F}.nll_loss(p, y)", f"{F}.nll_loss(torch.log_softmax(z, dim={dim}), y)"
    return None, None


_RANK_CALLS = {"bmm": 3, "baddbmm": 3}


def _rank(expr, file: _File, depth: int = 0) -> int | None:
    """The rank of a tensor expression when the code states it (``.view(b, -1)``, ``torch.bmm``, ``randn(4, 8)``)."""
    if expr is None or depth > 6:
        return None
    if isinstance(expr, cst.Call):
        qual = file.index.call_name(expr) or ""
        last = qual.rsplit(".", 1)[-1]
        if last in _RANK_CALLS:
            return _RANK_CALLS[last]
        if isinstance(expr.func, cst.Attribute):
            attr = expr.func.attr.value
            positional = [a for a in expr.args if a.keyword is None]
            if attr in ("view", "reshape", "permute") and positional and not any(a.star for a in positional):
                if len(positional) == 1 and isinstance(positional[0].value, cst.Tuple):
                    return len(positional[0].value.elements)
                return len(positional)
            if attr == "unsqueeze":
                inner = _rank(expr.func.value, file, depth + 1)
                return inner + 1 if inner is not None else None
            if attr in ("transpose", "contiguous", "float", "exp", "clone", "detach", "masked_fill"):
                return _rank(expr.func.value, file, depth + 1)
            if last in ("randn", "rand", "zeros", "ones", "empty") and positional:
                if len(positional) == 1 and isinstance(positional[0].value, (cst.Tuple, cst.List)):
                    return len(positional[0].value.elements)
                return len(positional)
        if last in ("matmul",) and len(expr.args) >= 2:
            ranks = [_rank(a.value, file, depth + 1) for a in expr.args[:2]]
            return max(ranks) if None not in ranks else None
    if isinstance(expr, cst.BinaryOperation):
        if isinstance(expr.operator, cst.MatrixMultiply):
            ranks = [_rank(expr.left, file, depth + 1), _rank(expr.right, file, depth + 1)]
            return max(ranks) if None not in ranks else None
        sides = [_rank(s, file, depth + 1) for s in (expr.left, expr.right)
                 if not isinstance(s, (cst.Integer, cst.Float))]
        known = [r for r in sides if r is not None]
        return max(known) if known and len(known) == len(sides) else None
    if isinstance(expr, cst.Name):
        value = _assigned(file, expr)
        return _rank(value, file, depth + 1) if value is not None else None
    return None


def _assigned(file: _File, name: cst.Name):
    """The value of the last single assignment to ``name`` before it, in the same function."""
    line = file.at(name)[0]
    scope = _scope_of(file, line)
    best = None
    for target, value in _all_assigns(file):
        at = file.at(value)[0]
        if target == name.value and at < line and _scope_of(file, at) == scope:
            best = value
    return best


def _scope_of(file: _File, line: int):
    """The innermost function (by its first and last line) holding ``line``; None at module level."""
    if not hasattr(file, "_functions"):
        spans = []

        class V(cst.CSTVisitor):
            def visit_FunctionDef(self, n: cst.FunctionDef) -> None:
                first, _, last, _ = file.index.position(n)
                spans.append((first, last))

        file.module.visit(V())
        file._functions = spans
    inside = [s for s in file._functions if s[0] <= line <= s[1]]
    return min(inside, key=lambda s: s[1] - s[0]) if inside else None


def _all_assigns(file: _File) -> list:
    cache = getattr(file, "_assigns", None)
    if cache is None:
        cache = []

        class V(cst.CSTVisitor):
            def visit_Assign(self, n: cst.Assign) -> None:
                if len(n.targets) == 1 and isinstance(n.targets[0].target, cst.Name):
                    cache.append((n.targets[0].target.value, n.value))

        file.module.visit(V())
        file._assigns = cache
    return cache


def function_targets(path: str, file: Path, text: str, unmapped: list[tuple[Finding, str]], models=()):
    """Experiments for the unmapped findings of ``CODES``; returns (targets, the findings still unmapped).

    An ACT109 log outside every model's lines that a model took by name (``torch.log(1 - D(x))``
    at module level) is run here too: the model's own probe only sees the model's output.
    """
    taken = set().union(*(t.lines for t in models)) if models else set()
    borrowed: dict[int, Target] = {}
    for t in models:
        for f in list(t.findings):
            if f.code == "ACT109" and not set(range(f.line, f.end_line + 1)) & taken:
                t.findings.remove(f)
                borrowed[id(f)] = t
                unmapped = unmapped + [(f, f"outside {t.name}")]
    mine = [(f, why) for f, why in unmapped if f.code in CODES]
    if not mine:
        return [], unmapped
    try:
        pic = _File(text)
    except Exception:  # the static pass already reported what it could not read
        for f, _ in mine:
            if id(f) in borrowed:
                borrowed[id(f)].findings.append(f)
        return [], [(f, why) for f, why in unmapped if id(f) not in borrowed]
    target = FunctionTarget(f"{path}:<outside any model>", path, file, "<outside any model>", "torch",
                            {"kind": "functions"}, pic.imports, set())
    rest = []
    for f, why in unmapped:
        if f.code not in CODES:
            rest.append((f, why))
            continue
        try:
            exp = pic.experiment(f)
        except Exception as exc:  # noqa: BLE001 - a shape the extraction does not know
            exp = f"the flagged expression could not be extracted ({type(exc).__name__})"
        if isinstance(exp, str):
            if id(f) in borrowed:
                borrowed[id(f)].findings.append(f)  # back to the model that took it
            else:
                rest.append((f, f"{why}; {exp}"))
            continue
        exp.update(id=str(len(target.findings)), code=f.code, line=f.line)
        target.experiments.append(exp)
        target.findings.append(f)
    return ([target] if target.findings else []), rest


__all__ = ["CODES", "FunctionTarget", "function_targets"]

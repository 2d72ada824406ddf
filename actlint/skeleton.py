"""LibCST-shaped trees from CPython's parser: the quick first pass over a file.

LibCST's parser builds every space, comma and parenthesis as a node, and that is
most of its time; CPython's ``ast`` parses the same file about six times faster.
:func:`skeleton` parses with ``ast`` and builds the same LibCST node classes the
analysis reads (``Call``, ``Arg``, ``Name``, ``If``, ``Param``…) with their
semantic fields only: layout fields get one shared default each.  The model
picture and the rules run on it unchanged, so a file in which they find nothing
is done without LibCST's parse; a file with a finding is parsed again by LibCST,
whose tree gives the exact places, code and fixes that are reported.

A node's place comes from the ``ast`` node it was built from (:class:`Places`).
``match`` patterns are left out (no analysis reads them).  A construct this module
does not mirror raises :class:`Unsupported`, and the file takes the full parse.
"""

from __future__ import annotations

import ast
import dataclasses
import re
import warnings

import libcst as cst


class Unsupported(Exception):
    """A construct the quick tree does not mirror: parse the file with LibCST."""


# What building a quick tree may raise for a text LibCST may still read (or report as broken).
NOT_BUILT = (SyntaxError, ValueError, RecursionError, MemoryError, Unsupported)


_new = object.__new__
_set = object.__setattr__
_LINES = re.compile(r"\r\n|\r|\n")
_DEF_NAME = re.compile(rb"(?:async\s+)?(?:def|class)\s+(\w+)")


def _maker(cls: type, names: tuple[str, ...]):
    """A function taking values for ``names`` (in order) that builds a ``cls`` node without validation; every
    other field gets its default (one shared instance per class for defaults made by a factory)."""
    env = {"new": _new, "set": _set, "cls": cls}
    lines = [f"def make({', '.join(names)}):", "    o = new(cls)"]
    lines += [f"    set(o, {name!r}, {name})" for name in names]
    for index, f in enumerate(dataclasses.fields(cls)):
        if f.name in names:
            continue
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = None
        env[f"d{index}"] = default
        lines.append(f"    set(o, {f.name!r}, d{index})")
    lines.append("    return o")
    exec("\n".join(lines), env)  # noqa: S102 - generated from dataclass fields, no user input
    return env["make"]


_Module = _maker(cst.Module, ("body",))
_Line = _maker(cst.SimpleStatementLine, ("body",))
_Block = _maker(cst.IndentedBlock, ("body",))
_If = _maker(cst.If, ("test", "body", "orelse"))
_Else = _maker(cst.Else, ("body",))
_For = _maker(cst.For, ("target", "iter", "body", "orelse", "asynchronous"))
_While = _maker(cst.While, ("test", "body", "orelse"))
_With = _maker(cst.With, ("items", "body", "asynchronous"))
_WithItem = _maker(cst.WithItem, ("item", "asname"))
_AsName = _maker(cst.AsName, ("name",))
_Try = _maker(cst.Try, ("body", "handlers", "orelse", "finalbody"))
_TryStar = _maker(cst.TryStar, ("body", "handlers", "orelse", "finalbody"))
_Handler = _maker(cst.ExceptHandler, ("body", "type", "name"))
_StarHandler = _maker(cst.ExceptStarHandler, ("body", "type", "name"))
_Finally = _maker(cst.Finally, ("body",))
_FunctionDef = _maker(cst.FunctionDef, ("name", "params", "body", "decorators", "returns", "asynchronous"))
_Parameters = _maker(cst.Parameters, ("params", "star_arg", "kwonly_params", "star_kwarg", "posonly_params",
                                      "posonly_ind"))
_Param = _maker(cst.Param, ("name", "annotation", "default", "star"))
_Decorator = _maker(cst.Decorator, ("decorator",))
_Annotation = _maker(cst.Annotation, ("annotation",))
_ClassDef = _maker(cst.ClassDef, ("name", "body", "bases", "keywords", "decorators"))
_Arg = _maker(cst.Arg, ("value", "keyword", "star"))
_Return = _maker(cst.Return, ("value",))
_Assign = _maker(cst.Assign, ("targets", "value"))
_Target = _maker(cst.AssignTarget, ("target",))
_AugAssign = _maker(cst.AugAssign, ("target", "operator", "value"))
_AnnAssign = _maker(cst.AnnAssign, ("target", "annotation", "value"))
_Expr = _maker(cst.Expr, ("value",))
_Import = _maker(cst.Import, ("names",))
_ImportFrom = _maker(cst.ImportFrom, ("module", "names", "relative"))
_ImportAlias = _maker(cst.ImportAlias, ("name", "asname"))
_Raise = _maker(cst.Raise, ("exc", "cause"))
_From = _maker(cst.From, ("item",))
_Global = _maker(cst.Global, ("names",))
_Nonlocal = _maker(cst.Nonlocal, ("names",))
_NameItem = _maker(cst.NameItem, ("name",))
_Del = _maker(cst.Del, ("target",))
_Assert = _maker(cst.Assert, ("test", "msg"))
_Name = _maker(cst.Name, ("value",))
_Attribute = _maker(cst.Attribute, ("value", "attr"))
_Call = _maker(cst.Call, ("func", "args"))
_BinOp = _maker(cst.BinaryOperation, ("left", "operator", "right"))
_UnaryOp = _maker(cst.UnaryOperation, ("operator", "expression"))
_BoolOp = _maker(cst.BooleanOperation, ("left", "operator", "right"))
_Comparison = _maker(cst.Comparison, ("left", "comparisons"))
_CompTarget = _maker(cst.ComparisonTarget, ("operator", "comparator"))
_Integer = _maker(cst.Integer, ("value",))
_Float = _maker(cst.Float, ("value",))
_Imaginary = _maker(cst.Imaginary, ("value",))
_String = _maker(cst.SimpleString, ("value",))
_FString = _maker(cst.FormattedString, ("parts",))
_FExpr = _maker(cst.FormattedStringExpression, ("expression", "conversion", "format_spec"))
_FText = _maker(cst.FormattedStringText, ("value",))
_Ellipsis = _maker(cst.Ellipsis, ())
_List = _maker(cst.List, ("elements",))
_Tuple = _maker(cst.Tuple, ("elements",))
_Set = _maker(cst.Set, ("elements",))
_Element = _maker(cst.Element, ("value",))
_Starred = _maker(cst.StarredElement, ("value",))
_Dict = _maker(cst.Dict, ("elements",))
_DictElement = _maker(cst.DictElement, ("key", "value"))
_StarredDict = _maker(cst.StarredDictElement, ("value",))
_Subscript = _maker(cst.Subscript, ("value", "slice"))
_SubElement = _maker(cst.SubscriptElement, ("slice",))
_Index = _maker(cst.Index, ("value", "star"))
_Slice = _maker(cst.Slice, ("lower", "upper", "step"))
_ListComp = _maker(cst.ListComp, ("elt", "for_in"))
_SetComp = _maker(cst.SetComp, ("elt", "for_in"))
_GenExp = _maker(cst.GeneratorExp, ("elt", "for_in"))
_DictComp = _maker(cst.DictComp, ("key", "value", "for_in"))
_CompFor = _maker(cst.CompFor, ("target", "iter", "ifs", "inner_for_in", "asynchronous"))
_CompIf = _maker(cst.CompIf, ("test",))
_IfExp = _maker(cst.IfExp, ("test", "body", "orelse"))
_Lambda = _maker(cst.Lambda, ("params", "body"))
_Await = _maker(cst.Await, ("expression",))
_NamedExpr = _maker(cst.NamedExpr, ("target", "value"))
_Yield = _maker(cst.Yield, ("value",))
_Match = _maker(cst.Match, ("subject", "cases"))
_MatchCase = _maker(cst.MatchCase, ("pattern", "body", "guard"))

_ASYNC = cst.Asynchronous()
_PARAM_STAR = cst.ParamStar()
_PARAM_SLASH = cst.ParamSlash()
_DEFAULT = cst.MaybeSentinel.DEFAULT
_PASS, _BREAK, _CONTINUE = cst.Pass(), cst.Break(), cst.Continue()
_DOT = cst.Dot()
_STAR = cst.ImportStar()

_BINARY = {ast.Add: cst.Add(), ast.Sub: cst.Subtract(), ast.Mult: cst.Multiply(), ast.Div: cst.Divide(),
           ast.FloorDiv: cst.FloorDivide(), ast.Mod: cst.Modulo(), ast.Pow: cst.Power(),
           ast.MatMult: cst.MatrixMultiply(), ast.LShift: cst.LeftShift(), ast.RShift: cst.RightShift(),
           ast.BitOr: cst.BitOr(), ast.BitAnd: cst.BitAnd(), ast.BitXor: cst.BitXor()}
_AUGMENTED = {ast.Add: cst.AddAssign(), ast.Sub: cst.SubtractAssign(), ast.Mult: cst.MultiplyAssign(),
              ast.Div: cst.DivideAssign(), ast.FloorDiv: cst.FloorDivideAssign(), ast.Mod: cst.ModuloAssign(),
              ast.Pow: cst.PowerAssign(), ast.MatMult: cst.MatrixMultiplyAssign(),
              ast.LShift: cst.LeftShiftAssign(), ast.RShift: cst.RightShiftAssign(), ast.BitOr: cst.BitOrAssign(),
              ast.BitAnd: cst.BitAndAssign(), ast.BitXor: cst.BitXorAssign()}
_UNARY = {ast.USub: cst.Minus(), ast.UAdd: cst.Plus(), ast.Not: cst.Not(), ast.Invert: cst.BitInvert()}
_BOOLEAN = {ast.And: cst.And(), ast.Or: cst.Or()}
_COMPARE = {ast.Eq: cst.Equal(), ast.NotEq: cst.NotEqual(), ast.Lt: cst.LessThan(), ast.LtE: cst.LessThanEqual(),
            ast.Gt: cst.GreaterThan(), ast.GtE: cst.GreaterThanEqual(), ast.Is: cst.Is(), ast.IsNot: cst.IsNot(),
            ast.In: cst.In(), ast.NotIn: cst.NotIn()}
_CONVERSIONS = {-1: None, 115: "s", 114: "r", 97: "a"}


class Places:
    """Where a quick tree's nodes are in the source, and their code, from the ``ast`` nodes they were built from.

    Columns are 1-based and count characters, as LibCST's do (``ast`` counts UTF-8 bytes)."""

    def __init__(self, text: str, origin: dict[int, ast.AST]) -> None:
        self.text = text
        self.origin = origin
        self._lines: list[str] | None = None

    def _line(self, line: int) -> str:
        if self._lines is None:
            self._lines = _LINES.split(self.text)
        return self._lines[line - 1] if 0 < line <= len(self._lines) else ""

    def _column(self, line: int, offset: int) -> int:
        source = self._line(line)
        if source.isascii():
            return offset
        return len(source.encode("utf-8")[:offset].decode("utf-8", "replace"))

    def find(self, node) -> tuple[int, int, int, int] | None:
        """(line, column, end_line, end_column) of a node of this tree; None for any other node."""
        origin = self.origin.get(id(node))
        if origin is None:
            return None
        if type(origin) is tuple:  # a name without an ast node of its own: (line, byte offset, length)
            line, offset, length = origin
            if offset < 0:  # a def's or class's name: after the keyword on its line
                match = _DEF_NAME.match(self._line(line).encode("utf-8"), -offset - 1)
                offset = match.start(1) if match else -offset - 1
            line, end_line, start, end = line, line, offset, offset + length
        else:
            line, end_line = origin.lineno, origin.end_lineno or origin.lineno
            start, end = origin.col_offset, origin.end_col_offset or 0
        return line, self._column(line, start) + 1, end_line, self._column(end_line, end) + 1

    def code(self, node) -> str:
        found = self.find(node)
        if found is None:
            raise KeyError("a node of another tree")
        line, column, end_line, end_column = found
        lines = [self._line(n) for n in range(line, end_line + 1)]
        if len(lines) == 1:
            return lines[0][column - 1:end_column - 1]
        return "\n".join([lines[0][column - 1:], *lines[1:-1], lines[-1][:end_column - 1]])


def skeleton(text: str) -> tuple[cst.Module, Places]:
    """The quick tree of a source text and where its nodes are.  SyntaxError (and RecursionError, ValueError)
    as CPython's parser raises them; :class:`Unsupported` for a construct this module does not mirror."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the user's `1()` or "\d" is not ours to warn about
        tree = ast.parse(text)
    builder = _Builder()
    module = _Module(builder.block(tree.body))
    return module, Places(text, builder.origin)


def _dotted(name: str):
    parts = name.split(".")
    node = _Name(parts[0])
    for part in parts[1:]:
        node = _Attribute(node, _Name(part))
    return node


class _Builder:
    """One file's conversion; the dispatch tables (filled in below the class) hold plain functions, so a
    builder is not part of a reference cycle and is freed as soon as the tree is built."""

    expressions: dict = {}
    statements: dict = {}
    smalls: dict = {}

    def __init__(self) -> None:
        self.origin: dict[int, ast.AST] = {}

    # ------------------------------------------------------------ statements
    def block(self, stmts: list) -> list:
        """Statements as LibCST lays them out: simple statements on one line share a SimpleStatementLine."""
        out: list = []
        line: list = []
        last_end = -1
        for stmt in stmts:
            build = _Builder.smalls.get(type(stmt))
            if build is None:
                if line:
                    out.append(_Line(line))
                    line = []
                compound = _Builder.statements.get(type(stmt))
                if compound is None:
                    raise Unsupported(type(stmt).__name__)
                out.append(compound(self, stmt))
                last_end = -1
                continue
            if line and stmt.lineno != last_end:
                out.append(_Line(line))
                line = []
            node = build(self, stmt)
            self.origin[id(node)] = stmt
            line.append(node)
            last_end = stmt.end_lineno
        if line:
            out.append(_Line(line))
        return out

    def _mark(self, node, origin):
        self.origin[id(node)] = origin
        return node

    def body(self, stmts: list):
        return _Block(self.block(stmts))

    def orelse(self, stmts: list):
        return _Else(self.body(stmts)) if stmts else None

    def functiondef(self, n):
        asynchronous = _ASYNC if isinstance(n, ast.AsyncFunctionDef) else None
        returns = _Annotation(self.ex(n.returns)) if n.returns is not None else None
        node = _FunctionDef(self._name_of(n), self.parameters(n.args), self.body(n.body),
                            [_Decorator(self.ex(d)) for d in n.decorator_list], returns, asynchronous)
        return self._mark(node, n)

    def _name_of(self, n):
        """A def's or class's name, placed after its keyword when asked."""
        return self._mark(_Name(n.name), (n.lineno, -n.col_offset - 1, len(n.name.encode("utf-8"))))

    def parameters(self, a: ast.arguments):
        positional = a.posonlyargs + a.args
        defaults = [None] * (len(positional) - len(a.defaults)) + [self.ex(d) for d in a.defaults]
        built = [self.param(p, d, _DEFAULT) for p, d in zip(positional, defaults)]
        posonly, params = built[:len(a.posonlyargs)], built[len(a.posonlyargs):]
        kwonly = [self.param(p, self.ex(d) if d is not None else None, _DEFAULT)
                  for p, d in zip(a.kwonlyargs, a.kw_defaults)]
        if a.vararg is not None:
            star_arg = self.param(a.vararg, None, "*")
        else:
            star_arg = _PARAM_STAR if a.kwonlyargs else _DEFAULT
        star_kwarg = self.param(a.kwarg, None, "**") if a.kwarg is not None else None
        return _Parameters(params, star_arg, kwonly, star_kwarg, posonly, _PARAM_SLASH if posonly else _DEFAULT)

    def param(self, p: ast.arg, default, star):
        annotation = _Annotation(self.ex(p.annotation)) if p.annotation is not None else None
        name = self._mark(_Name(p.arg), (p.lineno, p.col_offset, len(p.arg.encode("utf-8"))))
        return self._mark(_Param(name, annotation, default, star), p)

    def classdef(self, n):
        bases = [_Arg(self.ex(b.value), None, "*") if isinstance(b, ast.Starred) else self._mark(
            _Arg(self.ex(b), None, ""), b) for b in n.bases]
        keywords = [self.keyword(k) for k in n.keywords]
        node = _ClassDef(self._name_of(n), self.body(n.body), bases, keywords,
                         [_Decorator(self.ex(d)) for d in n.decorator_list])
        return self._mark(node, n)

    def if_(self, n):
        orelse = n.orelse
        if len(orelse) == 1 and type(orelse[0]) is ast.If and orelse[0].col_offset == n.col_offset:
            other = self.if_(orelse[0])  # an elif
        else:
            other = self.orelse(orelse)
        return self._mark(_If(self.ex(n.test), self.body(n.body), other), n)

    def for_(self, n):
        asynchronous = _ASYNC if isinstance(n, ast.AsyncFor) else None
        return self._mark(_For(self.ex(n.target), self.ex(n.iter), self.body(n.body), self.orelse(n.orelse),
                               asynchronous), n)

    def while_(self, n):
        return self._mark(_While(self.ex(n.test), self.body(n.body), self.orelse(n.orelse)), n)

    def with_(self, n):
        items = [_WithItem(self.ex(i.context_expr),
                           _AsName(self.ex(i.optional_vars)) if i.optional_vars is not None else None)
                 for i in n.items]
        return self._mark(_With(items, self.body(n.body), _ASYNC if isinstance(n, ast.AsyncWith) else None), n)

    def try_(self, n):
        star = isinstance(n, ast.TryStar)
        handler = _StarHandler if star else _Handler
        handlers = [self._mark(handler(self.body(h.body), self.ex(h.type) if h.type is not None else None,
                                       _AsName(_Name(h.name)) if h.name else None), h) for h in n.handlers]
        final = _Finally(self.body(n.finalbody)) if n.finalbody else None
        return self._mark((_TryStar if star else _Try)(self.body(n.body), handlers, self.orelse(n.orelse), final), n)

    def match(self, n):
        """``match``: the subject, guards and case bodies; patterns are left out (they hold no call, import or
        definition, and the evaluator does not run a match)."""
        cases = [_MatchCase(None, self.body(c.body), self.ex(c.guard) if c.guard is not None else None)
                 for c in n.cases]
        return self._mark(_Match(self.ex(n.subject), cases), n)

    def assign(self, n):
        return _Assign([_Target(self.ex(t)) for t in n.targets], self.ex(n.value))

    def augassign(self, n):
        return _AugAssign(self.ex(n.target), _AUGMENTED[type(n.op)], self.ex(n.value))

    def annassign(self, n):
        value = self.ex(n.value) if n.value is not None else None
        return _AnnAssign(self.ex(n.target), _Annotation(self.ex(n.annotation)), value)

    def expr_stmt(self, n):
        return _Expr(self.ex(n.value))

    def return_(self, n):
        return _Return(self.ex(n.value) if n.value is not None else None)

    def import_(self, n):
        return _Import([_ImportAlias(_dotted(a.name), _AsName(_Name(a.asname)) if a.asname else None)
                        for a in n.names])

    def importfrom(self, n):
        module = _dotted(n.module) if n.module else None
        if len(n.names) == 1 and n.names[0].name == "*":
            names = _STAR
        else:
            names = [_ImportAlias(_Name(a.name), _AsName(_Name(a.asname)) if a.asname else None) for a in n.names]
        return _ImportFrom(module, names, [_DOT] * (n.level or 0))

    def raise_(self, n):
        return _Raise(self.ex(n.exc) if n.exc is not None else None,
                      _From(self.ex(n.cause)) if n.cause is not None else None)

    def global_(self, n):
        return _Global([_NameItem(_Name(name)) for name in n.names])

    def nonlocal_(self, n):
        return _Nonlocal([_NameItem(_Name(name)) for name in n.names])

    def delete(self, n):
        targets = [self.ex(t) for t in n.targets]
        return _Del(targets[0] if len(targets) == 1 else _Tuple([_Element(t) for t in targets]))

    def assert_(self, n):
        return _Assert(self.ex(n.test), self.ex(n.msg) if n.msg is not None else None)

    # ------------------------------------------------------------ expressions
    def ex(self, n):
        build = _Builder.expressions.get(type(n))
        if build is None:
            raise Unsupported(type(n).__name__)
        node = build(self, n)
        self.origin[id(node)] = n
        return node

    def name(self, n):
        return _Name(n.id)

    def attribute(self, n):
        attr = self._mark(_Name(n.attr), (n.end_lineno, n.end_col_offset - len(n.attr.encode("utf-8")),
                                          len(n.attr.encode("utf-8"))))
        return _Attribute(self.ex(n.value), attr)

    def call(self, n):
        args = [_Arg(self.ex(a.value), None, "*") if type(a) is ast.Starred else self._mark(_Arg(self.ex(a), None, ""), a)
                for a in n.args]
        if n.keywords:
            keywords = [self.keyword(k) for k in n.keywords]
            if args and any(type(a) is ast.Starred for a in n.args):
                # source order, as LibCST keeps it: f(x, *rest, key=1) and f(key=1, *rest) differ
                order = sorted(zip(n.args + n.keywords, args + keywords), key=lambda p: (p[0].lineno, p[0].col_offset))
                args = [built for _, built in order]
            else:
                args = args + keywords
        return _Call(self.ex(n.func), args)

    def keyword(self, k: ast.keyword):
        if k.arg is None:
            return self._mark(_Arg(self.ex(k.value), None, "**"), k)
        keyword = self._mark(_Name(k.arg), (k.lineno, k.col_offset, len(k.arg.encode("utf-8"))))
        return self._mark(_Arg(self.ex(k.value), keyword, ""), k)

    def constant(self, n):
        value = n.value
        kind = type(value)
        if kind is str or kind is bytes:
            return _String(repr(value))
        if kind is bool or value is None:
            return _Name(repr(value))
        if kind is int:
            return _Integer(repr(value))
        if kind is float:
            return _Float(repr(value))
        if kind is complex:
            return _Imaginary(repr(value.imag) + "j")
        if value is Ellipsis:
            return _Ellipsis()
        raise Unsupported(f"constant {kind.__name__}")

    def binop(self, n):
        return _BinOp(self.ex(n.left), _BINARY[type(n.op)], self.ex(n.right))

    def unaryop(self, n):
        return _UnaryOp(_UNARY[type(n.op)], self.ex(n.operand))

    def boolop(self, n):
        operator = _BOOLEAN[type(n.op)]
        values = n.values
        node = _BoolOp(self.ex(values[0]), operator, self.ex(values[1]))
        for value in values[2:]:
            node = _BoolOp(node, operator, self.ex(value))
        return node

    def compare(self, n):
        return _Comparison(self.ex(n.left), [_CompTarget(_COMPARE[type(op)], self.ex(c))
                                             for op, c in zip(n.ops, n.comparators)])

    def elements(self, elts: list) -> list:
        return [_Starred(self.ex(e.value)) if type(e) is ast.Starred else _Element(self.ex(e)) for e in elts]

    def list(self, n):
        return _List(self.elements(n.elts))

    def tuple(self, n):
        return _Tuple(self.elements(n.elts))

    def set(self, n):
        return _Set(self.elements(n.elts))

    def starred(self, n):
        return _Starred(self.ex(n.value))

    def dict(self, n):
        return _Dict([_StarredDict(self.ex(v)) if k is None else _DictElement(self.ex(k), self.ex(v))
                      for k, v in zip(n.keys, n.values)])

    def subscript(self, n):
        index = n.slice
        parts = index.elts if type(index) is ast.Tuple and index.elts and not _parenthesized(index) else [index]
        return _Subscript(self.ex(n.value), [_SubElement(self.slice_part(p)) for p in parts])

    def slice_part(self, p):
        if type(p) is ast.Slice:
            return self._mark(_Slice(*(self.ex(x) if x is not None else None for x in (p.lower, p.upper, p.step))), p)
        if type(p) is ast.Starred:
            return _Index(self.ex(p.value), "*")
        return _Index(self.ex(p), None)

    def comprehension(self, generators: list):
        node = None
        for gen in reversed(generators):
            node = _CompFor(self.ex(gen.target), self.ex(gen.iter), [_CompIf(self.ex(i)) for i in gen.ifs], node,
                            _ASYNC if gen.is_async else None)
        return node

    def listcomp(self, n):
        return _ListComp(self.ex(n.elt), self.comprehension(n.generators))

    def setcomp(self, n):
        return _SetComp(self.ex(n.elt), self.comprehension(n.generators))

    def genexp(self, n):
        return _GenExp(self.ex(n.elt), self.comprehension(n.generators))

    def dictcomp(self, n):
        return _DictComp(self.ex(n.key), self.ex(n.value), self.comprehension(n.generators))

    def ifexp(self, n):
        return _IfExp(self.ex(n.test), self.ex(n.body), self.ex(n.orelse))

    def lambda_(self, n):
        return _Lambda(self.parameters(n.args), self.ex(n.body))

    def await_(self, n):
        return _Await(self.ex(n.value))

    def namedexpr(self, n):
        return _NamedExpr(self.ex(n.target), self.ex(n.value))

    def yield_(self, n):
        return _Yield(self.ex(n.value) if n.value is not None else None)

    def yieldfrom(self, n):
        return _Yield(_From(self.ex(n.value)))

    def joinedstr(self, n):
        return _FString(self.fparts(n.values))

    def fparts(self, values: list) -> list:
        parts = []
        for value in values:
            if type(value) is ast.FormattedValue:
                spec = self.fparts(value.format_spec.values) if value.format_spec is not None else None
                parts.append(_FExpr(self.ex(value.value), _CONVERSIONS.get(value.conversion), spec))
            else:
                parts.append(_FText(value.value if isinstance(value, ast.Constant) else ""))
        return parts


_Builder.expressions.update({
    ast.Name: _Builder.name, ast.Attribute: _Builder.attribute, ast.Call: _Builder.call,
    ast.Constant: _Builder.constant, ast.BinOp: _Builder.binop, ast.UnaryOp: _Builder.unaryop,
    ast.BoolOp: _Builder.boolop, ast.Compare: _Builder.compare, ast.List: _Builder.list, ast.Tuple: _Builder.tuple,
    ast.Set: _Builder.set, ast.Dict: _Builder.dict, ast.Subscript: _Builder.subscript,
    ast.ListComp: _Builder.listcomp, ast.SetComp: _Builder.setcomp, ast.GeneratorExp: _Builder.genexp,
    ast.DictComp: _Builder.dictcomp, ast.IfExp: _Builder.ifexp, ast.Lambda: _Builder.lambda_,
    ast.Await: _Builder.await_, ast.NamedExpr: _Builder.namedexpr, ast.Yield: _Builder.yield_,
    ast.YieldFrom: _Builder.yieldfrom, ast.JoinedStr: _Builder.joinedstr, ast.Starred: _Builder.starred,
})
_Builder.statements.update({
    ast.FunctionDef: _Builder.functiondef, ast.AsyncFunctionDef: _Builder.functiondef,
    ast.ClassDef: _Builder.classdef, ast.If: _Builder.if_, ast.For: _Builder.for_, ast.AsyncFor: _Builder.for_,
    ast.While: _Builder.while_, ast.With: _Builder.with_, ast.AsyncWith: _Builder.with_, ast.Try: _Builder.try_,
    ast.TryStar: _Builder.try_, ast.Match: _Builder.match,
})
_Builder.smalls.update({
    ast.Assign: _Builder.assign, ast.AugAssign: _Builder.augassign, ast.AnnAssign: _Builder.annassign,
    ast.Expr: _Builder.expr_stmt, ast.Return: _Builder.return_, ast.Import: _Builder.import_,
    ast.ImportFrom: _Builder.importfrom, ast.Pass: lambda self, n: _PASS, ast.Break: lambda self, n: _BREAK,
    ast.Continue: lambda self, n: _CONTINUE, ast.Raise: _Builder.raise_, ast.Global: _Builder.global_,
    ast.Nonlocal: _Builder.nonlocal_, ast.Delete: _Builder.delete, ast.Assert: _Builder.assert_,
})


def _parenthesized(node: ast.Tuple) -> bool:
    """``x[(a, b)]`` (one index, a tuple) rather than ``x[a, b]`` (two): the tuple starts before its first item."""
    first = node.elts[0]
    return (node.lineno, node.col_offset) != (first.lineno, first.col_offset)

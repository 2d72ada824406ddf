"""Executing the restricted module in the child the way the user's own run would see it.

- Each import of the restricted source that fails binds its names to a placeholder that
  raises ``ModuleNotFoundError: pandas is not installed (imported at line N)`` only when
  the model really uses it, so an unused data import never stops a build.
- A file inside a package runs as its package's module (``pkg.sub.mod``, ``__package__``
  set; the parent packages are registered without running their ``__init__``), so
  ``from .layers import Block`` works.
- ``argparse`` parses an empty command line (the child's own argv is not the user's):
  options keep their defaults, required ones become ``None``; each is noted as an assumption.

Runs in the child only.
"""

from __future__ import annotations

import ast
import os
import sys
import types

ASSUMPTIONS: list[str] = []
_HELPER = "__actlint_import_failed__"
_SEED_FAILED = "__actlint_seed_failed__"
SEEDS = frozenset({"manual_seed", "manual_seed_all", "seed", "set_seed", "set_random_seed", "seed_everything"})


def _seed_failed(line: int) -> None:
    ASSUMPTIONS.append(f"the seed call at line {line} failed with the script's defaults and was skipped")


class Missing:
    """Stands for a name whose import failed; any use raises the import's error with its line."""

    def __init__(self, error: ImportError, line: int, name: str) -> None:
        object.__setattr__(self, "_error", error)
        object.__setattr__(self, "_line", line)
        object.__setattr__(self, "_name", name)

    def _raise(self, *_a, **_k):
        err, line = object.__getattribute__(self, "_error"), object.__getattribute__(self, "_line")
        if isinstance(err, ModuleNotFoundError) and err.name:
            top = err.name.split(".")[0]
            if top != err.name and top in sys.modules:  # keras.layers.core: the package is there, the module not
                exc = ModuleNotFoundError(f"{err.name} does not exist in the installed {top} (imported at line "
                                          f"{line})", name=err.name)
            else:
                exc = ModuleNotFoundError(f"{top} is not installed (imported at line {line})", name=top)
        else:
            text = str(err).splitlines()[0] if str(err) else type(err).__name__
            exc = ImportError(f"{object.__getattribute__(self, '_name')} could not be imported (line {line}): {text}")
        exc.actlint_import = True
        raise exc

    def __getattr__(self, attr):
        self._raise()

    __call__ = __getitem__ = __iter__ = __mro_entries__ = _raise

    def __repr__(self) -> str:
        return f"<not importable: {object.__getattribute__(self, '_name')}>"


def _bound_names(node: ast.Import | ast.ImportFrom) -> list[str]:
    out = []
    for alias in node.names:
        if alias.name == "*":
            continue
        out.append(alias.asname or alias.name.split(".")[0] if isinstance(node, ast.Import)
                   else alias.asname or alias.name)
    return out


class _GuardImports(ast.NodeTransformer):
    """``import x`` at module level (also inside ``if``/``try``) becomes ``try: import x / except ImportError``."""

    def visit_FunctionDef(self, node):
        return node

    visit_AsyncFunctionDef = visit_ClassDef = visit_FunctionDef

    def _guard(self, node):
        names = _bound_names(node)
        if not names:
            return node
        call = ast.parse(f"{_HELPER}(_actlint_e, {node.lineno}, {names!r}, globals())").body[0]
        handler = ast.ExceptHandler(type=ast.Name("ImportError", ast.Load()), name="_actlint_e", body=[call])
        new = ast.Try(body=[node], handlers=[handler], orelse=[], finalbody=[])
        for n in [new, handler, *ast.walk(call)]:
            n.lineno, n.col_offset = node.lineno, node.col_offset
            n.end_lineno, n.end_col_offset = node.end_lineno, node.end_col_offset
        return new

    visit_Import = visit_ImportFrom = _guard

    def visit_Expr(self, node):
        """A seed call that fails (``torch.manual_seed(opt.seed)`` with the option's default ``None``)
        is skipped: the verifier seeds the build itself."""
        call = node.value
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr in SEEDS):
            return node
        note = ast.parse(f"{_SEED_FAILED}({node.lineno})").body[0]
        handler = ast.ExceptHandler(type=ast.Tuple([ast.Name("TypeError", ast.Load()), ast.Name("ValueError", ast.Load())],
                                                   ast.Load()), name=None, body=[note])
        new = ast.Try(body=[node], handlers=[handler], orelse=[], finalbody=[])
        for n in [new, handler, handler.type, *handler.type.elts, *ast.walk(note)]:
            n.lineno, n.col_offset = node.lineno, node.col_offset
            n.end_lineno, n.end_col_offset = node.end_lineno, node.end_col_offset
        return new


def _import_failed(error: ImportError, line: int, names: list[str], ns: dict) -> None:
    for name in names:
        ns[name] = Missing(error, line, name)


def guarded_code(source: str, filename: str):
    """The restricted source compiled with every module-level import guarded; lines unchanged."""
    tree = _GuardImports().visit(ast.parse(source, filename))
    ast.fix_missing_locations(tree)
    return compile(tree, filename, "exec")


def _reads_unbound_device(source: str) -> bool:
    """The kept definitions read a global ``device`` that only the script's main block sets."""
    tree = ast.parse(source)
    top = set()
    for node in tree.body:
        for n in ast.walk(node):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store) and not isinstance(
                    node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                top.add(n.id)
    if "device" in top:
        return False
    return any(isinstance(n, ast.Name) and n.id == "device" and isinstance(n.ctx, ast.Load) for n in ast.walk(tree))


def _register_packages(module_name: str, root: str) -> None:
    """``pkg`` and ``pkg.sub`` as namespace-like packages over their folders (their ``__init__`` not run)."""
    parts = module_name.split(".")[:-1]
    for i in range(1, len(parts) + 1):
        name = ".".join(parts[:i])
        if name in sys.modules:
            continue
        pkg = types.ModuleType(name)
        pkg.__path__ = [os.path.join(root, *parts[:i])]
        pkg.__package__ = name
        sys.modules[name] = pkg
        if i > 1:
            setattr(sys.modules[".".join(parts[:i - 1])], parts[i - 1], pkg)


def patch_argparse() -> None:
    """Parsers read an empty command line: defaults, required options as ``None``, never ``SystemExit``."""
    import argparse

    if getattr(argparse.ArgumentParser.parse_known_args, "_actlint", False):
        return
    original = argparse.ArgumentParser.parse_known_args

    def parse_known_args(self, args=None, namespace=None):
        if args is None:
            relaxed = []
            for action in self._actions:
                if action.required:
                    action.required = False
                    if not action.option_strings and action.nargs is None:
                        action.nargs = "?"
                    relaxed.append(action.option_strings[0] if action.option_strings else action.dest)
            note = "command-line options at their defaults (the script's argparse parser read an empty command line)"
            if note not in ASSUMPTIONS:
                ASSUMPTIONS.append(note)
            for name in relaxed:
                ASSUMPTIONS.append(f"required option {name} set to None")
            args = []
        return original(self, args, namespace)

    parse_known_args._actlint = True
    argparse.ArgumentParser.parse_known_args = parse_known_args


def exec_module(source: str, user_file: str, module_name: str | None = None, root: str | None = None,
                device: str | None = None):
    """Run the restricted ``source`` as the user's module; returns the module."""
    patch_argparse()
    name = module_name or "_actlint_model"
    if module_name and root:
        _register_packages(module_name, root)
        if root not in sys.path:
            sys.path.insert(0, root)
    module = types.ModuleType(name)
    module.__file__ = user_file
    module.__dict__[_HELPER] = _import_failed
    module.__dict__[_SEED_FAILED] = _seed_failed
    if module_name:
        module.__package__ = module_name.rpartition(".")[0]
    sys.modules[name] = module
    if module_name and "." in module_name:
        parent, _, leaf = module_name.rpartition(".")
        setattr(sys.modules[parent], leaf, module)
    code = guarded_code(source, user_file)
    if _reads_unbound_device(source):
        import torch

        module.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        note = "device: the verifier's (the script sets it outside the definitions the model needs)"
        if note not in ASSUMPTIONS:
            ASSUMPTIONS.append(note)
    argv = sys.argv
    sys.argv = [user_file]  # the user's script sees its own name, not the child's spec
    try:
        exec(code, module.__dict__)
    finally:
        sys.argv = argv
    return module

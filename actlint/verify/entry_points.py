"""Which files ``--verify`` runs under the tracer, and how each is started.

A file is run when its own code trains (``.backward(``, ``.fit(``, ``Trainer(`` ...), or when it
is an entry point (an ``if __name__ == "__main__":`` block) whose imports reach a file of the
project that trains (``from dlwizard.common import train_mnist``).  A file that imports its own
package (``from pkg.common import ...`` with ``pkg/`` above it, or a relative import) is started
as ``python -m pkg.mod`` from the folder that holds the package, as its README would say;
the rest as ``python FILE`` in their own folder.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

TRAINS = re.compile(r"\.backward\(|\.step\(|\.fit(_generator)?\(|\.train_on_batch\(|\bTrainer\(")
_MAIN = re.compile(r"^if\s+__name__\s*==\s*['\"]__main__['\"]\s*:", re.M)


@dataclass(frozen=True)
class Launch:
    file: Path
    argv: tuple[str, ...]   # after the interpreter: ("train.py",) or ("-m", "pkg.train")
    cwd: Path


def _imports(tree: ast.Module) -> list[tuple[int, str]]:
    """(level, dotted module) of each import: level 0 is absolute."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(0, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            out.append((node.level, node.module or ""))
    return out


def _module_file(base: Path, dotted: str) -> Path | None:
    path = base.joinpath(*dotted.split(".")) if dotted else base
    for cand in (path.with_suffix(".py"), path / "__init__.py"):
        if cand.is_file():
            return cand
    return None


def _package_root(file: Path, imports: list[tuple[int, str]], root: Path) -> Path | None:
    """The folder to start ``file`` from as a module: the one its relative imports or its imports of its own
    top-level package need (None: it runs as a script in its own folder)."""
    folder = file.parent
    if any(level for level, _ in imports):
        top = folder
        while (top / "__init__.py").is_file() and top.parent != top and top != root:
            top = top.parent
        return top if top != folder else folder.parent
    ancestors = [p for p in file.parents if p == root or root in p.parents]
    for base in ancestors[1:]:  # a folder above the file's own, holding a package the file imports
        for level, dotted in imports:
            head = dotted.split(".")[0]
            if level == 0 and head and (base / head).is_dir() and head in file.relative_to(base).parts[:-1] \
                    and _module_file(base, dotted) is not None:
                return base
    return None


def launch_for(file: Path, root: Path) -> Launch:
    """How the file is started: ``python -m`` from its package root, or ``python FILE`` beside it."""
    try:
        tree = ast.parse(file.read_text(encoding="utf-8", errors="replace"))
    except (OSError, SyntaxError, ValueError):
        return Launch(file, (file.name,), file.parent)
    base = _package_root(file.resolve(), _imports(tree), root.resolve())
    if base is not None:
        parts = file.resolve().relative_to(base).with_suffix("").parts
        if all(p.isidentifier() for p in parts):
            return Launch(file, ("-m", ".".join(parts)), base)
    return Launch(file, (file.name,), file.parent)


def _local_imports(file: Path, text: str, root: Path) -> list[Path]:
    """The project files ``file`` imports (beside it, from its package, or from a folder above it)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    out = []
    here = file.resolve().parent
    bases = [p for p in [here, *here.parents] if p == root or root in p.parents]
    for level, dotted in _imports(tree):
        if level:
            base = here
            for _ in range(level - 1):
                base = base.parent
            found = [_module_file(base, dotted)]
        else:
            found = [_module_file(b, dotted) for b in bases]
        out += [f for f in found if f is not None]
    return out


def files_to_run(files: list[Path], texts: dict[Path, str], root: Path, frameworks) -> list[Path]:
    """The files --verify runs under the tracer: those that train, and entry points that reach one that does."""
    root = root.resolve()
    trains = {f.resolve() for f, t in texts.items() if any(tok in t for tok in frameworks) and TRAINS.search(t)}
    out = []
    for f in files:
        text = texts.get(f)
        if text is None:
            continue
        if f.resolve() in trains:
            out.append(f)
        elif _MAIN.search(text) and any(p.resolve() in trains or _trains_file(p)
                                        for p in _local_imports(f, text, root)):
            out.append(f)
    return out


def _trains_file(path: Path) -> bool:
    try:
        return TRAINS.search(path.read_text(encoding="utf-8", errors="replace")) is not None
    except OSError:
        return False


__all__ = ["Launch", "files_to_run", "launch_for", "TRAINS"]

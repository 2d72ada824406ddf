"""The project around a file: which local module an import names, and that module parsed once.

A file's imports are resolved against the folders Python would search when the
file runs: the top of its package chain (the nearest folder above it without an
``__init__.py``) and the folder of the nearest ``pyproject.toml`` above it.
Both come from the file's path alone, so ``actlint``, the flake8 plugin and a
pre-commit run that passes only some files agree.  Relative imports
(``from .model import Net``) resolve from the importing file's folder.

A local module's summary (its parsed tree and :class:`~actlint.index.FileIndex`,
from which the evaluator takes its classes, functions and module-level values)
is built once per process and content hash, and shared by every importer.
Each :class:`Project` records the files it read with their hashes, so a cached
result can be invalidated when one of them changes.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

# Roots never looked for among a project's files (the frameworks and the usual libraries).
_EXTERNAL = frozenset({"torch", "keras", "tensorflow", "tf_keras", "numpy", "os", "sys", "math", "random",
                       "collections", "typing", "functools", "itertools", "dataclasses", "pathlib", "json",
                       "logging", "argparse", "time", "re", "copy", "warnings", "abc", "lightning",
                       "pytorch_lightning", "torchvision", "transformers", "accelerate", "sklearn", "scipy",
                       "pandas", "matplotlib", "tqdm", "__future__", "jax", "flax"})
MAX_BYTES = 100_000    # a local module larger than this is not read (model modules are far smaller)
MAX_SUMMARIES = 256    # parsed modules kept per process


@dataclass
class Summary:
    """One local module, parsed: what importers evaluate."""

    path: Path          # absolute
    digest: str         # sha256 of its bytes
    index: object       # FileIndex


_SUMMARIES: dict[tuple, Summary | None] = {}  # per process: (quick, path) -> the summary of its current content
_FOLDERS: dict[Path, tuple[Path, ...]] = {}   # per process: a folder -> its search roots
_LOCATED: dict[tuple, tuple[Path, str] | None] = {}  # per process: (search bases, name parts) -> module, rest


def is_library(qualname: str) -> bool:
    """A name from a framework or a common library, never looked for among a project's files."""
    return qualname.split(".", 1)[0] in _EXTERNAL


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _has_init(folder: Path) -> bool:
    return (folder / "__init__.py").is_file()


def search_roots(folder: Path) -> tuple[Path, ...]:
    """The folders absolute imports of a file in ``folder`` resolve from."""
    if folder in _FOLDERS:
        return _FOLDERS[folder]
    top = folder
    while _has_init(top) and top.parent != top:
        top = top.parent
    roots = [top]
    for above in (folder, *folder.parents):
        if (above / "pyproject.toml").is_file():
            if above not in roots:
                roots.append(above)
            break
    _FOLDERS[folder] = tuple(roots)
    return _FOLDERS[folder]


def _module_file(base: Path, parts: list[str]) -> Path | None:
    if not parts:
        init = base / "__init__.py"
        return init if init.is_file() else None
    stem = base.joinpath(*parts)
    for candidate in (stem.with_name(stem.name + ".py"), stem / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


class Project:
    """The local modules one file can import, and the files it has read (for the cache)."""

    def __init__(self, path: str | os.PathLike, quick: bool = False) -> None:
        self.path = Path(os.path.abspath(path))
        self.quick = quick  # local modules as quick trees (:mod:`actlint.skeleton`), for the first pass
        self.folder = self.path.parent
        self.read: dict[str, str] = {}  # absolute path -> digest of every local module used
        self._located: dict[tuple, tuple[Path, str] | None] = {}
        self._summaries: dict[Path, Summary | None] = {}

    @staticmethod
    def for_file(path: str, quick: bool = False) -> "Project | None":
        """The project of a file on disk; None for text with no file (stdin, a test string)."""
        try:
            return Project(path, quick) if path and Path(path).is_file() else None
        except OSError:
            return None

    def locate(self, qualname: str, importer: Path | None = None) -> tuple[Path, str] | None:
        """The local module a qualified name starts with, and the rest of the name (``""``: the module itself).

        ``.network.SentenceTagger`` from ``tagger/train.py`` is (``tagger/network.py``, ``SentenceTagger``).
        """
        importer = importer or self.path
        memo = (qualname, importer)
        if memo not in self._located:
            self._located[memo] = self._locate(qualname, importer)
        return self._located[memo]

    def _locate(self, qualname: str, importer: Path) -> tuple[Path, str] | None:
        level = len(qualname) - len(qualname.lstrip("."))
        parts = [p for p in qualname[level:].split(".") if p]
        if level:
            base = importer.parent
            for _ in range(level - 1):
                base = base.parent
            bases: tuple[Path, ...] = (base,)
        else:
            if not parts or is_library(parts[0]):
                return None
            bases = search_roots(importer.parent)
        key = (bases, tuple(parts), bool(level))
        if key not in _LOCATED:
            _LOCATED[key] = _find_module(bases, parts, bool(level))
        return _LOCATED[key]

    def summary(self, path: Path) -> Summary | None:
        """The parsed module at ``path`` (shared across importers while its content is unchanged; read once
        per linted file)."""
        if path not in self._summaries:
            self._summaries[path] = self._summary(path)
        return self._summaries[path]

    def _summary(self, path: Path) -> Summary | None:
        try:
            if path.stat().st_size > MAX_BYTES:
                return None
            data = path.read_bytes()
        except OSError:
            return None
        digest = digest_of(data)
        key = (self.quick, path)
        cached = _SUMMARIES.get(key)
        if cached is None or cached.digest != digest:
            cached = _parse(path, data, digest, self.quick)
            if cached is None:
                return None
            _SUMMARIES.pop(key, None)
            _SUMMARIES[key] = cached
            while len(_SUMMARIES) > MAX_SUMMARIES:  # memory stays bounded on large trees (oldest go first)
                del _SUMMARIES[next(iter(_SUMMARIES))]
        self.read[str(path)] = digest
        return cached

    def shown(self, path: Path, like: str) -> str:
        """How a message names another file: in the style of the linted file's path (absolute or relative)."""
        if os.path.isabs(like):
            return str(path)
        try:
            return os.path.relpath(path)
        except ValueError:
            return str(path)


def _find_module(bases: tuple[Path, ...], parts: list[str], relative: bool) -> tuple[Path, str] | None:
    for base in bases:
        for cut in range(len(parts), -1 if relative else 0, -1):
            found = _module_file(base, parts[:cut])
            if found is not None:
                return found, ".".join(parts[cut:])
    return None


def _parse(path: Path, data: bytes, digest: str, quick: bool) -> Summary | None:
    """A module's summary; a quick tree where asked and where CPython's parser reads it, else LibCST's."""
    import tokenize
    from io import BytesIO

    import libcst as cst

    from actlint.index import FileIndex, quick_index
    from actlint.parse import parse_module

    try:
        encoding, _ = tokenize.detect_encoding(BytesIO(data).readline)
        text = data.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError):
        return None
    text = text[1:] if text.startswith("\ufeff") else text
    index = quick_index(text) if quick else None
    if index is not None:
        return Summary(path, digest, index)
    # the full pass's summary, or a module the quick tree cannot read (LibCST's parser may)
    try:
        module = parse_module(text)
    except (cst.ParserSyntaxError, RecursionError):
        return None
    return Summary(path, digest, FileIndex(module))


def unchanged(read: dict[str, str]) -> bool:
    """Whether every file a cached result read still has the content it had then."""
    for name, digest in read.items():
        try:
            if digest_of(Path(name).read_bytes()) != digest:
                return False
        except OSError:
            return False
    return True

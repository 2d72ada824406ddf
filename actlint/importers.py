"""The reverse import index: which files of a project import the files being linted.

A pre-commit hook passes only the changed files, and the usual change is to
``model.py`` while the loss that makes its softmax wrong is in ``train.py``.
So when a linted file is a local module of other files in its project, those
importers are linted too, and the findings whose home is in a linted file are
reported there, as a run over the whole project reports them.

The project is the folder of the ``pyproject.toml`` the configuration came
from, else the top of the file's git repository; a file in neither has no
project to search.  Each file's local imports are found from its text alone
(import statements, resolved as :class:`~actlint.project.Project` resolves
them) and kept in the cache folder by size and modification time, so an
unchanged project costs one walk and one stat per file.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from actlint.config import Config

MAX_FILES = 5000   # a project larger than this is not searched for importers
MAX_HOPS = 2       # train.py -> pkg/__init__.py -> pkg/model.py is found; longer re-export chains are not
_FORMAT = 1

_FROM = re.compile(r"^[ \t]*from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^#\n]*)", re.MULTILINE)
_IMPORT = re.compile(r"^[ \t]*import[ \t]+([^#\n;]+)", re.MULTILINE)
_NAME = re.compile(r"[A-Za-z_]\w*")


def project_top(config: Config, files: list[Path]) -> Path | None:
    """The folder whose files may import the linted ones, or None when there is no project to search."""
    if config.source is not None:
        return Path(os.path.abspath(config.source.parent))
    for file in files[:1]:
        for folder in Path(os.path.abspath(file)).parents:
            if (folder / ".git").exists():
                return folder
    return None


def imported_modules(text: str, path: Path) -> list[str]:
    """The local module files (absolute paths) a file's import statements name."""
    from actlint.project import Project

    names: list[str] = []
    for match in _FROM.finditer(text):
        module, imported = match.group(1), match.group(2)
        names.append(module)
        joiner = "" if module.endswith(".") else "."
        names.extend(module + joiner + name for name in _NAME.findall(imported) if name != "as")
    for match in _IMPORT.finditer(text):
        for part in match.group(1).split(","):
            name = part.split(" as ")[0].strip()
            if name:
                names.append(name)
    project = Project(path)
    found = []
    for name in names:
        if not name:
            continue
        located = project.locate(name)
        if located is not None:
            module = str(located[0])
            if module not in found and module != str(project.path):
                found.append(module)
    return found


def _source(path: Path) -> str | None:
    """A file's code: the text of a .py file, the code cells of a notebook joined."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if b"import" not in data:
        return ""
    text = data.decode("utf-8", errors="replace")
    if path.suffix != ".ipynb":
        return text
    from actlint.notebook import NotebookError, source_text

    try:
        return "\n".join(source_text(c.get("source", "")) for c in json.loads(text).get("cells", [])
                         if isinstance(c, dict) and c.get("cell_type") == "code")
    except (ValueError, AttributeError, TypeError, NotebookError):
        return ""


class ImportIndex:
    """file -> the local modules it imports, for every file of a project; read from and kept in a JSON file
    in the cache folder (``None``: kept nowhere)."""

    def __init__(self, store: Path | None) -> None:
        self.store = store
        self.entries: dict[str, list] = {}
        self.changed = False
        if store is not None:
            try:
                data = json.loads(store.read_text(encoding="utf-8"))
                if data.get("format") == _FORMAT and isinstance(data.get("files"), dict):
                    self.entries = data["files"]
            except (OSError, ValueError, AttributeError):
                pass

    def modules(self, path: Path) -> list[str]:
        key = os.path.abspath(path)
        try:
            stat = path.stat()
        except OSError:
            return []
        stamp = [stat.st_size, stat.st_mtime_ns]
        entry = self.entries.get(key)
        if isinstance(entry, list) and len(entry) == 3 and entry[:2] == stamp:
            return entry[2]
        text = _source(path)
        modules = imported_modules(text, Path(key)) if text else []
        self.entries[key] = [*stamp, modules]
        self.changed = True
        return modules

    def save(self, walked: set[str]) -> None:
        """Write the index back, without the files the walk no longer found."""
        if self.store is None or not self.changed:
            return
        from actlint.atomic import write_text_atomic

        kept = {k: v for k, v in self.entries.items() if k in walked}
        try:
            self.store.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(self.store, json.dumps({"format": _FORMAT, "files": kept}))
        except OSError:
            pass  # a read-only checkout still finds importers, just without keeping the index


def find_importers(files: list[Path], config: Config, store: Path | None = None) -> list[Path]:
    """The project's files, not among ``files``, that import one of them (directly, or through a module
    that does, up to :data:`MAX_HOPS`)."""
    from actlint.discover import discover

    if not files:
        return []
    top = project_top(config, files)
    if top is None:
        return []
    linted = {os.path.abspath(f) for f in files}
    if any(os.path.abspath(f) == str(top) or str(top).startswith(os.path.abspath(f) + os.sep) for f in files):
        return []  # the whole project is being linted already
    project = [p for p in discover([str(top)], config).files][:MAX_FILES + 1]
    if len(project) > MAX_FILES:
        return []
    index = ImportIndex(store)
    walked = {os.path.abspath(p) for p in project}
    imports = {os.path.abspath(p): index.modules(p) for p in project}
    index.save(walked)
    targets, found = set(linted), []
    for _ in range(MAX_HOPS):
        new = [p for p, modules in imports.items()
               if p not in linted and p not in found and any(m in targets for m in modules)]
        if not new:
            break
        found.extend(new)
        targets.update(new)
    return [Path(p) for p in found]

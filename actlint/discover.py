"""Which files to lint: the paths given, folders walked, .gitignore and excludes honoured."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

import pathspec

from actlint.config import Config

LINTABLE_SUFFIXES = (".py", ".ipynb")


@dataclass
class Discovery:
    files: list[Path] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    excluded: list[Path] = field(default_factory=list)  # named files left out by force-exclude


def _relative(path: Path, root: Path) -> str:
    try:
        base = _resolved(root) if root.is_absolute() else root.resolve()
        return path.resolve().relative_to(base).as_posix()
    except ValueError:
        return path.as_posix()


@functools.lru_cache(maxsize=16)
def _resolved(folder: Path) -> Path:
    """An absolute folder, symlinks resolved (asked once per file found)."""
    return folder.resolve()


def _gitignore_spec(folder: Path) -> pathspec.PathSpec | None:
    ignore_file = folder / ".gitignore"
    if not ignore_file.is_file():
        return None
    try:
        lines = ignore_file.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return pathspec.GitIgnoreSpec.from_lines(lines)


def _ignored(path: Path, is_dir: bool, specs: list[tuple[Path, pathspec.PathSpec]]) -> bool:
    for base, spec in specs:
        rel = path.relative_to(base).as_posix() + ("/" if is_dir else "")
        if spec.match_file(rel):
            return True
    return False


def _repo_specs(folder: Path) -> list[tuple[Path, pathspec.PathSpec]]:
    """The .gitignore files of the folders above ``folder`` inside its git repository."""
    specs = []
    folder = folder.resolve()
    for parent in folder.parents:
        spec = _gitignore_spec(parent)
        if spec is not None:
            specs.append((parent, spec))
        if (parent / ".git").exists():
            break
    else:
        return []
    return list(reversed(specs))


def discover(paths: list[str], config: Config) -> Discovery:
    """Folders are walked with the excludes applied; files named directly are linted even when excluded,
    unless ``config.force_exclude`` (a pre-commit hook names every staged file)."""
    found = Discovery()
    seen: set[Path] = set()

    def add(path: Path) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            found.files.append(path)

    for raw in paths:
        path = Path(raw)
        if path.is_file():
            if config.force_exclude and named_file_excluded(path, config):
                found.excluded.append(path)
            else:
                add(path)
        elif path.is_dir():
            for file in _walk(path, config):
                add(file)
        else:
            found.missing.append(raw)
    return found


def named_file_excluded(path: Path, config: Config) -> bool:
    """Whether a file named on the command line falls under the excludes or (when respected) a
    .gitignore of its repository, judged as a walk from the repository's top would judge it."""
    if config.is_excluded(_relative(path, config.root)):
        return True
    if not config.respect_gitignore:
        return False
    file = path.resolve()
    folders = [file.parent, *file.parent.parents]
    top = next((f for f in folders if (f / ".git").exists()), file.parent)
    chain = list(reversed(folders[:folders.index(top) + 1]))  # the repository's top down to the file's folder
    specs: list[tuple[Path, pathspec.PathSpec]] = []
    for i, folder in enumerate(chain):
        if i and _ignored(folder, True, specs):
            return True
        spec = _gitignore_spec(folder)
        if spec is not None:
            specs.append((folder, spec))
    return _ignored(file, False, specs)


def _walk(top: Path, config: Config):
    specs = _repo_specs(top) if config.respect_gitignore else []
    top_excluded = config.is_excluded(_relative(top, config.root))
    stack: list[tuple[Path, list]] = [(top, specs)]
    while stack:
        folder, inherited = stack.pop()
        local = list(inherited)
        if config.respect_gitignore:
            spec = _gitignore_spec(folder)
            if spec is not None:
                local.append((folder.resolve(), spec))
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        subfolders = []
        for entry in entries:
            path = Path(entry.path)
            try:
                is_dir = entry.is_dir()
            except OSError:
                continue
            # Excludes apply beneath a folder the user named, never to the folder itself.
            if config.is_excluded(path.relative_to(top).as_posix()):
                continue
            if not top_excluded and config.is_excluded(_relative(path, config.root)):
                continue
            if local and _ignored(path.resolve(), is_dir, local):
                continue
            if is_dir:
                subfolders.append((path, local))
            elif entry.name.endswith(LINTABLE_SUFFIXES):
                yield path
        stack.extend(reversed(subfolders))

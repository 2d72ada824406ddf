"""Settings: ``[tool.actlint]`` in the nearest pyproject.toml, then CLI overrides."""

from __future__ import annotations

import difflib
import fnmatch
import functools
import os
import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_EXCLUDE = (
    ".git", ".hg", ".svn", ".tox", ".nox", ".venv", "venv", "__pycache__", ".mypy_cache",
    ".pytest_cache", ".ruff_cache", ".actlint_cache", ".ipynb_checkpoints", "node_modules", "build", "dist",
    "site-packages",
)
DEFAULT_MAX_FILE_BYTES = 4 * 1024 * 1024
DEFAULT_MAX_FILE_SECONDS = 60.0  # the slowest file of torch, transformers, timm and keras takes about 19 s


class ConfigError(Exception):
    """A setting that cannot be used; the CLI reports it and exits 2."""


@dataclass(frozen=True)
class Config:
    root: Path = field(default_factory=Path.cwd)
    source: Path | None = None  # the pyproject.toml read, if any
    select: tuple[str, ...] | None = None  # None: every default rule
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    extend_exclude: tuple[str, ...] = ()
    respect_gitignore: bool = True
    force_exclude: bool = False  # apply the excludes to files named on the command line too (pre-commit)
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    max_file_seconds: float = DEFAULT_MAX_FILE_SECONDS
    rule_options: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()
    verify: tuple[tuple[str, Any], ...] = ()

    def with_overrides(self, **changes: Any) -> "Config":
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def options_for(self) -> dict[str, dict[str, Any]]:
        return {code: dict(opts) for code, opts in self.rule_options}

    def enabled_codes(self, relpath: str, known: dict[str, Any]) -> frozenset[str]:
        """The rule codes that run on a file (a path relative to the config root)."""
        if self.select is None:
            chosen = {code for code, rule in known.items() if rule.default}
        else:
            chosen = {code for code in known if _matches(code, self.select)}
        chosen |= {code for code in known if _matches(code, self.extend_select)}
        ignored = set(self.ignore)
        for pattern, codes in self.per_file_ignores:
            if path_matches(relpath, pattern):
                ignored.update(codes)
        return frozenset(code for code in chosen if not _matches(code, tuple(ignored)))

    def allows(self, code: str, relpath: str, default: bool = True) -> bool:
        """Whether one code runs on a file, without loading the rule registry."""
        chosen = default if self.select is None else _matches(code, self.select)
        chosen = chosen or _matches(code, self.extend_select)
        ignored = set(self.ignore)
        for pattern, codes in self.per_file_ignores:
            if path_matches(relpath, pattern):
                ignored.update(codes)
        return chosen and not _matches(code, tuple(ignored))

    def fingerprint(self) -> str:
        """Everything that changes what a file's lint gives (for cache keys)."""
        return repr((self.select, self.extend_select, self.ignore, self.per_file_ignores, self.max_file_bytes,
                     self.rule_options))

    def is_excluded(self, relpath: str) -> bool:
        return _excluder(self.exclude + self.extend_exclude)(relpath)


def _matches(code: str, prefixes: tuple[str, ...]) -> bool:
    return any(p == "ALL" or code.startswith(p) for p in prefixes)


def path_matches(relpath: str, pattern: str) -> bool:
    """Glob match against the whole relative path, or any of its components."""
    relpath = relpath.replace("\\", "/")
    pattern = pattern.rstrip("/")
    if fnmatch.fnmatch(relpath, pattern) or fnmatch.fnmatch(relpath, pattern + "/*"):
        return True
    return "/" not in pattern and any(fnmatch.fnmatch(part, pattern) for part in relpath.split("/"))


@functools.lru_cache(maxsize=8)
def _excluder(patterns: tuple[str, ...]):
    """``relpath -> bool``: whether any pattern matches (as :func:`path_matches` decides), with the patterns
    compiled into two regular expressions, since discovery asks for every file and folder."""
    if os.path.normcase("A/b") != "A/b":  # Windows: fnmatch folds case and slashes; keep its own rules
        return lambda relpath: any(path_matches(relpath, p) for p in patterns)
    stripped = [p.rstrip("/") for p in patterns]
    whole = [fnmatch.translate(p) for p in stripped] + [fnmatch.translate(p + "/*") for p in stripped]
    parts = [fnmatch.translate(p) for p in stripped if "/" not in p]
    whole_re = re.compile("|".join(f"(?:{w})" for w in whole)) if whole else None
    part_re = re.compile("|".join(f"(?:{w})" for w in parts)) if parts else None

    def excluded(relpath: str) -> bool:
        relpath = relpath.replace("\\", "/")
        if whole_re is not None and whole_re.match(relpath):
            return True
        return part_re is not None and any(part_re.match(part) for part in relpath.split("/"))

    return excluded


def find_pyproject(start: Path) -> Path | None:
    start = start.resolve()
    if start.is_file():
        start = start.parent
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def _codes(value: Any, key: str, rule_names=None) -> tuple[str, ...]:
    """A list of rule codes or prefixes; with ``rule_names``, each must match a rule (a typo would turn the
    rules off and pass in CI, so it is an error that names the key, the value and the closest code)."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"[tool.actlint] {key} must be a list of rule codes, got {value!r}")
    codes = tuple(v.strip().upper() for v in value)
    if rule_names is not None:
        names = _names(rule_names)
        for given, code in zip(value, codes):
            problem = unknown_code(code, names, given)
            if problem:
                raise ConfigError(f"[tool.actlint] {key}: {problem}")
    return codes


def unknown_code(code: str, names: dict[str, str], given: str | None = None) -> str | None:
    """Why ``code`` (a code or prefix, upper-cased) selects no rule, with the closest code; None when it does."""
    if code == "ALL" or any(known.startswith(code) for known in names):
        return None
    given = code if given is None else given.strip()
    from actlint.verify.judge.diagnostics import RUNTIME_RULES

    if code in RUNTIME_RULES:
        return (f"{given!r} is a runtime diagnostic of --verify, reported whenever a run shows it; "
                "select and ignore choose among the static rules")
    by_name = {name.lower(): known for known, name in names.items()}
    if given.lower() in by_name:
        return f"{given!r} is the name of {by_name[given.lower()]}; write the code {by_name[given.lower()]!r}"
    close = _closest_code(code, names) or next(
        (by_name[n] for n in difflib.get_close_matches(given.lower(), list(by_name), n=1, cutoff=0.6)), None)
    hint = f"; did you mean {close!r} ({names[close]})?" if close else "; 'actlint rule --all' lists the codes"
    return f"{given!r} matches no rule code{hint}"


def unknown_option_codes(given: list[tuple[str, tuple[str, ...]]], names: dict[str, str]) -> str | None:
    """The first command-line code that matches no rule, as ``--option: why``; None when all do."""
    for option, codes in given:
        for code in codes or ():
            problem = unknown_code(code, names)
            if problem:
                return f"{option}: {problem}"
    return None


_LOOKALIKES = str.maketrans({"O": "0", "Q": "0", "D": "0", "I": "1", "L": "1", "S": "5", "B": "8", "Z": "2"})


def _closest_code(code: str, names: dict[str, str]) -> str | None:
    """A code one look-alike letter or one typed digit away (``ACT1O1`` -> ``ACT101``), or the nearest."""
    head, tail = code[:3], code[3:].translate(_LOOKALIKES)
    if head == "ACT" and tail in {known[3:] for known in names}:
        return "ACT" + tail
    same = [k for k in names if len(k) == len(code)]
    if same:
        best = min(same, key=lambda k: sum(a != b for a, b in zip(k, "ACT" + tail)))
        if sum(a != b for a, b in zip(best, "ACT" + tail)) <= 1:
            return best
    if len(code) < 5:  # a prefix (``ACT2``) is no near miss of a whole code
        return None
    close = difflib.get_close_matches(code, list(names), n=1, cutoff=0.75)
    return close[0] if close else None


def _patterns(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"[tool.actlint] {key} must be a list of glob patterns, got {value!r}")
    return tuple(value)


_KNOWN_KEYS = {
    "select", "extend-select", "ignore", "per-file-ignores", "exclude", "extend-exclude",
    "respect-gitignore", "force-exclude", "max-file-size", "max-file-seconds", "verify",
}


def load_config(start: Path, explicit: Path | None = None, rule_names=None) -> Config:
    """Read ``[tool.actlint]`` from ``explicit`` or the pyproject.toml nearest ``start``.

    ``rule_names`` (code -> name, or a callable giving it) checks the codes the file names; by default
    the rule registry, loaded only when the file names codes."""
    path = explicit or find_pyproject(start)
    if path is None:
        return Config(root=Path.cwd())
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc}") from exc
    section = data.get("tool", {}).get("actlint", {})
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: [tool.actlint] must be a table")
    try:
        return config_from_table(section, root=path.parent, source=path, rule_names=rule_names or _registry_names)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _registry_names() -> dict[str, str]:
    from actlint.codes import RULE_NAMES

    return RULE_NAMES


def _names(rule_names) -> dict[str, str]:
    """Rule code -> name; ``rule_names`` may be a callable so the registry loads only when needed."""
    return rule_names() if callable(rule_names) else rule_names


def config_from_table(section: dict[str, Any], root: Path, source: Path | None, rule_names) -> Config:
    kwargs: dict[str, Any] = {"root": root, "source": source}
    options: dict[str, dict[str, Any]] = {}
    for key, value in section.items():
        normal = key.replace("_", "-")
        if normal == "select":
            kwargs["select"] = _codes(value, key, rule_names)
        elif normal == "extend-select":
            kwargs["extend_select"] = _codes(value, key, rule_names)
        elif normal == "ignore":
            kwargs["ignore"] = _codes(value, key, rule_names)
        elif normal == "exclude":
            kwargs["exclude"] = _patterns(value, key)
        elif normal == "extend-exclude":
            kwargs["extend_exclude"] = _patterns(value, key)
        elif normal == "per-file-ignores":
            if not isinstance(value, dict):
                raise ConfigError(f"[tool.actlint] {key} must be a table of glob = [codes]")
            kwargs["per_file_ignores"] = tuple((p, _codes(c, f"{key}.{p!r}", rule_names))
                                              for p, c in value.items())
        elif normal in ("respect-gitignore", "force-exclude"):
            if not isinstance(value, bool):
                raise ConfigError(f"[tool.actlint] {key} must be true or false, got {value!r}")
            kwargs[normal.replace("-", "_")] = value
        elif normal == "max-file-size":
            if not isinstance(value, int) or value <= 0:
                raise ConfigError(f"[tool.actlint] {key} must be a positive number of bytes")
            kwargs["max_file_bytes"] = value
        elif normal == "max-file-seconds":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ConfigError(f"[tool.actlint] {key} must be a positive number of seconds")
            kwargs["max_file_seconds"] = float(value)
        elif normal == "verify":
            if not isinstance(value, dict):
                raise ConfigError(f"[tool.actlint] {key} must be a table")
            kwargs["verify"] = tuple(value.items())
        elif isinstance(value, dict) and (key.upper() in _names(rule_names)
                                          or key in {n: c for c, n in _names(rule_names).items()}):
            names = _names(rule_names)
            code = key.upper() if key.upper() in names else {n: c for c, n in names.items()}[key]
            options.setdefault(code, {}).update({k.replace("-", "_"): v for k, v in value.items()})
        else:
            known = ", ".join(sorted(_KNOWN_KEYS))
            raise ConfigError(f"[tool.actlint] unknown key {key!r} (known: {known}, or a rule code/name table)")
    kwargs["rule_options"] = tuple((code, tuple(sorted(o.items()))) for code, o in sorted(options.items()))
    return Config(**kwargs)


def check_rule_options(config: Config, rules) -> None:
    """Raise :class:`ConfigError` for a per-rule option the rule does not have, or of the wrong type."""
    for code, options in config.rule_options:
        known = rules[code].options
        for key, value in options:
            if key not in known:
                names = ", ".join(sorted(known)) or "none"
                raise ConfigError(f"[tool.actlint.{code}] unknown option {key!r} (options: {names})")
            default = known[key]
            if default is not None and not _same_kind(value, default):
                raise ConfigError(f"[tool.actlint.{code}] {key} = {value!r}: expected "
                                  f"{type(default).__name__}, like the default {default!r}")


def _same_kind(value, default) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, (int, float)):
        return isinstance(value, (int, float))
    if isinstance(default, (list, tuple)):
        return isinstance(value, (list, tuple))
    return isinstance(value, type(default))


def load_project_config(start: Path, explicit: Path | None = None) -> Config:
    """The configuration a file at ``start`` is linted with (``[tool.actlint]`` of the nearest pyproject.toml,
    or ``explicit``), its codes and per-rule options checked against the rules; raises :class:`ConfigError`."""
    from actlint.codes import RULE_NAMES

    config = load_config(start, explicit=explicit, rule_names=RULE_NAMES)
    if config.rule_options:
        from actlint.checks import all_rules  # per-rule options need the rules themselves

        check_rule_options(config, all_rules())
    return config

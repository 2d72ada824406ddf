"""flake8 plugin: ``flake8 --select ACT`` reports what ``actlint`` reports."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from actlint import __version__


@lru_cache(maxsize=64)
def _config_for(folder: str):
    from actlint.checks import all_rules
    from actlint.config import Config, ConfigError, load_config

    rules = all_rules()
    try:
        return load_config(Path(folder), rule_names=lambda: {c: r.name for c, r in rules.items()})
    except ConfigError:
        return Config(root=Path(folder))


class ActlintChecker:
    name = "actlint"
    version = __version__

    def __init__(self, tree, filename: str = "stdin", lines: list[str] | None = None) -> None:
        self.filename = filename
        self.lines = lines

    def run(self):
        from actlint.checks import all_rules
        from actlint.engine import _relative_to_root, lint_text

        text = "".join(self.lines) if self.lines is not None else Path(self.filename).read_text(encoding="utf-8")
        path = Path(self.filename)
        config = _config_for(str(path.resolve().parent if self.filename != "stdin" else Path.cwd()))
        codes = config.enabled_codes(_relative_to_root(path, config), all_rules())
        result = lint_text(text, self.filename, config, codes)
        homes = _from_importers(str(path.resolve()), config) if self.filename != "stdin" else ([], set())
        if homes[1]:  # noqa comments here that importers' findings need at their home are used (ACT100)
            from actlint.unused_noqa import drop_used_elsewhere

            result.findings = drop_used_elsewhere(result.findings, self.filename, homes[1])
        for finding in result.findings:
            yield finding.line, finding.column - 1, f"{finding.code} {finding.message}{_fix_note(finding)}", type(self)
        for error in result.errors:
            yield 1, 0, f"ACT000 internal error in {error.rule}: {error.error}", type(self)
        for home in homes[0]:
            yield home["line"], home["column"] - 1, f"{home['code']} {home['message']}", type(self)


@lru_cache(maxsize=256)
def _importer_findings(folder: str):
    """Per project and process: importer -> its findings whose home is another file (flake8 checks one
    file at a time, so each importer is linted once however many of its modules are checked)."""
    return {}


def _from_importers(path: str, config) -> tuple[list[dict], set]:
    """What the project's files that import ``path`` find at home in it (``actlint model.py`` reports these
    too, :mod:`actlint.importers`), and the noqa comments there that suppressed one of them: (absolute path,
    line, code)."""
    import os

    from actlint.engine import lint_file
    from actlint.importers import find_importers

    found, used = [], set()
    memo = _importer_findings(str(config.root))
    for importer in find_importers([Path(path)], config, config.root / ".actlint_cache" / "importers.json"):
        key = os.path.abspath(importer)
        if key not in memo:
            result = lint_file(importer, config)
            memo[key] = ([f for f in result.findings if f.home is not None],
                         {(os.path.abspath(where), line, code) for where, line, code in result.home_noqa})
        for finding in memo[key][0]:
            if os.path.abspath(finding.home["path"]) == path:
                found.append({**finding.home, "code": finding.code})
        used |= {u for u in memo[key][1] if u[0] == path}
    return sorted(found, key=lambda h: (h["line"], h["column"], h["code"])), used


def _fix_note(finding) -> str:
    """flake8 has no fix channel: the replacement rides in the message for editors to offer."""
    fix = finding.fix
    if fix is None:
        return ""
    kind = "fix" if fix.safe else "unsafe fix"
    if len(fix.edits) == 1 and fix.edits[0].content and "\n" not in fix.edits[0].content:
        return f" [{kind}: replace with `{fix.edits[0].content}`]"
    return f" [{kind}: {fix.message}]"

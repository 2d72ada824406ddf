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
        for finding in result.findings:
            yield finding.line, finding.column - 1, f"{finding.code} {finding.message}{_fix_note(finding)}", type(self)
        for error in result.errors:
            yield 1, 0, f"ACT000 internal error in {error.rule}: {error.error}", type(self)


def _fix_note(finding) -> str:
    """flake8 has no fix channel: the replacement rides in the message for editors to offer."""
    fix = finding.fix
    if fix is None:
        return ""
    kind = "fix" if fix.safe else "unsafe fix"
    if len(fix.edits) == 1 and "\n" not in fix.edits[0].content:
        return f" [{kind}: replace with `{fix.edits[0].content}`]"
    return f" [{kind}: {fix.message}]"

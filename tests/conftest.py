from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _shared() -> Path:
    """The project's ``../shared`` folder: $ACTLINT_SHARED, beside this checkout, or beside the main checkout
    when this is a git worktree (its ``.git`` file reads ``gitdir: <main>/.git/worktrees/<name>``)."""
    if os.environ.get("ACTLINT_SHARED"):
        return Path(os.environ["ACTLINT_SHARED"])
    candidates = [ROOT.parent / "shared"]
    git = ROOT / ".git"
    if git.is_file() and git.read_text(encoding="utf-8").startswith("gitdir:"):
        gitdir = Path(git.read_text(encoding="utf-8").split(":", 1)[1].strip())
        candidates.append(gitdir.parents[2].parent / "shared")
    return next((c for c in candidates if c.is_dir()), candidates[0])


SHARED = _shared()
SHARED_CASES = SHARED / "cases"
SHARED_CASES_NEXT = SHARED / "cases-next"
SHARED_CASES_OPEN = SHARED / "cases-open"  # the cases of issue 22 (idioms of real code)
SARIF_SCHEMA = SHARED / "data" / "sarif-schema-2.1.0.json"
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture
def lint():
    """Lint a source string with every rule enabled; returns the findings."""
    from actlint.checks import all_rules
    from actlint.config import Config
    from actlint.engine import lint_text

    def run(source: str, path: str = "example.py", select: str | None = None, **options):
        codes = frozenset(c for c in all_rules() if select is None or c.startswith(select))
        config = Config(rule_options=tuple((code, tuple(o.items())) for code, o in options.items()))
        result = lint_text(source, path, config, codes)
        assert not result.errors, result.errors
        return result.findings

    return run

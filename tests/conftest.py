from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_CASES = ROOT.parent / "shared" / "cases"
SARIF_SCHEMA = ROOT.parent / "shared" / "data" / "sarif-schema-2.1.0.json"
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

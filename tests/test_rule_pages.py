"""Each rule's page exists, has the sections users expect, and its examples lint as they say."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from actlint.checks import all_rules
from actlint.pages import read_page

SECTIONS = ("## What it does", "## Why is this bad?", "## Example", "## Use instead", "## Fix safety",
            "## How `--verify` confirms it")
CODES = list(all_rules())


def _block(page: str, heading: str) -> str:
    section = page.split(heading, 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, f"no python example under {heading}"
    return match.group(1)


@pytest.mark.parametrize("code", CODES)
def test_page_has_sections(code):
    page = read_page(code)
    assert page is not None, f"rules/{code}.md is missing"
    assert page.startswith(f"# {code} {all_rules()[code].name}\n")
    for heading in SECTIONS:
        assert heading in page, f"{code}: missing section {heading!r}"


@pytest.mark.parametrize("code", CODES)
def test_page_examples(code, lint):
    page = read_page(code)
    # ACT000 comes from the engine, not a check; ACT100 judges the codes of the rules that ran, so ACT1 runs them
    select = {"ACT000": None, "ACT100": "ACT1"}.get(code, code)
    bad = [f for f in lint(_block(page, "## Example"), select=select) if f.code == code]
    good = [f for f in lint(_block(page, "## Use instead"), select=select) if f.code == code]
    assert [f.code for f in bad] and {f.code for f in bad} == {code}, f"{code}: Example gave {bad}"
    assert good == [], f"{code}: 'Use instead' gave {good}"


def test_rule_command_prints_page():
    out = subprocess.run([sys.executable, "-m", "actlint", "rule", "ACT104"], capture_output=True, text=True)
    assert out.returncode == 0
    assert out.stdout.startswith("# ACT104 softmax-without-dim")
    assert "## Fix safety" in out.stdout


def test_rule_command_by_name_and_unknown():
    by_name = subprocess.run([sys.executable, "-m", "actlint", "rule", "softmax-without-dim"],
                             capture_output=True, text=True)
    assert by_name.returncode == 0 and by_name.stdout.startswith("# ACT104")
    unknown = subprocess.run([sys.executable, "-m", "actlint", "rule", "ACT999"], capture_output=True, text=True)
    assert unknown.returncode == 2 and "unknown rule" in unknown.stderr


def test_rule_all_table():
    out = subprocess.run([sys.executable, "-m", "actlint", "rule", "--all"], capture_output=True, text=True)
    assert out.returncode == 0
    header, *rows = out.stdout.strip().splitlines()
    from actlint.verify.judge.diagnostics import RUNTIME_RULES

    assert header.split() == ["code", "name", "fix", "summary"]
    assert [row.split()[0] for row in rows] == CODES + list(RUNTIME_RULES)
    assert [row.split()[2] for row in rows if row.split()[2] != "-"] == ["safe", "unsafe", "safe", "unsafe", "safe"]
    assert any(re.match(r"ACT100  unused-noqa +safe  ", row) for row in rows)
    assert any(re.match(r"ACT104  softmax-without-dim +unsafe  ", row) for row in rows)
    assert any(row.startswith("ACT901  dead-relu-units") for row in rows)


def _fixtures_fix_kinds() -> dict[str, set[str]]:
    """Every fix the fixtures' findings carry, by code: {"safe", "unsafe"}."""
    from pathlib import Path

    from actlint.config import Config
    from actlint.engine import lint_paths

    root = Path(__file__).resolve().parents[1] / "fixtures"
    kinds: dict[str, set[str]] = {}
    off = tuple(code for code, rule in all_rules().items() if not rule.default)  # ACT100
    for finding in lint_paths(sorted(root.rglob("*.py")), Config(root=root, extend_select=off), jobs=1).findings:
        if finding.fix is not None:
            kinds.setdefault(finding.code, set()).add("safe" if finding.fix.safe else "unsafe")
    return kinds


def test_declared_fix_kinds_are_what_the_rules_emit_and_what_the_pages_say():
    """``rule --all``'s fix column comes from each rule's ``fixes``; it must match the fixes the rule
    actually attaches (on the fixtures) and the page's "Fix safety" section."""
    emitted = _fixtures_fix_kinds()
    for code, rule in all_rules().items():
        assert emitted.get(code, set()) == ({rule.fixes} if rule.fixes else set()), code
        section = read_page(code).split("## Fix safety", 1)[1].split("\n## ", 1)[0]
        if rule.fixes is None:
            assert "No automatic fix" in section and "**safe**" not in section, code
        else:
            assert f"**{rule.fixes}**" in section and "No automatic fix yet" not in section, code

"""Every fixture and every shared case gives exactly the findings its comments name."""

from __future__ import annotations

import pytest
from conftest import ROOT, SHARED_CASES, SHARED_CASES_NEXT, SHARED_CASES_OPEN
from expectations import mismatches, project_mismatches, python_files

from actlint.checks import all_rules

RULE_CODES = {code for code in all_rules() if code != "ACT000"}
PROJECTS = [ROOT / "fixtures" / "project", ROOT / "fixtures" / "run" / "two_files"]  # folders linted as projects (their files import each other)
FIXTURES = [p for p in python_files(ROOT / "fixtures") + python_files(ROOT / "examples")
            if not any(folder in p.parents for folder in PROJECTS)]


def _check(path, lint):
    text = path.read_text(encoding="utf-8")
    findings = lint(text, path=str(path))
    problems = mismatches(text, findings, RULE_CODES)
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", FIXTURES, ids=[str(p.relative_to(ROOT)) for p in FIXTURES])
def test_fixture(path, lint):
    _check(path, lint)


def _absent(folder):
    return [pytest.param(None, marks=pytest.mark.skip(reason=f"{folder} is absent (a fresh clone has no ../shared)"))]


def _shared_cases():
    return python_files(SHARED_CASES) if SHARED_CASES.is_dir() else _absent(SHARED_CASES)


def _shared_next_cases():
    """The single-file cases of the work in progress (the project folders there are linted as folders)."""
    return sorted(SHARED_CASES_NEXT.glob("*.py")) if SHARED_CASES_NEXT.is_dir() else _absent(SHARED_CASES_NEXT)


@pytest.mark.parametrize("path", _shared_cases(), ids=lambda p: p.name if p else "absent")
def test_shared_case(path, lint):
    _check(path, lint)


@pytest.mark.parametrize("path", _shared_next_cases(), ids=lambda p: p.name if p else "absent")
def test_shared_next_case(path, lint):
    _check(path, lint)


def _shared_open_cases():
    """The cases of issue 22 (the notebook among them is checked in test_ipython_syntax.py)."""
    return sorted(SHARED_CASES_OPEN.glob("*.py")) if SHARED_CASES_OPEN.is_dir() else _absent(SHARED_CASES_OPEN)


@pytest.mark.parametrize("path", _shared_open_cases(), ids=lambda p: p.name if p else "absent")
def test_shared_open_case(path, lint):
    _check(path, lint)


def _shared_next_projects():
    if not SHARED_CASES_NEXT.is_dir():
        return _absent(SHARED_CASES_NEXT)
    return sorted(p for p in SHARED_CASES_NEXT.iterdir() if p.is_dir())


@pytest.mark.parametrize("folder", PROJECTS + _shared_next_projects(),
                         ids=lambda p: p.name if p else "absent")
def test_project_folder(folder):
    """Linted as a folder and file by file, a project gives the findings its comments name (see
    ``expectations.project_mismatches``)."""
    problems = project_mismatches(folder, RULE_CODES)
    assert not problems, "\n".join(problems)


def test_fixtures_exist_for_every_rule():
    have = {p.parent.name.upper() for p in FIXTURES}
    missing = sorted(code for code in RULE_CODES if code not in have)
    assert not missing, f"rules without a fixtures/<code>/ folder: {missing}"

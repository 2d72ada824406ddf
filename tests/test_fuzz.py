"""Fuzzing: the engine and every rule never raise, on generated programs and on mutated fixtures."""

from __future__ import annotations

import random

import pytest
from conftest import ROOT
from hypothesis import HealthCheck, given, seed, settings

from actlint.fuzzing import PRELUDE, corpus_files, lint_all, mutations

hypothesmith = pytest.importorskip("hypothesmith")


@seed(20261124)
@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(hypothesmith.from_grammar())
def test_generated_programs_never_raise(source):
    result = lint_all(PRELUDE + source)
    assert not result.errors, result.errors


@seed(20261124)
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(hypothesmith.from_node())
def test_generated_syntax_trees_never_raise(source):
    result = lint_all(PRELUDE + source)
    assert not result.errors, result.errors


def test_mutated_fixtures_never_raise():
    rng = random.Random(20261124)
    checked = 0
    for path in corpus_files(ROOT):
        text = path.read_text(encoding="utf-8")
        for mutant in mutations(text, rng, 6):
            result = lint_all(mutant)
            assert not result.errors, (path.name, result.errors, mutant)
            checked += 1
    assert checked >= 200


def _with_and_without_the_quick_pass(text: str):
    from actlint import engine

    found = []
    for quick in (True, False):
        engine.QUICK_PASS = quick
        try:
            result = lint_all(text)
        finally:
            engine.QUICK_PASS = True
        found.append(([(f.code, f.line, f.column, f.end_line, f.end_column, f.message) for f in result.findings],
                      [(e.code, e.message) for e in result.errors]))
    return found


@seed(20261129)
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(hypothesmith.from_grammar())
def test_generated_programs_give_the_same_findings_with_the_quick_pass(source):
    quick, full = _with_and_without_the_quick_pass(PRELUDE + source)
    assert quick == full


def test_mutated_fixtures_give_the_same_findings_with_the_quick_pass():
    rng = random.Random(20261129)
    compared = 0
    for path in corpus_files(ROOT):
        for mutant in mutations(path.read_text(encoding="utf-8"), rng, 3):
            quick, full = _with_and_without_the_quick_pass(mutant)
            assert quick == full, (path.name, mutant)
            compared += bool(full[0])
    assert compared >= 50  # mutants that still hold findings

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

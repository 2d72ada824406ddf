"""ACT107 under ``--verify``: two unseeded builds in fresh processes, for whichever model the file trains."""

from __future__ import annotations

import pytest

from conftest import ROOT
from honesty import problems
from test_verify import _needs, actlint

SEED = ROOT / "fixtures" / "verify" / "seed"


@pytest.fixture(scope="module")
def seed_run():
    _needs("torch")
    code, data, err, _ = actlint("--verify", "--format", "json", SEED)
    assert code == 1, err
    assert not problems(data), "\n".join(problems(data))
    return {(f["path"].rsplit("/", 1)[-1], f["code"]): f for f in data}


def test_bare_layer_model_is_built_twice(seed_run):
    f = seed_run[("plain_layer.py", "ACT107")]
    assert f["line"] == 15
    assert f["verdict"] == "confirmed"
    assert f["evidence"]["model"].endswith("plain_layer.py:model")
    assert "different weights" in f["evidence"]["summary"]
    assert f["evidence"]["digest_params"] == f["evidence"]["digest_second_params"] == {"tensors": 2, "elements": 4}


def test_training_inside_main_uses_the_optimised_model(seed_run):
    f = seed_run[("gan_in_main.py", "ACT107")]
    assert f["verdict"] == "confirmed"
    assert f["evidence"]["model"].rsplit(":", 1)[-1] in ("Generator", "Discriminator")
    a, b = f["evidence"]["weights_sha256"]
    assert a != b


def test_seed_verdict_needs_no_forward_pass(seed_run):
    f = seed_run[("forward_fails.py", "ACT107")]
    assert f["verdict"] == "confirmed"
    assert f["evidence"]["model"].endswith("forward_fails.py:GraphNet")

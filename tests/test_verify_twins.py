"""Keras twins for ACT101/ACT106: the same model with the flagged part fixed, judged like the PyTorch twins.

One CLI run over fixtures/verify/twins (copied next to a pyproject.toml that gives the subclassed
model its input shape, which nothing in its source declares).
"""

from __future__ import annotations

import shutil

import pytest

from conftest import ROOT
from honesty import problems
from test_verify import _expected, _needs, actlint, by_place

TWINS = ROOT / "fixtures" / "verify" / "twins"


@pytest.fixture(scope="module")
def twin_run(tmp_path_factory):
    _needs("torch", "keras")
    work = tmp_path_factory.mktemp("twins")
    for path in TWINS.glob("*.py"):
        shutil.copy(path, work / path.name)
    (work / "pyproject.toml").write_text(
        '[tool.actlint.verify]\nmodels = {"keras_hard_negatives.py:TanhEncoder" = {input = [64, 32]}}\n')
    rc, findings, err, _ = actlint("--verify", "--format", "json", ".", cwd=work)
    return {"places": by_place(findings), "stderr": err, "findings": findings}


def test_no_verdict_rests_on_empty_evidence(twin_run):
    assert not problems(twin_run["findings"]), "\n".join(problems(twin_run["findings"]))


def test_static_pass_gives_the_expected_findings(twin_run):
    places = twin_run["places"]
    for path in sorted(TWINS.glob("*.py")):
        for key in _expected(path):
            assert key in places, (key, twin_run["stderr"])


def test_sigmoid_sequential_confirmed_against_relu_twin(twin_run):
    for line in (9, 10, 12):  # two Dense(activation="sigmoid") and an Activation("sigmoid") layer
        f = twin_run["places"][("keras_sigmoid_sequential.py", line, "ACT101")]
        assert f["verdict"] == "confirmed", f["evidence"]
        ev = f["evidence"]
        assert ev["attenuation_vs_relu"] >= 10 and ev["grad_ratio_first_last"] < 0.05
        assert "Keras twin with ReLU+he_normal" in ev["summary"] and "he_normal" in ev["twin"]
        assert len(ev["mean_derivative"]) == 3 and all(d < 0.25 for d in ev["mean_derivative"])


def test_he_init_under_tanh_confirmed_against_glorot_twin(twin_run):
    for line in (8, 9, 10):
        f = twin_run["places"][("keras_tanh_he_functional.py", line, "ACT106")]
        assert f["verdict"] == "confirmed", f["evidence"]
        ev = f["evidence"]
        assert ev["init"] == ["he_normal"] and ev["matched"].startswith("glorot_normal")
        assert ev["saturated_max"] > 2 * ev["twin_saturated_max"]
        assert len(ev["std"]) == len(ev["twin_std"]) == 3
        assert all(a > b for a, b in zip(ev["std"], ev["twin_std"]))


def test_tanh_with_he_is_not_a_vanishing_gradient(twin_run):
    # tanh's slope near 0 is 1: the three tanh layers pass more gradient than the ReLU twin
    f = twin_run["places"][("keras_tanh_he_functional.py", 8, "ACT101")]
    assert f["verdict"] == "inconclusive" and "the gradient does not vanish" in f["evidence"]["summary"]
    assert f["evidence"]["attenuation_vs_relu"] < 1


# Both would refute on the user's own data; on synthetic input the problem is only "not reproduced".
@pytest.mark.parametrize("line", [16, 17, 18])
def test_subclassed_tanh_stack_not_reproduced(twin_run, line):
    f = twin_run["places"][("keras_hard_negatives.py", line, "ACT101")]
    assert f["verdict"] == "inconclusive", f["evidence"]
    assert f["evidence"]["summary"].startswith("not reproduced on synthetic input (")
    assert f["evidence"]["attenuation_vs_relu"] < 1.5 and f["evidence"]["saturated_fraction"] < 0.05


def test_glorot_on_narrowing_relu_layer_not_reproduced(twin_run):
    f = twin_run["places"][("keras_hard_negatives.py", 27, "ACT106")]
    assert f["verdict"] == "inconclusive", f["evidence"]
    assert "the proposed init does no better" in f["evidence"]["summary"]
    assert "rescaled" in f["evidence"]["matched"]
    assert 0.95 <= f["evidence"]["per_layer_ratio_vs_matched"] <= 1.05

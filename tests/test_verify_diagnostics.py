"""ACT901–ACT905 on healthy and broken models: the calibrated thresholds (docs/verifier.md).

One CLI run over fixtures/verify/diagnostics: a healthy MNIST CNN in the pattern of the classic
PyTorch example (it trains to ~99%; the old dead-unit rule fired on it after the 3 synthetic Adam
steps) gives nothing; each broken model gives its code.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import ROOT
from honesty import problems
from test_verify import _needs, actlint

DIAGNOSTICS = ROOT / "fixtures" / "verify" / "diagnostics"


@pytest.fixture(scope="module")
def diag_run():
    _needs("torch")
    rc, findings, err, _ = actlint("--verify", "--format", "json", DIAGNOSTICS)
    by_model: dict[str, list] = {}
    for f in findings:
        if f["code"].startswith("ACT9"):
            by_model.setdefault(f["evidence"]["model"].split(":")[-1], []).append(f)
    assert not problems(findings), "\n".join(problems(findings))
    return {"rc": rc, "by_model": by_model, "stderr": err, "findings": findings}


def test_mnist_cnn_gives_no_runtime_diagnostic(diag_run):
    assert "Net" not in diag_run["by_model"], diag_run["by_model"].get("Net")


@pytest.mark.parametrize("model, code", [
    ("DeadConvNet", "ACT901"), ("DeepSigmoid", "ACT902"), ("BigTanh", "ACT904"), ("Exploding", "ACT903"),
    ("LogOfSoftmax", "ACT905"),
])
def test_each_broken_model_fires_its_code_only(diag_run, model, code):
    got = diag_run["by_model"].get(model, [])
    assert [f["code"] for f in got] == [code], (model, [(f["code"], f["message"]) for f in got], diag_run["stderr"])
    assert got[0]["verdict"] == "observed"


def test_dead_units_are_dead_at_init_and_after_training(diag_run):
    f = diag_run["by_model"]["DeadConvNet"][0]
    ev = f["evidence"]
    assert ev["units"] == 64 and ev["dead_fraction_at_init"] == 1.0 and ev["dead_fraction_after_training"] == 1.0
    assert ev["dead_fraction_lower_bound"] > 0.9
    assert Path(f["path"]).name == "broken_runtime.py" and f["line"] == 16
    assert "64 units are dead at init and after 3 training steps" in f["message"]


def test_vanishing_holds_at_init_and_after_training(diag_run):
    ev = diag_run["by_model"]["DeepSigmoid"][0]["evidence"]
    assert ev["grad_ratio_first_last"] < 1e-9 and ev["grad_ratio_after_training"] < 1e-9


def test_thresholds_are_the_documented_ones():
    from actlint.verify.judge import diagnostics

    doc = (ROOT / "docs" / "verifier.md").read_text(encoding="utf-8")
    assert "## How the ACT9xx thresholds were chosen" in doc
    assert (diagnostics.DEAD_UNITS, diagnostics.VANISHING, diagnostics.EXPLODING, diagnostics.SATURATED,
            diagnostics.RELATIVE_STEP) == (0.30, 1e-3, 1e3, 0.5, 1e3)


def test_wilson_bound_discounts_small_layers():
    from actlint.verify.judge.diagnostics import _wilson_low

    assert _wilson_low(0.3, 10) < 0.15  # 3 of 10 units: could be chance
    assert _wilson_low(2 / 3, 3) < 0.3   # 2 of 3 (an autoencoder's bottleneck)
    assert _wilson_low(1.0, 256) > 0.98
    assert _wilson_low(0.0, 100) == 0.0


def test_a_saturated_output_activation_is_not_act904():
    """A discriminator's sigmoid output saturates when it is confident; only hidden units count."""
    from actlint.verify.judge.diagnostics import diagnose

    hidden = {"fn": "tanh", "line": 10, "saturated_frac_abs5": 0.9, "out": {"shape": [8, 32]}}
    output = {"fn": "sigmoid", "line": 12, "saturated_frac_abs5": 0.9, "out": {"shape": [8, 1, 1, 1]}}
    result = {"ops": [hidden, output], "output": {"shape": [8]}, "layers": []}
    found = [(f.code, f.line) for f in diagnose(result, "m.py", "m.py:D", 1)]
    assert found == [("ACT904", 10)]

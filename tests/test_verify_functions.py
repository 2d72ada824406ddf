"""``--verify`` on findings outside any model: the flagged expression runs on synthetic logits."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import ROOT
from honesty import problems
from test_verify import _needs, actlint

from actlint.findings import Finding
from actlint.verify.build.functions import function_targets
from actlint.verify.build.targets import Settings, file_targets

FIXTURES = ROOT / "fixtures" / "verify" / "functions"


@pytest.fixture(scope="module")
def verdicts():
    _needs("torch")
    rc, findings, err, _ = actlint("--verify", "--format", "json", FIXTURES)
    assert rc == 1, err  # confirmed findings fail the run
    assert not problems(findings), "\n".join(problems(findings))
    return {(Path(f["path"]).name, f["line"], f["column"]): f for f in findings}


def _one(verdicts, name, line, code):
    found = [f for (n, ln, _), f in sorted(verdicts.items()) if n == name and ln == line and f["code"] == code]
    assert found, f"no {code} at {name}:{line}"
    return found


def test_log_of_softmax_in_a_helper_is_run(verdicts):
    f = _one(verdicts, "helpers.py", 8, "ACT109")[0]
    assert f["verdict"] == "confirmed"
    assert "-inf/NaN" in f["evidence"]["summary"] and "±60" in f["evidence"]["summary"]
    assert f["evidence"]["ran"].startswith("the expression at line 8: torch.log(p) with p = F.softmax(z, dim=-1)")


def test_sigmoid_into_bce_in_a_loss_function(verdicts):
    f = _one(verdicts, "helpers.py", 12, "ACT103")[0]
    assert f["verdict"] == "confirmed"
    rows = f["evidence"]["rows"]
    assert any(r["clamped_frac"] > 0 and r["fixed_finite"] for r in rows)
    assert "binary_cross_entropy_with_logits(z, y)" in f["evidence"]["ran"]


def test_softmax_into_cross_entropy_in_train(verdicts):
    f = _one(verdicts, "helpers.py", 18, "ACT102")[0]
    assert f["verdict"] == "confirmed"
    assert f["evidence"]["max_grad_shrink"] >= 2
    assert f["evidence"]["perfect_loss"] > 1.0  # log(e + 9) - 1 = 1.46 for 10 classes; the logits form reaches 0
    assert "cross_entropy(F.softmax(z, dim=1), y)" in f["evidence"]["ran"]


def test_softmax_without_dim_by_the_rank_the_code_states(verdicts):
    bmm = _one(verdicts, "helpers.py", 28, "ACT104")[0]
    assert bmm["verdict"] == "confirmed" and "(4, 8, 16)" in bmm["evidence"]["summary"]
    assert bmm["evidence"]["runs"][0]["implicit_dim"] == 0
    view = _one(verdicts, "helpers.py", 33, "ACT104")[0]
    assert view["verdict"] == "refuted" and view["evidence"]["runs"][0]["implicit_dim"] == 1
    unknown = _one(verdicts, "helpers.py", 37, "ACT104")[0]
    assert unknown["verdict"] == "inconclusive" and "rank is not stated" in unknown["evidence"]["summary"]


def test_sigmoid_logs_and_module_level_epsilon(verdicts):
    plain, complement = _one(verdicts, "gan_losses.py", 10, "ACT109")
    # log(sigmoid(z)) stays finite in float32 until z < -88: refuted at the sizes tried, with the numbers
    assert plain["verdict"] == "refuted" and "±60" in plain["evidence"]["summary"]
    assert complement["verdict"] == "confirmed" and "logsigmoid(-z)" in complement["evidence"]["ran"]
    eps = _one(verdicts, "gan_losses.py", 15, "ACT109")[0]
    assert eps["verdict"] == "confirmed" and "EPS" in eps["evidence"]["ran"]
    assert "nn.Softmax(dim=1)(z)" in eps["evidence"]["ran"]


def test_hard_negatives_report_nothing(verdicts):
    lines = {ln for (n, ln, _) in verdicts if n == "helpers.py"}
    assert not lines & set(range(40, 48))  # log_softmax into nll; eps-guarded log under no_grad


def test_keras_loss_outside_a_model_stays_unmapped_with_reason(tmp_path):
    src = tmp_path / "other.py"
    src.write_text("import keras\n\n\ndef evaluate(model, x, y):\n"
                   "    p = keras.activations.softmax(model(x))\n"
                   "    return keras.losses.CategoricalCrossentropy(from_logits=True)(y, p)\n", encoding="utf-8")
    f = Finding("ACT102", "probabilities-where-logits-expected", "m", str(src), 5, 9, 5, 43)
    found, unmapped = file_targets(str(src), src, src.read_text(), [f], Settings())
    assert not found
    targets, rest = function_targets(str(src), src, src.read_text(), unmapped)
    assert not targets
    assert rest[0][1] == ("in evaluate(), which is not part of a model the verifier builds; the loss is a Keras "
                          "loss; only PyTorch losses are run outside a model")


def test_a_keras_model_made_in_a_function_takes_its_findings(tmp_path):
    src = tmp_path / "other.py"
    src.write_text("import keras\nfrom keras import layers\n\n\ndef make():\n"
                   "    model = keras.Sequential([layers.Dense(10, activation=\"softmax\")])\n"
                   "    model.compile(loss=keras.losses.CategoricalCrossentropy(from_logits=True))\n"
                   "    return model\n", encoding="utf-8")
    f = Finding("ACT102", "probabilities-where-logits-expected", "m", str(src), 6, 59, 6, 68)
    (target,), unmapped = file_targets(str(src), src, src.read_text(), [f], Settings())
    assert not unmapped and target.findings == [f]
    assert (target.label, target.build["kind"]) == (f"{src}:make", "function")


def test_module_level_log_of_a_model_output_runs_the_expression(verdicts):
    # the model takes the finding by name, but its own probe sees only its output: the log is run here
    f = _one(verdicts, "gan_losses.py", 29, "ACT109")[0]
    assert f["verdict"] == "confirmed"
    assert f["evidence"]["ran"].startswith("the expression at line 29: torch.log(1. - prob_fake) with prob_fake = "
                                           "nn.Sigmoid()(z) vs torch.nn.functional.logsigmoid(-z)")


def test_nll_on_probabilities_and_sigmoid_into_bce_with_logits(verdicts):
    nll = _one(verdicts, "helpers.py", 51, "ACT102")[0]
    assert nll["verdict"] == "confirmed" and nll["evidence"]["max_grad_shrink"] >= 2
    assert "nll_loss(torch.log_softmax(z, dim=1), y)" in nll["evidence"]["ran"]
    double = _one(verdicts, "helpers.py", 56, "ACT102")[0]
    assert double["verdict"] == "confirmed" and double["evidence"]["perfect_loss"] > 0.1
    assert "binary_cross_entropy_with_logits(torch.sigmoid(z), y)" in double["evidence"]["ran"]


def test_float16_rows_when_the_file_casts_to_half():
    _needs("torch")
    import torch

    from actlint.verify.measure.function_probes import log_expr
    from actlint.verify.judge.verdicts import judge_function

    e = {"kind": "log", "expr": "torch.log(p)", "bind": {"p": "torch.softmax(z, dim=-1)"}, "half": True,
         "fixed": "torch.log_softmax(z, dim=-1)", "constants": {}, "code": "ACT109", "line": 3}
    probe = dict(log_expr(torch, {"torch": torch}, e), experiment=e)
    v = judge_function("ACT109", probe)
    assert v.verdict == "confirmed"
    assert v.summary.startswith("torch.log(p) in float16 at logits up to ±10: ")  # float32 holds until ±60

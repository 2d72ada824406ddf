"""Findings on loss and log lines are linked to the ops that feed them; logs outside a model run as written."""

from __future__ import annotations

from conftest import ROOT
from test_verify import _needs, actlint

from actlint.verify.build.targets import picture_links

GAN = ROOT / "fixtures" / "verify" / "logsig" / "gan_log_prob.py"


def test_log_and_loss_lines_link_to_their_producers():
    sites, links = picture_links(GAN.read_text())
    assert links[16] == {8}  # both logs read D's sigmoid, built on line 8
    assert sites == []  # the GAN loss is written by hand: no loss call


def test_logs_of_the_discriminator_sigmoid_are_run_as_written(tmp_path):
    """log(p) of a float32 sigmoid stays finite (refuted); log(1 - p) underflows (confirmed): on the
    expressions alone, and on the logits the script's own run records."""
    _needs("torch")
    config = tmp_path / "pyproject.toml"  # the expressions on synthetic logits: the script is not run first
    config.write_text("[tool.actlint.verify]\nrun-scripts = false\n", encoding="utf-8")
    code, data, err, _ = actlint("--verify", "--format", "json", "--config", config, GAN)
    assert code == 1, err
    found = {f["column"]: f for f in data if f["code"] == "ACT109"}
    assert sorted(found) == [26, 46] and {f["line"] for f in found.values()} == {16}
    plain, complement = found[26], found[46]
    assert plain["verdict"] == "refuted"
    assert "torch.log(p_real) with p_real = nn.Sigmoid()(z)" in plain["evidence"]["ran"]
    assert complement["verdict"] == "confirmed"
    assert "logsigmoid(-z) stays finite" in complement["evidence"]["summary"]
    assert "-inf/NaN" in complement["evidence"]["summary"]

    code, data, err, _ = actlint("--verify", "--format", "json", GAN)  # the script runs first: its own logits
    assert code == 1, err
    found = {f["column"]: f for f in data if f["code"] == "ACT109"}
    plain, complement = found[26], found[46]
    assert plain["evidence"]["source"] == complement["evidence"]["source"] == "run"
    assert plain["verdict"] == "refuted", plain["evidence"]
    assert plain["evidence"]["form"] == "log(p)" and plain["evidence"]["summary"].startswith("log(p) matched")
    assert complement["verdict"] == "confirmed", complement["evidence"]
    assert complement["evidence"]["form"] == "log(1 - p)"
    assert "log(1 - p) is -inf for" in complement["evidence"]["summary"]
    assert any(r["neg_inf_frac"] > 0 for r in complement["evidence"]["rows"])
    assert not any(r["neg_inf_frac"] > 0 for r in plain["evidence"]["rows"])
"""Findings outside a model go to the model whose ops feed them, and ACT109 knows a sigmoid from a softmax."""

from __future__ import annotations

from conftest import ROOT
from test_verify import _needs, actlint

from actlint.verify.targets import picture_links

GAN = ROOT / "fixtures" / "verify" / "logsig" / "gan_log_prob.py"


def test_log_and_loss_lines_link_to_their_producers():
    sites, links = picture_links(GAN.read_text())
    assert links[16] == {8}  # both logs read D's sigmoid, built on line 8
    assert sites == []  # the GAN loss is written by hand: no loss call


def test_log_of_discriminator_sigmoid_is_confirmed_on_the_discriminator():
    _needs("torch")
    code, data, err, _ = actlint("--verify", "--format", "json", GAN)
    assert code == 1, err
    found = [f for f in data if f["code"] == "ACT109"]
    assert [f["line"] for f in found] == [16, 16]
    for f in found:
        assert f["verdict"] == "confirmed"
        assert f["evidence"]["model"].endswith("gan_log_prob.py:D")
        assert "plain log(sigmoid) is -inf" in f["evidence"]["summary"]
        assert "logsigmoid stays finite" in f["evidence"]["summary"]

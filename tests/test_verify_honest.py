"""Verdicts that never rest on empty evidence, and never refute what synthetic data cannot settle.

One in-process ``--verify`` over every fixture outside ``fixtures/verify`` (whose own test modules run
it and check the same with :func:`honesty.problems`), building only the models that answer a finding;
then the judge alone on hand-made measurements, and two probes on small models in this process.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from conftest import ROOT
from honesty import EMPTY_SHA256, problems

from actlint.verify.judge.verdicts import judge

FIXTURES = ROOT / "fixtures"


def _needs(*modules):
    for name in modules:
        if importlib.util.find_spec(name) is None:
            pytest.skip(f"--verify needs {name} (pip install 'actlint[verify]')")


@pytest.fixture(scope="module")
def sweep():
    """``--verify`` on every rule fixture (and the project folder); models without a finding are not run."""
    _needs("torch", "keras")
    from actlint.checks import all_rules
    from actlint.config import Config
    from actlint.engine import lint_paths
    from actlint.verify import session
    from actlint.verify.build.targets import Settings

    files = sorted(p for p in FIXTURES.rglob("*.py") if p.relative_to(FIXTURES).parts[0] != "verify")
    config = Config(root=ROOT)
    report = lint_paths(files, config, jobs=1)
    findings = [f for f in report.findings if f.code in all_rules()]
    original = session.file_targets

    def answering(*args, **kwargs):  # a model no finding asks about only gives runtime diagnostics
        found, unmapped = original(*args, **kwargs)
        return [t for t in found if t.findings], unmapped

    mp = pytest.MonkeyPatch()
    mp.setattr(session, "file_targets", answering)
    try:
        # synthetic builds only: what a run of the script decides is tested in test_trace_run.py
        outcome = session.verify(findings, files, Settings(timeout=60, run_scripts=False), ROOT, workers=2,
                                 show_progress=False)
    finally:
        mp.undo()
    out = [f.to_dict() for f in outcome.findings if f.code in all_rules()]
    return {"findings": out, "places": {(Path(f["path"]).name, f["line"], f["code"]): f for f in out},
            "faults": outcome.faults}


def test_no_decided_verdict_rests_on_empty_evidence(sweep):
    assert not sweep["faults"], [f.note() for f in sweep["faults"]]
    decided = [f for f in sweep["findings"] if f.get("verdict") in ("confirmed", "refuted")]
    assert len(decided) >= 40, len(decided)  # the sweep measured something
    assert not problems(sweep["findings"]), "\n".join(problems(sweep["findings"]))


def test_seed_is_judged_on_the_trained_model_not_a_helper(sweep):
    f = sweep["places"][("bad_helper_beside_model.py", 29, "ACT107")]
    assert f["verdict"] == "confirmed", f["evidence"]
    assert f["evidence"]["model"].endswith(":Net")
    assert f["evidence"]["digest_params"]["elements"] == 20 * 32 + 32 + 32 * 2 + 2


def test_seed_is_judged_on_the_model_a_function_returns_not_the_helpers(sweep):
    f = sweep["places"][("bad_only_helpers.py", 31, "ACT107")]
    assert f["verdict"] == "confirmed", f["evidence"]
    assert f["evidence"]["model"].endswith(":make_model")
    assert f["evidence"]["digest_params"] == {"tensors": 4, "elements": 784 * 128 + 128 + 128 * 10 + 10}


def test_seed_without_the_trained_model_is_inconclusive(sweep):
    f = sweep["places"][("bad_helpers_model_loaded.py", 26, "ACT107")]
    assert f["verdict"] == "inconclusive"
    assert "not one the verifier builds" in f["evidence"]["summary"]
    assert "Swish, Reshape" in f["evidence"]["summary"]


def test_unbuilt_keras_model_is_built_from_the_input_the_file_states_else_a_guessed_one(sweep):
    f = sweep["places"][("bad_unbuilt_keras.py", 9, "ACT107")]
    assert f["verdict"] == "confirmed", f["evidence"]
    assert f["evidence"]["digest_params"] == {"tensors": 4, "elements": 12 * 16 + 16 + 16 + 1}
    assert "np.random.random((256, 12))" in f["evidence"]["built_from"]
    # Nothing in the file says what Tower is fed: both builds are called on the same guessed input (the
    # weights' shapes follow it, their values only the seed), so the two sets of real weights are compared.
    g = sweep["places"][("bad_unbuilt_keras_subclass.py", 17, "ACT107")]
    assert g["verdict"] == "confirmed", g["evidence"]
    assert g["evidence"]["digest_params"]["tensors"] == 4 and g["evidence"]["built_from"].split(", ", 1)[1].startswith(
        "guessed"), g["evidence"]


def test_double_softmax_is_read_on_the_head_that_reaches_the_loss(sweep):
    f = sweep["places"][("bad_two_heads.py", 17, "ACT102")]
    assert f["verdict"] == "confirmed", f["evidence"]
    ev = f["evidence"]
    assert ev["tensor"] == "the output of the softmax at line 17" and ev["units"] == 10
    assert abs(ev["row_sum_min"] - 1) < 1e-3 and ev["grad_shrink_init"] >= 2


def test_softmax_without_dim_is_judged_at_the_rank_the_code_passes(sweep):
    f = sweep["places"][("bad_softmax_2d_only.py", 10, "ACT104")]
    assert f["verdict"] == "refuted", f["evidence"]
    runs = f["evidence"]["runs"]
    assert [len(r["input_shape"]) for r in f["evidence"]["deciding_runs"]] == [2]
    assert any(len(r["input_shape"]) == 3 and r["implicit_dim"] == 0 and not r["decides"] for r in runs)


def test_saturation_synthetic_input_cannot_show_is_not_refuted(sweep):
    for line in range(11, 16):
        f = sweep["places"][("bad_tanh_unscaled.py", line, "ACT101")]
        assert f["verdict"] in ("confirmed", "inconclusive"), f["evidence"]
        if f["verdict"] == "inconclusive":
            assert f["evidence"]["summary"].startswith("not reproduced on synthetic input (")
            assert f["evidence"]["summary"].endswith("run on real data with actlint run")
        else:
            assert f["evidence"]["attenuation_vs_relu"] >= 2


# ---------------------------------------------------------------- the judge alone

TWIN = {"grad_ratio": 0.5, "twin_grad_ratio": 0.6, "grad_norms": [1.0, 2.0], "twin_grad_norms": [1.2, 2.0],
        "swapped": 2, "activations": [{"fn": "tanh", "mean_derivative": 0.9, "saturated_frac": 0.0, "line": 5}]}


@pytest.mark.parametrize("source, verdict", [(None, "inconclusive"), ("synthetic", "inconclusive"),
                                             ("run", "refuted"), ("api", "refuted")])
def test_data_dependent_claims_are_refuted_only_on_the_users_data(source, verdict):
    result = {} if source is None else {"source": source}
    v = judge("ACT101", dict(TWIN), result)
    assert v.verdict == verdict, v.summary
    if verdict == "inconclusive":
        assert v.summary.startswith("not reproduced on synthetic input (first/last")
    leading = {"fn": "relu", "line": 3, "before_learned": True, "zero_fraction": 0.1, "saturated_fraction": None}
    assert judge("ACT108", leading, result).verdict == verdict
    output = {"min": 0.1, "max": 0.9, "units": 1, "below_0_frac": 0.0, "above_1_frac": 0.0, "exact_0_frac": 0.0,
              "exact_1_frac": 0.0, "std": 0.2}
    assert judge("ACT105", output, result).verdict == verdict
    f16 = {"fn": "sigmoid", "max_abs_logit": 20.0, "rounded_frac_16": 0.0, "rounded_frac_32": 0.0,
           "log_inf_frac_16": 0.0}
    assert judge("ACT112", f16, result).verdict == verdict


@pytest.mark.parametrize("negative, source, verdict", [
    (0.0, "run", "refuted"), (0.0, "synthetic", "inconclusive"), (0.5, "run", "confirmed"),
    (0.5, "synthetic", "confirmed"), (None, "run", "inconclusive")])
def test_a_leading_leaky_relu_is_judged_by_the_negative_inputs_it_reshapes(negative, source, verdict):
    leading = {"fn": "leaky_relu", "line": 3, "before_learned": True, "zero_fraction": 0.0,
               "saturated_fraction": None, "negative_fraction": negative}
    v = judge("ACT108", leading, {"source": source})
    assert v.verdict == verdict, v.summary
    if negative is None:
        assert v.summary == "leaky_relu ran first; its effect is not measured"
    else:
        assert f"reshapes the {100 * negative:.1f}% of the input values that are negative" in v.summary
        assert v.evidence["negative_fraction"] == negative
    if verdict == "inconclusive" and negative is not None:
        assert v.summary.startswith("not reproduced on synthetic input (")


def test_a_twin_that_changed_nothing_decides_nothing():
    assert "changed nothing" in judge("ACT101", dict(TWIN, swapped=0), {"source": "run"}).summary
    same = dict(TWIN, twin_grad_norms=[1.0, 2.0], twin_grad_ratio=0.5)
    assert judge("ACT101", same, {"source": "run"}).verdict == "inconclusive"
    assert judge("ACT101", dict(TWIN, activations=[]), {"source": "run"}).verdict == "inconclusive"
    init = {"activation": "relu", "family": "relu", "init": ["xavier_normal_"], "matched": "kaiming",
            "std": [0.5, 0.3], "twin_std": [0.8, 0.8], "saturated": [0, 0], "twin_saturated": [0, 0],
            "reinitialised": 0}
    assert "no flagged parameter" in judge("ACT106", init, {}).summary
    assert judge("ACT106", dict(init, reinitialised=2), {}).verdict == "confirmed"
    assert judge("ACT106", dict(init, reinitialised=2, twin_std=[0.5, 0.3]), {"source": "run"}).verdict \
        == "inconclusive"


def test_seed_verdict_needs_parameters_in_both_builds():
    built = {"tensors": 2, "elements": 18}
    base = {"digest": "a" * 64, "digest_second": "b" * 64, "digest_params": built, "digest_second_params": built,
            "digest_model": "Net"}
    assert judge("ACT107", None, base).verdict == "confirmed"
    assert judge("ACT107", None, dict(base, digest_second="a" * 64)).verdict == "refuted"
    empty = {"tensors": 0, "elements": 0}
    v = judge("ACT107", None, dict(base, digest=EMPTY_SHA256, digest_second=EMPTY_SHA256, digest_model="Swish",
                                   digest_params=empty, digest_second_params=empty))
    assert v.verdict == "inconclusive"
    assert v.summary == "the model built has no parameters (Swish: 0 tensors, 0 values): not the network the " \
                        "script trains"
    v = judge("ACT107", None, dict(base, digest=None, digest_second=None, digest_unbuilt=True, digest_model="Tower",
                                   digest_framework="keras", digest_params=empty, digest_second_params=empty))
    assert v.verdict == "inconclusive" and v.summary.startswith("no weights built yet (an unbuilt Keras model: Tower")
    legacy = {"digest": EMPTY_SHA256, "digest_second": EMPTY_SHA256}  # a record without parameter counts
    assert judge("ACT107", None, legacy).verdict == "inconclusive"


def test_not_normalised_never_stands_next_to_a_smaller_gradient():
    rows = {"fn": "softmax", "tensor": "the output of the softmax at line 9", "op_line": 9, "dim": 1, "units": 1,
            "output_min": 0.2, "output_max": 3.0, "row_sum_min": 0.2, "row_sum_max": 3.0,
            "grad_init": 0.1, "grad_logits_init": 0.5, "grad_trained": 0.1, "grad_logits_trained": 0.9}
    v = judge("ACT102", rows, {})
    assert v.verdict == "inconclusive" and "the measurements disagree" in v.summary
    assert judge("ACT102", dict(rows, grad_logits_init=0.1, grad_logits_trained=0.1), {}).verdict == "refuted"
    assert judge("ACT102", dict(rows, tensor=None), {}).verdict == "inconclusive"  # not the flagged tensor's rows


def test_implicit_dim_is_decided_at_the_input_rank_only():
    two = {"input_shape": [64, 20], "softmax_input_shape": [64, 5], "implicit_dim": 1, "dim": None,
           "decides": True, "from": "input torch.randn(64, 20) at line 18"}
    three = {"input_shape": [64, 8, 20], "softmax_input_shape": [64, 8, 5], "implicit_dim": 0, "dim": None,
             "decides": False, "from": "guessed"}
    assert judge("ACT104", {"runs": [two, three]}, {}).verdict == "refuted"
    assert judge("ACT104", {"runs": [dict(two, decides=False), three]}, {}).verdict == "inconclusive"
    assert judge("ACT104", {"runs": [dict(three, decides=True), two]}, {}).verdict == "confirmed"


def test_no_verdict_without_a_number():
    v = judge("ACT111", {"tensor": "the model's output", "min": None, "max": None, "units": 1, "below_0_frac": None,
                         "above_1_frac": None, "exact_0_frac": None, "exact_1_frac": None, "std": None}, {})
    assert v.verdict == "inconclusive"


# ---------------------------------------------------------------- probes on small models, in this process

@pytest.fixture
def torch_ctx(monkeypatch):
    _needs("torch")
    import torch

    from actlint.verify.measure import recorder
    from actlint.verify.measure.recorder import Run

    monkeypatch.setattr(recorder, "USER_FILE", __file__)  # ops are placed at this file's lines

    def make(model, x, candidates=None):
        run = Run(model, x, "torch")
        run.forward()
        return {"base": run, "x": x, "framework": "torch", "seed": 0, "device": "cpu",
                "candidates": candidates or [], "base_layers": run.layer_table(), "loss": None}

    return torch, make


def test_normalised_reads_the_flagged_head(torch_ctx):
    torch, make = torch_ctx
    from actlint.verify.measure.experiments import probe_normalised

    class TwoHeads(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.adv, self.aux = torch.nn.Linear(8, 1), torch.nn.Linear(8, 4)

        def forward(self, x):
            return self.adv(x), torch.softmax(self.aux(x), dim=1)

    ctx = make(TwoHeads(), torch.randn(16, 8))
    line = next(k[1] for k in ctx["base"].rec.order if k[0] == "softmax")
    p = probe_normalised(ctx, {"lines": [line], "code": "ACT102"})
    assert p["units"] == 4 and abs(p["row_sum_min"] - 1) < 1e-5 and abs(p["row_sum_max"] - 1) < 1e-5
    assert p["op_line"] == line and p["grad_logits_init"] > p["grad_init"]
    assert judge("ACT102", p, {}).verdict == "confirmed"


def test_implicit_dim_on_real_call_arguments(torch_ctx):
    torch, make = torch_ctx
    from actlint.verify.measure.experiments import probe_implicit_dim
    from actlint.verify.measure.recorder import Batch

    class Pool(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.score = torch.nn.Linear(6, 1)

        def forward(self, h, scale=1.0):
            return (torch.nn.functional.softmax(self.score(h) * scale) * h).sum(dim=1)  # noqa: ACT104

    h = torch.randn(5, 7, 6)
    kept = h.clone()
    ctx = make(Pool(), h)
    line = next(k[1] for k in ctx["base"].rec.order if k[0] == "softmax")
    ctx["inputs"] = [Batch.of((h,), {"scale": 2.0})]
    p = probe_implicit_dim(ctx, {"lines": [line], "code": "ACT104"})
    (row,) = p["runs"]
    assert row["decides"] and row["input_shape"] == [5, 7, 6] and row["implicit_dim"] == 0
    assert row["other_samples_change"] > 0 and torch.equal(h, kept)  # the change went to a clone
    v = judge("ACT104", p, {"source": "run"})
    assert v.verdict == "confirmed" and "the input of the traced run" in v.summary


def _bce_row(largest: float) -> dict:
    return {"scale": 40.0, "max_abs_logit": largest, "rounded_frac": 0.0, "max_loss_error": 1e-7,
            "clamped_frac": 0.0, "zero_grad_frac": 0.0, "unfused_finite": True, "fused_finite": True}


@pytest.mark.parametrize("largest, verdict", [(14.8, "inconclusive"), (19.9, "inconclusive"), (40.0, "refuted")])
def test_bce_of_a_sigmoid_is_refuted_only_past_the_logits_where_float32_saturates(largest, verdict):
    """Up to |14.8| BCELoss(sigmoid(x)) and BCEWithLogitsLoss agree; the claim is about larger logits."""
    v = judge("ACT103", {"rows": [_bce_row(largest / 8), _bce_row(largest)]}, {"source": "run"})
    assert v.verdict == verdict, v.summary
    if verdict == "inconclusive":
        assert v.summary == (f"BCELoss(sigmoid(x)) matched BCEWithLogitsLoss at the logit sizes tried, but the "
                             f"largest was |{largest:.3g}|, below the |20| where float32's sigmoid rounds to 1")


def test_a_saturated_sigmoid_is_confirmed_from_the_model_alone_when_the_twin_gets_no_gradient():
    """Unscaled inputs (features in the thousands): the first sigmoid is 99.6% saturated, and the ReLU twin's
    output saturates the loss so it gets no gradient at all: the model's own numbers decide."""
    p = {"grad_ratio": 0.0054, "twin_grad_ratio": None, "grad_norms": [0.0029, 0.038, 0.2, 0.53],
         "twin_grad_norms": [0.0, 0.0, 0.0, 0.0], "swapped": 4,
         "activations": [{"fn": "sigmoid", "mean_derivative": 0.00016, "saturated_frac": 0.996, "line": 38},
                         {"fn": "sigmoid", "mean_derivative": 0.226, "saturated_frac": 0.0, "line": 38}]}
    v = judge("ACT101", p, {"source": "run"})
    assert v.verdict == "confirmed", v.summary
    assert v.summary.startswith("99.6% of the inputs of the sigmoid at line 38 are saturated and its mean derivative "
                                "is 1.60e-04, so it passes almost no gradient; first/last learned-layer gradient norm "
                                "ratio 0.0054 (the twin with ReLU+Kaiming got no gradients on this batch"), v.summary
    healthy = dict(p, activations=[{"fn": "sigmoid", "mean_derivative": 0.2, "saturated_frac": 0.01, "line": 38}])
    assert judge("ACT101", healthy, {"source": "run"}).verdict == "inconclusive"

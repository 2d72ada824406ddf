"""The synthetic input of ``--verify``: static hints from the file, then candidates tried in the child."""

from __future__ import annotations

import json
import textwrap

import pytest

from actlint.verify.build.inputs import input_hints
from conftest import ROOT
from honesty import problems
from test_verify import _needs, actlint

FIXTURES = ROOT / "fixtures" / "verify" / "inputs"


def hints(src: str, name: str = "Net", kind: str = "class", framework: str = "torch") -> dict:
    return input_hints(textwrap.dedent(src), name, kind, framework)


def test_forward_reshape_of_the_raw_input():
    h = hints("""
        import torch.nn as nn
        class Net(nn.Module):
            def forward(self, x):
                x = x.view(-1, 28, 28)
                return self.rnn(x)
        """)
    assert h["shapes"] == [{"shape": [None, 28, 28], "dtype": None, "why": "x.view(-1, 28, 28) at line 5",
                            "source": "forward"}]
    assert h["params"] == [{"name": "x", "default": False}]
    assert h["consumers"] == {"x": "rnn"}


def test_reshape_with_constants_batch_names_and_self_attributes():
    h = hints("""
        import torch
        IMG = 28
        class Net(torch.nn.Module):
            def forward(self, x):
                x = x.reshape(B, 1, IMG, IMG * 1)
                return x
        class Other(torch.nn.Module):
            def forward(self, x):
                return self.fc(x.view(-1, self.n_in))
        """)
    assert h["shapes"][0]["shape"] == [None, 1, 28, 28]
    other = hints("""
        import torch
        class Other(torch.nn.Module):
            def forward(self, x):
                return self.fc(x.view(-1, self.n_in))
        """, "Other")
    assert other["shapes"][0]["shape"] == [None, "self.n_in"]


def test_a_reshape_after_the_input_is_rebound_is_not_the_input_shape():
    h = hints("""
        import torch.nn as nn
        class Net(nn.Module):
            def forward(self, x):
                x = self.conv(x)
                x = x.view(-1, 320)
                return x
        """)
    assert "shapes" not in h


def test_tensors_the_file_passes_to_the_model():
    h = hints("""
        import torch
        from torch.autograd import Variable
        input_size = 28 * 28
        class Net(torch.nn.Module):
            def forward(self, x):
                return x
        net = Net().to("cpu")
        def train():
            images = Variable(torch.zeros(100, 3, 32, 32))
            out = net(images)
            out = net(torch.randn(64, input_size))
        """)
    assert [s["shape"] for s in h["shapes"]] == [[None, 3, 32, 32], [None, 784]]
    assert h["shapes"][0]["why"] == "torch.zeros(100, 3, 32, 32) at line 10, passed to the model at line 11"
    assert h["shapes"][1]["source"] == "call"


def test_reshaped_data_in_the_training_loop_and_keras_fit():
    h = hints("""
        import torch
        sequence_length, input_size = 28, 28
        class RNN(torch.nn.Module):
            def forward(self, x):
                return x
        model = RNN()
        for images, labels in loader:
            images = images.reshape(-1, sequence_length, input_size)
            outputs = model(images)
        """, "RNN")
    assert h["shapes"][0]["shape"] == [None, 28, 28]
    k = hints("""
        import numpy as np
        from keras import Model
        class M(Model):
            def call(self, x):
                return x
        model = M()
        x = np.random.random((500, 12))
        model.fit(x, y)
        """, "M", framework="keras")
    assert k["shapes"][0]["shape"] == [None, 12] and k["shapes"][0]["dtype"] == "float"


def test_dataset_keras_input_and_integer_inputs():
    h = hints("""
        import torch
        from torchvision.datasets import CIFAR10
        class Net(torch.nn.Module):
            def forward(self, tokens, hidden, lengths=None):
                return self.embed(tokens.long())
            def init_hidden(self, bsz):
                return None
        """)
    assert h["dataset"]["name"] == "CIFAR" and h["dataset"]["shape"] == [3, 32, 32]
    assert h["params"] == [{"name": "tokens", "default": False}, {"name": "hidden", "default": False},
                           {"name": "lengths", "default": True}]
    assert h["init_hidden"] == {"method": "init_hidden", "nargs": 1}
    assert "tokens" in h["int_params"]
    k = hints("""
        from keras import layers
        model = keras.Sequential([layers.Input(shape=(28, 28, 1)), layers.Flatten()])
        """, "model", "var", "keras")
    assert k["keras_input"]["shape"] == [None, 28, 28, 1]


def test_double_precision_model():
    h = hints("""
        import torch
        class Seq(torch.nn.Module):
            def forward(self, x):
                h = torch.zeros(x.size(0), 5, dtype=torch.double)
                return h
        seq = Seq()
        seq.double()
        """, "Seq")
    assert h["model_dtype"] == "double"


# ---------------------------------------------------------------- the child, through the CLI


@pytest.fixture(scope="module")
def inputs_run(tmp_path_factory):
    _needs("torch", "keras", "matplotlib")
    folder = tmp_path_factory.mktemp("inputs")
    report = folder / "report"
    config = folder / "pyproject.toml"  # the synthetic inputs themselves: no script is run first
    config.write_text("[tool.actlint.verify]\nrun-scripts = false\n", encoding="utf-8")
    rc, findings, err, _ = actlint("--verify", "--format", "json", "--config", config, "--report", report,
                                   *sorted(FIXTURES.glob("*.py")))
    data = json.loads((report / "report.json").read_text())
    models = {m["model"].rsplit("/", 1)[-1]: m for m in data["models"]}
    models["findings"] = findings
    return models


@pytest.mark.parametrize("model, shape, dtype, why", [
    ("rnn_view.py:RowLSTM", [64, 28, 28], "float", "from x.view(-1, 28, 28) at line 13"),
    ("hidden_state.py:WordRNN", [64, 16], "long", "guessed from Embedding(500, ...) (self.embed)"),
    ("graph_adj.py:TwoLayerGCN", [64, 12], "float", "guessed from the parameter weight (12, 16) (self.g1)"),
    ("token_transformer.py:Seq2Seq", [64, 16], "long", "guessed from Embedding(300, ...) (self.embed)"),
    ("vgg_like.py:VGG", [4, 3, 32, 32], "float", "guessed from Conv2d(3, ...) (self.features)"),
    ("conv_flatten.py:ScreenNet", [64, 3, 37, 77], "float",
     "Conv2d(3, ...) feeding Linear(224, ...): 16x2x7 maps need a 37x77 input"),
    ("keras_subclass.py:Scorer", [64, 24], "float",
     "input np.random.random((256, 24)) at line 19, passed to the model at line 21"),
    ("keras_two_inputs.py:model", [64, 16], "long", "from the Keras Inputs (None, None), (None, 8)"),
])
def test_each_model_is_built_with_the_input_its_file_implies(inputs_run, model, shape, dtype, why):
    m = inputs_run[model]
    assert m["ok"], m["reason"]
    assert m["input"]["shape"] == shape
    assert m["input"]["dtype"] == dtype
    assert m["input"]["why"] == why


def test_further_forward_arguments(inputs_run):
    assert inputs_run["hidden_state.py:WordRNN"]["input"]["inputs"] == [[64, 16], [2, 64, 40]]  # init_hidden(64)
    assert inputs_run["graph_adj.py:TwoLayerGCN"]["input"]["inputs"] == [[64, 12], [64, 64]]  # adjacency
    assert inputs_run["token_transformer.py:Seq2Seq"]["input"]["inputs"] == [[64, 16], [64, 16]]
    two = inputs_run["keras_two_inputs.py:model"]  # token ids below the Embedding's 500, and the float vector
    assert two["input"]["inputs"] == [[64, 16], [64, 8]] and two["input"]["high"] == 500
    mine = [f for f in inputs_run["findings"] if f["path"].endswith("keras_two_inputs.py")]
    assert [(f["line"], f["code"], f["verdict"]) for f in mine] == [  # sigmoid layers behind the concatenation
        (10, "ACT101", "confirmed"), (11, "ACT101", "confirmed"), (12, "ACT101", "confirmed")]


def test_an_expensive_model_runs_at_a_smaller_batch(inputs_run):
    vgg = inputs_run["vgg_like.py:VGG"]
    assert vgg["input"]["batch_note"] == "batch 4 instead of 64: 320 M multiply-adds per sample"
    assert vgg["timings"]["total_s"] < 50  # ~5 s alone on one core; 60 s timed out at batch 64 and 224x224


def test_a_model_nothing_fits_fails_fast_with_the_tries(inputs_run):
    m = inputs_run["fits_nothing.py:Picky"]
    assert not m["ok"]
    assert m["reason"] == ("RuntimeError while running the model on synthetic input: no synthetic input fits the "
                           "model (tried 2: (2, 5): ValueError: wants 7 features; (2, 8, 5): ValueError: wants 7 "
                           "features)")


def test_no_verdict_rests_on_empty_evidence(inputs_run):
    assert not problems(inputs_run["findings"]), "\n".join(problems(inputs_run["findings"]))


def test_the_verdict_says_which_input_it_was_measured_on(inputs_run):
    (finding,) = [f for f in inputs_run["findings"] if f["code"] == "ACT104"]
    assert (finding["code"], finding["line"], finding["verdict"]) == ("ACT104", 15, "refuted")
    assert finding["evidence"]["input"] == "(64, 28, 28) from x.view(-1, 28, 28) at line 13"

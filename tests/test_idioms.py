"""The idioms of real code: optional and repeated layers, moved losses, rebinding in notebooks, messages."""

from __future__ import annotations

import json

from conftest import ROOT

LOOP_OF_FOUR = """\
import torch
import torch.nn as nn

class Deep(nn.Module):
    def __init__(self, depth=4):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(8, 8) for _ in range(depth)])
        self.out = nn.Linear(8, 1)

    def forward(self, x):
        for layer in self.layers:
            x = torch.tanh(layer(x))
        return self.out(x)
"""


def test_act101_counts_the_depth_a_loop_builds(lint):
    found = lint(LOOP_OF_FOUR, select="ACT101")
    assert [(f.line, f.code) for f in found] == [(12, "ACT101")]
    assert "tanh in 4 stacked hidden layers" in found[0].message
    deeper = lint(LOOP_OF_FOUR.replace("depth=4", "depth=7"), select="ACT101")
    assert "tanh in 7 stacked hidden layers" in deeper[0].message


def test_act101_a_single_tanh_built_by_a_loop_is_below_the_depth_threshold(lint):
    assert lint(LOOP_OF_FOUR.replace("depth=4", "depth=1"), select="ACT101") == []
    assert lint(LOOP_OF_FOUR.replace("depth=4", "depth=1"), select="ACT101", ACT101={"tanh_min_depth": 1})


def test_act101_a_layer_skipped_by_default_does_not_cut_the_chain(lint):
    source = (ROOT / "fixtures/act101/bad_optional_and_repeated_layers.py").read_text(encoding="utf-8")
    found = [f for f in lint(source, select="ACT101") if f.line == 23]
    assert found and "tanh in 4 stacked hidden layers" in found[0].message
    assert "(on the path this code takes: self.batch_norm is False)" in found[0].message
    # switched on, batch norm sits between the layers; the tanh stack is still there
    switched = lint(source.replace("batch_norm=False", "batch_norm=True"), select="ACT101")
    assert 23 in [f.line for f in switched]


def test_act105_names_what_each_activation_does_to_the_logits(lint):
    source = (ROOT / "fixtures/act105/bad_leaky_logits_moved_loss.py").read_text(encoding="utf-8")
    (leaky,) = lint(source, select="ACT105")
    assert "leaky_relu on the logits fed to CrossEntropyLoss at line 11" in leaky.message
    assert "shrinks every negative score by its slope" in leaky.message
    assert "clips" not in leaky.message
    (relu,) = lint(source.replace("nn.LeakyReLU(0.2)", "nn.ReLU()"), select="ACT105")
    assert "clips every negative score to 0" in relu.message


def test_act104_message_is_true_for_2d_input(lint):
    (found,) = lint("import torch.nn.functional as F\n\ndef probs(z):\n    return F.softmax(z)\n", select="ACT104")
    assert "dim 1 for 2-D input but dim 0 for 3-D input" in found.message
    assert "pass dim explicitly" in found.message


def _notebook(path, *cells):
    cells = [{"cell_type": "code", "metadata": {}, "source": c, "outputs": [], "execution_count": None}
             for c in cells]
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}),
                    encoding="utf-8")
    return path


def test_notebook_a_name_rebound_in_a_later_cell_is_read_where_it_is_used(tmp_path):
    from actlint.config import Config
    from actlint.engine import lint_file

    setup = "import torch\nimport torch.nn as nn\ntorch.manual_seed(0)\n"
    model = ("class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
             "        self.net = nn.Sequential(nn.Linear(4, 8), non_linear(), nn.Linear(8, 8), non_linear(),\n"
             "                                 nn.Linear(8, 1))\n\n    def forward(self, x):\n"
             "        return self.net(x)\n")
    train = ("model = Net()\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
             "loss = nn.functional.mse_loss(model(torch.randn(8, 4)), torch.randn(8, 1))\n"
             "loss.backward()\nopt.step()\n")
    rebound = _notebook(tmp_path / "rebound.ipynb", setup, "non_linear = nn.Tanh\n", model,
                        "non_linear = nn.ReLU\n", train)
    assert [f.code for f in lint_file(rebound, Config()).findings] == []
    in_force = _notebook(tmp_path / "in_force.ipynb", setup, "non_linear = nn.ReLU\n", model,
                         "non_linear = nn.Tanh\n", train)
    found = lint_file(in_force, Config()).findings
    assert [(f.code, f.cell) for f in found] == [("ACT101", 3), ("ACT101", 3)]


TRAIN = """\
import torch
import torch.nn as nn
{imports}

def train(*args, steps=3):
    {seed}model = nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(steps):
        loss = model(torch.randn(8, 4)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
{start}
"""
DISPATCHERS = {
    "fire": ("import fire", "\nif __name__ == '__main__':\n    fire.Fire(train)\n"),
    "fire-dict": ("from fire import Fire", "\nif __name__ == '__main__':\n    Fire({'train': train})\n"),
    "typer.run": ("import typer", "\nif __name__ == '__main__':\n    typer.run(train)\n"),
    "typer-app": ("import typer\napp = typer.Typer()", "\napp.command()(train)\n@app.command()\n"
                  "def fit():\n    train()\n\nif __name__ == '__main__':\n    app()\n"),
    "click-group": ("import click\n@click.group()\ndef cli():\n    pass", "\n@cli.command()\ndef go():\n    train()\n\n"
                    "if __name__ == '__main__':\n    cli()\n"),
    "argparse": ("import argparse", "\np = argparse.ArgumentParser()\np.set_defaults(func=train)\n"
                 "args = p.parse_args()\nargs.func(args)\n"),
    "mp.spawn": ("import torch.multiprocessing as mp", "\nif __name__ == '__main__':\n    mp.spawn(train, nprocs=2)\n"),
    "Process": ("from multiprocessing import Process", "\nif __name__ == '__main__':\n"
                "    p = Process(target=train, args=(0,))\n    p.start()\n"),
}


def test_act107_sees_training_started_by_a_dispatcher(lint):
    for name, (imports, start) in DISPATCHERS.items():
        source = TRAIN.format(imports=imports, seed="", start=start)
        backward = source.splitlines().index("        loss.backward()") + 1
        assert [f.line for f in lint(source, select="ACT107")] == [backward], name
        seeded = TRAIN.format(imports=imports, seed="torch.manual_seed(0)\n    ", start=start)
        assert lint(seeded, select="ACT107") == [], name
    undispatched = TRAIN.format(imports="import fire", seed="", start="")
    assert lint(undispatched, select="ACT107") == []  # library code: the script that calls it seeds


SEEDS = {
    "import lightning as L\ntrainer = L.Trainer(max_epochs=1)\ntrainer.fit(model, loader)\n": "L.seed_everything(0)",
    "import pytorch_lightning as pl\ntrainer = pl.Trainer()\ntrainer.fit(model, loader)\n": "pl.seed_everything(0)",
    "import keras\nmodel = keras.Sequential([keras.layers.Dense(1)])\nmodel.compile(loss='mse')\nmodel.fit(x, y)\n":
        "keras.utils.set_random_seed(0)",
    "import tensorflow as tf\nmodel = tf.keras.Sequential([tf.keras.layers.Dense(1)])\nmodel.compile(loss='mse')\n"
    "model.fit(x, y)\n": "tf.random.set_seed(0)",
    "import tensorflow as tf\nw = tf.Variable(tf.random.normal([3, 1]))\nopt = tf.keras.optimizers.SGD(0.1)\n"
    "for _ in range(3):\n    with tf.GradientTape() as tape:\n        loss = tf.reduce_sum(tf.matmul(x, w))\n"
    "    opt.apply_gradients(zip(tape.gradient(loss, [w]), [w]))\n": "tf.random.set_seed(0)",
    "import tensorflow.compat.v1 as tf\nw = tf.get_variable('w', [3, 1])\nloss = tf.reduce_sum(tf.matmul(x, w))\n"
    "train_op = tf.train.AdamOptimizer(0.1).minimize(loss)\nwith tf.Session() as sess:\n"
    "    for _ in range(3):\n        sess.run(train_op)\n": "tf.set_random_seed(0)",
    "import torch\nnet = torch.nn.Linear(3, 1)\nopt = torch.optim.SGD(net.parameters(), lr=0.1)\n"
    "net(torch.randn(2, 3)).sum().backward()\nopt.step()\n": "torch.manual_seed(0)",
}


def test_act107_names_the_seed_of_the_framework_the_file_trains_with(lint):
    for source, seed in SEEDS.items():
        found = lint(source, select="ACT107")
        assert len(found) == 1 and f"call {seed} before building the model" in found[0].message, (source, found)


def test_act109_names_the_hand_written_activation_and_a_fix_that_computes_the_same(lint):
    source = (ROOT / "fixtures/act109/bad_log_variants.py").read_text(encoding="utf-8")
    found = {f.line: f for f in lint(source, select="ACT109")}
    assert sorted(found) == [14, 15, 17, 19, 21, 30]
    assert "of the softmax at line 13" in found[15].message
    assert "log_softmax gives log(p), not log(1 - p)" in found[15].message  # the complement of a softmax
    assert found[17].message.startswith("log of the hand-written sigmoid at line 16")
    assert found[19].message.startswith("log of the hand-written softmax at line 18")
    assert "kept off zero by an epsilon or a clamp" in found[14].message
    assert all(f.fix is None for f in found.values())  # none of these is the bare log(softmax(x)) rewrite
    complement = lint("import torch\n\ndef f(z):\n    return torch.log(1 - torch.sigmoid(z))\n", select="ACT109")
    assert "use logsigmoid(-z) on the logits z" in complement[0].message


def test_act107_starts_at_the_training_not_at_an_earlier_demo_or_another_librarys_fit(lint):
    demo = ("import torch\nx = torch.tensor(1.0, requires_grad=True)\n(x * 2).backward()\n"
            "net = torch.nn.Linear(3, 1)\nopt = torch.optim.SGD(net.parameters(), lr=0.1)\n"
            "loss = net(torch.randn(4, 3)).sum()\nloss.backward()\nopt.step()\n")
    assert [f.line for f in lint(demo, select="ACT107")] == [7]
    tf1 = ("import tensorflow as tf\nfrom sklearn.preprocessing import LabelBinarizer\nencoder = LabelBinarizer()\n"
           "encoder.fit(labels)\nw = tf.Variable(tf.truncated_normal([3, 1]))\nloss = tf.reduce_sum(tf.matmul(x, w))\n"
           "step = tf.train.GradientDescentOptimizer(0.1).minimize(loss)\nwith tf.Session() as session:\n"
           "    for _ in range(3):\n        session.run([step, loss])\n")
    (found,) = lint(tf1, select="ACT107")
    assert found.line == 10 and "call tf.set_random_seed(0)" in found.message


def test_act109_leaves_a_log_in_another_module_to_that_module(monkeypatch):
    """A loss class inherited from an imported module brings that module's log sites into this file's picture
    (transformers' ``loss_rf_detr.py`` runs ``LwDetrImageLoss.loss_labels`` of ``loss_lw_detr.py``): they are
    that module's findings, reported when it is linted, and this file's own log is still found. Before, sorting
    the sites by position raised ``KeyError: 'Call has no place in this file'`` and ACT109 was an internal error
    on the file (and the file was never cached)."""
    from dataclasses import replace

    import libcst as cst

    import actlint.checks.act109_log_of_probabilities as act109
    from actlint.config import Config
    from actlint.engine import lint_text

    real = act109.picture_of

    def with_a_foreign_site(ctx):
        picture = real(ctx)
        if picture.log_sites and len(picture.log_sites) == 1:
            own = picture.log_sites[0]
            elsewhere = cst.parse_expression("prob.log()")  # a node of another tree
            picture.log_sites.insert(0, replace(own, op=replace(own.op, node=elsewhere)))
        return picture

    monkeypatch.setattr(act109, "picture_of", with_a_foreign_site)
    text = "import torch\n\n\ndef f(z):\n    return torch.log(torch.softmax(z, dim=-1))\n"
    result = lint_text(text, "own.py", Config(), frozenset({"ACT109"}))
    assert not result.errors
    assert [(f.code, f.line, f.column) for f in result.findings] == [("ACT109", 5, 12)]

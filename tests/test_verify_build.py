"""``--verify`` builds the model the way the user's code defines it, from real-script patterns.

Unused data imports, relative imports inside a package, argparse at module level or in the main
block, a dataclass config, tf.keras without TensorFlow, and real-TF code that stays inconclusive.
One CLI run for the fixtures (module-scoped); the rest are fast static checks.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from conftest import ROOT
from honesty import problems
from test_verify import _needs, actlint

from actlint.verify.build.builder import restricted_source
from actlint.verify.build.function_models import function_models
from actlint.verify.build.targets import FileModels, Settings, _guess, package_module
from actlint.verify.build.tf_alias import real_tensorflow_use

BUILD = ROOT / "fixtures" / "verify" / "build"
FILES = ["unused_imports.py", "uses_missing.py", "argparse_script.py", "main_block_args.py", "dataclass_config.py",
         "pkg/models/net.py", "tf_keras_model.py", "tf_subclass.py", "tf_real.py", "function_models.py",
         "factories.py"]
NO_TF = importlib.util.find_spec("tensorflow") is None


@pytest.fixture(scope="module")
def build_run(tmp_path_factory):
    _needs("torch", "keras")
    report = tmp_path_factory.mktemp("build") / "report"
    rc, findings, err, _ = actlint("--verify", "--format", "json", "--report", report, *[BUILD / f for f in FILES])
    models = {Path(m["model"].rpartition(":")[0]).name + ":" + m["model"].rpartition(":")[2]: m
              for m in json.loads((report / "report.json").read_text())["models"]}
    assert not problems(findings), "\n".join(problems(findings))
    return {"findings": {(Path(f["path"]).name, f["line"], f["code"]): f for f in findings}, "models": models,
            "stderr": err}


def _built(run, key):
    model = run["models"][key]
    assert model["ok"], (key, model.get("reason"), run["stderr"][-2000:])
    return model


def test_unused_data_imports_do_not_stop_the_build(build_run):
    _built(build_run, "unused_imports.py:Classifier")  # pandas, sklearn and a missing sibling, all unused
    f = build_run["findings"][("unused_imports.py", 21, "ACT102")]
    assert f["verdict"] == "confirmed"


def test_a_missing_package_the_model_uses_is_named_with_its_line(build_run):
    model = build_run["models"]["uses_missing.py:Tagger"]
    assert not model["ok"]
    assert model["reason"].startswith("not_a_real_backbone_pkg is not installed (imported at line 4)")
    f = build_run["findings"][("uses_missing.py", 14, "ACT102")]
    assert f["verdict"] == "inconclusive" and "imported at line 4" in f["evidence"]["summary"]


def test_argparse_at_module_level_builds_with_its_defaults(build_run):
    model = _built(build_run, "argparse_script.py:Net")
    assert any("argparse" in a and "defaults" in a for a in model["assumptions"])
    assert "required option --data set to None" in model["assumptions"]
    assert [layer["name"] for layer in model["layers"]][:2] and model["input"]["shape"] == [64, 12]
    f = build_run["findings"][("argparse_script.py", 23, "ACT102")]
    assert f["verdict"] == "confirmed" and "5-unit output" in f["evidence"]["summary"]  # --classes default 5


def test_args_parsed_in_the_main_block_reach_the_definitions(build_run):
    model = _built(build_run, "main_block_args.py:Net")
    assert "constructor arguments from the call at line 33: Net([10, 32, 32, 4])" in model["assumptions"]
    assert any(a.startswith("device: the verifier's") for a in model["assumptions"])


def test_a_dataclass_config_is_built_with_its_defaults(build_run):
    model = _built(build_run, "dataclass_config.py:TinyLM")
    assert any("config=TinyConfig(n_embd=32) (TinyConfig built with its defaults)" in a for a in model["assumptions"])
    assert model["input"]["dtype"] == "long" and model["input"]["high"] == 50  # vocab_size's default


def test_relative_imports_inside_a_package(build_run):
    _built(build_run, "net.py:PackagedNet")  # the package's __init__ (which cannot import) is never run


@pytest.mark.skipif(not NO_TF, reason="with TensorFlow installed the user's own TensorFlow runs")
def test_tf_keras_runs_on_keras3_without_tensorflow(build_run):
    model = _built(build_run, "tf_keras_model.py:Sequential@9")  # the script fits it: built from its run
    assert model["built"] == "run"
    assert "tf.keras run as Keras 3 (torch backend): TensorFlow is not installed" in model["assumptions"]
    assert "tf_keras_model.py:model" not in build_run["models"]  # the same model: not built a second time
    f = build_run["findings"][("tf_keras_model.py", 12, "ACT111")]
    assert f["verdict"] == "confirmed" and f["evidence"]["source"] == "run"
    sub = build_run["models"]["tf_subclass.py:Scorer"]  # built; the input shape is another matter
    assert sub["ok"] or "building" not in sub["reason"] and "importing" not in sub["reason"], sub["reason"]


@pytest.mark.skipif(not NO_TF, reason="with TensorFlow installed the user's own TensorFlow runs")
def test_real_tensorflow_code_stays_inconclusive(build_run):
    model = build_run["models"]["tf_real.py:Affine"]
    assert model["reason"] == "needs tensorflow (uses tf.Variable at line 8), which is not installed"
    f = build_run["findings"][("tf_real.py", 9, "ACT102")]
    assert f["verdict"] == "inconclusive" and "tf.Variable at line 8" in f["evidence"]["summary"]


# ---------------------------------------------------------------- static parts (no child)


def test_restricted_source_keeps_guarded_imports_and_scopes_names_per_function():
    src = ("try:\n    from torch import Tensor\nexcept ImportError:\n    Tensor = None\n"
           "import pandas as pd\nimport torch.nn as nn\nargs = 3\n"
           "class Net(nn.Module):\n    def a(self, *args) -> Tensor:\n        return args\n"
           "    def b(self):\n        return args + 1\n")
    out, kept = restricted_source(src, {"Net"})
    assert "from torch import Tensor" in out and "args = 3" in out  # args: a global in b(), a parameter in a()
    assert "pandas" not in out
    assert len(out.splitlines()) == len(src.splitlines())


def test_an_import_block_with_a_raising_handler_is_kept():
    src = ("try:\n    import argparse\n    import torch.nn as nn\nexcept ImportError as e:\n    print(e)\n"
           "    raise ImportError\n\nparser = argparse.ArgumentParser()\nargs = parser.parse_args()\n"
           "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
           "        self.fc = nn.Linear(args.n, 2)\n")
    out, _ = restricted_source(src, {"Net"})
    assert "    import argparse" in out and "args = parser.parse_args()" in out


def test_a_method_call_with_args_does_not_pull_in_its_object():
    src = ("import gym\nimport argparse\nimport torch\nimport torch.nn as nn\n"
           "p = argparse.ArgumentParser()\nargs = p.parse_args()\n"
           "env = gym.make('x')\nenv.reset(seed=args.seed)\nenv.seed(args.seed)\ntorch.manual_seed(args.seed)\n"
           "class Net(nn.Module):\n    pass\n")
    out, _ = restricted_source(src, {"Net"})
    assert "gym" not in out and "torch.manual_seed(args.seed)" in out and "args = p.parse_args()" in out


def test_parser_of_main_block_is_hoisted_in_place():
    src = ("import argparse\nimport torch.nn as nn\n"
           "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
           "        self.fc = nn.Linear(2, args.hidden)\n"
           "def main():\n    parser = argparse.ArgumentParser()\n    parser.add_argument('--hidden', type=int, default=4)\n"
           "    args = parser.parse_args()\n    train(Net(), args)\n")
    out, _ = restricted_source(src, {"Net"})
    lines = out.splitlines()
    assert lines[6] == "if True:" and lines[9].strip() == "args = parser.parse_args()" and "train(" not in out
    compile(out, "x.py", "exec")


def _target(tmp_path, text, name):
    path = tmp_path / "m.py"
    path.write_text(text)
    return next(t for t in FileModels("m.py", path, text, Settings()).targets if t.name == name)


def test_guesses_follow_how_init_uses_the_parameter(tmp_path):
    t = _target(tmp_path, "import torch.nn as nn\nclass RNNModel(nn.Module):\n"
                "    def __init__(self, rnn_type, ntoken, dropout, upscale_factor, input_shape):\n"
                "        if rnn_type in ['LSTM', 'GRU']:\n            pass\n"
                "        c, h, w = input_shape\n", "RNNModel")
    assert t.build["args"] == ["'LSTM'", "1000", "0.1", "2", "(3, 32, 32)"]
    assert _guess("n_out", "float") == 10.0 and _guess("num_classes", "int") == 10 and _guess("flag", "bool") is False


def test_config_parameter_uses_the_files_config_class_or_argparse(tmp_path):
    t = _target(tmp_path, "import torch.nn as nn\nclass ModelArgs:\n    def __init__(self, dim, n_layers=2):\n"
                "        self.dim = dim\nclass T(nn.Module):\n    def __init__(self, args):\n        super().__init__()\n",
                "T")
    assert t.build["args"] == ["ModelArgs(dim=32)"] and "class ModelArgs" in t.source
    t = _target(tmp_path, "import argparse\nimport torch.nn as nn\np = argparse.ArgumentParser()\n"
                "opt = p.parse_args()\nclass T(nn.Module):\n    def __init__(self, opt):\n        super().__init__()\n",
                "T")
    assert t.build["args"] == ["opt"] and "opt = p.parse_args()" in t.source


def test_package_module_name_and_root():
    name, root = package_module(BUILD / "pkg" / "models" / "net.py", "from .layers import Block\n")
    assert name == "pkg.models.net" and root == str(BUILD.resolve())
    assert package_module(BUILD / "argparse_script.py", "import torch\n") == (None, None)


@pytest.mark.parametrize("src, expected", [
    ("import tensorflow as tf\nm = tf.keras.Sequential([tf.keras.layers.Dense(2, activation=tf.nn.relu)])\n"
     "tf.random.set_seed(1)\nx = tf.float32\n", None),
    ("from tensorflow.keras.layers import Dense\nfrom tensorflow import keras\n", None),
    ("import tensorflow as tf\n\nx = tf.placeholder(tf.float32, [None, 3])\n", ("tf.placeholder", 3)),
    ("import tensorflow as tf\nclass M(tf.keras.Model):\n    def call(self, x):\n"
     "        with tf.GradientTape() as t:\n            return x\n", ("tf.GradientTape", 4)),
    ("from tensorflow.compat import v1\n", ("tensorflow.compat", 1)),
])
def test_real_tensorflow_use_is_decided_statically(src, expected):
    assert real_tensorflow_use(src) == expected
    ast.parse(src)


def test_a_constant_set_in_an_if_chain_is_taken_from_its_first_branch():
    source = ("import torch.nn as nn\ndataset = 'cifar10'\nif dataset == 'folder':\n    data = load(dataset)\n"
              "    nc = 3\nelif dataset == 'mnist':\n    nc = 1\n\n\nclass G(nn.Module):\n"
              "    def __init__(self):\n        super().__init__()\n        self.conv = nn.Conv2d(nc, 8, 3)\n")
    out, kept = restricted_source(source, {"G"})
    namespace: dict = {}
    assert "load(dataset)" not in out and "nc = 1" not in out
    assert out.splitlines()[2] == "if True:" and 5 in kept
    compile(out, "<restricted>", "exec")
    exec(compile("\n".join(out.splitlines()[:9]), "<restricted>", "exec"), namespace)  # up to the class
    assert namespace["nc"] == 3


def test_keras_1_keyword_arguments_are_read_as_keras_3_names():
    _needs("torch", "keras")
    code, data, err, _ = actlint("--verify", "--format", "json", BUILD / "keras1_kwargs.py",
                                 BUILD / "keras1_functional.py")
    assert code == 1, err
    found = {f["path"].rsplit("/", 1)[-1]: f for f in data if f["code"] == "ACT107"}
    assert sorted(found) == ["keras1_functional.py", "keras1_kwargs.py"]
    for f in found.values():  # output_dim, init, lr, batch_input_shape; Model(input=, output=)
        assert f["verdict"] == "confirmed", f["evidence"]
        assert any("output_dim → units" in a for a in f["evidence"]["assumptions"])


def test_keras_2_int_shape_reads_as_the_static_shape():
    _needs("torch", "keras")
    code, data, err, _ = actlint("--verify", "--format", "json", BUILD / "keras2_int_shape.py")
    (f,) = data
    assert (f["code"], f["line"], f["verdict"]) == ("ACT105", 12, "confirmed"), f["evidence"]
    assert "Keras 2 keras.backend.int_shape(x) read as tuple(x.shape)" in f["evidence"]["assumptions"]
    assert code == 1, err


def test_keras_2_module_paths_read_as_keras_3_modules():
    _needs("torch", "keras")
    code, data, err, _ = actlint("--verify", "--format", "json", BUILD / "keras2_modules.py")
    assert [(f["line"], f["code"], f["verdict"]) for f in data] == [(10, "ACT101", "confirmed"),
                                                                    (12, "ACT101", "confirmed")], data
    assert any(a.startswith("Keras 1/2 module paths read as Keras 3's (keras.layers.core → keras.layers")
               for a in data[0]["evidence"]["assumptions"])
    assert code == 1, err


def test_a_module_the_installed_package_lacks_is_not_called_a_missing_package():
    import sys as _sys

    from actlint.verify.build.loader import Missing

    err = ModuleNotFoundError("No module named 'os.nothing_here'", name="os.nothing_here")
    assert "os" in _sys.modules
    with pytest.raises(ModuleNotFoundError, match=r"^os.nothing_here does not exist in the installed os "
                                                  r"\(imported at line 3\)$"):
        Missing(err, 3, "thing").anything
    with pytest.raises(ModuleNotFoundError, match=r"^not_a_pkg_xyz is not installed \(imported at line 4\)$"):
        Missing(ModuleNotFoundError("x", name="not_a_pkg_xyz.sub"), 4, "thing")()


def test_keras_1_initialisers_conv_and_image_ordering_build_the_model():
    _needs("torch", "keras")
    code, data, err, _ = actlint("--verify", "--format", "json", BUILD / "keras1_initializers.py")
    assert code == 1, err
    found = {f["code"]: f for f in data}
    assert sorted(found) == ["ACT101", "ACT107"]
    act101 = found["ACT101"]
    assert act101["line"] == 27 and act101["verdict"] == "confirmed", act101["evidence"]
    assumptions = " | ".join(act101["evidence"]["assumptions"])
    assert "Convolution2D(filters, rows, cols) read as Conv2D(filters, (rows, cols))" in assumptions
    assert "init(shape, name=None)" in assumptions
    assert act101["evidence"]["input"].startswith("(64, 28, 28, 1)")  # the channels-last branch, Keras 3's layout


def test_keras_image_ordering_picks_the_channels_last_branch_and_saving_is_dropped():
    source = ("from keras import backend as K\nfrom keras.models import Sequential, save_model\n"
              "from keras.layers import Dense\nrows = 28\n"
              "if K.image_dim_ordering() == 'th':\n    X = X.reshape(1, rows)\n    shape = (1, rows)\n"
              "else:\n    X = X.reshape(rows, 1)\n    shape = (rows, 1)\n"
              "model = Sequential()\nmodel.add(Dense(4, input_shape=shape))\nsave_model(model, 'out')\n"
              "model.save_weights('w.h5')\n")
    out, kept = restricted_source(source, {"model"}, (11, 12))
    lines = out.splitlines()
    assert lines[9] == "    shape = (rows, 1)" and "shape = (1, rows)" not in out
    assert "reshape" not in out and "save_model(model" not in out and "save_weights" not in out
    assert [ln for ln in (4, 10, 11, 12) if ln not in kept] == []


@pytest.mark.parametrize("args, expected", [
    ((32, 3, 3), (32, (3, 3))),          # Keras 1: filters, rows, cols
    ((32, 3), (32, 3)),                  # Keras 2/3: filters, kernel_size
    ((32, (3, 3), 2), (32, (3, 3), 2)),  # kernel and strides as Keras 3 reads them
])
def test_legacy_conv2d_positional_kernel(args, expected):
    from actlint.verify.build.keras_legacy import _legacy_kernel

    notes: list[str] = []
    assert _legacy_kernel("Conv2D", args, notes) == expected
    assert bool(notes) == (args != expected)


def test_models_made_inside_functions_are_built_by_calling_them(build_run):
    keras_fn = _built(build_run, "function_models.py:train_mnist")
    assert keras_fn["built"] == "synthetic"
    assert "the statements of train_mnist() that make model; the function's training is left out" in \
        keras_fn["assumptions"][0]
    for line in (32, 33, 34, 35):  # sigmoid Dense layers of the model train_mnist() fits
        f = build_run["findings"][("function_models.py", line, "ACT101")]
        assert f["verdict"] == "confirmed" and f["evidence"]["model"].endswith(":train_mnist"), f["evidence"]
    assert _built(build_run, "function_models.py:make_mlp")["assumptions"] == [
        "built by calling make_mlp(): the model it returns"]
    assert build_run["findings"][("function_models.py", 23, "ACT101")]["verdict"] == "confirmed"
    assert "function_models.py:conv_block" not in build_run["models"]  # a block of Net, built inside it
    _built(build_run, "function_models.py:Net")


def test_a_function_model_sized_by_its_data_loads_the_offline_stand_in(build_run):
    model = _built(build_run, "function_models.py:train_fashion")
    assert any(a.startswith("keras.datasets.fashion_mnist.load_data() could not be loaded offline") and
               "synthetic stand-in of 60000 train + 10000 test 28x28 uint8 images" in a for a in model["assumptions"])


def test_a_function_whose_model_needs_its_arguments_says_so(build_run):
    assert "function_models.py:train_on" not in build_run["models"]
    f = build_run["findings"][("function_models.py", 45, "ACT105")]
    assert f["verdict"] == "inconclusive"
    assert f["evidence"]["summary"] == ("in train_on(), whose model is made from its argument x (no call in the "
                                        "file gives it): run the script with actlint run")


def test_a_training_function_is_cut_before_its_first_step_with_lines_kept():
    text = ("from keras import layers, models\n"
            "def run(epochs=3):\n"
            "    data = load()\n"
            "    print(data)\n"
            "    model = models.Sequential()\n"
            "    model.add(layers.Dense(4, input_shape=(8,)))\n"
            "    model.compile(loss='mse')\n"
            "    model.fit(data, data, epochs=epochs)\n"
            "    model.save('m.keras')\n"
            "def helper():\n"
            "    return 1\n")
    framework = (lambda call: "keras" if ast.unparse(call.func).endswith("Sequential") else None)
    (found,) = function_models(ast.parse(text), text, framework)
    assert found.function.name == "run" and found.var == "model" and found.trains and found.params == []
    lines = found.text.splitlines()
    assert len(lines) == len(text.splitlines())
    assert lines[2:4] == ["", ""]  # the data and the print are not needed to make the model
    assert lines[4:7] == text.splitlines()[4:7]
    assert lines[7] == "    return model" and lines[8] == ""  # in place of the fit; the save is gone
    assert lines[9:] == text.splitlines()[9:]
    ns: dict = {}
    exec(compile(found.text.replace("from keras import layers, models", ""), "m.py", "exec"), ns)
    assert set(ns) >= {"run", "helper"}


def test_a_name_bound_to_two_models_gives_each_its_own_child():
    """``model = ...`` twice (the next notebook cell): each binding is its own target, run and judged on its
    own numbers; before, both shared one label, so one model's child answered the other's findings."""
    _needs("torch")
    rc, findings, _, _ = actlint("--verify", "--select", "ALL", "--format", "json", BUILD / "rebound_name.py")
    got = [(f["line"], f["code"], f["verdict"], f["evidence"].get("model")) for f in findings]
    assert got == [(6, "ACT101", "confirmed", "fixtures/verify/build/rebound_name.py:model@6"),
                   (6, "ACT101", "confirmed", "fixtures/verify/build/rebound_name.py:model@6"),
                   (7, "ACT101", "confirmed", "fixtures/verify/build/rebound_name.py:model@6"),
                   (12, "ACT102", "confirmed", "fixtures/verify/build/rebound_name.py:model@12")]
    act102 = next(f for f in findings if f["code"] == "ACT102")["evidence"]
    assert abs(act102["row_sum_min"] - 1) < 1e-3  # measured on the softmax classifier, not the sigmoid MLP
    assert rc == 1


def test_a_builder_called_from_a_training_function_gets_the_arguments_it_computes(tmp_path):
    """``discriminator = build_discriminator(inputs, labels)`` inside ``build_and_train()``: the builder runs
    with the two Keras Inputs the caller makes (not guessed numbers), its loop and its ``if`` kept, the
    model is fed its own declared inputs, and the caller's training line is judged on it."""
    _needs("torch", "keras")
    shutil.copy(BUILD / "keras_builders.py", tmp_path)
    (tmp_path / "pyproject.toml").write_text("[tool.actlint.verify]\nrun-scripts = false\n")
    rc, findings, err, _ = actlint("--verify", "--format", "json", "--report", tmp_path / "report",
                                   tmp_path / "keras_builders.py", cwd=tmp_path)
    models = json.loads((tmp_path / "report" / "report.json").read_text())["models"]
    (model,) = models
    assert model["model"].endswith("keras_builders.py:build_discriminator") and model["ok"], model.get("reason")
    assert model["assumptions"][0] == ("built by running build_and_train() up to its call discriminator = "
                                       "build_discriminator(...) at line 26 (the arguments as the file computes "
                                       "them): the model it returns")
    assert model["input"]["inputs"] == [[64, 28, 28, 1], [64, 10]]
    assert model["input"]["why"] == "from the Keras Inputs (None, 28, 28, 1), (None, 10)"
    (seed,) = [f for f in findings if f["code"] == "ACT107"]
    assert seed["line"] == 29 and seed["verdict"] == "confirmed", seed["evidence"]
    assert seed["evidence"]["model"].endswith(":build_discriminator")
    assert not problems(findings), "\n".join(problems(findings))


def test_a_class_sized_by_a_config_its_factory_makes_is_built_by_that_factory(build_run):
    """``def Net3(): cfg = {...}; return Net(cfg)``: the config is the file's, not a guessed number."""
    model = _built(build_run, "factories.py:Net")
    assert model["assumptions"][0] == ("built by running Net3() up to its return Net(...) at line 20 (the "
                                       "arguments as the file computes them)")
    assert model["input"]["shape"] == [64, 20]


def _verify_one(tmp_path, name: str):
    """``--verify`` of one fixture of this folder: its findings, the static ones, and its one model (built)."""
    _needs("torch", "keras")
    code, data, err, _ = actlint("--verify", "--format", "json", "--report", tmp_path / "report", BUILD / name)
    (model,) = json.loads((tmp_path / "report" / "report.json").read_text())["models"]
    assert model["ok"], model.get("reason")
    assert not problems(data), "\n".join(problems(data))
    return data, [f for f in data if not f["code"].startswith("ACT9")], model  # runtime diagnostics may join


def test_keras_2_embedding_input_length_is_the_models_input(tmp_path):
    data, static, model = _verify_one(tmp_path, "keras2_embedding.py")
    assert model["input"]["shape"] == [64, 1] and model["input"]["dtype"] == "long", model["input"]
    assert any(a.startswith("Keras 2 Embedding(input_length=L) read as a model input of L ids")
               for a in model["assumptions"]), model["assumptions"]
    assert [(f["line"], f["code"]) for f in static] == [(9, "ACT101"), (10, "ACT101")]
    assert all(f["verdict"] in ("confirmed", "inconclusive") for f in static), static


def test_keras_2_names_keras_3_dropped_build_the_model(tmp_path):
    """``_Merge`` subclassed, ``Deconv2D``, ``K.repeat`` in a Lambda and ``optimizers.rmsprop(lr=)``."""
    data, static, model = _verify_one(tmp_path, "keras2_names.py")
    assert model["input"]["inputs"] == [[64, 16], [64, 16]]
    assert any(a.startswith("Keras 2 names Keras 3 dropped read as the Keras 3 classes") for a in model["assumptions"])
    assert [(f["line"], f["code"]) for f in static] == [(18, "ACT101")]


def test_keras_2_aliases_leave_the_keras_3_classes_as_they_are():
    _needs("keras")
    import subprocess
    import sys

    script = ("import keras\nfrom actlint.verify.build import keras_legacy\nnotes = []\n"
              "keras_legacy.install(notes)\nn = len(notes)\n"
              "keras.layers.Conv2DTranspose(2, 3); keras.layers.Concatenate(); keras.optimizers.RMSprop()\n"
              "assert len(notes) == n, notes\n"
              "assert issubclass(keras.layers.Deconv2D, keras.layers.Conv2DTranspose)\n"
              "keras.optimizers.rmsprop(lr=0.1)\nassert any('Keras 2 names' in a for a in notes), notes\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "KERAS_BACKEND": "torch"})
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_keras_2_backend_functions_and_model_from_config_behave_as_keras_2s():
    """K.variable / get_value / set_value / batch_flatten / l2_normalize / categorical_crossentropy,
    models.model_from_config and Sequential.predict_classes, each as Keras 2 computed it, said once used."""
    _needs("keras")
    import subprocess
    import sys

    script = """
import numpy as np, keras
from actlint.verify.build import keras_legacy
notes = []
keras_legacy.install(notes)
K = keras.backend
assert not notes, notes
v = K.variable(np.ones((2, 3)), name="v")
K.set_value(v, np.full((2, 3), 2.0))
assert K.get_value(v).tolist() == [[2.0] * 3] * 2
assert tuple(K.batch_flatten(keras.ops.ones((4, 2, 3))).shape) == (4, 6)
assert np.allclose(K.get_value(K.l2_normalize(keras.ops.convert_to_tensor([[3.0, 4.0]]), axis=-1)), [[0.6, 0.8]])
ce = K.get_value(K.categorical_crossentropy(keras.ops.convert_to_tensor([[0.0, 1.0]]),
                                            keras.ops.convert_to_tensor([[0.5, 0.5]])))
assert np.allclose(ce, [np.log(2)]), ce
assert K.ndim(keras.ops.ones((2, 3, 4))) == 3
assert K.get_value(K.pow(keras.ops.convert_to_tensor(3.0), 2)) == 9.0
assert any(n.startswith("Keras 2 backend functions") for n in notes), notes
model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3, activation="tanh")])
clone = keras.models.model_from_config({"class_name": "Sequential", "config": model.get_config()})
assert [l.units for l in clone.layers] == [3] and clone.layers[0].activation.__name__ == "tanh"
assert any(n.startswith("Keras 2 names Keras 3 dropped") for n in notes), notes
x = np.random.default_rng(0).normal(size=(6, 5)).astype("float32")
classes = model.predict_classes(x, verbose=0)
assert classes.tolist() == np.asarray(model.predict(x, verbose=0)).argmax(-1).tolist()
binary = keras.Sequential([keras.Input((5,)), keras.layers.Dense(1, activation="sigmoid")])
assert set(binary.predict_classes(x).reshape(-1).tolist()) <= {0, 1}
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "KERAS_BACKEND": "torch"})
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_a_model_built_notebook_style_gets_its_late_imports_and_not_the_next_models_layers(tmp_path):
    _needs("torch", "keras")
    code, data, err, _ = actlint("--verify", "--format", "json", "--report", tmp_path / "report",
                                 BUILD / "notebook_style_models.py")
    models = json.loads((tmp_path / "report" / "report.json").read_text())["models"]
    assert [(m["model"].rpartition(":")[2], m["ok"]) for m in models] == [("model@5", True), ("model@15", True)], \
        [m.get("reason") for m in models]
    assert models[0]["input"]["shape"] == [64, 784] and models[1]["input"]["shape"] == [64, 28, 28, 1]
    first = [f for f in data if f["code"] == "ACT101"]
    assert [(f["line"], f["verdict"]) for f in first] == [(8, "confirmed"), (9, "confirmed")], first

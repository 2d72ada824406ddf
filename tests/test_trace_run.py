"""``actlint run -- COMMAND``: the user's own training run, traced; verdicts from its model, batch and loss.

Each case of ``fixtures/run`` is copied into a temporary folder (a user's checkout) and run as
``actlint run --format json -- python SCRIPT`` once per module.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT

RUN = ROOT / "fixtures" / "run"


def _needs(*modules):
    for name in modules:
        if importlib.util.find_spec(name) is None:
            pytest.skip(f"actlint run needs {name} here (pip install 'actlint[verify]')")


def actlint_run(folder: Path, *args, script="train.py", timeout=300, env=None):
    """``actlint run --format json [args] -- python SCRIPT`` in ``folder``: (exit, findings by place, stderr)."""
    start = time.perf_counter()
    environment = dict(os.environ, **(env or {}))
    environment.pop("ACTLINT_TRACE", None)
    proc = subprocess.run([sys.executable, "-m", "actlint", "run", "--format", "json", *map(str, args), "--",
                           sys.executable, script], cwd=folder, capture_output=True, text=True, timeout=timeout,
                          env=environment)
    findings = json.loads(proc.stdout) if proc.stdout.strip().startswith("[") else []
    places = {(Path(f["path"]).name, f["line"], f["code"]): f for f in findings}
    return proc.returncode, places, proc.stderr, time.perf_counter() - start


def _copy(case: str, tmp_path_factory) -> Path:
    into = tmp_path_factory.mktemp(case) / case
    shutil.copytree(RUN / case, into)
    return into


@pytest.fixture(scope="module")
def tanh_run(tmp_path_factory):
    _needs("torch")
    folder = _copy("unscaled_tanh", tmp_path_factory)
    return folder, actlint_run(folder, "--report", folder / "report")


@pytest.fixture(scope="module")
def two_files(tmp_path_factory):
    _needs("torch")
    folder = _copy("two_files", tmp_path_factory)
    return actlint_run(folder)


@pytest.fixture(scope="module")
def helper_run(tmp_path_factory):
    _needs("torch")
    return actlint_run(_copy("helper_module", tmp_path_factory))


@pytest.fixture(scope="module")
def failing(tmp_path_factory):
    _needs("torch")
    return _copy("failing", tmp_path_factory)


def test_unscaled_inputs_saturate_the_tanh_stack_in_the_run(tanh_run):
    folder, (code, places, err, _) = tanh_run
    first = places[("train.py", 17, "ACT101")]
    assert first["verdict"] == "confirmed", first["evidence"]["summary"]
    evidence = first["evidence"]
    assert evidence["source"] == "run"
    assert evidence["measured"] is True
    assert evidence["saturated_fraction"] > 0.5
    assert evidence["batch_shape"] == [[100, 1]]
    assert "before its first training step" in evidence["batch"]
    assert evidence["loss"]["fn"] == "F.cross_entropy" and evidence["loss"]["replay"] == "exact"
    assert code == 1


def test_the_same_stack_on_synthetic_input_is_not_refuted(tanh_run, tmp_path):
    folder, _ = tanh_run
    (folder / "pyproject.toml").write_text("[tool.actlint.verify]\nrun-scripts = false\n", encoding="utf-8")
    try:
        proc = subprocess.run([sys.executable, "-m", "actlint", "--no-cache", "--verify", "--format", "json",
                               "train.py"], cwd=folder, capture_output=True, text=True, timeout=300)
    finally:
        (folder / "pyproject.toml").unlink()
    f = {(x["line"], x["code"]): x for x in json.loads(proc.stdout)}[(17, "ACT101")]
    assert f["evidence"].get("source") != "run"
    assert f["verdict"] != "refuted"


def test_report_says_how_the_model_was_built(tanh_run):
    folder, _ = tanh_run
    report = json.loads((folder / "report" / "report.json").read_text())
    assert report["run"]["captured"] == ["train.py:Deep"]
    assert report["run"]["reason"] is None
    assert [m["built"] for m in report["models"]] == ["run"]
    assert report["models"][0]["batch"]["shape"] == [100, 1]


def test_model_and_loss_in_two_files_get_the_loss_of_train_py(two_files):
    code, places, err, _ = two_files
    f = places[("model.py", 15, "ACT103")]
    assert f["verdict"] == "confirmed", f["evidence"]["summary"]
    assert f["evidence"]["source"] == "run"
    assert f["evidence"]["loss"]["kind"] == "bce"
    assert f["evidence"]["loss"]["where"] == "train.py:15"
    hidden = places[("model.py", 13, "ACT101")]
    assert hidden["evidence"]["source"] == "run" and hidden["evidence"]["loss"]["kind"] == "bce"
    assert hidden["verdict"] in ("confirmed", "inconclusive")


def test_a_parameterless_helper_never_decides_the_seed(helper_run):
    code, places, err, _ = helper_run
    f = places[("train.py", 29, "ACT107")]
    assert f["verdict"] == "confirmed"
    assert f["evidence"]["model"] == "train.py:Net"
    a, b = f["evidence"]["weights_sha256"]
    assert a != b and not a.startswith("e3b0c44298fc1c14")  # not the hash of nothing


def test_a_script_that_raises_before_training(failing):
    code, places, err, _ = actlint_run(failing, script="raises.py")
    assert code == 2
    f = places[("raises.py", 4, "ACT101")]
    assert f["verdict"] == "inconclusive"
    assert "raised RuntimeError at raises.py:7 before any model took a training step" in f["evidence"]["summary"]
    assert "actlint run: nothing verified" in err


def test_a_script_that_never_trains(failing):
    code, places, err, _ = actlint_run(failing, script="no_training.py")
    assert code == 2
    f = places[("no_training.py", 4, "ACT101")]
    assert "ended before any model took a training step" in f["evidence"]["summary"]


def test_a_network_of_bare_tensors_is_named_not_waited_for(failing):
    """An optimizer over tensors no module owns: the run stops after its steps and says why."""
    code, places, err, _ = actlint_run(failing, "--timeout", "250", script="bare_tensors.py")
    assert code == 2
    assert "a SGD stepped parameters that no module called since its previous step owns" in err
    assert "--timeout" not in err  # stopped after its steps, not killed at the time limit


def test_the_network_is_refused(failing):
    code, places, err, _ = actlint_run(failing, script="downloads.py")
    assert code == 2
    assert "network access is disabled" in places[("downloads.py", 9, "ACT107")]["evidence"]["summary"]


def test_writes_outside_the_folder_are_refused(failing, tmp_path):
    elsewhere = tmp_path / "elsewhere.txt"
    code, places, err, _ = actlint_run(failing, script="writes_outside.py", env={"ELSEWHERE": str(elsewhere)})
    assert code == 2
    summary = places[("writes_outside.py", 13, "ACT107")]["evidence"]["summary"]
    assert "raised PermissionError at writes_outside.py:9" in summary
    assert "elsewhere.txt is disabled (only the scratch folder is writable)" in summary
    assert not (failing / "outputs").exists()  # created in the run's scratch copy of the folder
    assert not elsewhere.exists()


def test_a_script_may_ask_the_system_questions_that_change_nothing(tmp_path_factory):
    """git rev-parse, uname through os.popen, nvidia-smi: allowed in a run; the user's script goes on."""
    _needs("torch")
    code, places, err, _ = actlint_run(_copy("asks_the_system", tmp_path_factory))
    for line in (19, 21):
        f = places[("train.py", line, "ACT101")]
        assert f["verdict"] == "confirmed" and f["evidence"]["source"] == "run", f["evidence"]
    assert code == 1, err


def test_a_model_trained_with_hand_written_updates_is_captured(tmp_path_factory):
    """``param -= lr * param.grad`` and no torch.optim optimizer: each backward() is a step."""
    _needs("torch")
    code, places, err, _ = actlint_run(_copy("manual_updates", tmp_path_factory))
    for line in (9, 11):
        f = places[("train.py", line, "ACT101")]
        assert f["verdict"] == "confirmed" and f["evidence"]["source"] == "run", f["evidence"]
        assert "the script updates its parameters itself (no torch.optim optimizer): each backward() counts as a " \
               "step" in f["evidence"]["assumptions"]
    assert code == 1, err


def test_actlint_run_gives_the_command_its_own_standard_input(tmp_path_factory):
    """The user's terminal stays the script's (``input()``, ``stty size``), for both runs of the command."""
    _needs("torch")
    folder = _copy("reads_stdin", tmp_path_factory)
    proc = subprocess.run([sys.executable, "-m", "actlint", "run", "--format", "json", "--", sys.executable,
                           "train.py"], cwd=folder, capture_output=True, text=True, timeout=300, input="24\n")
    found = {(f["line"], f["code"]): f for f in json.loads(proc.stdout)}
    f = found[(9, "ACT101")]
    assert f["verdict"] == "confirmed" and f["evidence"]["source"] == "run", f["evidence"]
    assert f["evidence"]["batch_shape"] == [[64, 10]]
    assert proc.returncode == 1, proc.stderr


@pytest.mark.parametrize("script, verdict, shown", [
    ("train.py", "confirmed", "different weights"),   # torch.randn weights, no seed
    ("fixed_start.py", "refuted", "identical weights"),  # w from the environment (1.0): nothing random to seed
])
def test_a_network_of_bare_tensors_updated_by_hand_is_judged_on_its_initial_values(tmp_path_factory, script,
                                                                                   verdict, shown):
    _needs("torch")
    code, places, err, _ = actlint_run(_copy("bare_manual", tmp_path_factory), script=script)
    f = places[(script, 9 if script == "train.py" else 12, "ACT107")]
    assert f["verdict"] == verdict and f["evidence"]["source"] == "run", f["evidence"]
    assert shown in f["evidence"]["summary"]
    expected = {"train.py": ("train.py:w1, w2", 2, 100 * 50 + 50 * 10), "fixed_start.py": ("fixed_start.py:w", 1, 1)}
    label, tensors, values = expected[script]
    assert f["evidence"]["model"] == label
    assert f["evidence"]["digest_params"] == {"tensors": tensors, "elements": values}
    assert code == (1 if verdict == "confirmed" else 0), err


@pytest.mark.parametrize("argv, allowed", [
    (["git", "rev-parse", "--short", "HEAD"], True),
    (["/usr/bin/git", "describe", "--tags"], True),
    (["git", "config", "--get", "user.name"], True),
    (["git", "config", "user.name", "someone"], False),     # a write
    (["git", "commit", "-m", "x"], False),
    (["/bin/sh", "-c", "stty size"], True),                 # os.popen("stty size")
    (["sh", "-c", "uname -n"], True),
    (["sh", "-c", "stty size > /tmp/x"], False),            # a redirection writes
    (["sh", "-c", "nvidia-smi; rm -rf data"], False),       # two commands
    (["nvidia-smi", "-L"], True),
    (["rm", "-rf", "data"], False),
    (["curl", "http://example.com"], False),
    ([], False),
])
def test_which_programs_a_traced_run_may_start(argv, allowed):
    from actlint.verify.sandbox.guard import _informational

    assert _informational(argv) is allowed


@pytest.fixture(scope="module")
def as_written(tmp_path_factory):
    _needs("torch", "matplotlib")
    folder = _copy("as_written", tmp_path_factory)
    return folder, actlint_run(folder)


def test_a_script_written_for_a_gpu_desktop_is_run_as_it_stands(as_written):
    """CUDA hard-coded, a Tk backend, writes into folders that exist: the run trains the user's model."""
    folder, (code, places, err, _) = as_written
    assert code == 1, err
    for line in (15, 17):
        f = places[("train.py", line, "ACT101")]
        assert f["verdict"] == "confirmed" and f["evidence"]["source"] == "run", f["evidence"]
        assumptions = f["evidence"]["assumptions"]
        assert "matplotlib.use('TkAgg') kept the off-screen Agg backend (a traced run opens no window)" in assumptions
    import torch

    if not torch.cuda.is_available():
        assert ('run on the CPU: the script asks for CUDA (.cuda(), .to("cuda"), torch.randint(device="cuda")), '
                'which this machine does not have') in assumptions
        assert f["evidence"]["device"] == "cpu"


def test_the_run_writes_its_own_copy_of_the_users_folder(as_written):
    folder, _ = as_written
    assert (folder / "outputs" / "log.txt").read_text() == "epoch 0\n"  # appended to in the copy only
    assert sorted(p.name for p in (folder / "outputs").iterdir()) == ["README.txt", "log.txt"]
    assert (folder / "outputs" / "README.txt").read_text() == "kept\n"


def test_bce_of_a_sigmoid_on_a_batch_of_three_is_judged_against_both_labels(tmp_path_factory):
    """Three logits and random labels could all miss the saturating side: each logit meets both labels."""
    _needs("torch")
    code, places, err, _ = actlint_run(_copy("tiny_logistic", tmp_path_factory))
    f = places[("train.py", 16, "ACT103")]
    assert f["verdict"] == "confirmed", f["evidence"]
    assert f["evidence"]["source"] == "run" and f["evidence"]["batch_shape"] == [[3, 1]]
    assert "(the input of the sigmoid at train.py:16 scaled)" in f["evidence"]["summary"]
    assert any(r["clamped_frac"] > 0 for r in f["evidence"]["rows"])


def test_a_script_that_reaches_up_a_folder_runs_there(tmp_path_factory):
    """``sys.path.append("..")`` and ``../data``: the folders above the working one are mirrored too."""
    _needs("torch")
    folder = _copy("parent_import", tmp_path_factory)
    code, places, err, _ = actlint_run(folder / "experiments")
    f = places[("train.py", 18, "ACT102")]
    assert f["verdict"] == "confirmed" and f["evidence"]["source"] == "run", f["evidence"]
    assert f["evidence"]["batch_shape"] == [[32, 12]]  # the width the script read from ../data
    assert code == 1, err


def test_keras_fit_on_python_lists_is_captured(tmp_path_factory):
    _needs("keras", "torch")
    code, places, err, _ = actlint_run(_copy("keras_lists", tmp_path_factory), env={"KERAS_BACKEND": "torch"})
    f = places[("train.py", 9, "ACT107")]
    assert f["verdict"] == "confirmed", f["evidence"]
    assert f["evidence"]["digest_params"] == {"tensors": 4, "elements": 6 + 6 + 6 + 1}
    assert code == 1, err


def test_usage_errors(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "actlint", "run"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 2 and "give the command to run after --" in proc.stderr
    code, places, err, _ = actlint_run(tmp_path, script="does_not_exist.py")
    assert code == 2 and "nothing verified" in err


def test_verify_runs_a_training_script_first(tmp_path):
    _needs("torch")
    folder = tmp_path / "proj"
    shutil.copytree(RUN / "helper_module", folder)
    proc = subprocess.run([sys.executable, "-m", "actlint", "--no-cache", "--verify", "--format", "json",
                           "train.py"], cwd=folder, capture_output=True, text=True, timeout=300)
    f = {(x["line"], x["code"]): x for x in json.loads(proc.stdout)}[(29, "ACT107")]
    assert f["verdict"] == "confirmed"
    assert f["evidence"]["source"] == "run"
    assert "two runs of the command" in f["evidence"]["summary"]


def test_verify_runs_a_training_notebook_as_its_cells_in_order(tmp_path_factory):
    """A notebook that trains runs as its program (magics, ``obj?`` and ``%%time`` as Jupyter reads them): its
    unscaled inputs saturate the tanh stack in the run, and every place is given as the notebook's cell."""
    _needs("torch")
    folder = _copy("notebook_tanh", tmp_path_factory)
    proc = subprocess.run([sys.executable, "-m", "actlint", "--no-cache", "--verify", "--format", "json",
                           "--report", "report", "."], cwd=folder, capture_output=True, text=True, timeout=300)
    found = {(f["cell"], f["line"], f["code"]): f for f in json.loads(proc.stdout)}
    for line in (9, 11):
        f = found[(4, line, "ACT101")]
        assert f["path"] == "train.ipynb"
        assert f["verdict"] == "confirmed" and f["evidence"]["source"] == "run", f["evidence"]
        assert f["evidence"]["model"] == "train.ipynb:Deep"
        assert f["evidence"]["batch"] == ("the batch the script called Deep on at train.ipynb cell 6, line 5 before "
                                          "its first training step")
    text = (folder / "report" / "report.json").read_text()
    assert "actlint-notebooks" not in text  # the scratch program is never shown
    (model,) = json.loads(text)["models"]
    assert (model["model"], model["built"]) == ("train.ipynb:Deep", "run")
    assert "built by running python train.ipynb under the tracer (its code cells in order)" in model["assumptions"]
    assert proc.returncode == 1, proc.stderr


def test_verify_starts_a_package_entry_point_as_a_module(tmp_path_factory):
    """``python -m tutorial.sigmoid_mlp`` from the root: its loop lives in tutorial/common.py."""
    _needs("torch")
    folder = _copy("entry_package", tmp_path_factory)
    report = folder.parent / "report"
    proc = subprocess.run([sys.executable, "-m", "actlint", "--no-cache", "--verify", "--format", "json",
                           "--report", str(report), "."], cwd=folder, capture_output=True, text=True, timeout=300)
    found = {(x["path"], x["line"], x["code"]): x for x in json.loads(proc.stdout)}
    for line in (17, 18, 19):
        f = found[("tutorial/sigmoid_mlp.py", line, "ACT101")]
        assert f["verdict"] == "confirmed" and f["evidence"]["source"] == "run", f["evidence"]
    (model,) = json.loads((report / "report.json").read_text())["models"]
    assert model["built"] == "run"
    assert model["assumptions"] == ["built by running python -m tutorial.sigmoid_mlp under the tracer"]


def _torchvision_imports() -> str | None:
    """Why torchvision cannot be used here, or None (its CUDA wheels do not import next to the CPU torch)."""
    if importlib.util.find_spec("torchvision") is None:
        return "torchvision is not installed (pip install torchvision)"
    proc = subprocess.run([sys.executable, "-c", "import torchvision.datasets, torchvision.transforms"],
                          capture_output=True, text=True, timeout=120)
    if proc.returncode:
        last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"
        return f"torchvision does not import here ({last[:160]})"
    return None


def test_keras_mnist_offline_gets_a_stand_in_and_verdicts_from_the_run(tmp_path_factory):
    _needs("torch", "keras")
    folder = _copy("mnist_keras", tmp_path_factory)
    code, places, err, _ = actlint_run(folder, env={"HOME": str(folder)})  # no Keras dataset cache
    for line, rule in ((9, "ACT101"), (11, "ACT102"), (15, "ACT107")):
        f = places[("train.py", line, rule)]
        assert f["verdict"] == "confirmed", f["evidence"]["summary"]
        assert f["evidence"]["source"] == "run"
    evidence = places[("train.py", 11, "ACT102")]["evidence"]
    assert "synthetic stand-in for mnist" in evidence["batch"]
    assert any("mnist" in a and "could not be loaded offline" in a for a in evidence["assumptions"])
    assert evidence["batch_shape"] == [[64, 784]]
    assert code == 1


def test_a_keras_2_script_runs_on_keras_3_as_keras_2_read_it(tmp_path_factory):
    """``Adam(lr=)``, ``keras.layers.core``, ``K.image_dim_ordering()``, ``MaxPooling2D()``,
    ``ImageDataGenerator`` and ``fit_generator(nb_epoch=)`` stop a Keras 2 script under Keras 3 before
    its first step; the run reads them as Keras 2 did, says so, and its numbers settle the findings (the
    leading LeakyReLU sees MNIST scaled to [0, 1]: nothing negative to reshape).  ``plot_model``
    without pydot or Graphviz is skipped, said so."""
    _needs("keras", "torch")
    folder = _copy("keras2_gan", tmp_path_factory)
    code, places, err, _ = actlint_run(folder, env={"HOME": str(folder)})
    leading = places[("train.py", 20, "ACT108")]
    assert leading["verdict"] == "refuted", leading["evidence"]["summary"]
    assert leading["evidence"]["source"] == "run"
    assert leading["evidence"]["negative_fraction"] == 0.0
    assert "reshapes the 0.0% of the input values that are negative" in leading["evidence"]["summary"]
    seed = places[("train.py", 29, "ACT107")]
    assert seed["verdict"] == "confirmed", seed["evidence"]["summary"]
    assumptions = leading["evidence"]["assumptions"]
    for said in ("lr → learning_rate", "keras.layers.core → keras.layers", "K.image_dim_ordering",
                 "ImageDataGenerator", "fit_generator → fit, nb_epoch → epochs", "pools over 2 per axis"):
        assert any(said in a for a in assumptions), (said, assumptions)
    if importlib.util.find_spec("pydot") is None:
        assert any(a.startswith("keras.utils.plot_model skipped (ImportError: ") for a in assumptions), assumptions
    assert code == 1, err


def test_torch_mnist_from_openml_offline_gets_a_stand_in_and_verdicts_from_the_run(tmp_path_factory, tmp_path):
    """The torch case CI can run (torchvision needs the PyPI build of torch): MNIST via scikit-learn."""
    _needs("torch", "sklearn")
    folder = _copy("mnist_openml", tmp_path_factory)
    code, places, err, _ = actlint_run(folder, env={"SCIKIT_LEARN_DATA": str(tmp_path / "no-cache")})
    assert code == 1, err
    for line, code_ in ((13, "ACT101"), (15, "ACT101"), (17, "ACT102"), (25, "ACT107")):
        f = places[("train.py", line, code_)]
        assert f["verdict"] == "confirmed" and f["evidence"]["source"] == "run", (line, f["evidence"])
        assert f["evidence"]["batch"].endswith("(data: synthetic stand-in for mnist_784)")
    assumption = places[("train.py", 17, "ACT102")]["evidence"]["assumptions"][0]
    assert assumption.startswith("sklearn.datasets.fetch_openml('mnist_784', version=1, as_frame=False, "
                                 "return_X_y=True) could not be loaded offline")
    assert "synthetic stand-in of 70000 rows of 784 int64 pixels in [0, 255]" in assumption
    assert places[("train.py", 17, "ACT102")]["evidence"]["batch_shape"] == [[64, 784]]


def test_tensorflow_1_mnist_reader_feeding_torch_gets_a_stand_in_without_tensorflow(tmp_path_factory):
    """``input_data.read_data_sets(..., one_hot=True)`` and ``next_batch``, with no TensorFlow installed:
    TF 1's shapes (784 float32 values in [0, 1], one-hot rows), said so, and verdicts from the run."""
    _needs("torch")
    if importlib.util.find_spec("tensorflow") is not None:
        pytest.skip("TensorFlow is installed here: its own reader runs")
    folder = _copy("tf1_mnist_torch", tmp_path_factory)
    code, places, err, _ = actlint_run(folder)
    assert code == 1, err
    for line, code_ in ((13, "ACT101"), (15, "ACT101"), (17, "ACT102"), (27, "ACT107")):
        f = places[("train.py", line, code_)]
        assert f["verdict"] == "confirmed" and f["evidence"]["source"] == "run", (line, f["evidence"])
    evidence = places[("train.py", 17, "ACT102")]["evidence"]
    assert evidence["batch"].endswith("before its first training step (data: synthetic stand-in for MNIST)")
    assert evidence["batch_shape"] == [[64, 784]]
    said = [a for a in evidence["assumptions"] if "read_data_sets" in a]
    assert said == ["tensorflow.examples.tutorials.mnist.input_data.read_data_sets('MNIST_data') could not be "
                    "loaded offline ([Errno 2] No such file or directory: 'MNIST_data/train-images-idx3-ubyte.gz'): "
                    "synthetic stand-in of 55000/5000/10000 train/validation/test 784-value vectors, float32 in "
                    "[0, 1], 10 classes one-hot"], evidence["assumptions"]


def test_pretrained_weights_that_cannot_be_downloaded_leave_random_weights_said_so(tmp_path_factory):
    """``load_state_dict(load_state_dict_from_url(url))`` offline: the model keeps its initial weights, the
    run goes on to its steps, and the verdicts come from it."""
    _needs("torch")
    folder = _copy("pretrained_offline", tmp_path_factory)
    code, places, err, _ = actlint_run(folder, env={"HOME": str(folder)})
    assert code == 1, err
    for line, code_ in ((7, "ACT101"), (9, "ACT101"), (20, "ACT107")):
        f = places[("train.py", line, code_)]
        assert f["verdict"] == "confirmed" and f["evidence"]["source"] == "run", (line, f["evidence"])
    said = places[("train.py", 7, "ACT101")]["evidence"]["assumptions"]
    assert said[0].startswith("pretrained weights https://example.invalid/weights/mlp-20-64-3.pth could not be "
                              "downloaded offline ("), said
    assert said[0].endswith("): the model keeps its random initial weights")


def test_keras_application_weights_that_cannot_be_downloaded_build_with_weights_none(tmp_path_factory):
    _needs("keras", "torch")
    folder = _copy("pretrained_offline", tmp_path_factory)
    code, places, err, _ = actlint_run(folder, script="train_keras.py", env={"HOME": str(folder)})
    assert code == 1, err
    seed = places[("train_keras.py", 15, "ACT107")]
    assert seed["verdict"] == "confirmed" and seed["evidence"]["source"] == "run", seed["evidence"]
    said = [a for a in seed["evidence"]["assumptions"] if a.startswith("keras.applications.MobileNet weights ")]
    assert len(said) == 1 and said[0].endswith("): built with weights=None, random initial weights"), \
        seed["evidence"]["assumptions"]
    assert "mobilenet_2_5_224_tf_no_top.h5 could not be downloaded offline" in said[0]


def test_keras_2_scikit_learn_wrapper_trains_through_cross_val_score_and_is_captured(tmp_path_factory):
    """``cross_val_score(KerasClassifier(build_fn=…, nb_epoch=…, hidden=8), X, y)``: scikit-learn clones the
    wrapper, whose fit builds the model with the parameters build_fn names; the run captures that model."""
    _needs("keras", "torch", "sklearn")
    folder = _copy("keras2_sklearn", tmp_path_factory)
    code, places, err, _ = actlint_run(folder)
    assert code == 1, err
    for line in (19, 20):
        f = places[("train.py", line, "ACT101")]
        assert f["verdict"] == "confirmed" and f["evidence"]["source"] == "run", f["evidence"]
    seed = places[("train.py", 28, "ACT107")]
    assert seed["verdict"] == "confirmed" and seed["evidence"]["source"] == "run", seed["evidence"]
    assumptions = places[("train.py", 19, "ACT101")]["evidence"]["assumptions"]
    assert any(a.startswith("Keras 2 keras.wrappers.scikit_learn (KerasClassifier, KerasRegressor) read as Keras 2 "
                            "ran it") for a in assumptions), assumptions
    assert places[("train.py", 19, "ACT101")]["evidence"]["batch_shape"] == [[5, 4]]


def test_bce_of_a_sigmoid_on_a_single_sample_batch_is_probed_at_saturating_logits(tmp_path_factory):
    """One logit per batch (a 1-D GAN's discriminator): the probe still scales it past float32's saturation."""
    _needs("torch")
    folder = _copy("single_sample_gan", tmp_path_factory)
    code, places, err, _ = actlint_run(folder)
    f = places[("train.py", 18, "ACT103")]
    assert f["verdict"] == "confirmed" and f["evidence"]["source"] == "run", f["evidence"]
    assert [round(r["max_abs_logit"]) for r in f["evidence"]["rows"]] == [5, 10, 20, 40]
    assert f["evidence"]["batch_shape"] == [[100]]
    assert code == 1, err


def test_an_output_check_is_not_read_off_another_model(tmp_path_factory):
    """ACT105 on a truncated copy that is compiled but never trained: the captured model is the softmax
    classifier, whose output says nothing about the copy's relu."""
    _needs("keras", "torch")
    folder = _copy("keras_truncated", tmp_path_factory)
    code, places, err, _ = actlint_run(folder)
    f = places[("train.py", 20, "ACT105")]
    assert f["verdict"] == "inconclusive", f["evidence"]
    assert f["evidence"]["summary"] == "the flagged activation did not run in the model measured"


def test_torch_mnist_offline_gets_a_stand_in_and_verdicts_from_the_run(tmp_path_factory):
    _needs("torch")
    why = _torchvision_imports()
    if why:
        pytest.skip(why)
    folder = _copy("mnist_torch", tmp_path_factory)
    code, places, err, _ = actlint_run(folder)
    f = places[("train.py", 18, "ACT102")]
    assert f["verdict"] == "confirmed", f["evidence"]["summary"]
    assert f["evidence"]["source"] == "run"
    assert "synthetic stand-in for MNIST" in f["evidence"]["batch"]
    assert f["evidence"]["batch_shape"] == [[64, 1, 28, 28]]

"""Dataset stand-ins for traced runs: what a user's script gets when MNIST, CIFAR or IMDB cannot be downloaded.

Each case runs in a child process, as ``actlint run`` does: the sandbox's audit hook refuses the
network and writes outside a scratch folder, ``datasets.install`` goes in before the script's
imports, and HOME is a fresh folder, so no real cache is found.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PRELUDE = """
import json, os, random, sys
import numpy as np
from actlint.verify.sandbox import guard
from actlint.verify.trace import datasets, hooks
SCRATCH = os.environ["SCRATCH"]
ASSUMPTIONS = []
def rng_states():
    import torch
    return [torch.initial_seed(), torch.get_rng_state().tolist(), repr(np.random.get_state()), repr(random.getstate())]
def sandbox(network=False):
    guard.install(SCRATCH, network=network, processes=True, pickle=True, label="actlint run")
    datasets.install(ASSUMPTIONS, SCRATCH, allow_network=network)
def report(**values):
    values.update(assumptions=ASSUMPTIONS, substituted=datasets.SUBSTITUTED, hook_errors=hooks.errors)
    print("RESULT " + json.dumps(values, default=str))
"""


def run_child(tmp_path: Path, body: str, timeout: int = 300) -> dict:
    """Run ``body`` after PRELUDE in a child; return what it passed to ``report``."""
    scratch = tmp_path / "scratch"
    home, tmp = scratch / "home", scratch / "tmp"  # torch._dynamo's import asks tempfile for a writable folder
    home.mkdir(parents=True, exist_ok=True)
    tmp.mkdir(exist_ok=True)
    work = tmp_path / "work"  # the script's folder: outside scratch, not writable under the guard
    work.mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(home), "TMPDIR": str(tmp), "SCRATCH": str(scratch),
           "KERAS_BACKEND": "torch", "KERAS_HOME": str(home / ".keras"), "SCIKIT_LEARN_DATA": str(home / "skl")}
    code = PRELUDE + textwrap.dedent(body)
    out = subprocess.run([sys.executable, "-c", code], cwd=work, env=env, capture_output=True, text=True,
                         timeout=timeout)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    assert out.returncode == 0 and lines, f"child: {out.returncode}\n{out.stdout[-3000:]}\n{out.stderr[-5000:]}"
    return json.loads(lines[-1][len("RESULT "):])


def installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


# ---------------------------------------------------------------------------------------------
# Keras
# ---------------------------------------------------------------------------------------------

KERAS_OFFLINE = """
sandbox()
import hashlib
import keras
from keras.datasets import cifar10, cifar100, imdb, mnist
before = rng_states()

def describe(arrays):
    return [[list(a.shape), str(a.dtype)] for a in arrays]

def digest(*arrays):
    h = hashlib.sha256()
    for a in arrays:
        h.update(a.tobytes() if a.dtype != object else json.dumps([list(x) for x in a]).encode())
    return h.hexdigest()

(mx, my), (mxt, myt) = mnist.load_data()
(cx, cy), (cxt, cyt) = cifar10.load_data()
(ix, iy), (ixt, iyt) = imdb.load_data(num_words=5000, maxlen=400)
words = imdb.get_word_index()
try:
    cifar100.load_data(label_mode="bogus")
    bad = "no error"
except ValueError as exc:
    bad = type(exc).__name__
after = rng_states()
report(
    mnist=describe([mx, my, mxt, myt]), mnist_classes=sorted(set(my.tolist())),
    mnist_range=[int(mx.min()), int(mx.max())], mnist_std=float(mx[:100].std()),
    cifar10=describe([cx, cy, cxt, cyt]), cifar10_classes=sorted(set(cy.ravel().tolist())),
    imdb=describe([ix, iy, ixt, iyt]), imdb_classes=sorted(set(iy.tolist())),
    imdb_max_word=max(max(x) for x in ix), imdb_min_word=min(min(x) for x in ix),
    imdb_longest=max(len(x) for x in list(ix) + list(ixt)), imdb_starts=sorted({x[0] for x in ix}),
    imdb_item_type=type(ix[0]).__name__, words=[len(words), words.get("w1")],
    bad_label_mode=bad, rng_unchanged=before == after,
    digest=digest(mx, my, cx, cy, ix, iy),
)
"""


@pytest.fixture(scope="module")
def keras_offline(tmp_path_factory):
    """The same offline Keras script twice, in two processes."""
    return [run_child(tmp_path_factory.mktemp(f"keras{i}"), KERAS_OFFLINE) for i in range(2)]


def test_keras_mnist_cifar10_imdb_are_substituted_with_the_real_shapes(keras_offline):
    r = keras_offline[0]
    assert r["mnist"] == [[[60000, 28, 28], "uint8"], [[60000], "uint8"],
                          [[10000, 28, 28], "uint8"], [[10000], "uint8"]]
    assert r["mnist_classes"] == list(range(10))
    assert r["mnist_range"][0] >= 0 and r["mnist_range"][1] > 200 and r["mnist_std"] > 20  # not constant images
    assert r["cifar10"] == [[[50000, 32, 32, 3], "uint8"], [[50000, 1], "uint8"],
                            [[10000, 32, 32, 3], "uint8"], [[10000, 1], "uint8"]]
    assert r["cifar10_classes"] == list(range(10))
    (x, _), (y, _), (xt, _), (yt, _) = r["imdb"]
    assert r["imdb"][0][1] == "object" and r["imdb"][1][1] == "int64"
    assert 0 < x[0] < 25000 and 0 < xt[0] < 25000 and y == x and yt == xt  # maxlen=400 drops the long reviews
    assert r["imdb_classes"] == [0, 1] and r["imdb_item_type"] == "list"
    assert r["imdb_max_word"] <= 4999 and r["imdb_min_word"] >= 1 and r["imdb_longest"] < 400  # num_words, maxlen
    assert r["imdb_starts"] == [1]  # start_char
    assert r["words"] == [88584, 1]
    assert r["hook_errors"] == []


def test_keras_stand_ins_say_so_once_each(keras_offline):
    said = keras_offline[0]["assumptions"]
    assert said[0] == ("keras.datasets.mnist.load_data() could not be loaded offline (actlint run: network access is "
                       "disabled): synthetic stand-in of 60000 train + 10000 test 28x28 uint8 images in [0, 255], "
                       "10 classes")
    assert said[1].startswith("keras.datasets.cifar10.load_data() could not be loaded offline")
    assert "10 classes" in said[1] and "32x32 RGB" in said[1]
    assert said[2].startswith("keras.datasets.imdb.load_data(num_words=5000, maxlen=400) could not be loaded offline")
    assert said[3].startswith("keras.datasets.imdb.get_word_index() could not be loaded offline")
    assert len(said) == 4  # the refused cifar100(label_mode="bogus") is the user's error: no stand-in
    first = keras_offline[0]["substituted"][0]
    assert first == {"library": "keras", "why": "actlint run: network access is disabled", "dataset": "mnist",
                     "split": "train", "shape": [60000, 28, 28], "classes": 10}


def test_keras_argument_errors_are_not_hidden(keras_offline):
    assert keras_offline[0]["bad_label_mode"] == "ValueError"


def test_stand_ins_are_deterministic_across_processes(keras_offline):
    assert keras_offline[0]["digest"] == keras_offline[1]["digest"]


def test_stand_ins_do_not_draw_from_the_global_generators(keras_offline):
    assert keras_offline[0]["rng_unchanged"] is True


KERAS_REAL = """
import keras
import keras.src.datasets.mnist as source
fake = os.path.join(SCRATCH, "cached-mnist.npz")
np.savez(fake, x_train=np.full((5, 28, 28), 7, np.uint8), y_train=np.arange(5, dtype=np.uint8),
         x_test=np.full((2, 28, 28), 7, np.uint8), y_test=np.arange(2, dtype=np.uint8))
seen = []

def cached(fname, origin, file_hash=None, cache_dir=None, **kwargs):  # a file already in the Keras cache
    seen.append(cache_dir)
    return fake

source.get_file = cached
sandbox()
from keras.datasets import mnist
(x, y), (xt, yt) = mnist.load_data()
real = [list(x.shape), int(x[0, 0, 0]), list(xt.shape)]
said_after_real = list(ASSUMPTIONS)

def unwritable_home(fname, origin, file_hash=None, cache_dir=None, **kwargs):
    if cache_dir is None:
        raise PermissionError("actlint run: writing /elsewhere/.keras is disabled "
                              "(only the scratch folder is writable)")
    seen.append(cache_dir)
    return fake

source.get_file = unwritable_home
datasets.install(ASSUMPTIONS, SCRATCH, allow_network=True)
(x, _), _ = mnist.load_data()
retried = [list(x.shape), seen[-1]]
datasets.install(ASSUMPTIONS, SCRATCH, allow_network=False)
(x, _), _ = mnist.load_data()
report(real=real, said_after_real=said_after_real, retried=retried, offline=list(x.shape))
"""


def test_keras_uses_the_real_loader_when_it_works_and_retries_in_scratch(tmp_path):
    r = run_child(tmp_path, KERAS_REAL)
    assert r["real"] == [[5, 28, 28], 7, [2, 28, 28]] and r["said_after_real"] == []
    # with the network allowed, a Keras home that is not writable is swapped for one in scratch
    assert r["retried"] == [[5, 28, 28], os.path.join(os.path.realpath(tmp_path / "scratch"), "keras")]
    # offline, the same failure gets the stand-in, and the reason is the write that was refused
    assert r["offline"] == [60000, 28, 28]
    assert r["assumptions"] == ["keras.datasets.mnist.load_data() could not be loaded offline (actlint run: writing "
                                "/elsewhere/.keras is disabled (only the scratch folder is writable)): synthetic "
                                "stand-in of 60000 train + 10000 test 28x28 uint8 images in [0, 255], 10 classes"]


def test_install_imports_no_framework(tmp_path):
    r = run_child(tmp_path, """
        sandbox()
        import sys
        report(loaded=sorted(m for m in ("torch", "torchvision", "keras", "sklearn", "pandas") if m in sys.modules))
    """)
    assert r["loaded"] == []


# ---------------------------------------------------------------------------------------------
# torchvision
# ---------------------------------------------------------------------------------------------

def _torchvision_missing() -> str | None:
    """Why the torchvision cases cannot run (checked in a child: the test process keeps its imports)."""
    if not installed("torchvision"):
        return "torchvision is not installed (pip install torchvision==0.28.0)"
    out = subprocess.run([sys.executable, "-c", "import torchvision.datasets, torchvision.transforms"],
                         capture_output=True, text=True, timeout=300)
    if out.returncode:  # e.g. the CUDA wheel beside the CPU torch: "operator torchvision::nms does not exist"
        last = (out.stderr.strip().splitlines() or ["no message"])[-1]
        return f"torchvision does not import here ({last})"
    return None


TORCHVISION_MISSING = _torchvision_missing()
needs_torchvision = pytest.mark.skipif(TORCHVISION_MISSING is not None, reason=str(TORCHVISION_MISSING))


@needs_torchvision
def test_torchvision_mnist_and_cifar10_through_a_dataloader(tmp_path):
    r = run_child(tmp_path, """
        sandbox()
        import torch
        from torch.utils.data import DataLoader
        from torchvision import datasets as D, transforms as T
        before = rng_states()
        mnist = D.MNIST("data", train=True, download=True, transform=T.ToTensor())
        cifar = D.CIFAR10("data", train=False, download=True, transform=T.ToTensor())
        after = rng_states()
        x, y = next(iter(DataLoader(mnist, batch_size=64, shuffle=False)))
        cx, cy = next(iter(DataLoader(cifar, batch_size=32)))
        img, target = D.MNIST("data", train=False)[0]
        report(
            mnist=[isinstance(mnist, D.MNIST), len(mnist), list(mnist.data.shape), str(mnist.data.dtype),
                   str(mnist.targets.dtype), sorted(set(mnist.targets.tolist())), mnist.class_to_idx["0 - zero"]],
            batch=[list(x.shape), str(x.dtype), float(x.min()), float(x.max()), float(x.std()), str(y.dtype)],
            test_item=[type(img).__name__, img.mode, img.size, type(target).__name__],
            cifar=[isinstance(cifar, D.CIFAR10), len(cifar), type(cifar.data).__name__, list(cifar.data.shape),
                   str(cifar.data.dtype), type(cifar.targets).__name__, len(cifar.classes), cifar.train],
            cifar_batch=[list(cx.shape), str(cx.dtype), float(cx.min()), float(cx.max()), str(cy.dtype)],
            rng_unchanged=before == after,
        )
    """)
    assert r["mnist"] == [True, 60000, [60000, 28, 28], "torch.uint8", "torch.int64", list(range(10)), 0]
    shape, dtype, low, high, std, label_dtype = r["batch"]
    assert shape == [64, 1, 28, 28] and dtype == "torch.float32" and 0 <= low < high <= 1 and std > 0.05
    assert label_dtype == "torch.int64"
    assert r["test_item"] == ["Image", "L", [28, 28], "int"]
    assert r["cifar"] == [True, 10000, "ndarray", [10000, 32, 32, 3], "uint8", "list", 10, False]
    shape, dtype, low, high, label_dtype = r["cifar_batch"]
    assert shape == [32, 3, 32, 32] and dtype == "torch.float32" and 0 <= low < high <= 1
    assert r["rng_unchanged"] is True
    said = r["assumptions"]
    assert said[0].startswith("torchvision.datasets.MNIST(train=True) could not be loaded offline (")
    assert said[0].endswith("): synthetic stand-in of 60000 28x28 uint8 images in [0, 255], 10 classes")
    assert said[1].endswith("): synthetic stand-in of 10000 32x32 RGB uint8 images in [0, 255], 10 classes")
    assert said[2] == ("torchvision.datasets.MNIST(train=False) could not be loaded offline (Dataset not found): "
                       "synthetic stand-in of 10000 28x28 uint8 images in [0, 255], 10 classes")
    assert [s["dataset"] for s in r["substituted"]] == ["MNIST", "CIFAR10", "MNIST"]


@needs_torchvision
def test_torchvision_svhn_stl10_emnist_and_a_missing_image_folder(tmp_path):
    r = run_child(tmp_path, """
        sandbox()
        from torchvision import datasets as D, transforms as T
        svhn = D.SVHN("data", split="test", download=True)
        stl = D.STL10("data", split="train")
        letters = D.EMNIST("data", split="letters", train=False)
        folder = D.ImageFolder("data/train", transform=T.Compose([T.Resize(32), T.ToTensor()]))
        try:
            D.SVHN("data", split="nope")
            bad = "no error"
        except ValueError as exc:
            bad = getattr(exc, "__notes__", [])
        report(
            svhn=[len(svhn), list(svhn.data.shape), str(svhn.labels.dtype), svhn[0][0].mode, svhn[0][0].size],
            stl=[len(stl), list(stl.data.shape), stl.classes[:2], stl[0][0].size],
            letters=[len(letters), int(letters.targets.min()), int(letters.targets.max()), len(letters.classes)],
            folder=[len(folder), folder.classes, list(folder[0][0].shape), folder.root.startswith(SCRATCH)],
            bad=bad,
        )
    """)
    assert r["svhn"] == [26032, [26032, 3, 32, 32], "int64", "RGB", [32, 32]]
    assert r["stl"] == [5000, [5000, 3, 96, 96], ["airplane", "bird"], [96, 96]]
    assert r["letters"] == [20800, 1, 26, 27]
    assert r["folder"] == [64, ["class_0", "class_1"], [3, 32, 32], True]
    assert r["bad"] and "no synthetic stand-in" in r["bad"][0]
    assert any("ImageFolder('data/train')" in s and "2 classes" in s for s in r["assumptions"])


@needs_torchvision
def test_torchvision_uses_mnist_files_already_on_disk(tmp_path):
    r = run_child(tmp_path, """
        import struct
        raw = os.path.join(SCRATCH, "data", "MNIST", "raw")
        os.makedirs(raw)
        for prefix, n in (("train", 12), ("t10k", 3)):
            with open(os.path.join(raw, f"{prefix}-images-idx3-ubyte"), "wb") as f:
                f.write(struct.pack(">IIII", 2051, n, 28, 28) + bytes([9]) * (n * 784))
            with open(os.path.join(raw, f"{prefix}-labels-idx1-ubyte"), "wb") as f:
                f.write(struct.pack(">II", 2049, n) + bytes(range(n)))
        sandbox()
        from torchvision import datasets as D
        ds = D.MNIST(os.path.join(SCRATCH, "data"), train=True)
        report(real=[len(ds), int(ds.data[0, 0, 0]), int(ds.targets[5])])
    """)
    assert r["real"] == [12, 9, 5]
    assert r["assumptions"] == [] and r["substituted"] == []


# ---------------------------------------------------------------------------------------------
# scikit-learn
# ---------------------------------------------------------------------------------------------

@pytest.mark.skipif(not installed("sklearn"), reason="scikit-learn is not installed")
def test_sklearn_fetch_openml_mnist_784_is_substituted_and_other_names_are_not(tmp_path):
    r = run_child(tmp_path, """
        sandbox()
        from sklearn.datasets import fetch_openml
        X, y = fetch_openml("mnist_784", version=1, return_X_y=True, as_frame=False, parser="liac-arff")
        try:
            fetch_openml("iris", as_frame=False)
            iris = "no error"
        except Exception as exc:
            iris = [type(exc).__name__, getattr(exc, "__notes__", [])]
        report(mnist=[list(X.shape), str(X.dtype), float(X.min()), float(X.max()), sorted(set(y.tolist()))],
               iris=iris)
    """)
    shape, dtype, low, high, labels = r["mnist"]
    assert shape == [70000, 784] and dtype == "float64" and low >= 0 and 200 < high <= 255
    assert labels == [str(k) for k in range(10)]
    assert r["assumptions"] == [
        "sklearn.datasets.fetch_openml('mnist_784', version=1, return_X_y=True, as_frame=False, parser='liac-arff') "
        "could not be loaded offline (actlint run: network access is disabled): synthetic stand-in of 70000 rows of "
        "784 float64 pixels in [0, 255], string targets '0'..'9'"]
    kind, notes = r["iris"]
    assert kind == "PermissionError" and "no synthetic stand-in" in notes[0] and "mnist_784" in notes[0]

"""TensorFlow 1's tutorial MNIST reader stand-in: TF 1.x's shapes and batching, real files when present."""
import gzip
import struct

import pytest

from actlint.verify.build.tf_alias import real_tensorflow_use

np = pytest.importorskip("numpy")
from actlint.verify.trace import datasets, tf1_mnist  # noqa: E402


@pytest.fixture(autouse=True)
def _said(monkeypatch):
    said: list[str] = []
    monkeypatch.setitem(datasets._STATE, "assumptions", said)
    monkeypatch.setitem(datasets._STATE, "said", set())
    monkeypatch.setattr(datasets, "SUBSTITUTED", [])
    return said


def _idx(path, array):
    header = struct.pack(">BBBB", 0, 0, 8, array.ndim) + b"".join(struct.pack(">I", d) for d in array.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(header + array.astype(np.uint8).tobytes())


def test_files_in_the_folder_are_read_and_split_as_tf1_did(tmp_path, _said):
    rng = np.random.default_rng(1)
    train = rng.integers(0, 256, (30, 28, 28)), rng.integers(0, 10, 30)
    test = rng.integers(0, 256, (7, 28, 28)), rng.integers(0, 10, 7)
    for (images, labels), split in ((train, "train"), (test, "test")):
        _idx(tmp_path / tf1_mnist.FILES[split][0], images)
        _idx(tmp_path / tf1_mnist.FILES[split][1], labels)
    data = tf1_mnist.read_data_sets(str(tmp_path), one_hot=True, validation_size=10)
    assert (data.train.num_examples, data.validation.num_examples, data.test.num_examples) == (20, 10, 7)
    assert data.validation.images.shape == (10, 784) and data.validation.images.dtype == np.float32
    np.testing.assert_allclose(data.validation.images[3], train[0][3].reshape(-1) / 255.0, rtol=1e-6)
    assert data.validation.labels.dtype == np.float64
    assert data.validation.labels[3].argmax() == train[1][3] and data.validation.labels.sum() == 10
    assert _said == [] and datasets.SUBSTITUTED == []


def test_without_files_the_synthetic_set_has_tf1_shapes_and_is_said(tmp_path, _said):
    data = tf1_mnist.read_data_sets(str(tmp_path / "MNIST_data"), reshape=False, dtype="uint8")
    assert data.train.images.shape == (55000, 28, 28, 1) and data.train.images.dtype == np.uint8
    assert data.test.labels.shape == (10000,) and data.test.labels.dtype == np.uint8
    assert sorted(set(data.test.labels.tolist())) == list(range(10))
    assert len(_said) == 1 and "could not be loaded offline" in _said[0]
    assert "55000/5000/10000 train/validation/test 28x28x1 images, uint8 in [0, 255], 10 classes" in _said[0]
    assert [s["split"] for s in datasets.SUBSTITUTED] == ["train", "validation", "test"]
    tf1_mnist.read_data_sets(str(tmp_path / "MNIST_data"), reshape=False, dtype="uint8")
    assert len(_said) == 1  # said once


def test_next_batch_wraps_at_the_epoch_end_with_every_example_once_per_epoch():
    images = np.arange(10 * 784, dtype=np.uint8).reshape(10, 28, 28) % 251
    split = tf1_mnist.DataSet(images, np.arange(10), seed=3)
    seen = [split.next_batch(4)[1] for _ in range(2)]
    x, y = split.next_batch(4)
    assert x.shape == (4, 784) and split.epochs_completed == 1
    first_epoch = np.concatenate(seen + [y[:2]])
    assert sorted(first_epoch.tolist()) == list(range(10))


def test_the_reader_is_not_real_tensorflow_but_a_session_is():
    reader = "from tensorflow.examples.tutorials.mnist import input_data\nm = input_data.read_data_sets('d')\n"
    assert real_tensorflow_use(reader) is None
    assert real_tensorflow_use("import tensorflow as tf\nm = tf.examples.tutorials.mnist.input_data.read_data_sets('d')\n") is None
    assert real_tensorflow_use(reader + "import tensorflow as tf\nx = tf.placeholder(tf.float32)\n") == ("tf.placeholder", 4)
    assert real_tensorflow_use("from tensorflow.examples.tutorials import word2vec\n") == (
        "tensorflow.examples.tutorials", 1)

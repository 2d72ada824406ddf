"""TensorFlow 1's tutorial MNIST reader (``tensorflow.examples.tutorials.mnist.input_data``) without TensorFlow.

Scripts of 2016-2018, PyTorch ones included, load MNIST with ``input_data.read_data_sets(dir,
one_hot=True)`` and train on ``mnist.train.next_batch(n)``.  This reader behaves as TF 1.x's did:
55000/5000/10000 train/validation/test images as float32 vectors of 784 values in [0, 1] (or
28x28x1 with ``reshape=False``, uint8 with ``dtype=uint8``), labels as uint8 class ids or
one-hot float64 rows.  It reads the four ``*-idx?-ubyte.gz`` files from ``dir`` when they are
there; otherwise the images are the synthetic MNIST of :mod:`.datasets`, said under ``assumptions``.
"""

from __future__ import annotations

import collections
import gzip
import os

from . import datasets

FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
         "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
Datasets = collections.namedtuple("Datasets", ["train", "validation", "test"])


class DataSet:
    """One split: ``images``, ``labels``, ``num_examples``, ``epochs_completed`` and ``next_batch``."""

    def __init__(self, images, labels, *, dtype="float32", reshape=True, seed=None):
        import numpy as np

        self._rng = np.random.default_rng(0 if seed is None else seed)  # never the global generator
        if reshape:
            images = images.reshape(images.shape[0], -1)
        else:
            images = images.reshape(images.shape[0], 28, 28, 1)
        if np.dtype(dtype) == np.float32:
            images = images.astype(np.float32) * np.float32(1.0 / 255.0)
        self._images, self._labels = images, labels
        self._num_examples = images.shape[0]
        self._epochs_completed = 0
        self._index_in_epoch = 0

    images = property(lambda self: self._images)
    labels = property(lambda self: self._labels)
    num_examples = property(lambda self: self._num_examples)
    epochs_completed = property(lambda self: self._epochs_completed)

    def next_batch(self, batch_size, fake_data=False, shuffle=True):
        """The next ``batch_size`` examples, reshuffled at each epoch's start, as TF 1's reader gave them."""
        import numpy as np

        start = self._index_in_epoch
        if start == 0 and shuffle and self._epochs_completed == 0:
            self._permute()
        if start + batch_size <= self._num_examples:
            self._index_in_epoch = start + batch_size
            return self._images[start:start + batch_size], self._labels[start:start + batch_size]
        rest_images, rest_labels = self._images[start:], self._labels[start:]
        self._epochs_completed += 1
        if shuffle:
            self._permute()
        self._index_in_epoch = batch_size - len(rest_images)
        end = self._index_in_epoch
        return (np.concatenate((rest_images, self._images[:end]), axis=0),
                np.concatenate((rest_labels, self._labels[:end]), axis=0))

    def _permute(self) -> None:
        order = self._rng.permutation(self._num_examples)
        self._images, self._labels = self._images[order], self._labels[order]


def _read_idx(path: str):
    import numpy as np

    with gzip.open(path, "rb") as fh:
        data = fh.read()
    dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def _split(train_dir: str, split: str, exc_holder: list):
    """(images uint8 [N, 28, 28], labels uint8 [N]) from the files in ``train_dir``, else the synthetic set."""
    import numpy as np

    paths = [os.path.join(os.fspath(train_dir), name) for name in FILES[split]]
    try:
        return _read_idx(paths[0]).reshape(-1, 28, 28), _read_idx(paths[1]).astype(np.uint8)
    except (OSError, ValueError, EOFError, IndexError) as exc:
        exc_holder.append(exc)
    real = datasets.FACTS["MNIST"]["sizes"][split]
    x, y = datasets.images(f"MNIST:{split}", real, (28, 28), 10)
    return x, y.astype(np.uint8)


def read_data_sets(train_dir="MNIST_data", fake_data=False, one_hot=False, dtype="float32", reshape=True,
                   validation_size=5000, seed=None, source_url=None):
    """TF 1.x's ``read_data_sets``: the files in ``train_dir`` when they are there, else synthetic MNIST."""
    import numpy as np

    dtype = getattr(dtype, "as_numpy_dtype", dtype)
    missing: list = []
    train_x, train_y = _split(train_dir, "train", missing)
    test_x, test_y = _split(train_dir, "test", missing)
    if not 0 <= validation_size <= len(train_x):
        raise ValueError(f"Validation size should be between 0 and {len(train_x)}. Received: {validation_size}.")

    def labels(y):
        if not one_hot:
            return y
        rows = np.zeros((len(y), 10))
        rows[np.arange(len(y)), y] = 1.0
        return rows

    made = [DataSet(x, labels(y), dtype=dtype, reshape=reshape, seed=seed) for x, y in (
        (train_x[validation_size:], train_y[validation_size:]), (train_x[:validation_size], train_y[:validation_size]),
        (test_x, test_y))]
    if missing:
        n = (len(train_x) - validation_size, validation_size, len(test_x))
        kind = "float32 in [0, 1]" if np.dtype(dtype) == np.float32 else "uint8 in [0, 255]"
        form = "784-value vectors" if reshape else "28x28x1 images"
        call = f"tensorflow.examples.tutorials.mnist.input_data.read_data_sets({os.fspath(train_dir)!r})"
        datasets._record(call, missing[0], f"{n[0]}/{n[1]}/{n[2]} train/validation/test {form}, {kind}, "
                         f"10 classes{' one-hot' if one_hot else ''}",
                         [{"dataset": "MNIST", "split": s, "shape": list(d.images.shape), "classes": 10}
                          for s, d in zip(("train", "validation", "test"), made)])
    return Datasets(*made)


def modules() -> dict:
    """The module objects to put in ``sys.modules`` under ``tensorflow.examples.tutorials.mnist``."""
    import types

    names = ["tensorflow.examples", "tensorflow.examples.tutorials", "tensorflow.examples.tutorials.mnist"]
    made = {}
    for name in names:
        mod = types.ModuleType(name)
        mod.__path__ = []
        mod.__actlint_alias__ = True
        made[name] = mod
    reader = types.ModuleType("tensorflow.examples.tutorials.mnist.input_data")
    reader.read_data_sets, reader.DataSet = read_data_sets, DataSet
    reader.__actlint_alias__ = True
    made[reader.__name__] = reader
    made["tensorflow.examples.tutorials.mnist"].input_data = reader
    made["tensorflow.examples.tutorials"].mnist = made["tensorflow.examples.tutorials.mnist"]
    made["tensorflow.examples"].tutorials = made["tensorflow.examples.tutorials"]
    return made

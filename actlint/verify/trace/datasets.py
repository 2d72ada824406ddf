"""Synthetic stand-ins for the standard datasets that a traced run cannot download.

``install`` patches the loaders of torchvision, Keras and scikit-learn when (and only when)
the user's code imports them.  The real loader always runs first: data on disk or in a cache
is used as it is.  Only when it raises is a stand-in built, with the shapes, dtypes, sizes
and class counts of the real set, and one sentence saying so goes to ``assumptions``.

The arrays come from ``numpy.random.default_rng`` with a fixed seed per dataset and split:
the same in every run, and the global generators (torch's, numpy's, ``random``) are never
drawn from, since the verifier compares the weights of two runs of the user's script.
"""

from __future__ import annotations

import errno
import functools
import inspect
import os
import re
import threading
import zlib

from . import hooks

SUBSTITUTED: list[dict] = []  # one entry per stand-in: dataset, split, why, shape, classes
_STATE: dict = {"assumptions": [], "scratch": os.getcwd(), "network": False, "said": set()}
_LOCK = threading.RLock()
MAX_BYTES = 600 * 2 ** 20  # a split larger than this gets fewer samples (and says so)

# ---------------------------------------------------------------------------------------
# The facts: sizes, shapes and classes of the real sets.
# ---------------------------------------------------------------------------------------

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
CIFAR100_CLASSES = (
    "apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly camel "
    "can castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup dinosaur "
    "dolphin elephant flatfish forest fox girl hamster house kangaroo keyboard lamp lawn_mower leopard lion "
    "lizard lobster man maple_tree motorcycle mountain mouse mushroom oak_tree orange orchid otter palm_tree "
    "pear pickup_truck pine_tree plain plate poppy porcupine possum rabbit raccoon ray road rocket rose sea "
    "seal shark shrew skunk skyscraper snail snake spider squirrel streetcar sunflower sweet_pepper table "
    "tank telephone television tiger tractor train trout tulip turtle wardrobe whale willow_tree wolf woman "
    "worm").split()
STL10_CLASSES = ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"]
NEWSGROUPS = (
    "alt.atheism comp.graphics comp.os.ms-windows.misc comp.sys.ibm.pc.hardware comp.sys.mac.hardware "
    "comp.windows.x misc.forsale rec.autos rec.motorcycles rec.sport.baseball rec.sport.hockey sci.crypt "
    "sci.electronics sci.med sci.space soc.religion.christian talk.politics.guns talk.politics.mideast "
    "talk.politics.misc talk.religion.misc").split()
CALIFORNIA_FEATURES = ["MedInc", "HouseAge", "AveRooms", "AveBedrms", "Population", "AveOccup", "Latitude",
                       "Longitude"]

# name -> sizes per split, the shape of one sample, the number of classes.
# Images are uint8 in [0, 255]; "chw" marks torchvision's channels-first SVHN/STL10 arrays.
FACTS: dict[str, dict] = {
    "MNIST": {"sizes": {"train": 60000, "test": 10000}, "shape": (28, 28), "classes": 10},
    "FashionMNIST": {"sizes": {"train": 60000, "test": 10000}, "shape": (28, 28), "classes": 10},
    "KMNIST": {"sizes": {"train": 60000, "test": 10000}, "shape": (28, 28), "classes": 10},
    "EMNIST": {"shape": (28, 28), "splits": {  # split -> (train, test, classes)
        "byclass": (697932, 116323, 62), "bymerge": (697932, 116323, 47), "balanced": (112800, 18800, 47),
        "letters": (124800, 20800, 26), "digits": (240000, 40000, 10), "mnist": (60000, 10000, 10)}},
    "CIFAR10": {"sizes": {"train": 50000, "test": 10000}, "shape": (32, 32, 3), "classes": 10},
    "CIFAR100": {"sizes": {"train": 50000, "test": 10000}, "shape": (32, 32, 3), "classes": 100},
    "SVHN": {"sizes": {"train": 73257, "test": 26032, "extra": 531131}, "shape": (3, 32, 32), "classes": 10},
    "STL10": {"sizes": {"train": 5000, "test": 8000, "unlabeled": 100000}, "shape": (3, 96, 96), "classes": 10},
    "ImageFolder": {"sizes": {"train": 64}, "shape": (224, 224, 3), "classes": 2},
    "imdb": {"sizes": {"train": 25000, "test": 25000}, "classes": 2, "vocabulary": 88584,
             "median_length": 174, "mean_length": 238, "lengths": (10, 2494)},
    "reuters": {"sizes": {"all": 11228}, "classes": 46, "vocabulary": 30979,
                "median_length": 95, "mean_length": 145, "lengths": (2, 2376)},
    "boston_housing": {"sizes": {"all": 506}, "features": 13},
    "california_housing": {"sizes": {"all": 20640, "small": 600}, "features": 8},
    "mnist_784": {"sizes": {"all": 70000}, "shape": (784,), "classes": 10},
    "fetch_california_housing": {"sizes": {"all": 20640}, "features": 8},
    "covtype": {"sizes": {"all": 581012}, "features": 54, "classes": 7},
    "20newsgroups": {"sizes": {"train": 11314, "test": 7532}, "classes": 20},
    "olivetti_faces": {"sizes": {"all": 400}, "shape": (64, 64), "classes": 40},
    "lfw_people": {"sizes": {"all": 13233}, "classes": 5749},
}
KERAS_IMAGES = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST", "cifar10": "CIFAR10", "cifar100": "CIFAR100"}


class CannotStandIn(Exception):
    """No stand-in for this call: the original error goes on, with this reason noted."""


def install(assumptions: list[str], scratch: str, allow_network: bool = False) -> None:
    """Patch the standard dataset loaders (lazily, when the user's code imports them) to fall back on stand-ins,
    and the pretrained-weights downloaders on random weights (:mod:`.weights`).

    Each stand-in appends one sentence to ``assumptions`` and an entry to :data:`SUBSTITUTED`.
    With ``allow_network`` a download that failed because its folder is not writable is first
    retried with the folder in ``scratch``.
    """
    _STATE.update(assumptions=assumptions, scratch=os.path.realpath(scratch), network=allow_network)
    hooks.when_imported("torchvision.datasets", _patch_torchvision)
    for name in ("mnist", "fashion_mnist", "cifar10", "cifar100", "imdb", "reuters", "boston_housing",
                 "california_housing"):
        for prefix in ("keras.src.datasets.", "keras.datasets.", "keras._tf_keras.keras.datasets.",
                       "tf_keras.datasets.", "tf_keras.src.datasets."):
            hooks.when_imported(prefix + name, _patch_keras)
    for module in ("_openml", "_california_housing", "_covtype", "_twenty_newsgroups", "_olivetti_faces", "_lfw"):
        hooks.when_imported("sklearn.datasets." + module, _patch_sklearn)
    hooks.when_imported("sklearn.datasets", _patch_sklearn)
    from . import weights

    weights.install()


# ---------------------------------------------------------------------------------------
# The arrays.
# ---------------------------------------------------------------------------------------

def _rng(key: str, extra: int = 0):
    import numpy as np
    return np.random.default_rng([zlib.crc32(key.encode()), int(extra) & 0xFFFFFFFF])


def _labels(rng, n: int, classes: int, start: int = 0):
    """Every class present (n >= classes), in a shuffled order."""
    import numpy as np
    labels = (np.arange(n) % classes + start).astype(np.int64)
    rng.shuffle(labels)
    return labels


def _fit(n: int, sample_bytes: int) -> int:
    return min(n, max(1, MAX_BYTES // max(sample_bytes, 1)))


def images(key: str, n: int, shape: tuple, classes: int, start: int = 0):
    """``n`` uint8 images of ``shape`` and their int64 labels: noise in [0, 127] plus a per-class brightness."""
    import numpy as np
    rng = _rng(key)
    y = _labels(rng, n, classes, start) if classes else np.full(n, -1, dtype=np.int64)
    x = rng.integers(0, 128, size=(n, *shape), dtype=np.uint8)
    if classes:
        step = 127 // max(classes - 1, 1)
        offset = ((np.arange(classes + start) - start).clip(0) * step).astype(np.uint8)
        x += offset[y].reshape((n,) + (1,) * len(shape))
    return x, y


def _table(key: str, n: int, features: int, dtype="float64"):
    """Gaussian features and a noisy linear target, so a regression can learn."""
    rng = _rng(key)
    x = rng.standard_normal((n, features))
    weights = rng.standard_normal(features)
    y = x @ weights + 0.1 * rng.standard_normal(n)
    return x.astype(dtype), y


def _sequences(key: str, n: int, facts: dict, labels, seed: int = 0):
    """Word-index sequences, ranks 1..vocabulary drawn about as often as 1/rank, a few words per label."""
    import numpy as np
    rng = _rng(key, seed)
    low, high = facts["lengths"]
    sigma = np.sqrt(2 * np.log(facts["mean_length"] / facts["median_length"]))
    lengths = np.exp(np.log(facts["median_length"]) + sigma * rng.standard_normal(n)).astype(np.int64)
    lengths = lengths.clip(low, high)
    total = int(lengths.sum())
    words = np.exp(rng.random(total) * np.log(facts["vocabulary"] + 1)).astype(np.int64).clip(1, facts["vocabulary"])
    marked = rng.random(total) < 0.05
    owner = np.repeat(labels, lengths)
    words[marked] = 200 + 20 * (owner[marked] % 40) + rng.integers(0, 20, int(marked.sum()))
    return np.split(words, np.cumsum(lengths)[:-1])


def _word_index(vocabulary: int) -> dict:
    return {f"w{rank}": rank for rank in range(1, vocabulary + 1)}


# ---------------------------------------------------------------------------------------
# Saying so.
# ---------------------------------------------------------------------------------------

def _reason(exc: BaseException) -> str:
    """The first sentence of the error (``Dataset not found or corrupted``)."""
    text = (str(exc).strip() or type(exc).__name__).splitlines()[0]
    match = re.match(r"(.+?)\.(\s|$)", text)
    text = match.group(1) if match else text
    return text if len(text) <= 160 else text[:157] + "..."


def _record(call: str, exc: BaseException, what: str, entries: list[dict]) -> None:
    """One sentence per call, one SUBSTITUTED entry per split (each once)."""
    why = _reason(exc)
    offline = "" if _STATE["network"] else " offline"
    sentence = f"{call} could not be loaded{offline} ({why}): synthetic stand-in of {what}"
    with _LOCK:
        if sentence in _STATE["said"]:
            return
        _STATE["said"].add(sentence)
        _STATE["assumptions"].append(sentence)
        for entry in entries:
            SUBSTITUTED.append({"library": call.split(".", 1)[0], "why": why, **entry})


def _sized(n: int, real: int) -> str:
    return f"{n}" if n == real else f"{n} (of the real {real}, to keep memory modest)"


def _image_words(n: int, real: int, shape: tuple) -> str:
    if len(shape) == 2:
        return f"{_sized(n, real)} {shape[0]}x{shape[1]} uint8 images in [0, 255]"
    side = shape[1:] if shape[0] == 3 else shape[:2]
    return f"{_sized(n, real)} {side[0]}x{side[1]} RGB uint8 images in [0, 255]"


def _args(args, kwargs) -> str:
    return ", ".join([repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()])


# ---------------------------------------------------------------------------------------
# The wrapper: the real loader first, then (on failure) a retry in scratch, then the stand-in.
# ---------------------------------------------------------------------------------------

def _unwritable(exc: BaseException) -> bool:
    if "only the scratch folder is writable" in str(exc):
        return True
    return isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EROFS, errno.EPERM) and \
        "network" not in str(exc)


def _argument_error(exc: BaseException) -> bool:
    """The call itself was wrong (a stand-in would hide the user's mistake)."""
    return isinstance(exc, TypeError) or type(exc).__name__ == "InvalidParameterError"


def _fallback(call, exc, build, retry=None):
    """Retry (with the network, in scratch) or build the stand-in; re-raise ``exc`` (noted) when neither works."""
    if retry is not None and _STATE["network"] and _unwritable(exc):
        try:
            return retry()
        except Exception:  # noqa: BLE001 - the first error is the one worth telling
            pass
    try:
        return build()
    except CannotStandIn as why:
        note = f"actlint: no synthetic stand-in for {call}: {why}"
    except Exception as err:  # noqa: BLE001 - a broken stand-in must not hide the real error
        note = f"actlint: the synthetic stand-in for {call} failed: {type(err).__name__}: {err}"
    if hasattr(exc, "add_note"):
        exc.add_note(note)
    raise exc


_WRAPPED: dict = {}


def _wrap(original, builder, public: str, retry_with=None):
    """A loader function that falls back on ``builder(bound_arguments, exc, call)``."""
    if getattr(original, "__actlint_standin__", False):
        return original
    if id(original) in _WRAPPED:
        return _WRAPPED[id(original)]
    signature = inspect.signature(original)

    @functools.wraps(original)
    def loader(*args, **kwargs):
        try:
            return original(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - any failure to load: see _fallback
            if _argument_error(exc):
                raise
            error = exc
        call = f"{public}({_args(args, kwargs)})"
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        arguments = {**bound.arguments.pop("kwargs", {}), **bound.arguments}
        retry = (lambda: retry_with(original, args, kwargs)) if retry_with else None
        return _fallback(call, error, lambda: builder(arguments, error, call), retry)

    loader.__actlint_standin__ = True
    _WRAPPED[id(original)] = loader
    return loader


# ---------------------------------------------------------------------------------------
# torchvision.datasets
# ---------------------------------------------------------------------------------------

_TORCHVISION = ("MNIST", "EMNIST", "CIFAR10", "SVHN", "STL10", "DatasetFolder", "ImageFolder")


def _patch_torchvision(module) -> None:
    for name in _TORCHVISION:
        cls = getattr(module, name, None)
        init = cls.__dict__.get("__init__") if isinstance(cls, type) else None
        if init is not None and not getattr(init, "__actlint_standin__", False):
            cls.__init__ = _wrap_init(init)


def _torchvision_name(ds) -> str:
    """The nearest torchvision class of the instance (a user's subclass of MNIST is MNIST)."""
    for cls in type(ds).__mro__:
        if cls.__module__.startswith("torchvision."):
            return cls.__name__
    return type(ds).__name__


def _wrap_init(init):
    """``__init__`` that fills the instance with a stand-in when the real one raises."""
    signature = inspect.signature(init)

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        if self.__dict__.get("_actlint_loading"):  # a super().__init__ inside a patched one: the outer decides
            return init(self, *args, **kwargs)
        self.__dict__["_actlint_loading"] = True
        try:
            try:
                return init(self, *args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - any failure to load: see _fallback
                if _argument_error(exc):
                    raise
                error = exc
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            a = {**bound.arguments.pop("kwargs", {}), **bound.arguments}
            name = _torchvision_name(self)
            call = f"torchvision.datasets.{name}({_torchvision_args(name, a)})"

            a.pop("self", None)

            def retry():
                new_args, new_kwargs = _rooted(args, kwargs, os.path.join(_STATE["scratch"], "torchvision"))
                return init(self, *new_args, **new_kwargs)

            def build():
                if name not in _FILLERS:
                    raise CannotStandIn(f"actlint knows no sizes for torchvision.datasets.{name}")
                return _FILLERS[name](self, name, a, error, call, init)

            return _fallback(call, error, build, retry)
        finally:
            self.__dict__.pop("_actlint_loading", None)

    __init__.__actlint_standin__ = True
    return __init__


def _rooted(args, kwargs, root):
    """The call's arguments with ``root`` replaced."""
    if args:
        return (root, *args[1:]), kwargs
    return args, {**kwargs, "root": root}


def _torchvision_args(name: str, a: dict) -> str:
    if name in ("ImageFolder", "DatasetFolder"):
        return repr(os.fspath(a.get("root", "")))
    if "split" in a and name == "EMNIST":
        return f"split={a['split']!r}, train={a.get('train', True)!r}"
    if name == "STL10" and a.get("folds") is not None:
        return f"split={a['split']!r}, folds={a['folds']!r}"
    if "split" in a:
        return f"split={a['split']!r}"
    return f"train={a.get('train', True)!r}"


def _vision_init(ds, a: dict) -> None:
    """What VisionDataset.__init__ sets: root, transform, target_transform, transforms."""
    from torchvision.datasets.vision import VisionDataset
    VisionDataset.__init__(ds, a.get("root"), transform=a.get("transform"), target_transform=a.get("target_transform"))


def _fill_mnist(ds, name, a, exc, call, init=None):
    import torch
    train = bool(a.get("train", True))
    split = "train" if train else "test"
    start = 0
    if name == "EMNIST":
        table = FACTS["EMNIST"]["splits"]
        if a.get("split") not in table:
            raise CannotStandIn(f"unknown EMNIST split {a.get('split')!r}")
        n_train, n_test, classes = table[a["split"]]
        real = n_train if train else n_test
        start = 1 if a["split"] == "letters" else 0  # torchvision's letters are 1..26 ("N/A" is 0)
        key = f"EMNIST-{a['split']}:{split}"
    else:
        facts = FACTS[name]
        real, classes, key = facts["sizes"][split], facts["classes"], f"{name}:{split}"
    n = _fit(real, 28 * 28)
    x, y = images(key, n, (28, 28), classes, start)
    _vision_init(ds, a)
    ds.train = train
    if name == "EMNIST":
        ds.split = a["split"]
        ds.classes = type(ds).classes_split_dict[a["split"]]
    ds.data, ds.targets = torch.from_numpy(x), torch.from_numpy(y)
    _record(call, exc, f"{_image_words(n, real, (28, 28))}, {classes} classes",
            [{"dataset": name, "split": split, "shape": list(x.shape), "classes": classes}])


def _fill_cifar(ds, name, a, exc, call, init=None):
    train = bool(a.get("train", True))
    split = "train" if train else "test"
    facts = FACTS[name]
    real, classes = facts["sizes"][split], facts["classes"]
    n = _fit(real, 32 * 32 * 3)
    x, y = images(f"{name}:{split}", n, (32, 32, 3), classes)
    _vision_init(ds, a)
    ds.train = train
    ds.data, ds.targets = x, y.tolist()
    ds.classes = list(CIFAR10_CLASSES if name == "CIFAR10" else CIFAR100_CLASSES)
    ds.class_to_idx = {c: i for i, c in enumerate(ds.classes)}
    _record(call, exc, f"{_image_words(n, real, (32, 32, 3))}, {classes} classes",
            [{"dataset": name, "split": split, "shape": list(x.shape), "classes": classes}])


def _fill_svhn(ds, name, a, exc, call, init=None):
    split = a.get("split", "train")
    facts = FACTS["SVHN"]
    if split not in facts["sizes"]:
        raise CannotStandIn(f"unknown SVHN split {split!r}")
    real = facts["sizes"][split]
    n = _fit(real, 3 * 32 * 32)
    x, y = images(f"SVHN:{split}", n, (3, 32, 32), 10)
    _vision_init(ds, a)
    ds.split, ds.data, ds.labels = split, x, y
    _record(call, exc, f"{_image_words(n, real, (3, 32, 32))}, 10 classes",
            [{"dataset": "SVHN", "split": split, "shape": list(x.shape), "classes": 10}])


def _fill_stl10(ds, name, a, exc, call, init=None):
    import numpy as np
    split, folds = a.get("split", "train"), a.get("folds")
    if split not in ("train", "train+unlabeled", "unlabeled", "test"):
        raise CannotStandIn(f"unknown STL10 split {split!r}")
    if folds is not None and folds not in range(10):
        raise CannotStandIn(f"folds={folds!r} is not one of 0..9")
    sizes, shape = FACTS["STL10"]["sizes"], (3, 96, 96)
    parts = []
    if split in ("train", "train+unlabeled"):
        real = 1000 if folds is not None else sizes["train"]
        x, y = images(f"STL10:train:{folds}", real, shape, 10)
        parts.append((x, y.astype(np.uint8), real))
    if split in ("train+unlabeled", "unlabeled"):
        real = sizes["unlabeled"]
        x, y = images("STL10:unlabeled", _fit(real, 3 * 96 * 96), shape, 0)
        parts.append((x, y, real))
    if split == "test":
        x, y = images("STL10:test", sizes["test"], shape, 10)
        parts.append((x, y.astype(np.uint8), sizes["test"]))
    _vision_init(ds, a)
    ds.split, ds.folds = split, folds
    if len(parts) == 1:
        ds.data, ds.labels = parts[0][0], parts[0][1]
    else:
        ds.data = np.concatenate([p[0] for p in parts])
        ds.labels = np.concatenate([p[1].astype(np.int64) for p in parts])
    ds.classes = list(STL10_CLASSES)
    n, real = len(ds.data), sum(p[2] for p in parts)
    classes = "unlabeled (labels -1)" if split == "unlabeled" else "10 classes"
    _record(call, exc, f"{_image_words(n, real, shape)}, {classes}",
            [{"dataset": "STL10", "split": split, "shape": list(ds.data.shape), "classes": 10}])


def _fill_folder(ds, name, a, exc, call, init=None):
    """A folder that does not exist: a small folder of PNG images is written in scratch and read by the real class."""
    root = a.get("root")
    if root is None or os.path.isdir(os.path.expanduser(os.fspath(root))):
        raise CannotStandIn(f"the folder {root!r} exists: its contents are the user's to fix")
    extensions = a.get("extensions")
    if name == "DatasetFolder" and a.get("loader") is None:
        raise CannotStandIn("DatasetFolder without a loader")
    suffix = ".png"
    if extensions:
        known = [e for e in ((extensions,) if isinstance(extensions, str) else extensions)
                 if e.lower() in (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff", ".webp")]
        if not known:
            raise CannotStandIn(f"no image format among the extensions {extensions!r}")
        suffix = known[0]
    facts = FACTS["ImageFolder"]
    n, classes, shape = facts["sizes"]["train"], facts["classes"], facts["shape"]
    tag = f"{zlib.crc32(os.fspath(root).encode()):08x}"
    folder = os.path.join(_STATE["scratch"], "actlint-datasets", f"{name}-{tag}")
    _write_images(folder, f"ImageFolder:{tag}", n, shape, classes, suffix)
    init(ds, **{**a, "root": folder})  # the real class reads the folder (a patched inner __init__ passes through)
    _record(call, exc, f"{n} 224x224 RGB images (PNG files written in {folder}), {classes} classes "
                       "('class_0', 'class_1')",
            [{"dataset": name, "split": os.fspath(root), "shape": [n, 3, 224, 224], "classes": classes}])


def _write_images(folder: str, key: str, n: int, shape: tuple, classes: int, suffix: str) -> None:
    from PIL import Image
    done = os.path.join(folder, ".complete")
    if os.path.exists(done):
        return
    x, y = images(key, n, shape, classes)
    for i, (img, label) in enumerate(zip(x, y)):
        target = os.path.join(folder, f"class_{label}")
        os.makedirs(target, exist_ok=True)
        Image.fromarray(img, mode="RGB").save(os.path.join(target, f"{i:04d}{suffix}"))
    with open(done, "w") as f:
        f.write("written by actlint's dataset stand-ins\n")


_FILLERS = {"MNIST": _fill_mnist, "FashionMNIST": _fill_mnist, "KMNIST": _fill_mnist, "EMNIST": _fill_mnist,
            "CIFAR10": _fill_cifar, "CIFAR100": _fill_cifar, "SVHN": _fill_svhn, "STL10": _fill_stl10,
            "ImageFolder": _fill_folder, "DatasetFolder": _fill_folder}


# ---------------------------------------------------------------------------------------
# keras.datasets.*.load_data (and get_word_index)
# ---------------------------------------------------------------------------------------

def _patch_keras(module) -> None:
    name = module.__name__.rsplit(".", 1)[-1]
    public = module.__name__.replace(".src.", ".").replace("keras._tf_keras.keras.", "keras.")
    builders = {"load_data": _KERAS[name]}
    if name in ("imdb", "reuters"):
        builders["get_word_index"] = _keras_word_index
    for attr, builder in builders.items():
        original = getattr(module, attr, None)
        if callable(original):
            setattr(module, attr, _wrap(original, functools.partial(builder, name, original),
                                        f"{public}.{attr}", _keras_retry))


def _keras_retry(original, args, kwargs):
    """Call the loader again with its downloads cached in scratch (the keras home was not writable)."""
    globals_ = inspect.unwrap(original).__globals__
    get_file = globals_.get("get_file")
    if get_file is None:
        raise CannotStandIn("no get_file to redirect")
    cache = os.path.join(_STATE["scratch"], "keras")
    with _LOCK:
        globals_["get_file"] = functools.partial(get_file, cache_dir=cache)
        try:
            return original(*args, **kwargs)
        finally:
            globals_["get_file"] = get_file


def _keras_images(name, original, a, exc, call):
    import numpy as np
    dataset = KERAS_IMAGES[name]
    facts = FACTS[dataset]
    classes = facts["classes"]
    if name == "cifar100":
        if a.get("label_mode", "fine") not in ("fine", "coarse"):
            raise CannotStandIn(f"label_mode={a.get('label_mode')!r}")
        classes = 100 if a.get("label_mode", "fine") == "fine" else 20
    shape = facts["shape"]
    out, entries, words = [], [], []
    for split in ("train", "test"):
        n = facts["sizes"][split]
        x, y = images(f"{dataset}:{split}" + (":coarse" if classes == 20 else ""), n, shape, classes)
        if len(shape) == 3:  # cifar: labels (N, 1); channels first when Keras says so
            y = y.reshape(n, 1).astype(np.uint8 if name == "cifar10" else np.int64)
            if _image_data_format(original) == "channels_first":
                x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
        else:
            y = y.astype(np.uint8)
        out.append((x, y))
        words.append(f"{n} {split}")
        entries.append({"dataset": name, "split": split, "shape": list(x.shape), "classes": classes})
    kind = "28x28 uint8 images" if len(shape) == 2 else "32x32 RGB uint8 images"
    _record(call, exc, f"{' + '.join(words)} {kind} in [0, 255], {classes} classes", entries)
    return tuple(out)


def _image_data_format(original) -> str:
    backend = inspect.unwrap(original).__globals__.get("backend")
    try:
        return backend.image_data_format()
    except Exception:  # noqa: BLE001 - no backend to ask: Keras's default
        return "channels_last"


def _keras_text(name, original, a, exc, call):
    """imdb and reuters: Keras's own steps (start_char, index_from, maxlen, num_words, skip_top, oov_char)."""
    import numpy as np
    facts = FACTS[name]
    seed = a.get("seed", 113)
    if name == "imdb":
        parts = []
        for split in ("train", "test"):
            labels = _labels(_rng(f"imdb:{split}:labels", seed), facts["sizes"][split], 2)
            parts.append((_sequences(f"imdb:{split}", len(labels), facts, labels, seed), labels))
    else:
        n = facts["sizes"]["all"]
        rng = _rng("reuters:labels", seed)
        weights = 1.0 / np.arange(1, facts["classes"] + 1)
        labels = np.concatenate([np.arange(facts["classes"]),
                                 rng.choice(facts["classes"], n - facts["classes"], p=weights / weights.sum())])
        rng.shuffle(labels)
        parts = [(_sequences("reuters", n, facts, labels, seed), labels.astype(np.int64))]
    start_char, index_from, maxlen = a.get("start_char", 1), a.get("index_from", 3), a.get("maxlen")
    kept = []
    for xs, labels in parts:
        xs = [([start_char] if start_char is not None else []) + (x + index_from).tolist() for x in xs]
        if maxlen:
            keep = [i for i, x in enumerate(xs) if len(x) < maxlen]
            xs, labels = [xs[i] for i in keep], labels[keep]
            if not xs:
                raise CannotStandIn(f"no sequence is shorter than maxlen={maxlen}")
        kept.append((xs, labels))
    xs = [x for part in kept for x in part[0]]
    num_words, skip_top, oov_char = a.get("num_words"), a.get("skip_top", 0), a.get("oov_char", 2)
    if not num_words:
        num_words = max(max(x) for x in xs)
    if oov_char is not None:
        xs = [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    else:
        xs = [[w for w in x if skip_top <= w < num_words] for x in xs]
    labels = np.concatenate([part[1] for part in kept])
    if name == "imdb":
        idx = len(kept[0][0])
    else:
        idx = int(len(xs) * (1 - a.get("test_split", 0.2)))
    x_train, x_test = _objects(xs[:idx]), _objects(xs[idx:])
    y_train, y_test = labels[:idx], labels[idx:]
    classes = facts["classes"]
    what = "reviews" if name == "imdb" else "newswires"
    _record(call, exc, f"{len(x_train)} train + {len(x_test)} test {what} as lists of word indices "
                       f"(made-up words, vocabulary {facts['vocabulary']}), {classes} classes",
            [{"dataset": name, "split": "train", "shape": [len(x_train)], "classes": classes},
             {"dataset": name, "split": "test", "shape": [len(x_test)], "classes": classes}])
    return (x_train, y_train), (x_test, y_test)


def _objects(lists):
    import numpy as np
    out = np.empty(len(lists), dtype=object)
    for i, x in enumerate(lists):
        out[i] = x
    return out


def _keras_word_index(name, original, a, exc, call):
    vocabulary = FACTS[name]["vocabulary"]
    _record(call, exc, f"{vocabulary} made-up words 'w1'..'w{vocabulary}' ranked 1..{vocabulary}",
            [{"dataset": f"{name} word index", "split": "all", "shape": [vocabulary], "classes": 0}])
    return _word_index(vocabulary)


def _keras_housing(name, original, a, exc, call):
    import numpy as np
    test_split = a.get("test_split", 0.2)
    if not 0 <= test_split < 1:
        raise CannotStandIn(f"test_split={test_split!r}")
    facts = FACTS[name]
    n = facts["sizes"]["all"]
    if name == "california_housing":
        if a.get("version", "large") not in ("large", "small"):
            raise CannotStandIn(f"version={a.get('version')!r}")
        n = facts["sizes"]["small" if a.get("version") == "small" else "all"]
    x, y = _table(f"keras-{name}", n, facts["features"], "float32" if name == "california_housing" else "float64")
    if name == "california_housing":
        y = (200000 + 100000 * y / max(np.abs(y).max(), 1e-9)).astype("float32")  # dollars, as Keras has them
    else:
        y = 22.5 + 9 * y / max(np.abs(y).max(), 1e-9)  # thousands of dollars
    cut = int(n * (1 - test_split))
    _record(call, exc, f"{cut} train + {n - cut} test rows of {facts['features']} standard-normal {x.dtype} "
                       "features and a noisy linear target",
            [{"dataset": name, "split": "train", "shape": [cut, facts["features"]], "classes": 0},
             {"dataset": name, "split": "test", "shape": [n - cut, facts["features"]], "classes": 0}])
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])


_KERAS = {"mnist": _keras_images, "fashion_mnist": _keras_images, "cifar10": _keras_images,
          "cifar100": _keras_images, "imdb": _keras_text, "reuters": _keras_text,
          "boston_housing": _keras_housing, "california_housing": _keras_housing}


# ---------------------------------------------------------------------------------------
# sklearn.datasets.fetch_*
# ---------------------------------------------------------------------------------------

def _patch_sklearn(module) -> None:
    for attr, builder in _SKLEARN.items():
        original = getattr(module, attr, None)
        if callable(original):
            setattr(module, attr, _wrap(original, functools.partial(builder, original),
                                        f"sklearn.datasets.{attr}", _sklearn_retry))


def _sklearn_retry(original, args, kwargs):
    return original(*args, **{**kwargs, "data_home": os.path.join(_STATE["scratch"], "scikit_learn_data")})


def _bunch(**fields):
    from sklearn.utils import Bunch
    return Bunch(**fields)


def _frame(x, y, feature_names, target_name):
    import pandas as pd
    data = pd.DataFrame(x, columns=feature_names, copy=False)
    target = pd.Series(y, name=target_name)
    return pd.concat([data, target], axis=1), data, target


def _openml(original, a, exc, call):
    import numpy as np
    name, data_id = a.get("name"), a.get("data_id")
    if not ((isinstance(name, str) and name.lower() == "mnist_784") or data_id == 554):
        raise CannotStandIn("actlint has a stand-in only for mnist_784 (data_id 554): the shapes of "
                            f"{name or data_id!r} are not known offline")
    if a.get("version", "active") not in ("active", 1, "1") or a.get("target_column") != "default-target":
        raise CannotStandIn("only version 1 of mnist_784 with its default target is known")
    as_frame = a.get("as_frame", "auto")
    as_frame = True if as_frame == "auto" else bool(as_frame)
    parser = a.get("parser", "auto")
    dtype = np.float64 if parser == "liac-arff" else np.int64  # the pandas parser reads the pixels as integers
    n = FACTS["mnist_784"]["sizes"]["all"]
    x, y = images("mnist_784:all", n, (784,), 10)
    x = x.astype(dtype)
    names = np.array([str(k) for k in range(10)], dtype=object)
    y = names[y]
    features = [f"pixel{i}" for i in range(1, 785)]
    frame, categories = None, {"class": list(names)}
    if as_frame:
        import pandas as pd
        frame, x, y = _frame(x, pd.Categorical(y, categories=list(names)), features, "class")
        categories = None
    _record(call, exc, f"{n} rows of 784 {np.dtype(dtype).name} pixels in [0, 255], string targets '0'..'9'"
                       f"{' (pandas frame)' if as_frame else ''}",
            [{"dataset": "mnist_784", "split": "all", "shape": [n, 784], "classes": 10}])
    if a.get("return_X_y"):
        return x, y
    return _bunch(data=x, target=y, frame=frame, categories=categories, feature_names=features,
                  target_names=["class"], DESCR="Synthetic stand-in for mnist_784 (actlint): random pixels.",
                  details={"id": "554", "name": "mnist_784", "version": "1"}, url="https://www.openml.org/d/554")


def _california(original, a, exc, call):
    import numpy as np
    n = FACTS["fetch_california_housing"]["sizes"]["all"]
    x, y = _table("sklearn-california", n, 8)
    y = (2.0 + 1.5 * y / max(np.abs(y).max(), 1e-9)).clip(0.15, 5.0)  # hundreds of thousands of dollars
    return _tabular_bunch(a, exc, call, "california_housing", x, y, CALIFORNIA_FEATURES, "MedHouseVal",
                          "8 standard-normal float64 features and a noisy linear target in [0.15, 5]", 0)


def _covtype(original, a, exc, call):
    import numpy as np
    facts = FACTS["covtype"]
    n = facts["sizes"]["all"]
    rng = _rng("covtype:all")
    y = _labels(rng, n, 7, start=1).astype(np.int32)
    x = np.zeros((n, 54))
    x[:, :10] = rng.standard_normal((n, 10)) * 100 + 1000 + 150 * y[:, None]
    x[np.arange(n), 10 + rng.integers(0, 4, n)] = 1  # one wilderness area
    x[np.arange(n), 14 + (y * 5 + rng.integers(0, 5, n)) % 40] = 1  # one soil type
    names = inspect.unwrap(original).__globals__.get("FEATURE_NAMES") or [f"feature_{i}" for i in range(54)]
    return _tabular_bunch(a, exc, call, "covtype", x, y, list(names), "Cover_Type",
                          "54 float64 features (10 continuous, 44 one-hot), targets 1..7", 7)


def _tabular_bunch(a, exc, call, dataset, x, y, features, target_name, what, classes):
    frame = None
    if a.get("as_frame"):
        frame, x, y = _frame(x, y, features, target_name)
    _record(call, exc, f"{len(x)} rows of {what}",
            [{"dataset": dataset, "split": "all", "shape": list(x.shape), "classes": classes}])
    if a.get("return_X_y"):
        return x, y
    return _bunch(data=x, target=y, frame=frame, feature_names=features, target_names=[target_name],
                  DESCR=f"Synthetic stand-in for {dataset} (actlint).")


def _newsgroups(original, a, exc, call):
    import numpy as np
    subset = a.get("subset", "train")
    sizes = FACTS["20newsgroups"]["sizes"]
    if subset not in ("train", "test", "all"):
        raise CannotStandIn(f"subset={subset!r}")
    parts = ["train", "test"] if subset == "all" else [subset]
    texts, targets = [], []
    for part in parts:
        rng = _rng(f"20newsgroups:{part}")
        labels = _labels(rng, sizes[part], 20)
        lengths = rng.integers(20, 120, len(labels))
        words = rng.integers(0, 5000, int(lengths.sum()))
        topical = rng.random(len(words)) < 0.1
        start = 0
        for label, length in zip(labels, lengths):
            chunk = words[start:start + length]
            marks = topical[start:start + length]
            start += length
            texts.append(" ".join(f"{NEWSGROUPS[label].split('.')[-1]}{w % 25}" if m else f"w{w}"
                                  for w, m in zip(chunk.tolist(), marks.tolist())))
        targets.append(labels)
    target = np.concatenate(targets)
    names = list(NEWSGROUPS)
    categories = a.get("categories")
    if categories is not None:
        unknown = [c for c in categories if c not in names]
        if unknown:
            raise CannotStandIn(f"unknown categories {unknown!r}")
        names = sorted(categories)
        keep = np.isin(target, [NEWSGROUPS.index(c) for c in names])
        texts = [t for t, k in zip(texts, keep) if k]
        target = np.searchsorted(names, np.array(NEWSGROUPS, dtype=object)[target[keep]]).astype(np.int64)
    _record(call, exc, f"{len(texts)} short made-up posts (subset={subset!r}), {len(names)} categories",
            [{"dataset": "20newsgroups", "split": subset, "shape": [len(texts)], "classes": len(names)}])
    if a.get("return_X_y"):
        return texts, target
    filenames = np.array([f"synthetic/{names[t]}/{i}" for i, t in enumerate(target)], dtype=object)
    return _bunch(data=texts, target=target, target_names=names, filenames=filenames,
                  DESCR="Synthetic stand-in for the 20 newsgroups (actlint).")


def _olivetti(original, a, exc, call):
    import numpy as np
    x, y = images("olivetti_faces:all", 400, (64, 64), 0)
    images_ = (x / 255.0).astype(np.float32)
    target = np.repeat(np.arange(40), 10)
    images_ += (target[:, None, None] / 80.0).astype(np.float32)  # a little per-person brightness
    np.clip(images_, 0, 1, out=images_)
    if a.get("shuffle"):
        seed = a.get("random_state") if isinstance(a.get("random_state"), int) else 0
        order = _rng("olivetti_faces:order", seed).permutation(400)
        images_, target = images_[order], target[order]
    data = images_.reshape(400, -1)
    _record(call, exc, "400 64x64 float32 faces in [0, 1], 40 people (10 each)",
            [{"dataset": "olivetti_faces", "split": "all", "shape": [400, 4096], "classes": 40}])
    if a.get("return_X_y"):
        return data, target
    return _bunch(data=data, images=images_, target=target, DESCR="Synthetic stand-in for Olivetti faces (actlint).")


def _lfw_counts():
    """Images per person as in the real set: 7 people with 70 or more (1288 images), 62 with 20 or more (3023),
    5749 people and 13233 images in all."""
    import numpy as np
    top = np.array([530, 236, 144, 121, 109, 77, 71])
    return np.concatenate([top, _spread(1735, 55, 20, 69), _spread(10210, 5687, 1, 19)])


def _spread(total: int, k: int, low: int, high: int):
    """``k`` counts in [low, high] adding up to ``total``, falling off like 1/rank."""
    import numpy as np
    weights = 1.0 / np.arange(1, k + 1)
    counts = (low + np.minimum(high - low, np.floor(weights / weights.sum() * (total - low * k)))).astype(int)
    i = 0
    while counts.sum() < total:  # what the flooring left: one more each, from the front, below high
        if counts[i % k] < high:
            counts[i % k] += 1
        i += 1
    return counts


def _lfw(original, a, exc, call):
    import numpy as np
    slice_, resize, color = a.get("slice_"), a.get("resize", 0.5), a.get("color", False)
    default = (slice(70, 195), slice(78, 172))
    h_slice, w_slice = slice_ if slice_ is not None else (slice(0, 250), slice(0, 250))
    h = (h_slice.stop - h_slice.start) // (h_slice.step or 1)
    w = (w_slice.stop - w_slice.start) // (w_slice.step or 1)
    if resize is not None:
        h, w = int(resize * h), int(resize * w)
    counts = _lfw_counts()
    keep = counts >= a.get("min_faces_per_person", 0)
    counts = counts[keep]
    names = np.array([f"Person {i:04d}" for i in np.flatnonzero(keep)])
    target = np.repeat(np.arange(len(counts)), counts)
    n = len(target)
    shape = (h, w, 3) if color else (h, w)
    x, _ = images(f"lfw_people:{h}x{w}:{color}:{a.get('min_faces_per_person', 0)}", n, shape, 0)
    faces = (x / 255.0).astype(np.float32)
    faces += (target.reshape((n,) + (1,) * len(shape)) % 10 / 20.0).astype(np.float32)
    np.clip(faces, 0, 1, out=faces)
    data = faces.reshape(n, -1)
    _record(call, exc, f"{n} {h}x{w}{'x3' if color else ''} float32 faces in [0, 1], {len(counts)} people"
                       f"{'' if slice_ == default or slice_ is None else ' (the given slice_)'}",
            [{"dataset": "lfw_people", "split": "all", "shape": list(faces.shape), "classes": len(counts)}])
    if a.get("return_X_y"):
        return data, target
    return _bunch(data=data, images=faces, target=target, target_names=names,
                  DESCR="Synthetic stand-in for LFW people (actlint).")


_SKLEARN = {"fetch_openml": _openml, "fetch_california_housing": _california, "fetch_covtype": _covtype,
            "fetch_20newsgroups": _newsgroups, "fetch_olivetti_faces": _olivetti, "fetch_lfw_people": _lfw}

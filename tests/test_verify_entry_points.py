"""Which files --verify runs under the tracer, and how each is started (actlint/verify/entry_points.py)."""

from __future__ import annotations

from pathlib import Path

from actlint.verify.entry_points import files_to_run, launch_for

FRAMEWORKS = ("torch", "keras")


def _project(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


LOOP = "import torch\ndef train(model, opt):\n    loss = model(torch.ones(1)).sum()\n    loss.backward()\n    opt.step()\n"
MAIN = "\nif __name__ == '__main__':\n    main()\n"


def _chosen(root: Path) -> list[str]:
    files = sorted(root.rglob("*.py"))
    texts = {f: f.read_text() for f in files}
    return [f.relative_to(root).as_posix() for f in files_to_run(files, texts, root, FRAMEWORKS)]


def test_entry_points_that_reach_a_training_loop_are_run(tmp_path):
    root = _project(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/common.py": LOOP,
        "pkg/cnn.py": "import torch\nfrom pkg.common import train\ndef main():\n    pass\n" + MAIN,
        "pkg/rel.py": "from .common import train\ndef main():\n    pass\n" + MAIN,
        "pkg/no_main.py": "from pkg.common import train\n",                # imports the loop, never runs it
        "lib/helpers.py": "def double(x):\n    return 2 * x\n",
        "app.py": "import torch\nfrom lib.helpers import double\ndef main():\n    pass\n" + MAIN,  # trains nothing
        "scripts/fit.py": "import keras\nmodel = keras.Sequential()\nmodel.fit([1], [1])\n",
    })
    assert _chosen(root) == ["pkg/cnn.py", "pkg/common.py", "pkg/rel.py", "scripts/fit.py"]


def test_a_file_of_a_package_starts_as_a_module_from_the_package_root(tmp_path):
    root = _project(tmp_path, {
        "pkg/__init__.py": "", "pkg/common.py": LOOP,
        "pkg/cnn.py": "from pkg.common import train\n" + MAIN,
        "pkg/sub/__init__.py": "", "pkg/sub/deep.py": "from ..common import train\n" + MAIN,
        "scripts/fit.py": "import keras\nkeras.Sequential().fit([1], [1])\n",
        "experiments/run.py": "import sys\nsys.path.append('..')\nfrom lib.helpers import x\n" + MAIN,
        "lib/helpers.py": "x = 1\n",
    })
    cnn = launch_for(root / "pkg/cnn.py", root)
    assert (cnn.argv, cnn.cwd) == (("-m", "pkg.cnn"), root)
    deep = launch_for(root / "pkg/sub/deep.py", root)
    assert (deep.argv, deep.cwd) == (("-m", "pkg.sub.deep"), root)
    fit = launch_for(root / "scripts/fit.py", root)
    assert (fit.argv, fit.cwd) == (("fit.py",), root / "scripts")
    # sys.path.append(".."): the script's own folder is where it runs, not a package root
    assert launch_for(root / "experiments/run.py", root).argv == ("run.py",)


def test_an_unparsable_file_runs_as_a_script(tmp_path):
    root = _project(tmp_path, {"bad.py": "def (:\n"})
    assert launch_for(root / "bad.py", root).argv == ("bad.py",)

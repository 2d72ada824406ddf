"""Project-level analysis: local imports resolve to their files, findings cross files, the cache follows them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import ROOT, SHARED_CASES_NEXT

from actlint.checks import all_rules
from actlint.config import Config
from actlint.engine import lint_paths, lint_text
from actlint.project import Project

ALL = frozenset(all_rules())

MODEL = """\
    import torch
    from torch import nn


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(8, 4)

        def forward(self, x):
            return {out}
    """
SOFTMAX = "torch.softmax(self.fc(x), dim=1)"
LOGITS = "self.fc(x)"

TRAIN = """\
    import torch
    from torch import nn

    {imports}


    def train(loader):
        torch.manual_seed(0)
        model = {model}
        criterion = nn.CrossEntropyLoss()
        for x, y in loader:
            criterion(model(x), y).backward()
    """


def write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def codes_alone(path: Path) -> list[tuple[str, int]]:
    result = lint_text(path.read_text(), str(path), Config(root=path.parent), ALL)
    assert not result.errors, result.errors
    return [(f.code, f.line) for f in result.findings]


@pytest.mark.parametrize("layout", [
    ({"model.py": MODEL.format(out=SOFTMAX)}, "train.py", "from model import Net", "Net()"),
    ({"model.py": MODEL.format(out=SOFTMAX)}, "train.py", "import model", "model_mod.Net()"),
    ({"pkg/__init__.py": "", "pkg/model.py": MODEL.format(out=SOFTMAX)}, "train.py", "from pkg.model import Net",
     "Net()"),
    ({"pkg/__init__.py": "", "pkg/model.py": MODEL.format(out=SOFTMAX)}, "pkg/train.py", "from .model import Net",
     "Net()"),
    ({"pkg/__init__.py": "", "pkg/nets/__init__.py": "", "pkg/nets/model.py": MODEL.format(out=SOFTMAX),
      "pkg/sub/__init__.py": ""}, "pkg/sub/train.py", "from ..nets.model import Net", "Net()"),
    ({"common.py": MODEL.format(out=SOFTMAX)}, "train.py", "from common import *", "Net()"),
    ({"src/pyproject.toml": "", "src/model.py": MODEL.format(out=SOFTMAX)}, "src/scripts/train.py",
     "from model import Net", "Net()"),
], ids=["absolute", "import-module", "package-absolute", "relative", "relative-up", "star", "pyproject-root"])
def test_an_imported_softmax_model_fed_to_cross_entropy_is_found(tmp_path, layout):
    files, script, imports, model = layout
    if imports == "import model":
        imports, model = "import model as model_mod", "model_mod.Net()"
    write(tmp_path, {**files, script: TRAIN.format(imports=imports, model=model)})
    train = tmp_path / script
    assert codes_alone(train) == [("ACT102", 12)]
    message = lint_text(train.read_text(), str(train), Config(), ALL).findings[0].message
    home = next(tmp_path / n for n in files if n.endswith(("model.py", "common.py")))
    assert message.startswith(f"{home}:11: softmax output is fed to CrossEntropyLoss at line 12")


def test_logits_and_shadowed_names_are_clean(tmp_path):
    write(tmp_path, {"model.py": MODEL.format(out=LOGITS), "other.py": MODEL.format(out=SOFTMAX),
                     "train.py": TRAIN.format(imports="from model import Net", model="Net()"),
                     "shadow.py": TRAIN.format(imports="from other import Net", model="Net()").replace(
                         "def train", "Net = lambda: torch.nn.Linear(8, 4)\n\n\n    def train")})
    assert codes_alone(tmp_path / "train.py") == []
    assert codes_alone(tmp_path / "shadow.py") == []


def test_cycles_and_deep_chains_terminate(tmp_path):
    write(tmp_path, {
        "a.py": "import torch\nfrom b import B\nA = B\nclass Net(torch.nn.Module):\n    pass\n",
        "b.py": "import torch\nfrom a import A, Net\nB = A\nm = Net()\n",
        **{f"c{i}.py": f"import torch\nfrom c{i + 1} import *\n" for i in range(8)},
        "c8.py": "import torch\nfrom c0 import *\n",
    })
    for name in ("a.py", "b.py", "c0.py", "c5.py"):
        assert codes_alone(tmp_path / name) == []


def test_a_module_is_parsed_once_per_content(tmp_path):
    write(tmp_path, {"model.py": MODEL.format(out=SOFTMAX)})
    first = Project(tmp_path / "x.py").summary(tmp_path / "model.py")
    assert Project(tmp_path / "y.py").summary(tmp_path / "model.py") is first
    (tmp_path / "model.py").write_text(MODEL.format(out=LOGITS))
    assert Project(tmp_path / "x.py").summary(tmp_path / "model.py") is not first


def test_passed_files_decide_where_a_cross_file_finding_stands(tmp_path):
    write(tmp_path, {"model.py": MODEL.format(out=SOFTMAX),
                     "train.py": TRAIN.format(imports="from model import Net", model="Net()"),
                     "evaluate.py": TRAIN.format(imports="from model import Net", model="Net()")})
    config = Config(root=tmp_path)
    only_train = lint_paths([tmp_path / "train.py"], config, jobs=1).findings
    assert [(Path(f.path).name, f.line) for f in only_train] == [("train.py", 12)]
    both = lint_paths([tmp_path / "train.py", tmp_path / "evaluate.py", tmp_path / "model.py"], config, jobs=1)
    assert [(Path(f.path).name, f.line) for f in both.findings] == [("model.py", 11)]
    assert "at " in both.findings[0].message and "train.py:12" in both.findings[0].message


def _lint_json(folder: Path, cache: Path, *paths: str) -> list[tuple[str, int]]:
    out = subprocess.run([sys.executable, "-m", "actlint", "--format", "json", "--cache-dir", str(cache), *paths],
                         capture_output=True, text=True, cwd=folder, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})  # this checkout's actlint
    assert out.returncode in (0, 1), out.stderr
    return [(Path(f["path"]).name, f["line"]) for f in json.loads(out.stdout)]


def test_the_cache_of_an_importer_follows_the_modules_it_read(tmp_path):
    project = tmp_path / "p"
    write(project, {"model.py": MODEL.format(out=LOGITS),
                    "train.py": TRAIN.format(imports="from model import Net", model="Net()")})
    cache = tmp_path / "cache"
    assert _lint_json(project, cache, "train.py") == []
    assert _lint_json(project, cache, "train.py") == []  # warm
    write(project, {"model.py": MODEL.format(out=SOFTMAX)})
    assert _lint_json(project, cache, "train.py") == [("train.py", 12)]  # the importer is linted again
    write(project, {"model.py": MODEL.format(out=LOGITS)})
    assert _lint_json(project, cache, "train.py") == []


@pytest.mark.skipif(not (SHARED_CASES_NEXT / "project_split").is_dir(),
                    reason=f"{SHARED_CASES_NEXT} is absent (a fresh clone has no ../shared)")
def test_the_shared_split_project_file_by_file():
    tagger = SHARED_CASES_NEXT / "project_split" / "tagger"
    train = lint_text((tagger / "train.py").read_text(), str(tagger / "train.py"), Config(), ALL).findings
    assert [(f.code, f.line) for f in train] == [("ACT102", 16)]
    assert f"{tagger / 'network.py'}:17" in train[0].message
    assert codes_alone(tagger / "network.py") == []  # alone it feeds no loss: nothing to say


# Importers: a hook on model.py alone finds what a run over the project finds.

def _project(tmp_path: Path, **extra: str) -> None:
    write(tmp_path, {"pyproject.toml": "[tool.actlint]\n", "model.py": MODEL.format(out=SOFTMAX),
                     "train.py": TRAIN.format(imports="from model import Net", model="Net()"), **extra})


def _lint_text_report(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "actlint", *args], capture_output=True, text=True, cwd=folder,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_a_module_linted_alone_reports_what_its_importers_find_in_it(tmp_path):
    _project(tmp_path)
    alone = _lint_text_report(tmp_path, "--no-cache", "model.py")
    whole = _lint_text_report(tmp_path, "--no-cache", ".")
    line = ("model.py:11:16: ACT102 softmax output is fed to CrossEntropyLoss at train.py:12, which applies "
            "log-softmax itself; return the logits")
    assert alone.stdout.splitlines()[0] == line, alone.stdout + alone.stderr
    assert (alone.returncode, alone.stdout) == (whole.returncode, whole.stdout) == (1, line + "\nFound 1 finding in 1 file.\n")


def test_importer_findings_follow_packages_notebooks_noqa_and_excludes(tmp_path):
    notebook = {"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                           "source": ["import torch\n", "from torch import nn\n", "from pkg.model import Net\n",
                                      "model = Net()\n", "loss = nn.CrossEntropyLoss()(model(torch.randn(2, 8)), "
                                      "torch.tensor([0, 1]))\n", "loss.backward()\n"]}],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    write(tmp_path, {"pyproject.toml": "[tool.actlint]\n", "pkg/__init__.py": "from .model import Net\n",
                     "pkg/model.py": MODEL.format(out=SOFTMAX), "explore.ipynb": json.dumps(notebook)})
    config = Config(root=tmp_path, source=tmp_path / "pyproject.toml")
    found = lint_paths([tmp_path / "pkg" / "model.py"], config, jobs=1, importers=True).findings
    assert [(Path(f.path).name, f.line, f.code) for f in found] == [("model.py", 11, "ACT102")]
    assert "explore.ipynb:cell 1:5" in found[0].message
    # without the option (the verifier's own lints), the module alone is clean
    assert lint_paths([tmp_path / "pkg" / "model.py"], config, jobs=1).findings == []
    # an importer the project excludes is not part of it
    excluded = Config(root=tmp_path, source=tmp_path / "pyproject.toml", extend_exclude=("*.ipynb",))
    assert lint_paths([tmp_path / "pkg" / "model.py"], excluded, jobs=1, importers=True).findings == []
    # a noqa at the finding's home silences it, as it does when both files are linted
    (tmp_path / "pkg" / "model.py").write_text(
        textwrap.dedent(MODEL.format(out=SOFTMAX)).replace("dim=1)\n", "dim=1)  # noqa: ACT102\n"))
    assert lint_paths([tmp_path / "pkg" / "model.py"], config, jobs=1, importers=True).findings == []


def test_no_project_no_search_and_the_index_follows_edits(tmp_path):
    write(tmp_path, {"model.py": MODEL.format(out=SOFTMAX),
                     "train.py": TRAIN.format(imports="from model import Net", model="Net()")})
    # no pyproject.toml and no git repository: there is no project to search
    assert lint_paths([tmp_path / "model.py"], Config(root=tmp_path), jobs=1, importers=True).findings == []
    (tmp_path / ".git").mkdir()
    cache = tmp_path / "cache"
    first = _lint_json(tmp_path, cache, "model.py")
    assert first == [("model.py", 11)]
    assert (cache / "importers.json").is_file()
    assert _lint_json(tmp_path, cache, "model.py") == first  # from the cache and the kept index
    (tmp_path / "train.py").write_text(textwrap.dedent(TRAIN.format(imports="from other import Net", model="Net()")))
    assert _lint_json(tmp_path, cache, "model.py") == []


def test_flake8_on_a_module_alone_reports_its_importers_findings(tmp_path):
    pytest.importorskip("flake8")
    _project(tmp_path)
    out = subprocess.run([sys.executable, "-m", "flake8", "--select", "ACT", "model.py"], capture_output=True,
                         text=True, cwd=tmp_path, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout == ("model.py:11:16: ACT102 softmax output is fed to CrossEntropyLoss at train.py:12, which "
                          "applies log-softmax itself; return the logits\n"), out.stdout + out.stderr

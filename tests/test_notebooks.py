"""Notebooks: linted cell by cell as one program, positions per cell, fixes touch only changed cells."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def _cell(source: str, kind: str = "code") -> dict:
    cell = {"cell_type": kind, "metadata": {}, "source": source.splitlines(keepends=True)}
    if kind == "code":
        cell.update({"execution_count": None, "outputs": []})
    return cell


def _notebook(*cells) -> str:
    data = {"cells": list(cells), "metadata": {"kernelspec": {"name": "python3"}}, "nbformat": 4,
            "nbformat_minor": 5}
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


MODEL = """class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(20, 4)

    def forward(self, x):
        return F.softmax(self.fc(x), dim=1)
"""
TRAIN = """model = Classifier()
loss_fn = nn.CrossEntropyLoss()
loss = loss_fn(model(torch.randn(8, 20)), torch.randint(0, 4, (8,)))
loss.backward()
"""
IMPORTS = "%matplotlib inline\nimport torch\nimport torch.nn as nn\nimport torch.nn.functional as F\ntorch.manual_seed(0)\n"


def _run(*args, cwd):
    return subprocess.run([sys.executable, "-m", "actlint", *args], cwd=cwd, capture_output=True, text=True)


@pytest.fixture
def double_softmax(tmp_path):
    path = tmp_path / "nb.ipynb"
    path.write_text(_notebook(_cell("# Double softmax\n", "markdown"), _cell(IMPORTS), _cell(MODEL),
                              _cell("!nvidia-smi\n%time 1 + 1\n"), _cell(TRAIN)), encoding="utf-8")
    return path


def test_finding_names_cell_and_line(double_softmax):
    result = _run("nb.ipynb", cwd=double_softmax.parent)
    assert result.returncode == 1
    assert result.stdout.splitlines()[0].startswith(
        "nb.ipynb:cell 3:7:16: ACT102 softmax output is fed to CrossEntropyLoss at line")
    data = json.loads(_run("--format", "json", "nb.ipynb", cwd=double_softmax.parent).stdout)
    assert [(f["code"], f["cell"], f["line"], f["column"]) for f in data] == [("ACT102", 3, 7, 16)]
    github = _run("--format", "github", "nb.ipynb", cwd=double_softmax.parent).stdout
    assert github.startswith("::warning file=nb.ipynb,line=7,col=16,") and "cell 3, line 7" in github


def test_fixed_by_hand_lints_clean(tmp_path):
    path = tmp_path / "nb.ipynb"
    path.write_text(_notebook(_cell(IMPORTS), _cell(MODEL.replace("F.softmax(self.fc(x), dim=1)", "self.fc(x)")),
                              _cell(TRAIN)))
    result = _run("nb.ipynb", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout == ""


def test_fix_changes_only_the_affected_cell(double_softmax):
    before = double_softmax.read_text(encoding="utf-8")
    result = _run("--fix", "--unsafe-fixes", "nb.ipynb", cwd=double_softmax.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    after = double_softmax.read_text(encoding="utf-8")
    old_cells, new_cells = json.loads(before)["cells"], json.loads(after)["cells"]
    assert "".join(new_cells[2]["source"]).endswith("        return self.fc(x)\n")
    assert [c for i, c in enumerate(new_cells) if i != 2] == [c for i, c in enumerate(old_cells) if i != 2]
    # byte-identical outside the one changed line, and still nbformat 4
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines()) if a != b]
    assert len(changed) == 1 and len(before.splitlines()) == len(after.splitlines())
    data = json.loads(after)
    assert data["nbformat"] == 4 and all(isinstance(line, str) for c in data["cells"] for line in c["source"])
    assert _run("nb.ipynb", cwd=double_softmax.parent).returncode == 0


def test_magics_keep_positions(tmp_path):
    path = tmp_path / "nb.ipynb"
    path.write_text(_notebook(_cell("import torch.nn.functional as F\n"),
                              _cell("%%timeit\nF.softmax(x)\n"),
                              _cell("%%bash\necho F.softmax(x)\n"),
                              _cell("!ls\n%load_ext autoreload\np = F.softmax(x)\n")))
    data = json.loads(_run("--format", "json", "nb.ipynb", cwd=tmp_path).stdout)
    # a %%timeit body is Python that runs; a %%bash body is another language
    assert [(f["code"], f["cell"], f["line"]) for f in data] == [("ACT104", 2, 2), ("ACT104", 4, 3)]


def test_cell_with_syntax_error_other_cells_still_linted(tmp_path):
    path = tmp_path / "nb.ipynb"
    path.write_text(_notebook(_cell("import torch.nn.functional as F\n"), _cell("def broken(:\n    pass\n"),
                              _cell("p = F.softmax(x)\n")))
    data = json.loads(_run("--format", "json", "nb.ipynb", cwd=tmp_path).stdout)
    assert [(f["code"], f["cell"]) for f in data] == [("ACT000", 2), ("ACT104", 3)]
    assert (data[0]["line"], data[0]["column"]) == (1, 12) and data[1]["line"] == 1
    assert data[0]["message"] == "syntax error: invalid syntax"


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid notebook JSON"),
    (json.dumps({"nbformat": 3, "worksheets": [{"cells": []}]}), "nbformat 3 notebooks are not supported"),
    (json.dumps([1, 2]), "not a Jupyter notebook"),
])
def test_bad_notebooks_give_one_clear_finding(tmp_path, content, message):
    (tmp_path / "bad.ipynb").write_text(content)
    (tmp_path / "good.py").write_text("import torch.nn.functional as F\np = F.softmax(x)\n")
    result = _run("--format", "json", ".", cwd=tmp_path)
    data = json.loads(result.stdout)
    assert [(f["path"], f["code"]) for f in data] == [("bad.ipynb", "ACT000"), ("good.py", "ACT104")]
    assert message in data[0]["message"]


def test_empty_notebook_is_clean(tmp_path):
    (tmp_path / "empty.ipynb").write_text(_notebook())
    result = _run("empty.ipynb", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout == ""

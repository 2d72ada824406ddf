"""Notebook cells read as Jupyter reads them: IPython syntax is never a syntax error, with or without IPython."""

from __future__ import annotations

import json

import pytest
from conftest import SHARED

from actlint import ipython_syntax
from actlint.config import Config
from actlint.engine import lint_file

HAS_IPYTHON = ipython_syntax.ipython_available()

LOGGING = """\
import torch
import torch.nn.functional as F
start = 0.0
for epoch in range(3):
    loss = F.cross_entropy(torch.softmax(model(x), dim=1), y)
    print('Epoch: %03d | Loss: %.4f | %.1fs'
          %(epoch + 1, loss.item(), 0.5))
print('done in %.2f min' \\
      % (start / 60))
"""
HELP_AND_SHELL = """\
%matplotlib inline
%config InlineBackend.figure_format = 'retina'
!pip install -q torchvision
files = !ls data
timing = %timeit -o F.relu(torch.zeros(3))
torch.nn.Linear?
torch.*Tensor?
model??
?F.softmax
"""
SHELL_CONTINUED = "!pip install torch \\\n    torchvision\nimport torch.nn.functional as F\np = F.softmax(x)\n"
STRING_WITH_PERCENT = "s = '''\n%not a magic\n'''\nimport torch.nn.functional as F\np = F.softmax(x)\n"
TIMED = "%%time\nimport torch.nn.functional as F\np = F.softmax(x)\n"
CAPTURED = "%%capture out\nimport torch.nn.functional as F\np = F.softmax(x)\n"
BASH = "%%bash\necho 'F.softmax(x)'\n"
MAGIC_IN_BLOCK = "import torch.nn.functional as F\nfor i in range(3):\n    %time F.softmax(x, dim=1)\np = F.softmax(x)\n"
BROKEN = "import torch\ndef broken(:\n    pass\n"


def _notebook(path, *cells):
    cells = [{"cell_type": "code", "metadata": {}, "source": c, "outputs": [], "execution_count": None}
             for c in cells]
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}),
                    encoding="utf-8")
    return path


@pytest.fixture(params=["ipython", "scanner"])
def reader(request, monkeypatch):
    """Both ways of reading IPython syntax: IPython's own transformer, and the scanner used without it."""
    if request.param == "ipython" and not HAS_IPYTHON:
        pytest.skip("IPython is not installed here (pip install ipython): only the scanner is tested")
    if request.param == "scanner":
        monkeypatch.setattr(ipython_syntax, "_MANAGER", [None])
    return request.param


def _found(path):
    return [(f.code, f.cell, f.line) for f in lint_file(path, Config()).findings]


def test_percent_operator_continuing_an_expression_is_not_a_magic(tmp_path, reader):
    path = _notebook(tmp_path / "nb.ipynb", LOGGING)
    assert _found(path) == [("ACT102", 1, 5)]


def test_magics_shell_and_help_are_not_syntax_errors(tmp_path, reader):
    path = _notebook(tmp_path / "nb.ipynb", HELP_AND_SHELL, SHELL_CONTINUED, STRING_WITH_PERCENT, MAGIC_IN_BLOCK)
    assert _found(path) == [("ACT104", 2, 4), ("ACT104", 3, 5), ("ACT104", 4, 4)]


def test_python_cell_magics_are_linted_other_languages_are_not(tmp_path, reader):
    path = _notebook(tmp_path / "nb.ipynb", TIMED, CAPTURED, BASH)
    assert _found(path) == [("ACT104", 1, 3), ("ACT104", 2, 3)]


def test_a_cell_that_does_not_parse_says_why_and_where(tmp_path, reader):
    path = _notebook(tmp_path / "nb.ipynb", "import torch.nn.functional as F\n", BROKEN, "p = F.softmax(x)\n")
    findings = lint_file(path, Config()).findings
    assert [(f.code, f.cell, f.line, f.column) for f in findings] == [("ACT000", 2, 2, 12), ("ACT104", 3, 1, 5)]
    assert findings[0].message == "syntax error: invalid syntax"


def test_both_readers_give_the_same_python(monkeypatch):
    if not HAS_IPYTHON:
        pytest.skip("IPython is not installed here: nothing to compare the scanner with")
    cells = [LOGGING, HELP_AND_SHELL, SHELL_CONTINUED, STRING_WITH_PERCENT, TIMED, CAPTURED, BASH, MAGIC_IN_BLOCK]
    with_ipython = [ipython_syntax.python_source(c) for c in cells]
    monkeypatch.setattr(ipython_syntax, "_MANAGER", [None])
    assert [ipython_syntax.python_source(c) for c in cells] == with_ipython
    for cell, python in zip(cells, with_ipython):
        assert python.count("\n") == cell.count("\n")


def test_checkpoint_copies_are_not_linted(tmp_path):
    from actlint.discover import discover

    _notebook(tmp_path / "nb.ipynb", "x = 1\n")
    (tmp_path / ".ipynb_checkpoints").mkdir()
    _notebook(tmp_path / ".ipynb_checkpoints" / "nb-checkpoint.ipynb", "x = 1\n")
    found = discover([str(tmp_path)], Config(root=tmp_path)).files
    assert [p.name for p in found] == ["nb.ipynb"]
    named = discover([str(tmp_path / ".ipynb_checkpoints" / "nb-checkpoint.ipynb")], Config(root=tmp_path)).files
    assert [p.name for p in named] == ["nb-checkpoint.ipynb"]  # a file named directly is always linted


SHARED_NOTEBOOK = SHARED / "cases-open" / "notebook_ipython_syntax.ipynb"


@pytest.mark.skipif(not SHARED_NOTEBOOK.is_file(), reason=f"{SHARED_NOTEBOOK} is absent (a fresh clone has no ../shared)")
def test_shared_ipython_notebook_gives_exactly_its_finding(reader):
    assert _found(SHARED_NOTEBOOK) == [("ACT102", 3, 8)]

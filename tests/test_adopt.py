"""Adopting actlint on an existing codebase: code frames, related locations, --statistics, --add-noqa."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import ROOT, SARIF_SCHEMA

BCE = """\
import torch
from torch import nn

net = nn.Sequential(nn.Linear(8, 1))


def train(x, y):
    torch.manual_seed(0)
    out = torch.sigmoid(net(x))
    loss = nn.BCELoss()(out, y)
    loss.backward()
"""

MODEL = """\
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        return torch.softmax(self.fc(x), dim=1)
"""

TRAIN = """\
import torch
from torch import nn

from model import Net


def train(loader):
    torch.manual_seed(0)
    model = Net()
    criterion = nn.CrossEntropyLoss()
    for x, y in loader:
        criterion(model(x), y).backward()
"""

SOFTMAX_NOQA = """\
import torch.nn.functional as F


def f(x):
    return F.softmax(x)  # noqa: E501


def g(x):
    return F.softmax(x)  # keep this comment


def h(x):
    return F.softmax(x, dim=-1), F.softmax(x)
"""

LOSS_NOTE = "BCELoss: the loss this output is fed to"
CE_NOTE = "CrossEntropyLoss: the loss this output is fed to"
CE_MESSAGE = "softmax output is fed to CrossEntropyLoss at {where}, which applies log-softmax itself; return the logits"


def run(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "actlint", "--no-cache", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")


# --- code frames ------------------------------------------------------------------------

def test_a_code_frame_shows_the_span_and_the_other_end_in_the_same_file(tmp_path):
    write(tmp_path, {"bce.py": BCE})
    out = run("--show-source", "bce.py", cwd=tmp_path)
    assert out.returncode == 1, out.stderr
    assert out.stdout == textwrap.dedent(f"""\
        bce.py:9:11: ACT103 sigmoid output is fed to BCELoss at line 10: this is numerically unsafe and refused \
under autocast; drop the sigmoid and use BCEWithLogitsLoss
           |
         9 |     out = torch.sigmoid(net(x))
           |           ^^^^^^^^^^^^^^^^^^^^^
           |
        10 |     loss = nn.BCELoss()(out, y)
           |            -------------------- {LOSS_NOTE}
           |

        Found 1 finding in 1 file.
        """)


def test_a_cross_file_code_frame_names_the_other_file(tmp_path):
    write(tmp_path, {"model.py": MODEL, "train.py": TRAIN})
    out = run("--show-source", "model.py", "train.py", cwd=tmp_path)
    assert out.returncode == 1, out.stderr
    assert out.stdout == textwrap.dedent(f"""\
        model.py:11:16: ACT102 {CE_MESSAGE.format(where="train.py:12")}
           |
        11 |         return torch.softmax(self.fc(x), dim=1)
           |                ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
           ::: train.py:12:9
           |
        12 |         criterion(model(x), y).backward()
           |         ---------------------- {CE_NOTE}
           |

        Found 1 finding in 1 file.
        """)
    alone = run("--show-source", "train.py", cwd=tmp_path)  # reported at the loss call, naming the softmax
    assert alone.stdout.splitlines()[1:8] == [
        "   |",
        "12 |         criterion(model(x), y).backward()",
        "   |         ^^^^^^^^^^^^^^^^^^^^^^",
        "   ::: model.py:11:16",
        "   |",
        "11 |         return torch.softmax(self.fc(x), dim=1)",
        "   |                -------------------------------- the flagged code",
    ]


def test_frames_are_off_in_a_pipe_and_with_no_show_source(tmp_path):
    write(tmp_path, {"bce.py": BCE})
    plain = run("bce.py", cwd=tmp_path)
    assert plain.stdout.splitlines()[1] == "Found 1 finding in 1 file."
    assert run("--no-show-source", "bce.py", cwd=tmp_path).stdout == plain.stdout
    assert json.loads(run("--show-source", "--format", "json", "bce.py", cwd=tmp_path).stdout)[0]["line"] == 9


def _on_a_terminal(args: list[str], cwd: Path, env: dict) -> str:
    """The command's stdout when stdout is a terminal."""
    pty = pytest.importorskip("pty")
    main, child = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "actlint", "--no-cache", *args], stdout=child,
                            stderr=subprocess.DEVNULL, cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT), **env})
    os.close(child)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the terminal is closed once the child is gone
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=120)
    os.close(main)
    return b"".join(chunks).decode().replace("\r\n", "\n")


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_on_a_terminal_frames_are_on_and_coloured_unless_no_color(tmp_path):
    write(tmp_path, {"bce.py": BCE})
    coloured = _on_a_terminal(["bce.py"], tmp_path, {"NO_COLOR": ""})
    assert "\x1b[1;31m^^^^^^^^^^^^^^^^^^^^^\x1b[0m" in coloured
    plain = _on_a_terminal(["bce.py"], tmp_path, {"NO_COLOR": "1"})
    assert "\x1b" not in plain and " 9 |     out = torch.sigmoid(net(x))" in plain
    assert "|" not in _on_a_terminal(["--no-show-source", "bce.py"], tmp_path, {"NO_COLOR": "1"})


def test_a_frame_of_a_file_changed_since_is_left_out(tmp_path):
    from actlint.findings import Finding
    from actlint.output.text import render

    finding = Finding("ACT104", "softmax-without-dim", "m", str(tmp_path / "gone.py"), 3, 1, 3, 5)
    assert render([finding], show_source=True) == f"{tmp_path / 'gone.py'}:3:1: ACT104 m\nFound 1 finding in 1 file.\n"


# --- related locations in JSON, SARIF and GitHub ---------------------------------------------

def test_json_names_the_other_end_as_related(tmp_path):
    write(tmp_path, {"bce.py": BCE, "model.py": MODEL, "train.py": TRAIN})
    data = json.loads(run("--format", "json", "bce.py", "model.py", "train.py", cwd=tmp_path).stdout)
    assert [(d["path"], d["line"], d["related"]) for d in data] == [
        ("bce.py", 9, [{"path": "bce.py", "line": 10, "column": 12, "end_line": 10, "end_column": 32,
                        "message": LOSS_NOTE}]),
        ("model.py", 11, [{"path": "train.py", "line": 12, "column": 9, "end_line": 12, "end_column": 31,
                           "message": CE_NOTE}]),
    ]
    alone = json.loads(run("--format", "json", "train.py", cwd=tmp_path).stdout)
    assert alone[0]["message"] == "model.py:11: " + CE_MESSAGE.format(where="line 12")
    assert alone[0]["related"] == [{"path": "model.py", "line": 11, "column": 16, "end_line": 11, "end_column": 48,
                                    "message": "the flagged code"}]


def test_sarif_links_both_ends_with_related_locations(tmp_path):
    write(tmp_path, {"model.py": MODEL, "train.py": TRAIN})
    out = run("--format", "sarif", "model.py", "train.py", cwd=tmp_path)
    result = json.loads(out.stdout)["runs"][0]["results"][0]
    assert result["relatedLocations"] == [{
        "id": 1,
        "message": {"text": CE_NOTE},
        "physicalLocation": {"artifactLocation": {"uri": "train.py", "uriBaseId": "%SRCROOT%"},
                             "region": {"startLine": 12, "startColumn": 9, "endLine": 12, "endColumn": 31}},
    }]


@pytest.mark.skipif(not SARIF_SCHEMA.is_file(), reason=f"{SARIF_SCHEMA} is absent (a fresh clone has no ../shared)")
def test_sarif_with_related_locations_validates_against_the_schema(tmp_path):
    import jsonschema

    write(tmp_path, {"bce.py": BCE, "model.py": MODEL, "train.py": TRAIN})
    _notebook(tmp_path / "nb.ipynb")
    sarif = json.loads(run("--format", "sarif", ".", cwd=tmp_path).stdout)
    assert sum("relatedLocations" in r for r in sarif["runs"][0]["results"]) == 3
    jsonschema.validate(sarif, json.loads(SARIF_SCHEMA.read_text(encoding="utf-8")))


def test_github_annotations_mention_the_other_end(tmp_path):
    write(tmp_path, {"model.py": MODEL, "train.py": TRAIN})
    out = run("--format", "github", "model.py", "train.py", cwd=tmp_path)
    assert out.stdout.endswith(f"::ACT102 {CE_MESSAGE.format(where='train.py:12')} "
                               f"(see also train.py:12:9: {CE_NOTE})\n")


# --- notebooks ------------------------------------------------------------------------------------

CELLS = [
    "import torch\nfrom torch import nn\n",
    MODEL.split("\n\n\n", 1)[1],
    "The training loop.",
    "%matplotlib inline\ntorch.manual_seed(0)\nmodel = Net()\ncriterion = nn.CrossEntropyLoss()\n"
    "for x, y in []:\n    criterion(model(x), y).backward()",
]


def _notebook(path: Path) -> None:
    cells = [{"cell_type": "markdown" if n == 2 else "code", "metadata": {}, "source": text.splitlines(True),
              **({} if n == 2 else {"outputs": [], "execution_count": None})} for n, text in enumerate(CELLS)]
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1),
                    encoding="utf-8")


def test_a_notebook_finding_names_the_cell_and_line_of_its_other_end(tmp_path):
    _notebook(tmp_path / "nb.ipynb")
    text = run("--show-source", "nb.ipynb", cwd=tmp_path)
    assert text.stdout == textwrap.dedent(f"""\
        nb.ipynb:cell 2:7:16: ACT102 {CE_MESSAGE.format(where="line 6 of cell 4")}
          |
        7 |         return torch.softmax(self.fc(x), dim=1)
          |                ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
          ::: nb.ipynb:cell 4:6:5
          |
        6 |     criterion(model(x), y).backward()
          |     ---------------------- {CE_NOTE}
          |

        Found 1 finding in 1 file.
        1 fix may change behaviour: `--diff --unsafe-fixes` shows it, `--fix --unsafe-fixes` applies it.
        """)
    data = json.loads(run("--format", "json", "nb.ipynb", cwd=tmp_path).stdout)
    assert [(d["cell"], d["line"], d["related"]) for d in data] == [
        (2, 7, [{"path": "nb.ipynb", "cell": 4, "line": 6, "column": 5, "end_line": 6, "end_column": 27,
                 "message": CE_NOTE}])]


# --- --statistics -------------------------------------------------------------------------------

def test_statistics_counts_per_code_most_frequent_first(tmp_path):
    write(tmp_path, {"soft.py": SOFTMAX_NOQA, "bce.py": BCE})
    out = run("--statistics", ".", cwd=tmp_path)
    assert out.returncode == 1
    assert out.stdout == "3  ACT104  softmax-without-dim\n1  ACT103  sigmoid-then-bce\n"
    data = json.loads(run("--statistics", "--format", "json", ".", cwd=tmp_path).stdout)
    assert data == [{"code": "ACT104", "name": "softmax-without-dim", "count": 3},
                    {"code": "ACT103", "name": "sigmoid-then-bce", "count": 1}]
    assert run("--statistics", "--format", "sarif", ".", cwd=tmp_path).returncode == 2


# --- --add-noqa -------------------------------------------------------------------------------------

def test_add_noqa_then_a_clean_run_and_nothing_more_to_add(tmp_path):
    write(tmp_path, {"soft.py": SOFTMAX_NOQA, "bce.py": BCE, "model.py": MODEL, "train.py": TRAIN})
    _notebook(tmp_path / "nb.ipynb")
    first = run("--add-noqa", ".", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "added noqa comments to 6 lines in 4 files" in first.stderr
    soft = (tmp_path / "soft.py").read_text(encoding="utf-8").splitlines()
    assert soft[4] == "    return F.softmax(x)  # noqa: E501, ACT104"
    assert soft[8] == "    return F.softmax(x)  # keep this comment  # noqa: ACT104"
    assert soft[12] == "    return F.softmax(x, dim=-1), F.softmax(x)  # noqa: ACT104"
    assert (tmp_path / "bce.py").read_text().splitlines()[8] == "    out = torch.sigmoid(net(x))  # noqa: ACT103"
    assert (tmp_path / "model.py").read_text().splitlines()[10].endswith("dim=1)  # noqa: ACT102")
    assert (tmp_path / "train.py").read_text() == TRAIN  # the cross-file finding is silenced at its home
    cells = json.loads((tmp_path / "nb.ipynb").read_text(encoding="utf-8"))["cells"]
    assert cells[1]["source"][6] == "        return torch.softmax(self.fc(x), dim=1)  # noqa: ACT102\n"
    assert cells[3]["source"][0] == "%matplotlib inline\n"  # magics are kept

    clean = run(".", cwd=tmp_path)
    assert (clean.returncode, clean.stdout) == (0, "")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    second = run("--add-noqa", ".", cwd=tmp_path)
    assert second.returncode == 0 and "added noqa comments to 0 lines in 0 files" in second.stderr
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_add_noqa_keeps_a_line_it_cannot_comment_and_says_why():
    from actlint.add_noqa import add_to_text

    text = 'x = f("""a\nb""")\ny = g(1) + \\\n    2\nz = h()  # NOQA:E501\r\nw = k()  # noqa\n'
    new, changed, skipped = add_to_text(text, {1: {"ACT104"}, 3: {"ACT104"}, 5: {"ACT104", "ACT101"},
                                               6: {"ACT104"}})
    assert new == text.replace("E501\r\n", "E501, ACT101, ACT104\r\n")  # a bare noqa already covers line 6
    assert changed == 1
    assert skipped == [(n, "it ends inside a string or continues with a backslash, so it cannot take a comment")
                       for n in (1, 3)]


def test_add_noqa_leaves_a_file_changed_since_it_was_linted(tmp_path):
    from actlint.add_noqa import add_noqa_file
    from actlint.findings import Finding

    path = tmp_path / "soft.py"
    write(tmp_path, {"soft.py": SOFTMAX_NOQA})
    finding = Finding("ACT104", "softmax-without-dim", "m", str(path), 9, 12, 9, 24)
    stale = path.stat()
    path.write_text(SOFTMAX_NOQA + "\n", encoding="utf-8")
    os.utime(path, ns=(stale.st_atime_ns, stale.st_mtime_ns + 10**9))
    outcome = add_noqa_file(path, [finding], stale)
    assert (outcome.added, outcome.error) == (0, "changed since it was linted; left as it is (run --add-noqa again)")
    assert path.read_text(encoding="utf-8") == SOFTMAX_NOQA + "\n"


def test_add_noqa_on_a_read_only_file_writes_nothing(tmp_path, monkeypatch):
    from actlint import add_noqa
    from actlint.findings import Finding

    path = tmp_path / "soft.py"
    write(tmp_path, {"soft.py": SOFTMAX_NOQA})
    path.chmod(stat.S_IRUSR)
    if os.access(path, os.W_OK):  # root may write anything: stand in for the permission check
        monkeypatch.setattr(add_noqa.os, "access", lambda where, mode: Path(where) != path)
    try:
        finding = Finding("ACT104", "softmax-without-dim", "m", "soft.py", 9, 12, 9, 24)
        outcome = add_noqa.add_noqa_file(path, [finding], path.stat())
        assert (outcome.added, outcome.error) == (0, "read-only: not written")
        assert path.read_text(encoding="utf-8") == SOFTMAX_NOQA
    finally:
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)


def test_add_noqa_refuses_to_combine_with_fix(tmp_path):
    write(tmp_path, {"soft.py": SOFTMAX_NOQA})
    out = run("--add-noqa", "--fix", "soft.py", cwd=tmp_path)
    assert out.returncode == 2 and "--add-noqa cannot be combined" in out.stderr
    assert (tmp_path / "soft.py").read_text(encoding="utf-8") == SOFTMAX_NOQA

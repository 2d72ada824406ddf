"""--fix, --unsafe-fixes and --diff: fixes re-parse, lint clean, are idempotent, and write atomically."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import libcst as cst
import pytest
from conftest import ROOT, SHARED_CASES
from expectations import python_files

from actlint.checks import all_rules
from actlint.config import Config
from actlint.engine import lint_text
from actlint.findings import Edit, Finding, Fix
from actlint.fixes import fix_text

ALL = frozenset(all_rules())
CONFIG = Config()


def _lint(text, path="f.py"):
    return lint_text(text, path, CONFIG, ALL).findings


def _sources():
    files = python_files(ROOT / "fixtures")
    if SHARED_CASES.is_dir():
        files += python_files(SHARED_CASES)
    return files


@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
@pytest.mark.parametrize("path", _sources(), ids=lambda p: p.name)
def test_fix_reparses_lints_clean_and_is_idempotent(path, unsafe):
    text = path.read_text(encoding="utf-8")
    outcome = fix_text(text, path.name, _lint, unsafe)
    assert not outcome.problems
    cst.parse_module(outcome.fixed)
    fixed_codes = {f.code for f in outcome.applied}
    left = [f for f in _lint(outcome.fixed) if f.code in fixed_codes and f.fix and (f.fix.safe or unsafe)]
    assert left == [], f"fixable findings left after fixing: {left}"
    again = fix_text(outcome.fixed, path.name, _lint, unsafe)
    assert again.fixed == outcome.fixed and not again.applied


def test_safe_fixes_keep_unsafe_ones():
    text = "import torch.nn.functional as F\n\nprobs = F.softmax(x)\n"
    assert fix_text(text, "f.py", _lint, unsafe=False).fixed == text
    assert fix_text(text, "f.py", _lint, unsafe=True).fixed == \
        "import torch.nn.functional as F\n\nprobs = F.softmax(x, dim=-1)\n"


def test_log_softmax_and_logsigmoid_fixes():
    text = ("import torch\nimport torch.nn.functional as F\n\n"
            "a = torch.log(torch.softmax(z, dim=1))\nb = torch.log(torch.sigmoid(z))\nc = z.softmax(-1).log()\n")
    fixed = fix_text(text, "f.py", _lint, unsafe=False).fixed
    assert fixed.splitlines()[3:] == ["a = torch.log_softmax(z, dim=1)", "b = F.logsigmoid(z)",
                                      "c = z.log_softmax(-1)"]


def test_bce_fix_only_when_the_criterion_has_one_use():
    once = ("import torch\nimport torch.nn as nn\n\nhead = nn.Linear(4, 1)\ncriterion = nn.BCELoss()\n"
            "loss = criterion(torch.sigmoid(head(x)), y)\n")
    fixed = fix_text(once, "f.py", _lint, unsafe=False).fixed
    assert "criterion = nn.BCEWithLogitsLoss()" in fixed and "loss = criterion(head(x), y)" in fixed
    twice = once + "val = criterion(torch.sigmoid(head(v)), w)\n"
    findings = [f for f in _lint(twice) if f.code == "ACT103"]
    assert findings and all(f.fix is None for f in findings)


def test_attribute_activation_fix_edits_the_call_not_the_construction():
    text = ("import torch.nn as nn\n\n\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
            "        self.fc = nn.Linear(8, 3)\n        self.softmax = nn.Softmax(dim=1)\n\n"
            "    def forward(self, x):\n        return self.softmax(self.fc(x))\n\n"
            "    def predict(self, x):\n        return self.softmax(self.fc(x)).argmax(dim=1)\n\n\n"
            "loss = nn.CrossEntropyLoss()(Net()(x), y)\n")
    [finding] = [f for f in _lint(text) if f.code == "ACT102"]
    assert finding.line == 11 and "(nn.Softmax built at line 8)" in finding.message
    fixed = fix_text(text, "f.py", _lint, unsafe=True).fixed
    assert "        return self.fc(x)\n" in fixed
    assert "self.softmax = nn.Softmax(dim=1)" in fixed and "return self.softmax(self.fc(x)).argmax(dim=1)" in fixed


def test_fix_that_breaks_the_parse_is_dropped():
    finding = Finding("ACT999", "test", "m", "f.py", 1, 1, 1, 2,
                      fix=Fix("break it", (Edit(1, 1, 1, 2, "("),)))
    outcome = fix_text("x = 1\n", "f.py", lambda text: [finding] if text == "x = 1\n" else [], unsafe=False)
    assert outcome.fixed == "x = 1\n"
    assert outcome.problems and "would not parse" in outcome.problems[0]


def _run(*args, cwd):
    return subprocess.run([sys.executable, "-m", "actlint", *args], cwd=cwd, capture_output=True, text=True)


def test_cli_fix_keeps_line_endings_and_encoding(tmp_path):
    source = ("# -*- coding: latin-1 -*-\r\nimport torch\r\n# caf\xe9\r\n"
              "lp = torch.log(torch.softmax(z, dim=1))\r\n")
    path = tmp_path / "m.py"
    path.write_bytes(source.encode("latin-1"))
    result = _run("--fix", "m.py", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    data = path.read_bytes()
    assert data == source.replace("torch.log(torch.softmax(z, dim=1))", "torch.log_softmax(z, dim=1)").encode("latin-1")
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no temporary file left behind


def test_cli_diff_writes_nothing_and_exits_1(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("import torch\nlp = torch.log(torch.softmax(z, dim=1))\n")
    before = path.read_bytes()
    result = _run("--diff", "m.py", cwd=tmp_path)
    assert result.returncode == 1
    assert "-lp = torch.log(torch.softmax(z, dim=1))" in result.stdout
    assert "+lp = torch.log_softmax(z, dim=1)" in result.stdout
    assert path.read_bytes() == before


def test_cli_fix_on_shared_cases_removes_safe_fixable_findings(tmp_path):
    if not SHARED_CASES.is_dir():
        pytest.skip(f"{SHARED_CASES} is absent (a fresh clone has no ../shared)")
    work = tmp_path / "cases"
    shutil.copytree(SHARED_CASES, work)
    safe_codes = set()
    for path in python_files(work):
        safe_codes |= {f.code for f in _lint(path.read_text()) if f.fix and f.fix.safe}
    assert {"ACT103", "ACT109"} <= safe_codes
    _run("--fix", ".", cwd=work)
    after = json.loads(_run("--format", "json", ".", cwd=work).stdout)
    assert not [f for f in after if f["code"] in safe_codes]
    for path in python_files(work):
        cst.parse_module(path.read_text())


def test_json_and_flake8_carry_the_fix(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("import torch.nn.functional as F\np = F.softmax(x)\n")
    data = json.loads(_run("--format", "json", "m.py", cwd=tmp_path).stdout)
    assert data[0]["fix"] == {"applicability": "unsafe", "message": "pass dim=-1",
                              "edits": [{"line": 2, "column": 16, "end_line": 2, "end_column": 16,
                                         "content": ", dim=-1"}]}
    flake8 = subprocess.run([sys.executable, "-m", "flake8", "--select", "ACT", "m.py"], cwd=tmp_path,
                            capture_output=True, text=True)
    assert "[unsafe fix: replace with `, dim=-1`]" in flake8.stdout


MIXED = ("import torch\nimport torch.nn.functional as F\n\n\ndef f(z, x):\n"
         "    lp = torch.log(torch.softmax(z, dim=1))\n    return lp, F.softmax(x)\n")


def test_text_marks_what_fix_would_fix_and_counts_it(tmp_path):
    (tmp_path / "m.py").write_text(MIXED)
    plain = _run("m.py", cwd=tmp_path)
    lines = plain.stdout.splitlines()
    assert lines[0].startswith("m.py:6:10: ACT109 [*] log of the softmax")
    assert lines[1].startswith("m.py:7:16: ACT104 softmax without dim")  # unsafe: no mark without --unsafe-fixes
    assert lines[2:] == ["Found 2 findings in 1 file.",
                         "[*] 1 fixable with `actlint --fix` (1 more with `--unsafe-fixes`)."]
    shown = _run("--show-fixes", "m.py", cwd=tmp_path).stdout.splitlines()
    assert shown[1] == "    safe fix: use log_softmax" and shown[3] == "    unsafe fix: pass dim=-1"
    hinted = _run("--unsafe-fixes", "m.py", cwd=tmp_path)
    assert "m.py:7:16: ACT104 [*] softmax" in hinted.stdout
    assert hinted.stdout.splitlines()[-1] == "[*] 2 fixable with `actlint --fix --unsafe-fixes`."
    assert "--unsafe-fixes applies nothing without --fix or --diff" in hinted.stderr
    assert (tmp_path / "m.py").read_text() == MIXED
    (tmp_path / "u.py").write_text("import torch.nn.functional as F\n\n\ndef f(x):\n    return F.softmax(x)\n")
    unsafe_only = _run("u.py", cwd=tmp_path).stdout.splitlines()
    assert unsafe_only[-1] == ("1 fix may change behaviour: `--diff --unsafe-fixes` shows it, "
                               "`--fix --unsafe-fixes` applies it.")
    (tmp_path / "c.py").write_text("import torch.nn.functional as F\n\n\ndef f(x):\n    return F.softmax(x, dim=-1)\n")
    assert _run("c.py", cwd=tmp_path).stdout == ""


def test_show_fixes_with_fix_lists_what_was_applied(tmp_path):
    (tmp_path / "m.py").write_text(MIXED)
    result = _run("--fix", "--show-fixes", "m.py", cwd=tmp_path)
    assert "actlint: fixed m.py:6:10: ACT109 (safe) use log_softmax" in result.stderr
    assert "ACT104 (unsafe)" not in result.stderr
    assert "lp = torch.log_softmax(z, dim=1)" in (tmp_path / "m.py").read_text()


def test_notebook_diff_shows_the_cells_code_not_json(tmp_path):
    cells = [{"cell_type": "markdown", "metadata": {}, "source": ["# title\n"]},
             {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
              "source": ["import torch\n", "z = torch.randn(2, 3)"]},
             {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
              "source": ["%time x = 1\n", "lp = torch.log(torch.softmax(z, dim=1))\n", "print(lp)"]}]
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1))
    before = path.read_bytes()
    result = _run("--diff", "nb.ipynb", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert result.stdout == (
        "--- a/nb.ipynb:cell 3\n+++ b/nb.ipynb:cell 3\n@@ -1,3 +1,3 @@\n %time x = 1\n"
        "-lp = torch.log(torch.softmax(z, dim=1))\n+lp = torch.log_softmax(z, dim=1)\n print(lp)\n"
        "\\ No newline at end of file\n")
    assert path.read_bytes() == before

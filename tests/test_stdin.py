"""``actlint --stdin-filename PATH``: the source comes from stdin and is linted (or fixed) as the file at PATH."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

MODEL = '''\
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(20, 4)

    def forward(self, x):
        return torch.softmax(self.fc(x), dim=1)


model = Net()
criterion = nn.CrossEntropyLoss()
loss = criterion(model(torch.randn(8, 20)), torch.randint(0, 4, (8,)))
'''
LOG_SOFTMAX = "import torch\n\n\ndef confidence(logits):\n    return torch.log(torch.softmax(logits, dim=-1))\n"
LOG_SOFTMAX_FIXED = "import torch\n\n\ndef confidence(logits):\n    return torch.log_softmax(logits, dim=-1)\n"


def run(*args: str, stdin: str | bytes, cwd: Path) -> subprocess.CompletedProcess:
    data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
    done = subprocess.run([sys.executable, "-m", "actlint", "--no-cache", *args], input=data,
                          capture_output=True, cwd=cwd, timeout=120)
    return done


def out(done: subprocess.CompletedProcess) -> str:
    return done.stdout.decode("utf-8")


def err(done: subprocess.CompletedProcess) -> str:
    return done.stderr.decode("utf-8")


def test_findings_name_the_given_path_and_the_file_need_not_exist(tmp_path):
    done = run("--stdin-filename", "pkg/model.py", "--format", "concise", stdin=MODEL, cwd=tmp_path)
    assert done.returncode == 1, err(done)
    assert out(done).splitlines() == [
        "pkg/model.py:11:16: ACT102 softmax output is fed to CrossEntropyLoss at line 16, which applies "
        "log-softmax itself; return the logits"]
    assert not (tmp_path / "pkg").exists()


def test_stdin_is_linted_not_the_file_on_disk(tmp_path):
    (tmp_path / "model.py").write_text("import torch\n", encoding="utf-8")
    done = run("--stdin-filename", "model.py", "--format", "json", stdin=MODEL, cwd=tmp_path)
    assert done.returncode == 1
    [finding] = json.loads(out(done))
    assert (finding["path"], finding["code"], finding["line"], finding["column"], finding["end_column"]) == \
        ("model.py", "ACT102", 11, 16, 48)
    clean = run("--stdin-filename", "model.py", stdin="import torch\n", cwd=tmp_path)
    assert clean.returncode == 0 and out(clean) == ""
    (tmp_path / "model.py").write_text(MODEL, encoding="utf-8")
    assert run("--stdin-filename", "model.py", stdin="import torch\n", cwd=tmp_path).returncode == 0


def test_code_frames_quote_stdin(tmp_path):
    (tmp_path / "model.py").write_text("# something else entirely\n" * 20, encoding="utf-8")
    done = run("--stdin-filename", "model.py", "--show-source", stdin=MODEL, cwd=tmp_path)
    assert "11 |         return torch.softmax(self.fc(x), dim=1)" in out(done)
    assert "16 | loss = criterion(" in out(done)


def test_the_paths_configuration_applies(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.actlint]\nper-file-ignores = { "scripts/*" = ["ACT102"] }\nignore = ["ACT109"]\n', encoding="utf-8")
    (tmp_path / "sub").mkdir()
    assert run("--stdin-filename", "scripts/train.py", stdin=MODEL, cwd=tmp_path).returncode == 0
    assert run("--stdin-filename", "model.py", stdin=LOG_SOFTMAX, cwd=tmp_path).returncode == 0
    # the configuration is found from PATH's folder, not the current one
    done = run("--stdin-filename", str(tmp_path / "scripts" / "train.py"), stdin=MODEL, cwd=tmp_path / "sub")
    assert done.returncode == 0, out(done)
    assert run("--stdin-filename", str(tmp_path / "model.py"), stdin=MODEL, cwd=tmp_path / "sub").returncode == 1


def test_formats(tmp_path):
    for fmt, expect in (("github", "::warning file=m.py,line=11,col=16"), ("gitlab", '"path": "m.py"'),
                        ("grouped", "m.py\n  11:16  ACT102"), ("sarif", '"uri": "m.py"')):
        done = run("--stdin-filename", "m.py", "--format", fmt, stdin=MODEL, cwd=tmp_path)
        assert done.returncode == 1 and expect in out(done), (fmt, out(done))
    done = run("--stdin-filename", "m.py", "--statistics", stdin=MODEL, cwd=tmp_path)
    assert out(done).split() == ["1", "ACT102", "probabilities-where-logits-expected"]
    assert run("--stdin-filename", "m.py", "--exit-zero", stdin=MODEL, cwd=tmp_path).returncode == 0


def test_fix_writes_the_fixed_source_to_stdout(tmp_path):
    (tmp_path / "model.py").write_text(LOG_SOFTMAX, encoding="utf-8")
    done = run("--stdin-filename", "model.py", "--fix", stdin=LOG_SOFTMAX, cwd=tmp_path)
    assert out(done) == LOG_SOFTMAX_FIXED
    assert done.returncode == 0, err(done)  # nothing left
    assert "fixed 1 finding" in err(done)
    assert (tmp_path / "model.py").read_text(encoding="utf-8") == LOG_SOFTMAX  # the file is never written


def test_fix_reports_what_is_left_on_stderr(tmp_path):
    done = run("--stdin-filename", "model.py", "--fix", stdin=MODEL + LOG_SOFTMAX.split("\n\n\n")[1], cwd=tmp_path)
    assert out(done) == MODEL + LOG_SOFTMAX_FIXED.split("\n\n\n")[1]
    assert done.returncode == 1
    assert "model.py:11:16: ACT102" in err(done)
    unsafe = run("--stdin-filename", "model.py", "--fix", "--unsafe-fixes", stdin=MODEL, cwd=tmp_path)
    assert out(unsafe) == MODEL.replace("torch.softmax(self.fc(x), dim=1)", "self.fc(x)")
    assert unsafe.returncode == 0


def test_fix_keeps_line_endings_bom_and_unfixable_input(tmp_path):
    crlf = ("\ufeff" + LOG_SOFTMAX.replace("\n", "\r\n")).encode("utf-8")
    done = run("--stdin-filename", "m.py", "--fix", stdin=crlf, cwd=tmp_path)
    assert done.stdout == ("\ufeff" + LOG_SOFTMAX_FIXED.replace("\n", "\r\n")).encode("utf-8")
    clean = b"import torch\r\nx = 1\r\n"
    assert run("--stdin-filename", "m.py", "--fix", stdin=clean, cwd=tmp_path).stdout == clean
    broken = b"import torch\ndef f(:\n"
    done = run("--stdin-filename", "m.py", "--fix", stdin=broken, cwd=tmp_path)
    assert done.stdout == broken and done.returncode == 1 and "ACT000" in err(done)


def test_diff(tmp_path):
    done = run("--stdin-filename", "m.py", "--diff", stdin=LOG_SOFTMAX, cwd=tmp_path)
    assert done.returncode == 1
    assert "--- a/m.py\n+++ b/m.py\n" in out(done)
    assert "+    return torch.log_softmax(logits, dim=-1)\n" in out(done)


def _notebook(*cells: str) -> str:
    return json.dumps({"cells": [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                                  "source": c.splitlines(keepends=True)} for c in cells],
                       "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1) + "\n"


def test_notebook_json_on_stdin(tmp_path):
    notebook = _notebook("import torch\n", LOG_SOFTMAX.split("\n\n\n")[1])
    done = run("--stdin-filename", "nb.ipynb", "--format", "concise", stdin=notebook, cwd=tmp_path)
    assert done.returncode == 1
    assert out(done).startswith("nb.ipynb:cell 2:2:12: ACT109 ")
    fixed = run("--stdin-filename", "nb.ipynb", "--fix", stdin=notebook, cwd=tmp_path)
    assert json.loads(out(fixed))["cells"][1]["source"] == LOG_SOFTMAX_FIXED.split("\n\n\n")[1].splitlines(True)
    assert fixed.returncode == 0


def test_unreadable_input_is_act000(tmp_path):
    done = run("--stdin-filename", "m.py", stdin=b"import torch\nx = '\xff'\n", cwd=tmp_path)
    assert done.returncode == 1 and "m.py:2:6: ACT000 cannot decode as utf-8" in out(done)


def test_force_exclude_leaves_an_excluded_path_alone(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.actlint]\nextend-exclude = ["legacy/"]\n', encoding="utf-8")
    done = run("--stdin-filename", "legacy/m.py", "--force-exclude", stdin=MODEL, cwd=tmp_path)
    assert done.returncode == 0 and out(done) == ""
    done = run("--stdin-filename", "legacy/m.py", "--force-exclude", "--fix", stdin=LOG_SOFTMAX, cwd=tmp_path)
    assert done.returncode == 0 and out(done) == LOG_SOFTMAX
    assert run("--stdin-filename", "legacy/m.py", stdin=MODEL, cwd=tmp_path).returncode == 1  # named: linted


def test_usage_errors(tmp_path):
    for args in (("--stdin-filename", "m.py", "other.py"), ("--stdin-filename", "m.py", "--add-noqa"),
                 ("--stdin-filename", "m.py", "--verify")):
        done = run(*args, stdin=MODEL, cwd=tmp_path)
        assert done.returncode == 2, args
        assert "--stdin-filename" in err(done)
    assert run("--stdin-filename", "m.py", "-", stdin=MODEL, cwd=tmp_path).returncode == 1

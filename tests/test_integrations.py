"""actlint inside other tools: the flake8 plugin and the pre-commit hook; and what plain linting imports."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, SHARED_CASES
from expectations import python_files

FLAKE8_LINE = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<code>ACT\d{3}) (?P<message>.*)$")
PROJECT = ROOT / "fixtures" / "project"  # files that import each other: compared one file at a time
# projects whose files import each other: flake8 sees one file at a time, so a finding across files differs there
PROJECTS = (PROJECT, ROOT / "fixtures" / "run" / "two_files")
FIXTURES = [p for p in python_files(ROOT / "fixtures") if not any(d in p.parents for d in PROJECTS)]


def _actlint_json(paths: list[Path]) -> set[tuple[str, int, int, str]]:
    out = subprocess.run([sys.executable, "-m", "actlint", "--no-cache", "--format", "json", *map(str, paths)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode in (0, 1), out.stderr
    return {(Path(f["path"]).name, f["line"], f["column"], f["code"]) for f in json.loads(out.stdout)}


def _flake8(paths: list[Path]) -> set[tuple[str, int, int, str]]:
    out = subprocess.run([sys.executable, "-m", "flake8", "--select", "ACT", "--isolated", *map(str, paths)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode in (0, 1), out.stderr
    found = set()
    for line in out.stdout.splitlines():
        match = FLAKE8_LINE.match(line)
        assert match, line
        found.add((Path(match["path"]).name, int(match["line"]), int(match["col"]), match["code"]))
    return found


def test_flake8_reports_the_same_codes_lines_and_columns_on_the_fixtures():
    expected = _actlint_json(FIXTURES)
    assert len(expected) > 50  # the fixtures are full of findings; an empty run would prove nothing
    assert _flake8(FIXTURES) == expected


def test_flake8_gives_what_actlint_gives_for_each_project_file_alone():
    """flake8 sees one file at a time: for each file of a project it reports what ``actlint FILE`` reports,
    the cross-file findings included (placed at the importer's loss call)."""
    files = python_files(PROJECT)
    alone = set()
    for path in files:
        alone |= _actlint_json([path])
    assert {(name, code) for name, _, _, code in alone} >= {("train.py", "ACT102"), ("star_train.py", "ACT102")}
    assert _flake8(files) == alone


@pytest.mark.skipif(not SHARED_CASES.is_dir(), reason=f"{SHARED_CASES} is absent (a fresh clone has no ../shared)")
def test_flake8_parity_on_the_shared_cases():
    cases = python_files(SHARED_CASES)
    expected = _actlint_json(cases)
    assert {code for *_, code in expected} >= {"ACT101", "ACT102", "ACT104"}
    assert _flake8(cases) == expected


def test_flake8_message_carries_the_fix(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("import torch\n\nlp = torch.log(torch.softmax(z, dim=1))\n")
    out = subprocess.run([sys.executable, "-m", "flake8", "--select", "ACT", "--isolated", str(path)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert ":3:6: ACT109 " in out.stdout and "[fix: replace with `torch.log_softmax(z, dim=1)`]" in out.stdout


FRAMEWORK_PROBE = """
import sys
from actlint.cli import main
code = main(sys.argv[1:])
heavy = sorted(m for m in sys.modules if m.split('.')[0] in {'torch', 'keras', 'tensorflow', 'jax', 'matplotlib'})
print('IMPORTED', heavy, file=sys.stderr)
sys.exit(code)
"""


def test_static_linting_imports_no_framework():
    """Linting every fixture (all rules, fixes computed) leaves torch, keras and tensorflow unimported."""
    out = subprocess.run([sys.executable, "-c", FRAMEWORK_PROBE, "--no-cache", "--jobs", "1", "--format", "json",
                          str(ROOT / "fixtures")], capture_output=True, text=True, timeout=300)
    assert out.returncode == 1, out.stderr
    assert len(json.loads(out.stdout)) > 50
    assert "IMPORTED []" in out.stderr, out.stderr


@pytest.mark.skipif(shutil.which("git") is None, reason="pre-commit needs git")
def test_pre_commit_try_repo(tmp_path):
    """The hook installs from this checkout in pre-commit's own venv and fails the commit on a finding; a
    staged file the project excludes is neither linted nor touched."""
    pytest.importorskip("pre_commit")
    work = tmp_path / "project"
    work.mkdir()
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    subprocess.run(["git", "init", "-q"], cwd=work, check=True, env=env)
    (work / "model.py").write_text("import torch.nn.functional as F\n\n\ndef f(x):\n    return F.softmax(x)\n")
    (work / "clean.py").write_text("import torch.nn.functional as F\n\n\ndef f(x):\n    return F.softmax(x, dim=-1)\n")
    (work / "notes.txt").write_text("F.softmax(x)\n")
    (work / "pyproject.toml").write_text('[tool.actlint]\nextend-exclude = ["generated"]\n')
    (work / "generated").mkdir()
    excluded = "import torch.nn.functional as F\n\n\ndef g(x):\n    return F.softmax(x)\n"
    (work / "generated" / "layers.py").write_text(excluded)
    (work / "net.py").write_text("import torch\nfrom torch import nn\n\n\nclass Net(nn.Module):\n"
                                 "    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(8, 4)\n\n"
                                 "    def forward(self, x):\n        return torch.softmax(self.fc(x), dim=1)\n")
    (work / "fit.py").write_text("import torch\nfrom torch import nn\n\nfrom net import Net\n\ntorch.manual_seed(0)\n"
                                 "model = Net()\nloss = nn.CrossEntropyLoss()(model(torch.randn(4, 8)), torch.tensor([0, 1, 2, 3]))\n"
                                 "loss.backward()\n")
    subprocess.run(["git", "add", "."], cwd=work, check=True, env=env)

    def try_repo(*files: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), "actlint", "--files", *files],
                              cwd=work, capture_output=True, text=True, env=env, timeout=600)

    failing = try_repo("model.py", "clean.py", "notes.txt")
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert "model.py:5:12: ACT104" in failing.stdout
    assert "clean.py" not in failing.stdout.split("Failed", 1)[-1]
    passing = try_repo("clean.py", "notes.txt")
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert "Passed" in passing.stdout
    skipped = try_repo("generated/layers.py", "clean.py")
    assert skipped.returncode == 0, skipped.stdout + skipped.stderr
    assert "layers.py" not in skipped.stdout
    assert (work / "generated" / "layers.py").read_text() == excluded
    # the usual commit changes the model only; its softmax reaches the loss in fit.py
    cross = try_repo("net.py")
    assert cross.returncode == 1, cross.stdout + cross.stderr
    assert "net.py:11:16: ACT102 softmax output is fed to CrossEntropyLoss at fit.py:8" in cross.stdout


def test_the_pre_commit_snippet_pins_this_release():
    """The README's ``rev:`` is the package's version, and where this clone carries tags, that tag exists here."""
    from actlint import __version__

    revs = re.findall(r"^\s+rev: (\S+)$", (ROOT / "README.md").read_text(), re.MULTILINE)
    assert revs == [f"v{__version__}"]
    assert f"## {__version__} " in (ROOT / "CHANGELOG.md").read_text()
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the tag cannot be looked up")
    tags = subprocess.run(["git", "-C", str(ROOT), "tag", "--list", "v*"], capture_output=True, text=True).stdout
    if not tags.strip():
        pytest.skip("this clone carries no tags (a shallow or single-branch clone)")
    found = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet", f"{revs[0]}^{{commit}}"],
                           capture_output=True, text=True)
    assert found.returncode == 0, f"README pins {revs[0]}, which is not a tag of this repository"

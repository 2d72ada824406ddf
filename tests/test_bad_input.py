"""Bad input gives a clear finding or message and never costs the other files' results."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SOFTMAX = "import torch.nn.functional as F\n\n\ndef f(x):\n    return F.softmax(x)\n"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "actlint", "--no-cache", "--format", "json", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=300)


def lint_beside_a_good_file(tmp_path: Path, name: str, content: bytes) -> tuple[subprocess.CompletedProcess, list]:
    """Lint a bad file together with a file that has one ACT104 finding."""
    (tmp_path / name).write_bytes(content)
    (tmp_path / "good.py").write_text(SOFTMAX, encoding="utf-8")
    out = run(name, "good.py", cwd=tmp_path)
    assert "Traceback" not in out.stderr, out.stderr
    findings = json.loads(out.stdout)
    assert [(f["path"], f["code"], f["line"]) for f in findings if f["path"] == "good.py"] == [("good.py", "ACT104", 5)]
    return out, [f for f in findings if f["path"] == name]


def test_syntax_error_is_one_act000_with_the_parsers_position(tmp_path):
    out, bad = lint_beside_a_good_file(tmp_path, "broken.py", b"import torch\n\ndef f(:\n    pass\n")
    assert out.returncode == 1
    assert len(bad) == 1 and bad[0]["code"] == "ACT000"
    assert bad[0]["line"] == 3 and bad[0]["column"] >= 1
    assert "syntax" in bad[0]["message"].lower()


def test_non_utf8_file(tmp_path):
    out, bad = lint_beside_a_good_file(tmp_path, "latin.py", "import torch\nname = 'caf\xe9'\n".encode("latin-1"))
    assert [f["code"] for f in bad] == ["ACT000"]
    assert "utf-8" in bad[0]["message"].lower() and bad[0]["line"] == 2


def test_declared_encoding_is_honoured(tmp_path):
    source = "# -*- coding: latin-1 -*-\nimport torch.nn.functional as F\n# caf\xe9\ny = F.softmax(x)\n"
    out, bad = lint_beside_a_good_file(tmp_path, "latin.py", source.encode("latin-1"))
    assert [(f["code"], f["line"]) for f in bad] == [("ACT104", 4)]


def test_empty_file(tmp_path):
    out, bad = lint_beside_a_good_file(tmp_path, "empty.py", b"")
    assert bad == [] and out.returncode == 1


def test_binary_file_named_py(tmp_path):
    out, bad = lint_beside_a_good_file(tmp_path, "blob.py", bytes(range(256)) * 64)
    assert [f["code"] for f in bad] == ["ACT000"]
    assert "binary" in bad[0]["message"].lower() or "nul" in bad[0]["message"].lower()


def test_deeply_nested_expression(tmp_path):
    source = "import torch\nx = " + "(" * 5000 + "1" + ")" * 5000 + "\n"
    out, bad = lint_beside_a_good_file(tmp_path, "deep.py", source.encode())
    assert [(f["code"], f["line"]) for f in bad] == [("ACT000", 2)]
    assert "nest" in bad[0]["message"].lower()


def test_deep_but_parsable_nesting_is_linted(tmp_path):
    source = "import torch.nn.functional as F\nx = " + "[" * 60 + "F.softmax(y)" + "]" * 60 + "\n"
    out, bad = lint_beside_a_good_file(tmp_path, "deep.py", source.encode())
    assert [(f["code"], f["line"]) for f in bad] == [("ACT104", 2)]


def test_long_chain_of_binary_operators(tmp_path):
    source = "import torch\nx = " + " + ".join(["torch.ones(1)"] * 3000) + "\n"
    out, bad = lint_beside_a_good_file(tmp_path, "chain.py", source.encode())
    assert all(f["code"] == "ACT000" for f in bad)


def test_five_megabyte_generated_file_is_skipped_with_a_notice(tmp_path):
    body = "import torch\n" + "".join(f"w_{i} = torch.zeros(3)  # generated weights table row\n" for i in range(110_000))
    assert len(body) > 5_000_000
    out, bad = lint_beside_a_good_file(tmp_path, "generated.py", body.encode())
    assert bad == []
    assert "generated.py" in out.stderr and "skipped" in out.stderr
    assert out.returncode == 1  # the good file's finding still counts


def test_large_file_under_the_limit_is_linted(tmp_path):
    body = "import torch.nn.functional as F\n" + "".join(f"w_{i} = {i}\n" for i in range(30_000)) + "y = F.softmax(x)\n"
    out, bad = lint_beside_a_good_file(tmp_path, "big.py", body.encode())
    assert [(f["code"], f["line"]) for f in bad] == [("ACT104", 30_002)]


def test_unreadable_file(tmp_path):
    if hasattr(sys, "getuid") and sys.platform != "win32" and __import__("os").getuid() == 0:
        pytest.skip("root reads files whatever their mode")
    path = tmp_path / "secret.py"
    path.write_text(SOFTMAX)
    path.chmod(0)
    out, bad = lint_beside_a_good_file(tmp_path, "other.py", b"x = 1\n")
    assert "Traceback" not in out.stderr


def test_missing_path_and_empty_folder_together(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "good.py").write_text(SOFTMAX)
    out = run("missing.py", "empty", "good.py", cwd=tmp_path)
    assert out.returncode == 2
    assert "missing.py: no such file or folder" in out.stderr and "Traceback" not in out.stderr
    assert [f["code"] for f in json.loads(out.stdout)] == ["ACT104"]


RAISING_RUN = """
import sys
from actlint.checks import all_rules
from actlint.cli import main

rule = all_rules()["ACT104"]
original = rule.check

def exploding(self):
    if "BOOM" in self.ctx.text:
        raise RuntimeError("kaboom")
    yield from original(self)

rule.check = exploding
sys.exit(main(sys.argv[1:]))
"""


def test_a_rule_that_raises_loses_no_other_result(tmp_path):
    """An exception in one rule on one file is an internal error naming both (exit 2); every other result stays."""
    for name in ("a.py", "c.py"):
        (tmp_path / name).write_text(SOFTMAX)
    (tmp_path / "boom.py").write_text(SOFTMAX + "BOOM = 1\n")
    out = subprocess.run([sys.executable, "-c", RAISING_RUN, "--no-cache", "--format", "json", "--jobs", "1", "."],
                         capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.returncode == 2, out.stderr
    assert sorted(f["path"] for f in json.loads(out.stdout)) == ["a.py", "c.py"]
    assert "Traceback" not in out.stderr
    assert "boom.py: internal error in ACT104: RuntimeError: kaboom" in out.stderr


def test_rule_option_of_the_wrong_type_is_a_config_error(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.actlint.ACT101]\ntanh_min_depth = "two"\n')
    (tmp_path / "m.py").write_text(SOFTMAX)
    out = run("m.py", cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "tanh_min_depth = 'two': expected int" in out.stderr


def test_a_file_over_the_time_budget_is_skipped_with_a_notice(tmp_path):
    # a budget a five-line file meets on a loaded machine, and 150 000 lines (under the size limit) do not
    (tmp_path / "pyproject.toml").write_text("[tool.actlint]\nmax-file-seconds = 1.0\n")
    body = "import torch.nn.functional as F\n" + "".join(f"w_{i} = F.relu({i})\n" for i in range(150_000))
    out, bad = lint_beside_a_good_file(tmp_path, "slow.py", body.encode())
    assert bad == []
    assert "slow.py: skipped: linting took over 1 s (max-file-seconds)" in out.stderr
    assert out.returncode == 1  # the good file's finding still counts
    cached = run("slow.py", cwd=tmp_path)  # a timed-out file is not cached as clean: it times out again
    assert "max-file-seconds" in cached.stderr


def test_a_file_changed_while_being_fixed_is_left_alone(tmp_path, monkeypatch):
    import actlint.fixes
    from actlint.config import Config
    from actlint.engine import fix_file

    path = tmp_path / "m.py"
    path.write_text("import torch\n\nlp = torch.log(torch.softmax(z, dim=1))\n")
    edited = "import torch\n\n# the user's edit, made while the fix ran\nlp = torch.log(torch.softmax(z, dim=1))\n"
    real_fix_text = actlint.fixes.fix_text

    def fix_and_meanwhile_edit(*args, **kwargs):
        outcome = real_fix_text(*args, **kwargs)
        path.write_text(edited)
        return outcome

    monkeypatch.setattr(actlint.fixes, "fix_text", fix_and_meanwhile_edit)
    outcome = fix_file(path, Config(root=tmp_path), unsafe=False, write=True)
    assert path.read_text() == edited
    assert any("changed while actlint was fixing it" in problem for problem in outcome.problems)

"""The command line: exit codes, output formats, selection, configuration and suppression."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import ROOT, SARIF_SCHEMA, SHARED_CASES
from expectations import read_expectations

BAD = ROOT / "fixtures" / "act104" / "bad_softmax_no_dim.py"
GOOD = ROOT / "fixtures" / "act104" / "good_softmax_dim.py"
TEXT_LINE = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<code>ACT\d{3}) (?P<message>.+)$")

SOFTMAX = "import torch.nn.functional as F\n\n\ndef f(x):\n    return F.softmax(x)\n"
SIGMOID_MLP = textwrap.dedent("""\
    import torch.nn as nn

    net = nn.Sequential(nn.Linear(8, 8), nn.Sigmoid(), nn.Linear(8, 2))
""")


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "actlint", "--no-cache", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=120)


FIX_SUMMARY = re.compile(r"\[\*\] \d+ fixable with `actlint --fix( --unsafe-fixes)?`( \(\d+ more with `--unsafe-fixes`\))?\.|"
                         r"\d+ fix(es)? may change behaviour: `--diff --unsafe-fixes` shows (it|them), "
                         r"`--fix --unsafe-fixes` applies (it|them)\.")


def finding_lines(stdout: str) -> list[str]:
    """The report's finding lines, without the closing summary (the count, then what --fix would fix)."""
    lines = stdout.splitlines()
    while lines and FIX_SUMMARY.fullmatch(lines[-1]):
        lines.pop()
    if lines:
        assert re.fullmatch(r"Found \d+ findings? in \d+ files?\.", lines[-1]), lines[-1]
    return lines[:-1]


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def expected_lines(path: Path, code: str) -> list[int]:
    return sorted(read_expectations(path.read_text(encoding="utf-8"))[0].get(code, []))


# --- exit codes and the text format -------------------------------------------------

def test_findings_exit_1_in_editor_format():
    out = run(str(BAD))
    assert out.returncode == 1, out.stderr
    lines = finding_lines(out.stdout)
    parsed = [TEXT_LINE.match(line) for line in lines]
    assert all(parsed), lines
    assert [int(m["line"]) for m in parsed] == expected_lines(BAD, "ACT104")
    assert {m["code"] for m in parsed} == {"ACT104"}
    assert all(Path(m["path"]).name == BAD.name for m in parsed)
    assert "pass dim explicitly (dim=-1 for classes last)" in parsed[0]["message"]


def test_clean_file_exit_0_and_no_output():
    out = run(str(GOOD))
    assert (out.returncode, out.stdout) == (0, ""), out.stderr


def test_exit_zero_keeps_the_report():
    out = run("--exit-zero", str(BAD))
    assert out.returncode == 0 and "ACT104" in out.stdout


def test_version():
    from actlint import __version__

    out = run("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"actlint {__version__}"


def test_missing_path_is_a_usage_error_but_other_files_still_report(tmp_path):
    out = run(str(tmp_path / "nope.py"), str(BAD))
    assert out.returncode == 2
    assert "nope.py: no such file or folder" in out.stderr
    assert out.stdout.count("ACT104") == len(expected_lines(BAD, "ACT104"))


def test_folder_with_no_python(tmp_path):
    write(tmp_path, "notes.txt", "nothing here\n")
    out = run(str(tmp_path))
    assert out.returncode == 0 and out.stdout == ""
    assert "no Python files found" in out.stderr


def test_unknown_flag_and_unknown_code_exit_2():
    assert run("--frobnicate").returncode == 2
    out = run("--select", "ACT999", str(BAD))
    assert out.returncode == 2 and "matches no rule code" in out.stderr


def test_default_path_is_the_current_folder(tmp_path):
    write(tmp_path, "pkg/model.py", SOFTMAX)
    out = run(cwd=tmp_path)
    assert out.returncode == 1
    assert out.stdout.startswith("pkg/model.py:5:12: ACT104 ")


def test_output_file(tmp_path):
    report = tmp_path / "report.json"
    out = run("--format", "json", "--output", str(report), str(BAD))
    assert out.returncode == 1 and out.stdout == ""
    assert len(json.loads(report.read_text())) == len(expected_lines(BAD, "ACT104"))


# --- JSON, SARIF, GitHub --------------------------------------------------------------

def test_json_fields():
    out = run("--format", "json", str(BAD))
    data = json.loads(out.stdout)
    assert out.returncode == 1
    for item in data:
        assert {"code", "name", "path", "line", "column", "end_line", "end_column", "message", "fix"} <= set(item)
        assert item["code"] == "ACT104" and item["name"] == "softmax-without-dim"
        assert item["end_line"] >= item["line"]
    assert [d["line"] for d in data] == expected_lines(BAD, "ACT104")
    # ACT104's dim=-1 fix is unsafe; it is still described
    assert data[0]["fix"]["applicability"] == "unsafe"


def test_json_empty_array_when_clean():
    out = run("--format", "json", str(GOOD))
    assert out.returncode == 0 and json.loads(out.stdout) == []


def _sarif(*paths: str) -> dict:
    out = run("--format", "sarif", *paths)
    assert out.returncode in (0, 1), out.stderr
    return json.loads(out.stdout)


def test_sarif_has_rules_with_help_and_results_with_regions():
    sarif = _sarif(str(BAD))
    assert sarif["version"] == "2.1.0"
    run_ = sarif["runs"][0]
    rules = {r["id"]: r for r in run_["tool"]["driver"]["rules"]}
    assert "ACT104" in rules and rules["ACT104"]["help"]["markdown"].startswith("# ACT104")
    results = run_["results"]
    assert [r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in results] == \
        expected_lines(BAD, "ACT104")
    for r in results:
        assert r["ruleId"] == "ACT104"
        assert rules[r["ruleId"]] is run_["tool"]["driver"]["rules"][r["ruleIndex"]] or \
            run_["tool"]["driver"]["rules"][r["ruleIndex"]]["id"] == "ACT104"
        location = r["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"].endswith("bad_softmax_no_dim.py")
        assert location["region"]["startColumn"] >= 1


@pytest.mark.skipif(not SARIF_SCHEMA.is_file(), reason=f"{SARIF_SCHEMA} is absent (a fresh clone has no ../shared)")
@pytest.mark.parametrize("paths", [[str(BAD)], [str(GOOD)], [str(ROOT / "fixtures")]], ids=["findings", "clean", "all"])
def test_sarif_validates_against_the_2_1_0_schema(paths):
    import jsonschema

    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.validate(_sarif(*paths), schema)


def test_github_annotations():
    out = run("--format", "github", str(BAD))
    lines = out.stdout.strip().splitlines()
    assert out.returncode == 1 and len(lines) == len(expected_lines(BAD, "ACT104"))
    pattern = re.compile(r"^::warning file=(?P<file>[^,]+),line=(?P<line>\d+),col=(?P<col>\d+),"
                         r"endLine=\d+,endColumn=\d+,title=ACT104 softmax-without-dim::ACT104 .+$")
    matches = [pattern.match(line) for line in lines]
    assert all(matches), lines
    assert [int(m["line"]) for m in matches] == expected_lines(BAD, "ACT104")


def test_github_annotation_escapes_newlines_and_commas(tmp_path):
    from actlint.findings import Finding
    from actlint.output import FORMATTERS

    finding = Finding(code="ACT104", name="softmax-without-dim", message="a, b\nc%d", path="x,y.py",
                      line=1, column=1, end_line=1, end_column=2)
    line = FORMATTERS["github"]([finding]).strip()
    assert "\n" not in line
    assert "file=x%2Cy.py" in line and line.endswith("a, b%0Ac%25d")


# --- selection and configuration -------------------------------------------------------

def test_select_and_ignore(tmp_path):
    path = write(tmp_path, "m.py", SOFTMAX + SIGMOID_MLP)
    both = run(str(path))
    assert {"ACT104", "ACT101"} <= set(re.findall(r"ACT\d{3}", both.stdout))
    only = run("--select", "ACT104", str(path))
    assert set(re.findall(r"ACT\d{3}", only.stdout)) == {"ACT104"}
    ignored = run("--ignore", "ACT104", str(path))
    assert "ACT104" not in ignored.stdout and "ACT101" in ignored.stdout
    prefix = run("--select", "ACT10", "--ignore", "ACT101", str(path))
    assert set(re.findall(r"ACT\d{3}", prefix.stdout)) == {"ACT104"}


def test_pyproject_select_ignore_per_file_ignores_and_exclude(tmp_path):
    write(tmp_path, "pyproject.toml", textwrap.dedent("""\
        [tool.actlint]
        ignore = ["ACT101"]
        exclude = ["generated"]
        per-file-ignores = { "scripts/*.py" = ["ACT104"] }
    """))
    write(tmp_path, "model.py", SOFTMAX + SIGMOID_MLP)
    write(tmp_path, "scripts/tool.py", SOFTMAX)
    write(tmp_path, "generated/out.py", SOFTMAX)
    out = run(".", cwd=tmp_path)
    assert out.returncode == 1, out.stderr
    assert all(line.startswith("model.py:") for line in finding_lines(out.stdout)), out.stdout
    assert set(re.findall(r"ACT\d{3}", out.stdout)) == {"ACT104"}
    # the command line overrides the file: select brings ACT101 back
    cli = run("--select", "ACT101", ".", cwd=tmp_path)
    assert set(re.findall(r"ACT\d{3}", cli.stdout)) == {"ACT101"}


def test_force_exclude_applies_the_excludes_to_named_files(tmp_path):
    """Named files are linted even when excluded, as flake8 and ruff do, unless --force-exclude (or
    force-exclude = true); then --fix leaves an excluded file exactly as it was."""
    write(tmp_path, "pyproject.toml", '[tool.actlint]\nextend-exclude = ["generated"]\n')
    write(tmp_path, ".gitignore", "scratch/\n")
    (tmp_path / ".git").mkdir()
    write(tmp_path, "generated/out.py", SOFTMAX)
    write(tmp_path, "scratch/try.py", SOFTMAX)
    write(tmp_path, "model.py", SOFTMAX)
    named = run("generated/out.py", "scratch/try.py", cwd=tmp_path)
    assert [line.split(": ")[0] for line in finding_lines(named.stdout)] == [
        "generated/out.py:5:12", "scratch/try.py:5:12"]
    forced = run("--force-exclude", "--fix", "--unsafe-fixes", "generated/out.py", "scratch/try.py", "model.py", cwd=tmp_path)
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert (tmp_path / "generated/out.py").read_text() == SOFTMAX
    assert (tmp_path / "scratch/try.py").read_text() == SOFTMAX
    assert "dim=" in (tmp_path / "model.py").read_text()
    only_excluded = run("--force-exclude", "generated/out.py", cwd=tmp_path)
    assert (only_excluded.returncode, only_excluded.stdout) == (0, "")
    assert "no Python files found" not in only_excluded.stderr  # a hook on excluded files is a clean pass
    write(tmp_path, "pyproject.toml", '[tool.actlint]\nextend-exclude = ["generated"]\nforce-exclude = true\n')
    assert run("generated/out.py", cwd=tmp_path).stdout == ""
    write(tmp_path, "pyproject.toml", '[tool.actlint]\nforce-exclude = "yes"\n')
    bad = run("generated/out.py", cwd=tmp_path)
    assert bad.returncode == 2 and "force-exclude must be true or false" in bad.stderr


def test_rule_options_from_pyproject(tmp_path):
    one_tanh = textwrap.dedent("""\
        import torch.nn as nn

        net = nn.Sequential(nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 2))
    """)
    write(tmp_path, "m.py", one_tanh)
    assert run("m.py", cwd=tmp_path).returncode == 0  # one tanh hidden layer is fine by default
    write(tmp_path, "pyproject.toml", "[tool.actlint.ACT101]\ntanh_min_depth = 1\n")
    out = run("m.py", cwd=tmp_path)
    assert out.returncode == 1 and "ACT101" in out.stdout


def test_bad_config_is_a_usage_error(tmp_path):
    write(tmp_path, "m.py", SOFTMAX)
    write(tmp_path, "pyproject.toml", "[tool.actlint.ACT101]\nno_such_option = 3\n")
    out = run("m.py", cwd=tmp_path)
    assert out.returncode == 2 and "no_such_option" in out.stderr and "Traceback" not in out.stderr
    write(tmp_path, "pyproject.toml", "[tool.actlint\nselect = [\n")
    out = run("m.py", cwd=tmp_path)
    assert out.returncode == 2 and "pyproject.toml" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("setting, message", [
    ('select = ["ACT1O1"]', "[tool.actlint] select: 'ACT1O1' matches no rule code; did you mean 'ACT101'"),
    ('ignore = ["softmax-without-dim"]',
     "[tool.actlint] ignore: 'softmax-without-dim' is the name of ACT104; write the code 'ACT104'"),
    ('extend-select = ["ACT10A"]', "[tool.actlint] extend-select: 'ACT10A' matches no rule code"),
    ('per-file-ignores = { "tests/*" = ["ACT2"] }',
     "[tool.actlint] per-file-ignores.'tests/*': 'ACT2' matches no rule code; 'actlint rule --all' lists the codes"),
    ('ignore = ["ACT903"]', "'ACT903' is a runtime diagnostic of --verify"),
])
def test_a_config_typo_is_a_usage_error_naming_key_value_and_closest_code(tmp_path, setting, message):
    """A typo that turned the rules off would pass in CI: it exits 2 before any file is linted."""
    write(tmp_path, "m.py", SOFTMAX)
    write(tmp_path, "pyproject.toml", f"[tool.actlint]\n{setting}\n")
    out = run("m.py", cwd=tmp_path)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith(f"actlint: {tmp_path / 'pyproject.toml'}: "), out.stderr
    assert message in out.stderr, out.stderr


def test_valid_prefixes_in_the_config_still_select(tmp_path):
    write(tmp_path, "m.py", SOFTMAX + SIGMOID_MLP)
    write(tmp_path, "pyproject.toml", '[tool.actlint]\nselect = ["act10", "ALL"]\nignore = ["ACT101"]\n')
    out = run("m.py", cwd=tmp_path)
    assert out.returncode == 1, out.stderr
    assert set(re.findall(r"ACT\d{3}", out.stdout)) == {"ACT104"}


def test_a_command_line_typo_names_the_option_and_the_closest_code():
    out = run("--ignore", "ACT1O4", str(BAD))
    assert out.returncode == 2
    assert "actlint: --ignore: 'ACT1O4' matches no rule code; did you mean 'ACT104'" in out.stderr


def test_gitignore_is_honoured_unless_told_otherwise(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    write(tmp_path, ".gitignore", "out/\n")
    write(tmp_path, "out/copy.py", SOFTMAX)
    write(tmp_path, "src/model.py", SOFTMAX)
    out = run(".", cwd=tmp_path)
    assert [line.split(":")[0] for line in finding_lines(out.stdout)] == ["src/model.py"]
    every = run("--no-gitignore", ".", cwd=tmp_path)
    assert sorted(line.split(":")[0] for line in finding_lines(every.stdout)) == ["out/copy.py", "src/model.py"]


# --- suppression -------------------------------------------------------------------------

@pytest.mark.parametrize("comment, suppressed", [
    ("# noqa", True),
    ("# noqa: ACT104", True),
    ("# NOQA:ACT104,ACT101", True),
    ("# noqa: ACT10", True),
    ("# noqa: ACT101", False),
    ("# noqa: E501", False),
])
def test_noqa(tmp_path, comment, suppressed):
    path = write(tmp_path, "m.py", SOFTMAX.replace("F.softmax(x)", f"F.softmax(x)  {comment}"))
    out = run(str(path))
    assert (out.returncode, "ACT104" in out.stdout) == ((0, False) if suppressed else (1, True))


def test_noqa_on_one_line_does_not_hide_another(tmp_path):
    source = SOFTMAX.replace("return F.softmax(x)", "a = F.softmax(x)  # noqa: ACT104\n    return F.softmax(a)")
    out = run(str(write(tmp_path, "m.py", source)))
    assert out.returncode == 1 and out.stdout.count("ACT104") == 1 and ":6:" in out.stdout


# --- the done-when checks on the shared cases -----------------------------------------

@pytest.mark.skipif(not SHARED_CASES.is_dir(), reason=f"{SHARED_CASES} is absent (a fresh clone has no ../shared)")
def test_shared_softmax_case_and_clean_block():
    case = SHARED_CASES / "torch_softmax_no_dim.py"
    out = run("--format", "json", str(case))
    assert out.returncode == 1
    assert [(d["code"], d["line"]) for d in json.loads(out.stdout)] == \
        [("ACT104", line) for line in expected_lines(case, "ACT104")]
    clean = run("--format", "json", str(SHARED_CASES / "clean_transformer_block.py"))
    assert (clean.returncode, json.loads(clean.stdout)) == (0, [])


def test_readme_example_output_is_what_actlint_prints():
    """The README shows the first command's output; it must stay the output actlint gives today."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"Example output:\n\n```text\n(?P<body>.*?)```", readme, re.S)
    assert block, "README has no 'Example output:' block"
    result = run("examples/mnist_mlp.py", cwd=ROOT)
    assert result.returncode == 1, result.stderr
    assert result.stdout == block["body"]


def test_file_level_noqa_silences_the_whole_file_or_its_codes(tmp_path):
    write(tmp_path, "all.py", "# actlint: noqa\n" + SOFTMAX + SIGMOID_MLP)
    write(tmp_path, "some.py", SOFTMAX + SIGMOID_MLP + "# actlint: noqa: ACT101\n")
    write(tmp_path, "inline.py", SOFTMAX + SIGMOID_MLP + "x = 1  # actlint: noqa\n")  # not on a line of its own
    assert run("all.py", cwd=tmp_path).stdout == ""
    some = run("some.py", cwd=tmp_path)
    assert set(re.findall(r"ACT\d{3}", some.stdout)) == {"ACT104"}
    inline = run("inline.py", cwd=tmp_path)
    assert set(re.findall(r"ACT\d{3}", inline.stdout)) == {"ACT101", "ACT104"}


def test_the_light_code_table_is_the_registry():
    """The command line checks codes against actlint.codes (no LibCST import); it must name every rule."""
    from actlint.checks import all_rules
    from actlint.codes import RULE_NAMES

    assert RULE_NAMES == {code: rule.name for code, rule in all_rules().items()}


def test_a_warm_run_does_not_load_the_rules(tmp_path):
    """Everything from the cache: the rules (and LibCST with them) are never imported."""
    (tmp_path / "model.py").write_text("import torch.nn as nn\n\nnet = nn.Sequential(nn.Linear(2, 2), nn.Softmax())\n")
    probe = ("import sys; from actlint.cli import main; code = main(sys.argv[1:]); "
             "print('libcst' in sys.modules); raise SystemExit(code)")
    args = [sys.executable, "-c", probe, "--select", "ALL", "--cache-dir", str(tmp_path / "cache"), str(tmp_path)]
    first = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path)
    assert first.returncode == 1 and first.stdout.strip().endswith("True")
    second = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path)
    assert second.returncode == 1 and "ACT104" in second.stdout
    assert second.stdout.strip().endswith("False")

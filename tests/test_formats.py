"""The concise, grouped, GitLab Code Quality and JUnit formats: exact content on a small project, the empty
run, notebook cells, escaping, schemas (tests/schemas/, written from the formats' documentation), and how
they combine with --statistics, --output and --verify."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import ROOT

from actlint.findings import Finding
from actlint.output import FORMATTERS

SCHEMAS = Path(__file__).resolve().parent / "schemas"
SOFTMAX_MESSAGE = ("softmax without dim: PyTorch infers it from the input's rank, a deprecated choice that is dim 1 "
                   "for 2-D input but dim 0 for 3-D input, the batch of (batch, seq, classes); pass dim explicitly "
                   "(dim=-1 for classes last)")
SIGMOID_MESSAGE = ("sigmoid between learned layers shrinks the gradient at least 4× per layer (its slope is ≤ 0.25); "
                   "use ReLU, GELU or SiLU with Kaiming init")
# (path, cell, line, column, code, message) of every finding in the project below, in report order
EXPECTED = [
    ("nb.ipynb", 2, 2, 5, "ACT104", SOFTMAX_MESSAGE),
    ("pkg/model.py", None, 5, 12, "ACT104", SOFTMAX_MESSAGE),
    ("pkg/net.py", None, 3, 38, "ACT101", SIGMOID_MESSAGE),
    ("train.py", None, 3, 5, "ACT104", SOFTMAX_MESSAGE),
    ("train.py", None, 5, 5, "ACT104", SOFTMAX_MESSAGE),  # the same text as line 3: its own fingerprint
]
SOURCES = {
    "pkg/model.py": "import torch.nn.functional as F\n\n\ndef f(x):\n    return F.softmax(x)\n",
    "pkg/net.py": "import torch.nn as nn\n\nnet = nn.Sequential(nn.Linear(8, 8), nn.Sigmoid(), nn.Linear(8, 2))\n",
    "train.py": "import torch.nn.functional as F\n\np = F.softmax(x)\nq = 1\np = F.softmax(x)\n",
    "clean.py": "import torch.nn.functional as F\n\np = F.softmax(x, dim=-1)\n",
}


def _notebook(cells: list[tuple[str, str]]) -> str:
    return json.dumps({"cells": [{"cell_type": kind, "metadata": {}, "source": source.splitlines(keepends=True),
                                  **({"execution_count": None, "outputs": []} if kind == "code" else {})}
                                 for kind, source in cells],
                       "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


NOTEBOOK = [("markdown", "# A <notebook> & \"its\" cells\n"),
            ("code", "import torch.nn.functional as F\np = F.softmax(x)\n")]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name, text in SOURCES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    (tmp_path / "nb.ipynb").write_text(_notebook(NOTEBOOK), encoding="utf-8")
    return tmp_path


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "actlint", "--no-cache", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, encoding="utf-8", timeout=300)


def where(path, cell, line, column) -> str:
    return f"{path}:{'' if cell is None else f'cell {cell}:'}{line}:{column}"


def finding(**fields) -> Finding:
    base = dict(code="ACT104", name="softmax-without-dim", message="m", path="m.py", line=1, column=1, end_line=1,
                end_column=2)
    return Finding(**{**base, **fields})


# --- concise ----------------------------------------------------------------------------------------------

def test_concise_is_one_line_per_finding_and_nothing_else(project):
    out = run("--format", "concise", ".", cwd=project)
    assert out.returncode == 1, out.stderr
    assert out.stdout == "".join(f"{where(p, c, l, col)}: {code} {m}\n" for p, c, l, col, code, m in EXPECTED)


def test_concise_and_grouped_print_nothing_for_a_clean_run(project):
    for fmt in ("concise", "grouped"):
        out = run("--format", fmt, "clean.py", cwd=project)
        assert (out.returncode, out.stdout) == (0, ""), (fmt, out.stderr)


# --- grouped ----------------------------------------------------------------------------------------------

def test_grouped_puts_findings_under_their_file_then_the_count(project):
    out = run("--format", "grouped", ".", cwd=project)
    assert out.returncode == 1, out.stderr
    assert out.stdout == (
        "nb.ipynb\n"
        f"  cell 2:2:5  ACT104  {SOFTMAX_MESSAGE}\n"
        "\n"
        "pkg/model.py\n"
        f"  5:12  ACT104  {SOFTMAX_MESSAGE}\n"
        "\n"
        "pkg/net.py\n"
        f"  3:38  ACT101  {SIGMOID_MESSAGE}\n"
        "\n"
        "train.py\n"
        f"  3:5  ACT104  {SOFTMAX_MESSAGE}\n"
        f"  5:5  ACT104  {SOFTMAX_MESSAGE}\n"
        "\n"
        "Found 5 findings in 4 files.\n")


def test_grouped_pads_positions_to_one_width_per_file_and_keeps_the_files_order():
    found = [finding(path="b.py", line=9, column=1), finding(path="b.py", line=10, column=12),
             finding(path="a.py", line=1, column=1, code="ACT101", message="x")]
    assert FORMATTERS["grouped"](found) == ("b.py\n  9:1    ACT104  m\n  10:12  ACT104  m\n\n"
                                            "a.py\n  1:1  ACT101  x\n\nFound 3 findings in 2 files.\n")


# --- GitLab Code Quality ----------------------------------------------------------------------------------

def validate_gitlab(report) -> None:
    import jsonschema

    schema = json.loads((SCHEMAS / "gitlab-codequality.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(report)
    fingerprints = [issue["fingerprint"] for issue in report]
    assert len(set(fingerprints)) == len(fingerprints), "GitLab shows only one issue per fingerprint"


def gitlab(project: Path, *paths: str) -> list[dict]:
    out = run("--format", "gitlab", *(paths or (".",)), cwd=project)
    assert out.returncode in (0, 1), out.stderr
    report = json.loads(out.stdout)
    validate_gitlab(report)
    return report


def test_gitlab_report_content(project):
    report = gitlab(project)
    assert [(i["location"]["path"], i["location"]["lines"], i["check_name"], i["severity"], i["description"])
            for i in report] == [
        (p, {"begin": line, "end": line}, code, "major",
         f"{code} {'' if cell is None else f'cell {cell}, line {line}: '}{m}")
        for p, cell, line, _, code, m in EXPECTED]
    assert all(re.fullmatch(r"[0-9a-f]{64}", i["fingerprint"]) for i in report)


def test_gitlab_empty_report_is_an_empty_array(project):
    out = run("--format", "gitlab", "clean.py", cwd=project)
    assert (out.returncode, out.stdout) == (0, "[]\n")
    validate_gitlab(json.loads(out.stdout))


def test_gitlab_fingerprints_stay_when_code_moves_and_change_when_the_line_does(project):
    before = [i["fingerprint"] for i in gitlab(project)]
    for name in ("pkg/model.py", "pkg/net.py", "train.py"):
        path = project / name
        path.write_text("# a header\n\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    moved_notebook = [NOTEBOOK[0], ("code", "import torch.nn.functional as F\n\n" + NOTEBOOK[1][1].split("\n", 1)[1])]
    (project / "nb.ipynb").write_text(_notebook(moved_notebook), encoding="utf-8")
    moved = gitlab(project)
    assert [i["location"]["lines"]["begin"] for i in moved] == [3, 7, 5, 5, 7]  # every finding moved down
    assert [i["fingerprint"] for i in moved] == before

    model = project / "pkg" / "model.py"
    model.write_text(model.read_text(encoding="utf-8").replace("F.softmax(x)", "F.softmax(x + 1)"), encoding="utf-8")
    edited = [i["fingerprint"] for i in gitlab(project)]
    assert edited[1] != before[1] and edited[:1] + edited[2:] == before[:1] + before[2:]


def test_gitlab_severity_follows_the_verdict_and_the_fingerprint_does_not():
    render = FORMATTERS["gitlab"]
    plain = finding(path="no/such/file.py", message="softmax without dim")
    verdicts = {v: finding(path="no/such/file.py", message=f"softmax without dim [verify: {v}: numbers]",
                           extra={"verdict": v, "evidence": {"summary": "numbers"}})
                for v in ("confirmed", "refuted", "inconclusive")}
    report = json.loads(render([plain, *verdicts.values()]))
    validate_gitlab(report[:1])
    assert [i["severity"] for i in report] == ["major", "critical", "info", "major"]
    assert report[2]["description"] == "ACT104 softmax without dim [verify: refuted: numbers]"
    # an unreadable line falls back on the message, without the verdict: the same finding, one fingerprint
    alone = [json.loads(render([f]))[0]["fingerprint"] for f in (plain, *verdicts.values())]
    assert len(set(alone)) == 1
    unreadable = json.loads(render([finding(code="ACT000", name="unreadable", message="cannot be decoded")]))
    assert unreadable[0]["severity"] == "critical"


# --- JUnit ------------------------------------------------------------------------------------------------

def validate_junit(xml: str) -> ET.Element:
    """Checked against tests/schemas/junit.xsd, and the counts against the test cases they count."""
    import xmlschema

    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    xmlschema.XMLSchema(SCHEMAS / "junit.xsd").validate(xml)
    root = ET.fromstring(xml)
    suites = root.findall("testsuite")
    for suite in suites:
        cases = suite.findall("testcase")
        assert int(suite.get("tests")) == len(cases)
        assert int(suite.get("failures")) == sum(len(c.findall("failure")) for c in cases)
    assert int(root.get("tests")) == sum(int(s.get("tests")) for s in suites)
    assert int(root.get("failures")) == sum(int(s.get("failures")) for s in suites)
    return root


def test_junit_report_content(project):
    out = run("--format", "junit", ".", cwd=project)
    assert out.returncode == 1, out.stderr
    root = validate_junit(out.stdout)
    assert (root.tag, root.get("name"), root.get("tests"), root.get("failures"), root.get("errors")) == \
        ("testsuites", "actlint", "5", "5", "0")
    assert [(s.get("name"), s.get("tests"), s.get("failures")) for s in root] == \
        [("nb.ipynb", "1", "1"), ("pkg/model.py", "1", "1"), ("pkg/net.py", "1", "1"), ("train.py", "2", "2")]
    cases = [(suite.get("name"), case.get("classname"), case.get("name"), case.find("failure").get("type"),
              case.find("failure").get("message"), case.find("failure").text)
             for suite in root for case in suite]
    assert cases == [
        (p, p.rsplit(".", 1)[0].replace("/", "."),
         f"{code} at {'' if cell is None else f'cell {cell}, '}line {line}:{col}", code, m,
         f"{where(p, cell, line, col)}: {code} {m}")
        for p, cell, line, col, code, m in EXPECTED]


def test_junit_without_findings_is_one_passing_test(project):
    out = run("--format", "junit", "clean.py", cwd=project)
    assert out.returncode == 0, out.stderr
    root = validate_junit(out.stdout)
    assert (root.get("tests"), root.get("failures")) == ("1", "0")
    [suite] = root
    [case] = suite
    assert (suite.get("name"), case.get("name"), list(case)) == ("actlint", "no findings", [])


def test_junit_and_gitlab_escape_markup_quotes_and_control_characters():
    message = "a < b && c > \"d\" 'e' ]]> \x1b[31m\nline two"
    path = "we<ird> & \"odd\".py"
    related = ({"path": "t&t.py", "line": 2, "column": 3, "end_line": 2, "end_column": 4, "message": "<loss> & co"},)
    found = [finding(path=path, message=message, related=related)]
    root = validate_junit(FORMATTERS["junit"](found))
    [suite] = root
    [case] = suite
    failure = case.find("failure")
    shown = message.replace("\x1b", "\ufffd")  # not representable in XML 1.0 even escaped
    assert suite.get("name") == path and failure.get("message") == shown
    assert failure.text == f"{path}:1:1: ACT104 {shown}\nsee also t&t.py:2:3: <loss> & co"
    assert FORMATTERS["junit"](found).isascii()  # non-ASCII travels as character references

    report = json.loads(FORMATTERS["gitlab"](found))
    validate_gitlab(report)
    assert report[0]["description"] == f"ACT104 {message} (see also t&t.py:2:3: <loss> & co)"
    assert report[0]["location"]["path"] == path


def test_junit_keeps_non_ascii_messages():
    found = [finding(path="modèle.py", message=SIGMOID_MESSAGE, code="ACT101")]
    [suite] = validate_junit(FORMATTERS["junit"](found))
    assert suite.get("name") == "modèle.py" and suite[0].find("failure").get("message") == SIGMOID_MESSAGE


# --- the command line -------------------------------------------------------------------------------------

def test_help_readme_and_formatters_name_every_format():
    from actlint.cli import FORMATS

    assert set(FORMATS) == set(FORMATTERS)
    help_text = run("--help").stdout
    assert "{" + ",".join(FORMATS) + "}" in re.sub(r"\s+", "", help_text)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"--format {'|'.join(FORMATS)}" in readme
    for name in FORMATS:
        assert f"- `{name}`:" in readme, f"README's format list lacks {name}"


def test_output_file_gets_the_same_report(project, tmp_path_factory):
    folder = tmp_path_factory.mktemp("reports")
    for fmt in ("concise", "grouped", "gitlab", "junit"):
        report = folder / f"report.{fmt}"
        written = run("--format", fmt, "--output", report, ".", cwd=project)
        printed = run("--format", fmt, ".", cwd=project)
        assert (written.returncode, written.stdout) == (1, ""), (fmt, written.stderr)
        assert report.read_text(encoding="utf-8") == printed.stdout != ""


def test_statistics_in_the_plain_text_formats_only(project):
    table = run("--statistics", ".", cwd=project)
    assert table.stdout == "4  ACT104  softmax-without-dim\n1  ACT101  saturating-hidden-activation\n"
    for fmt in ("concise", "grouped"):
        out = run("--statistics", "--format", fmt, ".", cwd=project)
        assert (out.returncode, out.stdout) == (1, table.stdout), (fmt, out.stderr)
    for fmt in ("gitlab", "junit"):
        out = run("--statistics", "--format", fmt, ".", cwd=project)
        assert out.returncode == 2 and f"--statistics prints a table (text, concise, grouped) or json, not {fmt}" in out.stderr


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="--verify needs torch")
def test_verify_verdicts_reach_gitlab_and_junit():
    softmax = ROOT / "fixtures" / "verify" / "robust" / "softmax_ce.py"
    report = json.loads(run("--verify", "--format", "gitlab", softmax).stdout)
    validate_gitlab(report)
    [issue] = report
    assert issue["check_name"] == "ACT102" and issue["severity"] == "critical"
    assert "[verify: confirmed: the tensor reaching the loss is already normalised" in issue["description"]
    root = validate_junit(run("--verify", "--format", "junit", softmax).stdout)
    failure = root.find("testsuite/testcase/failure")
    assert failure.get("type") == "ACT102" and "[verify: confirmed: " in failure.get("message")
    grouped = run("--verify", "--format", "grouped", softmax).stdout.splitlines()
    assert grouped[0] == "fixtures/verify/robust/softmax_ce.py" and "ACT102" in grouped[1]
    assert grouped[-2] == "Found 1 finding in 1 file." and grouped[-1].startswith("verify: 1 model, 1 built")

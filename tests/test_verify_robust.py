"""``--verify`` never crashes, shows progress on a terminal, reports its time, and verifies notebooks per cell.

One CLI run per scenario (module-scoped fixtures); each child costs ~1.5 s on CPU.
"""

from __future__ import annotations

import html
import io
import json
import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from test_verify import _needs, actlint

ROBUST = ROOT / "fixtures" / "verify" / "robust"
UNTRACED, SOFTMAX, NOTEBOOK = ROBUST / "untraced_layer.py", ROBUST / "softmax_ce.py", ROBUST / "classifier.ipynb"


def _run_env(env: dict, *args):
    """The CLI with extra environment; returns (status, parsed JSON, stderr)."""
    out = subprocess.run([sys.executable, "-m", "actlint", "--no-cache", "--jobs", "1", *map(str, args)],
                         capture_output=True, text=True, cwd=ROOT, timeout=300, env=dict(os.environ, **env))
    return out.returncode, json.loads(out.stdout) if "json" in args else out.stdout, out.stderr


def _places(findings):
    return {(Path(f["path"]).name, f.get("cell"), f["line"], f["code"]): f for f in findings}


# ---------------------------------------------------------------- no crash, ever

def test_loss_site_fed_by_an_untraced_call_has_no_producer_line():
    """The root of ``KeyError: None``: an op of unknown origin (no node) reaching a loss."""
    from actlint.verify.build.targets import loss_sites

    sites = loss_sites(UNTRACED.read_text(encoding="utf-8"))
    assert [(s["kind"], s["line"], s["producers"]) for s in sites] == [("mse", 22, [])]


def test_find_position_is_none_for_nodes_of_no_place():
    import libcst as cst

    from actlint.index import FileIndex

    index = FileIndex(cst.parse_module("x = 1\n"))
    assert index.find_position(None) is None
    assert index.find_position(cst.Name("elsewhere")) is None
    assert index.find_position(index.module.body[0]) == (1, 1, 1, 6)


@pytest.fixture(scope="module")
def faulty_prepare(tmp_path_factory):
    _needs("torch")
    report = tmp_path_factory.mktemp("fault") / "report"
    return (*_run_env({"ACTLINT_VERIFY_FAULT": "untraced_layer.py"}, "--verify", "--format", "json", "--report",
                      report, SOFTMAX, UNTRACED), report)


def test_internal_error_while_preparing_costs_only_that_file(faulty_prepare):
    rc, findings, err, _ = faulty_prepare
    places = _places(findings)
    assert rc == 2  # an internal error is exit status 2 even with a confirmed finding
    ok = places[("softmax_ce.py", None, 16, "ACT102")]
    assert ok["verdict"] == "confirmed"
    for line in (14, 16):
        bad = places[("untraced_layer.py", None, line, "ACT101")]
        assert bad["verdict"] == "inconclusive"
        assert bad["evidence"]["summary"] == ("internal error: RuntimeError: fault injected by "
                                              "ACTLINT_VERIFY_FAULT (stage prepare)")
    notes = [line for line in err.splitlines() if "internal error" in line]
    assert notes == ["actlint: internal error while preparing fixtures/verify/robust/untraced_layer.py: "
                     "RuntimeError: fault injected by ACTLINT_VERIFY_FAULT (stage prepare) "
                     "(--verbose shows the traceback)"]
    assert "Traceback" not in err


def test_internal_error_is_kept_in_the_report(faulty_prepare):
    folder = faulty_prepare[-1]
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert report["summary"]["internal_errors"] == 1 and report["summary"]["models"] == 1
    (fault,) = report["internal_errors"]
    assert fault["path"].endswith("untraced_layer.py") and fault["stage"] == "preparing"
    assert "Traceback (most recent call last)" in fault["traceback"] and "_fault_hook" in fault["traceback"]
    assert "internal error while preparing" in (folder / "index.html").read_text(encoding="utf-8")


def test_internal_error_while_judging_one_model_verbose():
    _needs("torch")
    rc, out, err = _run_env({"ACTLINT_VERIFY_FAULT": "softmax_ce.py:judge"}, "--verify", "--verbose", SOFTMAX,
                            UNTRACED)
    assert rc == 2
    assert "untraced_layer.py:14:5: ACT101" in out and "[verify: confirmed:" in out  # the other file's verdicts
    assert re.search(r"softmax_ce.py:16:16: ACT102 .*\[verify: inconclusive: internal error: RuntimeError: "
                     r"fault injected by ACTLINT_VERIFY_FAULT \(stage judge\)\]", out)
    assert "actlint: internal error while judging fixtures/verify/robust/softmax_ce.py (Classifier)" in err
    assert "Traceback (most recent call last)" in err  # --verbose
    assert re.search(r"^verify: 2 models, 2 built \((cpu|cuda)\); 2 confirmed, 0 refuted, 1 inconclusive; "
                     r"0 runtime diagnostics; 1 internal error; \d+\.\d s$", out, re.M)


def test_a_broken_report_record_does_not_lose_the_report(tmp_path):
    """A model whose record cannot be made still gets a section, with the error."""
    from actlint.verify.judge.report import model_record
    from actlint.verify.session import ModelRun
    from actlint.verify.build.targets import Target

    target = Target("m.py:Net", "m.py", tmp_path / "m.py", "Net", "torch", {}, "", set())
    run = ModelRun(target, {"ok": True, "ops": [{"no": "hist"}], "timings": "not a dict"}, 1.0)
    record = model_record(run)
    assert record["model"] == "m.py:Net" and record["reason"].startswith("internal error in the report: ")
    assert "Traceback" in record["traceback"]


# ---------------------------------------------------------------- progress, time, summary

@pytest.fixture(scope="module")
def plain_run():
    _needs("torch")
    rc, out, err, _ = actlint("--verify", UNTRACED)
    return rc, out, err


def test_summary_line_counts_models_verdicts_and_time(plain_run):
    rc, out, err = plain_run
    assert rc == 1
    assert re.search(r"^verify: 1 model, 1 built \((cpu|cuda)\); 2 confirmed, 0 refuted, 0 inconclusive; "
                     r"0 runtime diagnostics; \d+\.\d s$", out, re.M)
    assert "\r" not in err  # stderr is a pipe: no progress


def test_summary_line_words():
    from types import SimpleNamespace

    from actlint.findings import Finding
    from actlint.verify.judge.report import summary_line

    def finding(code, verdict):
        extra = {"verdict": verdict} if verdict else {}
        return Finding(code, "x", "m", "a.py", 1, 1, 1, 2, extra=extra)

    models = [SimpleNamespace(ok=True), SimpleNamespace(ok=False)]
    outcome = SimpleNamespace(findings=[finding("ACT101", "confirmed"), finding("ACT102", "inconclusive"),
                                        finding("ACT901", "observed"), finding("ACT104", None)],
                              models=models, devices=[], faults=[], elapsed_s=41.23)
    assert summary_line(outcome) == ("verify: 2 models, 1 built; 1 confirmed, 0 refuted, 1 inconclusive, "
                                     "1 not verified; 1 runtime diagnostic; 41.2 s")


def test_report_lists_timings_and_reasons(tmp_path):
    _needs("torch")
    rc, _, _, _ = actlint("--verify", "--format", "json", "--report", tmp_path / "r",
                          ROOT / "fixtures" / "verify" / "missing_package.py", SOFTMAX)
    report = json.loads((tmp_path / "r" / "report.json").read_text(encoding="utf-8"))
    models = {m["model"].rpartition("/")[2]: m for m in report["models"]}
    built = models["softmax_ce.py:Classifier"]
    assert built["ok"] and built["wall_s"] > 0
    assert {"import_s", "build_s", "run_s", "probe_s"} <= set(built["timings"])
    failed = next(m for m in report["models"] if not m["ok"])
    assert failed["reason"] and failed["wall_s"] > 0
    assert report["summary"]["models"] == 2 and report["summary"]["built"] == 1
    page = (tmp_path / "r" / "index.html").read_text(encoding="utf-8")
    assert "<th>build</th>" in page and "<th>probes</th>" in page and html.escape(failed["reason"]) in page


def test_progress_line_on_a_terminal():
    from actlint.verify.sandbox.runner import Progress

    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    progress = Progress(stream=stream, interval=60)
    progress.preparing(1, 3, "a.py")
    assert stream.getvalue() == "\ractlint --verify: reading 1/3 files, 0 s  a.py"
    progress.jobs(["a.py:Net#second", "a.py:Net", "b.py:Big"])
    assert progress.total == 2
    progress.start("a.py:Net#second")
    assert stream.getvalue().rsplit("\r", 1)[1].startswith("actlint --verify: 0/2 models, 0 s  a.py:Net")
    progress("a.py:Net#second")
    progress.start("a.py:Net")
    progress("a.py:Net")
    progress.start("b.py:Big")
    assert stream.getvalue().rsplit("\r", 1)[1].startswith("actlint --verify: 1/2 models, 0 s  b.py:Big")
    progress("b.py:Big")
    progress.close()
    assert stream.getvalue().endswith("\r")  # cleared at the end
    quiet = io.StringIO()  # not a terminal
    Progress(["a.py:Net"], stream=quiet)("a.py:Net")
    assert quiet.getvalue() == ""


def _on_a_terminal(*args) -> str:
    """Run the CLI with stderr on a pseudo-terminal; returns what it wrote there."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "actlint", "--no-cache", *map(str, args)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                data = os.read(master, 4096)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    proc.communicate(timeout=300)
    os.close(master)
    return b"".join(chunks).decode("utf-8", "replace")


def test_progress_shows_on_a_terminal_only_for_text():
    _needs("torch")
    text = _on_a_terminal("--verify", SOFTMAX)
    assert "actlint --verify: 0/1 models" in text and "softmax_ce.py:Classifier" in text
    assert "\r" in text
    quiet = _on_a_terminal("--verify", "--format", "json", SOFTMAX)
    assert "actlint --verify:" not in quiet and "\r" not in quiet.replace("\r\n", "\n")


# ---------------------------------------------------------------- notebooks

@pytest.fixture(scope="module")
def notebook_run(tmp_path_factory):
    _needs("torch")
    report = tmp_path_factory.mktemp("nb") / "report"
    rc, findings, err, _ = actlint("--verify", "--format", "json", "--report", report, NOTEBOOK)
    return rc, findings, err, report


def test_notebook_finding_is_verified_in_its_cell(notebook_run):
    rc, findings, err, _ = notebook_run
    places = _places(findings)
    f = places[("classifier.ipynb", 3, 8, "ACT102")]
    assert f["verdict"] == "confirmed", f["evidence"]["summary"]
    assert "already normalised" in f["evidence"]["summary"]
    assert f["evidence"]["model"] == "fixtures/verify/robust/classifier.ipynb:Classifier"
    assert rc == 1 and "internal error" not in err


def test_notebook_runtime_diagnostic_points_at_its_cell(notebook_run):
    _, findings, _, _ = notebook_run
    diag = _places(findings)[("classifier.ipynb", 6, 1, "ACT904")]  # nn.Tanh() in cell 6, init in cell 7
    assert diag["verdict"] == "observed" and diag["evidence"]["model"].endswith("classifier.ipynb:scorer")
    assert sorted(k[1:] for k in _places(findings)) == [(3, 8, "ACT102"), (6, 1, "ACT904")]


def test_notebook_report_gives_cells(notebook_run):
    *_, report = notebook_run
    data = json.loads((report / "report.json").read_text(encoding="utf-8"))
    classifier = next(m for m in data["models"] if m["model"].endswith(":Classifier"))
    assert [(r["type"], r["cell"], r["line"]) for r in classifier["layers"]] == [("Linear", 3, 4), ("Linear", 3, 5)]
    assert classifier["findings"][0]["cell"] == 3
    assert "cell 3 line 8" in (report / "index.html").read_text(encoding="utf-8")


def test_notebook_program_maps_reasons_and_lines(tmp_path):
    from actlint.findings import Finding
    from actlint.verify.build.notebooks import NotebookProgram

    nb = NotebookProgram.write(NOTEBOOK, NOTEBOOK.read_text(encoding="utf-8"), tmp_path)
    assert nb.file.suffix == ".py" and nb.file.read_text(encoding="utf-8") == nb.text
    assert "%matplotlib" not in nb.text and "!pip" not in nb.text and "%%time" not in nb.text
    cell_finding = Finding("ACT102", "x", "m", "classifier.ipynb", 8, 16, 8, 60, cell=3)
    moved = nb.to_program(cell_finding)
    assert nb.text.splitlines()[moved.line - 1].strip().startswith("return F.softmax")
    assert nb.original(moved) is cell_finding
    assert nb.reason(f"ValueError while building the model (line {moved.line}): bad") == \
        "ValueError while building the model (cell 3, line 8): bad"


def test_unreadable_notebooks_are_not_internal_errors(tmp_path):
    """A notebook the static pass reported as ACT000 is skipped by the verifier, exit 1 (findings), not 2."""
    (tmp_path / "bad.ipynb").write_text("{not json", encoding="utf-8")
    rc, out, _, _ = actlint("--verify", tmp_path / "bad.ipynb")
    assert rc == 1 and "bad.ipynb:1:1: ACT000 not valid notebook JSON" in out
    assert re.search(r"^verify: 0 models, 0 built; 0 confirmed, 0 refuted, 0 inconclusive; 0 runtime diagnostics; "
                     r"\d+\.\d s$", out, re.M)

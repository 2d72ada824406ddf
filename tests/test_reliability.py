"""Safe failure: interrupted runs, a worker process that dies, and linting that never runs the linted code.

- Interruption: Ctrl-C (SIGINT) or SIGTERM in the middle of ``--fix`` or of a parallel
  lint ends with exit 2 and one line, no traceback, without doing the work still queued
  (the files left unfixed, the CPU time a complete lint needs); every file is either its
  original or its fully fixed self (and parses); no temporary file is left behind; no
  worker process outlives the run; a second run gives a clean run's results.
  These tests wait on events (a worker's CPU time, a file's change, the run's exit), never
  on a wall-clock budget: a timeout below is only a guard against a hang.
- Isolation: a worker that dies (``os._exit``, or killed as by the OOM killer) costs only
  its own file, which is reported as an internal error (exit 2); the other files'
  findings are all there. An exception in the engine itself is reported the same way.
- Security: plain linting never imports the linted code (planted ``torch.py``,
  ``sitecustomize.py``, ``conftest.py`` and friends would write a marker file), and never
  imports torch, keras or tensorflow itself.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import libcst as cst
import pytest
from conftest import ROOT

from actlint.checks import all_rules
from actlint.config import Config
from actlint.engine import lint_paths, lint_text
from actlint.fixes import fix_text

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="signals and /proc as on Linux")
needs_fork = pytest.mark.skipif(multiprocessing.get_start_method() != "fork",
                                reason="the patched rule reaches the workers only when they are forked")

HEAD = "import torch\nimport torch.nn.functional as F\n\n"


def fixable_source(lines: int) -> str:
    """A file with ``lines`` safe-fixable ACT109 findings (log of a softmax)."""
    return HEAD + "".join(f"a{i} = torch.log(torch.softmax(z{i}, dim=1))\n" for i in range(lines))


def fully_fixed(source: str) -> str:
    codes = frozenset(all_rules())
    outcome = fix_text(source, "f.py", lambda t: lint_text(t, "f.py", Config(), codes).findings, unsafe=False)
    assert outcome.changed
    return outcome.fixed


def actlint(*args: str, cwd: Path, **popen) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "actlint", *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)


def children_of(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def cpu_of(pid: int) -> float:
    """The CPU seconds a live process has used so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def children_cpu() -> float:
    """CPU seconds of this process's finished children, with the children they waited for (actlint's workers)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


HANG_GUARD = 300.0  # seconds: only a guard against a run that never ends, never the thing a test checks


def wait_for(condition, what: str, guard: float = HANG_GUARD) -> None:
    """Poll until ``condition()``; ``guard`` only ends a wait for something that never happens."""
    deadline = time.monotonic() + guard
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} never happened ({guard:.0f} s): a hang")
        time.sleep(0.005)


def temp_leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith(".tmp"))


def assert_interrupted_cleanly(proc: subprocess.Popen) -> str:
    """Wait for the signalled run to exit, however long a loaded machine takes, and check how it ended."""
    try:
        _, err = proc.communicate(timeout=HANG_GUARD)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"actlint was still running {HANG_GUARD:.0f} s after the signal: it ignored it")
    assert proc.returncode == 2, (proc.returncode, err)
    assert "Traceback" not in err, err
    assert "interrupted" in err, err
    assert len(err.strip().splitlines()) <= 3, err  # one line, not a spew (a fixed-count line may come first)
    return err


# --------------------------------------------------------------------------- interruption


@linux_only
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM],
                         ids=["SIGINT", "SIGTERM"])
def test_interrupted_fix_leaves_every_file_original_or_fully_fixed(tmp_path, signum):
    original = fixable_source(60)
    fixed = fully_fixed(original)
    files = [tmp_path / f"m{n:02d}.py" for n in range(40)]
    for path in files:
        path.write_text(original)
    proc = actlint("--no-cache", "--fix", "-j", "2", ".", cwd=tmp_path)
    wait_for(lambda: any(p.read_text() != original for p in files) or proc.poll() is not None,
             "the first fixed file")
    proc.send_signal(signum)
    assert_interrupted_cleanly(proc)

    states = [p.read_text() for p in files]
    assert all(s in (original, fixed) for s in states), "a file is neither its original nor fully fixed"
    for state in states:
        cst.parse_module(state)
    assert states.count(fixed) >= 1 and states.count(original) >= 1, "the signal did not land mid-run"
    assert temp_leftovers(tmp_path) == []

    # A second run finishes the job: every file ends fully fixed.
    again = actlint("--no-cache", "--fix", "-j", "2", ".", cwd=tmp_path)
    again.communicate(timeout=300)
    assert [p.read_text() for p in files] == [fixed] * len(files)


@linux_only
@pytest.mark.parametrize("signum, group", [(signal.SIGINT, False), (signal.SIGTERM, False), (signal.SIGINT, True)],
                         ids=["SIGINT", "SIGTERM", "ctrl-c-to-the-process-group"])
def test_interrupted_parallel_lint_stops_its_workers_and_the_cache_stays_sound(tmp_path, signum, group):
    # 1200 small files: a complete lint is some seconds of CPU, many batches for the queue to drop.
    files = 1200
    folder = tmp_path / "src"
    folder.mkdir()
    for n in range(files):
        (folder / f"m{n:04d}.py").write_text(fixable_source(4).replace("z0", f"z{n}"))
    cache = tmp_path / "cache"
    spent = children_cpu()
    proc = actlint("--cache-dir", str(cache), "-j", "2", "--format", "json", "src", cwd=tmp_path,
                   start_new_session=group)
    workers: set[int] = set()

    def working() -> bool:
        """Both workers started and have done a few batches (their CPU time, whatever the wall clock says)."""
        workers.update(children_of(proc.pid))
        return (len(workers) >= 2 and sum(cpu_of(pid) for pid in workers) >= 0.3) or proc.poll() is not None

    wait_for(working, "the workers' first batches")
    assert proc.poll() is None, "the run ended before it could be interrupted"
    if group:  # what a terminal's Ctrl-C does: the workers get SIGINT too
        os.killpg(proc.pid, signum)
    else:
        proc.send_signal(signum)
    assert_interrupted_cleanly(proc)
    interrupted = children_cpu() - spent
    # The run waits for its workers before it exits: none is left running, however slow the machine.
    assert [pid for pid in workers if alive(pid)] == []
    assert temp_leftovers(cache) == []

    # The cache the interrupted run left gives exactly a clean run's results: 4 ACT109 in every file.
    spent = children_cpu()
    resumed = actlint("--cache-dir", str(cache), "-j", "2", "--format", "json", "src", cwd=tmp_path)
    resumed_out, resumed_err = resumed.communicate(timeout=HANG_GUARD)
    complete = children_cpu() - spent
    assert resumed.returncode == 1, resumed_err
    got = sorted((Path(f["path"]).name, f["line"], f["code"]) for f in json.loads(resumed_out))
    assert got == sorted((f"m{n:04d}.py", line, "ACT109") for n in range(files) for line in range(4, 8))
    # Stopping dropped the queued batches: the interrupted run (start-up, the batches the workers had, the
    # shutdown) cost far less CPU than linting what it had not (a wall-clock limit would fail under load).
    assert interrupted < complete / 2, \
        f"the interrupted run used {interrupted:.1f} s of CPU, the rest of the lint {complete:.1f} s: the queue ran on"


# --------------------------------------------------------------------------- isolation


def _write_model_files(folder: Path, count: int) -> list[Path]:
    files = []
    for n in range(count):
        path = folder / f"f{n:02d}.py"
        path.write_text("import torch.nn as nn\n\nact = nn.Softmax()\n")  # one ACT104 each
        files.append(path)
    return files


@needs_fork
@pytest.mark.parametrize("death", ["exit", "sigkill"])
def test_a_dying_worker_costs_only_its_own_file(tmp_path, monkeypatch, death):
    files = _write_model_files(tmp_path, 24)
    victim = "f07.py"
    rule = all_rules()["ACT104"]
    check = rule.check
    parent = os.getpid()

    def deadly_check(self):
        if os.getpid() != parent and self.ctx.path.endswith(victim):
            if death == "exit":
                os._exit(3)
            os.kill(os.getpid(), signal.SIGKILL)  # as the OOM killer would
        return check(self)

    monkeypatch.setattr(rule, "check", deadly_check)
    monkeypatch.chdir(tmp_path)
    report = lint_paths(files, Config(root=tmp_path), jobs=2)
    assert [r.path for r in report.results] == [p.name for p in files]  # every file, in input order
    assert sorted({f.path for f in report.findings}) == sorted(p.name for p in files if p.name != victim)
    assert [(e.path, e.rule) for e in report.errors] == [(victim, "engine")]
    assert "died" in report.errors[0].error


@needs_fork
def test_a_dying_worker_makes_the_cli_exit_2_naming_the_file(tmp_path):
    _write_model_files(tmp_path, 24)
    script = textwrap.dedent("""
        import os, sys
        from actlint.checks import all_rules
        from actlint.cli import main
        rule = all_rules()["ACT104"]
        check, parent = rule.check, os.getpid()
        def deadly(self):
            if os.getpid() != parent and self.ctx.path.endswith("f11.py"):
                os._exit(1)
            return check(self)
        rule.check = deadly
        sys.exit(main(["--no-cache", "-j", "2", "--format", "json", "."]))
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr, out.stderr
    assert "f11.py: internal error" in out.stderr and "died" in out.stderr
    assert len(json.loads(out.stdout)) == 23


@pytest.mark.parametrize("jobs", [1, 2])
def test_an_engine_exception_on_one_file_keeps_the_others(tmp_path, monkeypatch, jobs):
    import actlint.engine as engine

    files = _write_model_files(tmp_path, 12)
    real = engine.lint_text

    def flaky(text, path, config, codes):
        if path.endswith("f03.py"):
            raise ValueError("simulated engine bug")
        return real(text, path, config, codes)

    monkeypatch.setattr(engine, "lint_text", flaky)
    monkeypatch.chdir(tmp_path)
    if jobs > 1 and multiprocessing.get_start_method() != "fork":
        pytest.skip("the patch reaches the workers only when they are forked")
    report = lint_paths(files, Config(root=tmp_path), jobs=jobs)
    assert len(report.results) == 12 and len(report.findings) == 11
    assert [str(e) for e in report.errors] == ["f03.py: internal error in engine: ValueError: simulated engine bug"]


# --------------------------------------------------------------------------- security

PLANTED = ("torch.py", "keras.py", "tensorflow.py", "sitecustomize.py", "usercustomize.py", "conftest.py",
           "setup.py", "helpers.py", "__init__.py", "__main__.py", "jax.py", "numpy.py")


def _plant(folder: Path, marker: Path) -> None:
    """Modules whose import writes ``marker``, and model files that import them."""
    payload = f"open({str(marker)!r}, 'a').write(__name__ + '\\n')\n"
    folder.mkdir(parents=True, exist_ok=True)
    for name in PLANTED:
        (folder / name).write_text(payload + "import torch.nn as nn\nact = nn.Softmax()\n")
    (folder / "torchvision").mkdir()
    (folder / "torchvision" / "__init__.py").write_text(payload)
    for n in range(12):  # enough files for the parallel path (workers import nothing either)
        (folder / f"model{n}.py").write_text(
            "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\nimport keras\nimport helpers\n"
            "from . import conftest\nimport torchvision\nfrom tensorflow import keras as tfk\n\n"
            "class Net(nn.Module):\n    def forward(self, x):\n        return F.softmax(x)\n")
    notebook = {"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                           "source": ["import helpers\n", "import torch.nn.functional as F\n", "p = F.softmax(x)\n"]}],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (folder / "nb.ipynb").write_text(json.dumps(notebook))


@pytest.mark.parametrize("where", ["inside", "outside"], ids=["cwd-is-the-folder", "folder-as-argument"])
def test_plain_linting_never_imports_the_linted_code(tmp_path, where):
    marker = tmp_path / "MARKER"
    folder = tmp_path / "project"
    _plant(folder, marker)
    cwd, target = (folder, ".") if where == "inside" else (tmp_path, "project")
    for extra in (["-j", "1"], ["-j", "2"], ["--diff"], ["--format", "sarif"]):
        proc = actlint("--no-cache", "--no-gitignore", *extra, target, cwd=cwd)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode in (0, 1), (extra, err)
        assert "Traceback" not in err, err
        assert not marker.exists(), f"{extra}: linting imported {marker.read_text().split()}"
    # The findings prove the planted files were read (as text).
    proc = actlint("--no-cache", "--no-gitignore", "--format", "json", target, cwd=cwd)
    out, _ = proc.communicate(timeout=120)
    linted = {Path(f["path"]).name for f in json.loads(out)}
    assert {"torch.py", "sitecustomize.py", "conftest.py", "model0.py", "nb.ipynb"} <= linted
    assert not marker.exists()


def test_linting_imports_no_framework(tmp_path):
    marker = tmp_path / "MARKER"
    folder = tmp_path / "project"
    _plant(folder, marker)
    script = textwrap.dedent("""
        import json, sys
        from actlint.cli import main
        code = main(["--no-cache", "--no-gitignore", "-j", "1", "--format", "json", "-o", "report.json", "."])
        frameworks = {"torch", "keras", "tensorflow", "jax", "torchvision", "helpers", "conftest"}
        print(json.dumps({"code": code,
                          "imported": sorted(m for m in sys.modules if m.split(".")[0] in frameworks)}))
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=folder, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"code": 1, "imported": []}, out.stderr
    assert not marker.exists()

"""The real-code smoke run (scripts/smoke.py) on a bounded subset that CI has: the installed torch's nn and optim.

torch is located with importlib's finder and read as text; it is never imported.
"""

from __future__ import annotations

import importlib.util
import json
import resource
import sys

import pytest
from conftest import ROOT

SUBDIRS = ["nn", "optim"]
LIMIT = 128  # files per subfolder (torch/optim has ~22): about 150 in all, well under half a minute


def _smoke():
    spec = importlib.util.spec_from_file_location("actlint_smoke_script", ROOT / "scripts" / "smoke.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def _torch_folder():
    spec = importlib.util.find_spec("torch")  # finds the top-level package, does not import it
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("torch is not installed here (CI installs torch==2.13.0); the smoke subset lints its sources")
    from pathlib import Path

    return Path(list(spec.submodule_search_locations)[0])


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the pool's workers, joined when it closes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def test_smoke_subset_of_installed_torch_has_no_internal_errors():
    folder = _torch_folder()
    smoke = _smoke()
    files = smoke.package_files(folder, SUBDIRS, LIMIT)
    assert len(files) >= 100, f"expected torch/nn and torch/optim sources under {folder}, found {len(files)}"
    spent = _cpu_seconds()
    run = smoke.lint_package("torch", folder, files, jobs=2)
    cpu = _cpu_seconds() - spent
    assert run.errors == [], run.errors
    assert run.files == len(files) and run.lines > 10_000
    assert not [f for f in run.findings if f["code"] == "ACT000"], "torch's own sources all parse"
    # the old two minutes on two workers, as CPU time, which a loaded machine does not inflate as it does the clock
    assert cpu < 240, f"{cpu:.0f} s of CPU for {len(files)} files"

    # Against the reviewed baseline, for the files linted here, when it was made with this torch.
    baseline = json.loads((ROOT / "scripts" / "smoke_baseline.json").read_text(encoding="utf-8"))
    recorded = baseline["packages"].get("torch", {})
    if recorded.get("version") == run.version:
        linted = {f.relative_to(run.root).as_posix() for f in files}
        new, lost = smoke.compare(run, baseline, linted)
        assert (new, lost) == ([], []), (
            "findings on torch's sources changed against scripts/smoke_baseline.json: judge them, then run "
            "'python scripts/smoke.py --update-baseline'", new, lost)


def test_smoke_script_compares_against_a_baseline(tmp_path):
    """A finding not in the baseline is new, one only in the baseline is lost, line moves count as both."""
    smoke = _smoke()
    run = smoke.PackageRun("pkg", "1.0", tmp_path)
    run.findings = [{"path": "pkg/a.py", "code": "ACT104", "line": 3, "message": "m"},
                    {"path": "pkg/a.py", "code": "ACT104", "line": 3, "message": "m"},
                    {"path": "pkg/b.py", "code": "ACT109", "line": 9, "message": "n"}]
    baseline = {"packages": {"pkg": {"version": "1.0", "findings": [
        {"path": "pkg/a.py", "code": "ACT104", "line": 3, "message": "m"},
        {"path": "pkg/b.py", "code": "ACT109", "line": 8, "message": "n"},
        {"path": "pkg/c.py", "code": "ACT101", "line": 1, "message": "o"}]}}}
    new, lost = smoke.compare(run, baseline)
    assert [(f["path"], f["line"]) for f in new] == [("pkg/a.py", 3), ("pkg/b.py", 9)]
    assert [(f["path"], f["line"]) for f in lost] == [("pkg/b.py", 8), ("pkg/c.py", 1)]
    new, lost = smoke.compare(run, baseline, linted={"pkg/a.py", "pkg/b.py"})  # c.py not linted: not lost
    assert [(f["path"], f["line"]) for f in lost] == [("pkg/b.py", 8)]


def test_smoke_script_end_to_end_on_a_planted_package(tmp_path):
    """The script's exit codes: 1 on a change against the baseline, 0 once the baseline is updated."""
    site = tmp_path / "site"
    package = site / "fakepkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "model.py").write_text("import torch.nn as nn\n\nact = nn.Softmax()\n")
    (site / "fakepkg-0.1.dist-info").mkdir()
    (site / "fakepkg-0.1.dist-info" / "METADATA").write_text("Name: fakepkg\nVersion: 0.1\n")
    smoke = _smoke()
    base = tmp_path / "baseline.json"
    args = ["fakepkg", "--site-packages", str(site), "--baseline", str(base), "--jobs", "1"]
    assert smoke.main(args) == 1  # no baseline yet
    assert smoke.main(args + ["--update-baseline"]) == 0
    recorded = json.loads(base.read_text())["packages"]["fakepkg"]
    assert recorded["version"] == "0.1"
    assert [(f["path"], f["code"], f["line"]) for f in recorded["findings"]] == [("fakepkg/model.py", "ACT104", 3)]
    assert smoke.main(args) == 0
    (package / "model.py").write_text("import torch.nn as nn\n\nact = nn.Softmax(dim=-1)\n")
    assert smoke.main(args) == 1  # a lost finding is a change too
    assert smoke.main(["nosuchpkg", "--site-packages", str(site), "--baseline", str(base)]) == 2

"""The Python API: ``check()`` and ``watch()`` inside a user's pytest test, the Keras and Lightning callbacks.

Each runs in its own process (the API records where layers are built from the moment it is imported,
and the callbacks patch their framework), on the fixtures in ``fixtures/api``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT

API = ROOT / "fixtures" / "api"


def _needs(*modules):
    for name in modules:
        if importlib.util.find_spec(name) is None:
            pytest.skip(f"{name} is not installed (pip install 'actlint[dev]')")


def _env(**extra):
    env = dict(os.environ, KERAS_BACKEND="torch", PYTHONPATH=os.pathsep.join([str(ROOT), str(API)]), **extra)
    env.pop("ACTLINT_TRACE", None)
    return env


@pytest.fixture(scope="module")
def api_tests(tmp_path_factory):
    _needs("torch")
    out = tmp_path_factory.mktemp("api")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(API / "api_checks.py")],
                          cwd=API, env=_env(ACTLINT_API_OUT=str(out)), capture_output=True, text=True, timeout=600)
    results = {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")}
    return proc, results


def test_check_inside_a_pytest_test(api_tests):
    proc, results = api_tests
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 passed" in proc.stdout
    sigmoid = results["sigmoid"]
    assert sigmoid["ok"] is False
    act101 = [f for f in sigmoid["findings"] if f["code"] == "ACT101"]
    assert [f["line"] for f in act101] == [15, 16, 17] and all(f["path"] == "models.py" for f in act101)
    for f in act101:
        assert f["verdict"] == "confirmed"
        assert f["evidence"]["source"] == "api"
        assert f["evidence"]["batch"] == "the inputs given to check()"
        assert f["evidence"]["attenuation_vs_relu"] >= 2
    assert "ACT101" in sigmoid["text"] and "1 model measured" in sigmoid["text"]


def test_check_passes_a_healthy_model(api_tests):
    _, results = api_tests
    healthy = results["healthy"]
    assert healthy["ok"] is True
    assert not [f for f in healthy["findings"] if f["path"] == "models.py" and f["verdict"] == "confirmed"]


def test_watch_captures_the_loop_model_at_its_first_step(api_tests):
    _, results = api_tests
    rows = [f for f in results["watch"]["findings"] if f["code"] == "ACT101"]
    assert len(rows) == 3
    assert all(f["verdict"] == "confirmed" and f["evidence"]["source"] == "api" for f in rows)
    assert all("before its first training step" in f["evidence"]["batch"] for f in rows)
    assert all(f["evidence"]["loss"]["fn"] == "F.cross_entropy" for f in rows)


def test_keras_callback(tmp_path):
    _needs("torch", "keras")
    out = tmp_path / "keras.json"
    proc = subprocess.run([sys.executable, str(API / "keras_callback.py"), str(out)], cwd=API, env=_env(),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(out.read_text())
    verdicts = {(f["code"], f["line"]): f for f in data["findings"]}
    assert verdicts[("ACT101", 15)]["verdict"] == "confirmed"
    assert verdicts[("ACT102", 17)]["verdict"] == "confirmed"
    assert verdicts[("ACT102", 17)]["evidence"]["source"] == "api"
    assert "row_sum_min" in verdicts[("ACT102", 17)]["evidence"]
    assert "ACT102" in proc.stderr  # the report is printed when the steps are done
    assert data["ok"] is False


def test_lightning_callback(tmp_path):
    _needs("torch")
    if importlib.util.find_spec("lightning") is None:
        pytest.skip("lightning is not installed (pip install lightning, or the project's dev extra)")
    out = tmp_path / "lightning.json"
    proc = subprocess.run([sys.executable, str(API / "lightning_callback.py"), str(out), str(tmp_path / "logs")],
                          cwd=API, env=_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(out.read_text())
    verdicts = {(f["code"], f["line"]): f for f in data["findings"]}
    assert verdicts[("ACT102", 24)]["verdict"] == "confirmed"
    assert verdicts[("ACT102", 24)]["evidence"]["source"] == "api"
    assert verdicts[("ACT102", 24)]["evidence"]["loss"]["fn"] == "F.cross_entropy"
    assert verdicts[("ACT101", 22)]["verdict"] == "confirmed"

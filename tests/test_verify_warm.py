"""The warm start (``verify/sandbox/warm.py``, ``forkserver.py``): children forked from a server that
imported the frameworks once give the verdicts and numbers cold children give, with the same isolation."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT

FIXTURES = ROOT / "fixtures" / "verify"
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux") or not hasattr(os, "fork"),
                                reason="the warm start forks: Linux only (elsewhere children start cold)")


def _needs(*modules):
    for name in modules:
        if importlib.util.find_spec(name) is None:
            pytest.skip(f"--verify needs {name} (pip install 'actlint[verify]')")


def _verify(*args, cold: bool):
    env = {k: v for k, v in os.environ.items() if k != "ACTLINT_COLD_START"}
    if cold:
        env["ACTLINT_COLD_START"] = "1"
    out = subprocess.run([sys.executable, "-m", "actlint", "--no-cache", "--jobs", "2", "--verify", "--verbose",
                          "--format", "json", *map(str, args)], capture_output=True, text=True, cwd=ROOT,
                         env=env, timeout=600)
    return out.returncode, json.loads(out.stdout), out.stderr


def _comparable(value, key=""):
    """A finding without what differs from run to run whatever the start: timings, and the weight hashes of
    an unseeded build (different on every run, by design: that is ACT107's evidence)."""
    if isinstance(value, dict):
        return {k: _comparable(v, k) for k, v in value.items()
                if not k.endswith("_s") and k not in ("timings", "weights_sha256", "summary")}
    if isinstance(value, list):
        return [_comparable(v, key) for v in value]
    if key == "message":
        return re.sub(r"sha256 \w+… vs \w+…", "sha256 (two hashes)", value)
    return value


def test_warm_and_cold_children_give_the_same_verdicts_and_numbers():
    _needs("torch", "keras", "matplotlib")
    # models built synthetically, in children (a file that trains itself is measured from its traced run,
    # which is not a child of the server), ACT107's two builds included (seed/forward_fails.py)
    files = [FIXTURES / "true_findings.py", FIXTURES / "normalised_sigmoid.py", FIXTURES / "keras_softmax_logits.py",
             FIXTURES / "seed" / "forward_fails.py"]
    rc_cold, cold, err_cold = _verify(*files, cold=True)
    rc_warm, warm, err_warm = _verify(*files, cold=False)
    assert "cold start: each model runs in a fresh interpreter (ACTLINT_COLD_START is set)" in err_cold
    assert "warm start: one fork server imported torch and keras once" in err_warm
    assert rc_cold == rc_warm == 1
    assert len(warm) == len(cold) == 10
    verdicts = [(f["path"], f["line"], f["code"], f.get("verdict")) for f in warm]
    assert verdicts == [(f["path"], f["line"], f["code"], f.get("verdict")) for f in cold]
    assert sum(v[3] == "confirmed" for v in verdicts) == 9
    # each forked build draws its own weights, as each fresh interpreter does (not the server's generator state)
    assert ("fixtures/verify/seed/forward_fails.py", 22, "ACT107", "confirmed") in verdicts
    assert all(f["evidence"].get("source") in ("synthetic", None) for f in warm)
    for w, c in zip(warm, cold):
        assert _comparable(w) == _comparable(c), (w["path"], w["line"], w["code"])


def test_a_forked_child_keeps_the_guards_and_the_time_limit():
    """Writes outside the scratch folder and the network stay refused, a hang is killed at the time limit,
    and the models after it still run warm."""
    _needs("torch")
    rc, findings, err = _verify("--timeout", "8", FIXTURES / "hangs.py", FIXTURES / "writes_outside.py",
                                FIXTURES / "true_findings.py", cold=False)
    assert "warm start" in err
    summaries = {(Path(f["path"]).name, f["line"]): f["evidence"].get("summary", "") for f in findings}
    assert "timed out after 8 s" in summaries[("hangs.py", 10)]
    refused = "sneaky-written.txt is disabled (only the scratch folder is writable)"
    assert refused in summaries[("writes_outside.py", 11)]
    assert "network access is disabled" in summaries[("writes_outside.py", 24)]
    assert not (FIXTURES / "sneaky-written.txt").exists()
    assert any(f["verdict"] == "confirmed" for f in findings if f["path"].endswith("true_findings.py"))


def _spec():
    from actlint.config import Config
    from actlint.engine import decode, display_path, lint_paths
    from actlint.verify.build.targets import Settings, file_targets

    path = FIXTURES / "true_findings.py"
    shown = display_path(path)
    findings = [f for f in lint_paths([path], Config()).findings if f.path == shown]
    targets, _ = file_targets(shown, path, decode(path.read_bytes()), findings, Settings())
    target = next(t for t in targets if t.label.endswith(":SigmoidMLP"))
    return dict(target.spec(), device="cpu", train_steps=0, batch=8, seed=0)


def _server_env():
    from actlint.verify.sandbox.runner import _child_env

    return dict(_child_env(1), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")


def test_a_server_that_dies_is_started_again(tmp_path):
    _needs("torch")
    from actlint.verify.sandbox.runner import run_child
    from actlint.verify.sandbox.warm import WarmStart

    warm = WarmStart(dict(_server_env(), TMPDIR=str(tmp_path)), keras=False)
    try:
        assert warm.available(), warm.why
        first = warm.server.proc.pid
        assert run_child(_spec(), 120, 1, warm).data["ok"]
        os.killpg(first, signal.SIGKILL)
        warm.server.proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while not warm.server.dead and time.monotonic() < deadline:
            time.sleep(0.05)
        result = run_child(_spec(), 120, 1, warm)
        assert result.data["ok"], result.data
        assert warm.restarts == 1 and warm.server is not None and warm.server.proc.pid != first
    finally:
        warm.close()


def test_no_fork_or_cold_start_asked_means_cold_children(monkeypatch, tmp_path):
    from actlint.verify.sandbox import warm

    monkeypatch.setenv("ACTLINT_COLD_START", "1")
    assert warm.unavailable() == "ACTLINT_COLD_START is set"
    monkeypatch.delenv("ACTLINT_COLD_START")
    monkeypatch.setattr(warm.sys, "platform", "darwin")
    assert warm.unavailable() == "fork is not available or not safe on darwin"
    start = warm.WarmStart({"PATH": os.environ.get("PATH", "")}, keras=False)
    assert start.server is None and not start.available()
    assert start.describe() == "cold start: each model runs in a fresh interpreter (fork is not available or not " \
                               "safe on darwin)"


@pytest.mark.parametrize("before, why", [
    ("sys.modules['torch'] = None", "importing the frameworks failed: ModuleNotFoundError"),
    ("threading.Thread(target=time.sleep, args=(30,), daemon=True).start()",
     "the frameworks started 1 thread(s) at import, so forking is not safe"),
])
def test_a_server_that_cannot_fork_safely_refuses_and_says_why(before, why):
    program = (f"import sys, threading, time; {before}; sys.path.insert(0, {str(ROOT)!r}); "
               "from actlint.verify.sandbox import forkserver; raise SystemExit(forkserver.serve([]))")
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")  # as the server runs: no thread pool
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120,
                         stdin=subprocess.DEVNULL, env=env)
    message = json.loads(out.stdout.splitlines()[0])
    assert out.returncode == 1 and message["ready"] is False and message["why"].startswith(why)


def test_children_are_scheduled_costly_first():
    from actlint.verify.sandbox.runner import _cost

    jobs = [("t", {"framework": "torch", "probes": ["a"]}), ("k", {"framework": "keras", "probes": []}),
            ("d", {"framework": "torch", "digest_only": True, "probes": []}),
            ("big", {"framework": "torch", "probes": ["a", "b"], "train_steps": 3})]
    order = [key for key, spec in sorted(jobs, key=lambda job: _cost(job[1]), reverse=True)]
    assert order == ["k", "big", "t", "d"]

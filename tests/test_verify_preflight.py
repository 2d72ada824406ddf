"""``--verify`` that cannot run at all is an error (exit 2) after the static findings, never a quiet pass."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from conftest import ROOT

MNIST = ROOT / "examples" / "mnist_mlp.py"
STATIC = 6  # the example's static findings (README)


def _actlint_without_torch(*args: str) -> subprocess.CompletedProcess:
    """The CLI in a process where ``import torch`` fails, as in a venv without the verify extra."""
    program = textwrap.dedent(f"""\
        import sys
        sys.modules["torch"] = None  # import torch -> ImportError; find_spec("torch") -> None
        from actlint.cli import main
        sys.exit(main({list(args)!r}))
    """)
    return subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=ROOT, timeout=120)


def _actlint(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "actlint", "--no-cache", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def test_verify_without_torch_exits_2_after_the_static_findings():
    out = _actlint_without_torch("--no-cache", "--verify", "--format", "json", str(MNIST))
    assert out.returncode == 2, out.stderr
    findings = json.loads(out.stdout)
    assert len(findings) == STATIC and all("verdict" not in f for f in findings)
    assert ("actlint: --verify cannot run: torch is not installed, and every model is run with it (Keras too, on "
            "its torch backend); pip install 'actlint[verify]'; the findings above have no verdict") in out.stderr


def test_plain_lint_without_torch_is_unchanged():
    out = _actlint_without_torch("--no-cache", str(MNIST))
    assert out.returncode == 1 and out.stderr == ""
    assert out.stdout.count("examples/mnist_mlp.py:") == STATIC


@pytest.mark.parametrize("device", ["tpu", "cuda:x", "gpu"])
def test_verify_on_an_unknown_device_exits_2(device):
    out = _actlint("--verify", "--device", device, str(MNIST))
    assert out.returncode == 2
    assert out.stdout.count("examples/mnist_mlp.py:") == STATIC and "[verify:" not in out.stdout
    assert f"actlint: --verify cannot run: unknown device {device!r} (known: cpu, cuda, cuda:N, mps" in out.stderr


def test_verify_on_cuda_without_a_gpu_exits_2():
    torch = pytest.importorskip("torch", reason="--verify needs torch (pip install 'actlint[verify]')")
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device: the check is for one without")
    out = _actlint("--verify", "--device", "cuda", str(MNIST))
    assert out.returncode == 2
    assert out.stdout.count("examples/mnist_mlp.py:") == STATIC
    assert ("actlint: --verify cannot run: device 'cuda' was asked for, but torch finds no CUDA device on this "
            "machine") in out.stderr
    run = subprocess.run([sys.executable, "-m", "actlint", "run", "--device", "cuda", "--", sys.executable, str(MNIST)],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 2 and run.stdout == ""
    assert "actlint run: device 'cuda' was asked for, but torch finds no CUDA device on this machine; nothing was run" \
        in run.stderr


def test_the_config_device_is_checked_too(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.actlint.verify]\ndevice = "tpu"\n')
    (tmp_path / "m.py").write_text(MNIST.read_text())
    out = subprocess.run([sys.executable, "-m", "actlint", "--no-cache", "--verify", "m.py"], capture_output=True,
                         text=True, cwd=tmp_path, timeout=120)
    assert out.returncode == 2 and "unknown device 'tpu'" in out.stderr

"""Whether the verifier can run at all here: the framework installed, the device asked for known and present.

A verifier that cannot run would leave every finding without a verdict and still exit 0 or 1 as
if it had judged them; the CLI turns the reason given here into exit status 2 (after the static
findings). The framework is looked up, not imported; a device other than the CPU is asked of
torch in a child process, as the verifier's children will.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys

_DEVICE = re.compile(r"(?P<kind>cpu|cuda|mps|xpu)(?::(?P<index>\d+))?")
KNOWN_DEVICES = "cpu, cuda, cuda:N, mps, xpu, xpu:N"
_PROBE = """
import sys
import torch
kind, index = sys.argv[1], int(sys.argv[2])
if kind == "cuda":
    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
elif kind == "mps":
    n = 1 if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available() else 0
else:
    n = torch.xpu.device_count() if hasattr(torch, "xpu") and torch.xpu.is_available() else 0
print(n)
"""


def installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken package, or ``sys.modules[name] = None``
        return False


def cannot_run(device: str | None, timeout: float = 60.0) -> str | None:
    """Why the verifier cannot run on this machine, or None when it can."""
    if not installed("torch"):
        return ("torch is not installed, and every model is run with it (Keras too, on its torch backend); "
                "pip install 'actlint[verify]'")
    if device is None:
        return None  # cuda when available, else the CPU
    match = _DEVICE.fullmatch(device.strip())
    if match is None:
        return f"unknown device {device!r} (known: {KNOWN_DEVICES})"
    kind, index = match["kind"], int(match["index"] or 0)
    if kind == "cpu":
        return None
    try:
        probe = subprocess.run([sys.executable, "-I", "-c", _PROBE, kind, str(index)], capture_output=True,
                               text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"torch did not say within {timeout:g} s whether device {device!r} is available"
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["no output"])[-1]
        return f"torch could not be asked about device {device!r}: {last}"
    count = int(probe.stdout.strip() or 0)
    if count == 0:
        return f"device {device!r} was asked for, but torch finds no {kind.upper()} device on this machine"
    if index >= count:
        return f"device {device!r} was asked for, but this machine has {count} {kind.upper()} device(s)"
    return None

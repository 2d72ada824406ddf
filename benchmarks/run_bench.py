"""The tracer's cost: an MNIST MLP script to its third training step, with and without ``actlint run``.

    python benchmarks/run_bench.py                 # 5 rounds, interleaved
    python benchmarks/run_bench.py --rounds 3 --torchvision

One run of this script measures, round by round and interleaved (so a busy machine slows all three alike):

- ``plain``: ``python mnist_mlp.py`` from process start to the line it prints after its third optimizer step;
- ``traced``: the same command under ``actlint run --continue`` (the tracer measures the model at step 1 and
  looks again at step 3, then lets the script go on to print its line): the tracer's added cost is
  ``traced - plain``;
- ``actlint run``: the whole ``actlint run -- python mnist_mlp.py`` as a user types it (lint, the traced
  run and the second run that compares the weights for ACT107, judging, output).

The script trains a 784-256-256-10 MLP with a sigmoid hidden layer on MNIST-shaped batches (torchvision's
MNIST with ``--torchvision``, which the tracer replaces by its stand-in when it cannot download; random
tensors of MNIST's shape otherwise).  Targets (issue 21): under 2 s added, the whole run under 10 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = '''import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

{data}


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 256)
        self.fc2 = nn.Linear(256, 256)
        self.out = nn.Linear(256, 10)

    def forward(self, x):
        x = F.relu(self.fc1(x.view(x.shape[0], -1)))
        x = torch.sigmoid(self.fc2(x))
        return self.out(x)


model = MLP()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
criterion = nn.CrossEntropyLoss()
step = 0
for images, labels in batches():
    optimizer.zero_grad()
    criterion(model(images), labels).backward()
    optimizer.step()
    step += 1
    if step == 3:
        print("STEP3", time.time(), flush=True)
        sys.exit(0)
'''
RANDOM = '''def batches():
    g = torch.Generator().manual_seed(0)
    while True:
        yield torch.rand(64, 1, 28, 28, generator=g), torch.randint(0, 10, (64,), generator=g)'''
TORCHVISION = '''from torch.utils.data import DataLoader
from torchvision import datasets, transforms


def batches():
    data = datasets.MNIST("./data", train=True, download=True, transform=transforms.ToTensor())
    return DataLoader(data, batch_size=64, shuffle=True)'''


def _to_step3(cmd: list[str], cwd: Path, env: dict) -> float | None:
    start = time.time()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    for line in (proc.stdout + proc.stderr).splitlines():
        if line.startswith("STEP3 "):
            return float(line.split()[1]) - start
    sys.stderr.write(f"no STEP3 line from {' '.join(cmd)}:\n{proc.stderr[-2000:]}\n")
    return None


def _whole(cmd: list[str], cwd: Path, env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--torchvision", action="store_true", help="load MNIST through torchvision (stand-in offline)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="actlint-run-bench-"))
    (work / "mnist_mlp.py").write_text(SCRIPT.format(data=TORCHVISION if args.torchvision else RANDOM))
    env = dict(os.environ, PYTHONPATH=str(ROOT) + (os.pathsep + os.environ["PYTHONPATH"]
                                                    if os.environ.get("PYTHONPATH") else ""))
    env.pop("ACTLINT_TRACE", None)
    py = [sys.executable, "mnist_mlp.py"]
    actlint = [sys.executable, "-m", "actlint", "run"]
    rows: dict[str, list[float]] = {"plain": [], "traced": [], "actlint run": []}
    for r in range(args.rounds):
        for name, measure in (("plain", lambda: _to_step3(py, work, env)),
                              ("traced", lambda: _to_step3(actlint + ["--continue", "--"] + py, work, env)),
                              ("actlint run", lambda: _whole(actlint + ["--"] + py, work, env))):
            value = measure()
            if value is not None:
                rows[name].append(value)
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in rows.items() if v), flush=True)
    med = {k: statistics.median(v) for k, v in rows.items() if v}
    print()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"data: {'torchvision MNIST (stand-in offline)' if args.torchvision else 'random MNIST-shaped tensors'}; "
          f"{args.rounds} rounds, medians")
    print("| measure | seconds | target |")
    print("|---|---|---|")
    print(f"| plain script to its 3rd step | {med.get('plain', float('nan')):.2f} | |")
    print(f"| under actlint run --continue, to its 3rd step | {med.get('traced', float('nan')):.2f} | |")
    added = med.get("traced", float("nan")) - med.get("plain", float("nan"))
    print(f"| added by the tracer | {added:.2f} | under 2 s: {'met' if added < 2 else 'MISSED'} |")
    whole = med.get("actlint run", float("nan"))
    print(f"| whole actlint run (lint, two runs, verdicts) | {whole:.2f} | under 10 s: "
          f"{'met' if whole < 10 else 'MISSED'} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

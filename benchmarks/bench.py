"""Speed benchmark: actlint against flake8, ruff and TorchFix on the same real sources, in one run.

    python benchmarks/bench.py                      # timm and transformers, 3 rounds
    python benchmarks/bench.py --corpus timm --rounds 5 --tools actlint,flake8

A throwaway virtual environment (``--venv``, default under the system temp folder)
gets the corpora (timm, transformers: installed without dependencies, only their
sources are read) and the peer tools; actlint is installed there from this
checkout.  Every tool runs on the same package folders; the table gives the median
wall time over the rounds, files per second and peak memory (GNU time's maximum
resident set size, which covers worker processes).  Results are printed and
written to ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEERS = {"flake8": "flake8", "ruff": "ruff", "torchfix": "torchfix"}
CORPORA = {"timm": "timm==1.0.31", "transformers": "transformers"}


def run(cmd, **kwargs):
    return subprocess.run(cmd, check=True, **kwargs)


def setup(venv: Path, corpora: list[str], tools: list[str], fresh: bool) -> Path:
    if fresh and venv.exists():
        shutil.rmtree(venv)
    python = venv / "bin" / "python"
    if not python.exists():
        run([sys.executable, "-m", "venv", str(venv)])
        run([str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"])
    wanted = [CORPORA[c] for c in corpora]
    if wanted:
        run([str(python), "-m", "pip", "install", "-q", "--no-deps", *wanted])
    peers = [PEERS[t] for t in tools if t in PEERS]
    if peers:
        run([str(python), "-m", "pip", "install", "-q", *peers])
    run([str(python), "-m", "pip", "install", "-q", str(ROOT)])
    return python


def site_packages(python: Path) -> Path:
    out = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def measure(cmd: list[str], env: dict) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one run."""
    timer = shutil.which("time") or "/usr/bin/time"
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        start = time.perf_counter()
        subprocess.run([timer, "-f", "%M", "-o", rss.name, *cmd], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - start
        match = re.search(r"(\d+)\s*$", Path(rss.name).read_text())
    return wall, (int(match.group(1)) / 1024 if match else float("nan"))


def commands(tool: str, bindir: Path, folder: Path, cache: Path, jobs: int) -> dict[str, list[str]]:
    actlint = [str(bindir / "actlint"), "--select", "ALL", "--no-gitignore", "--exit-zero", "--jobs", str(jobs)]
    if tool == "actlint":
        return {"actlint (cold)": actlint + ["--no-cache", str(folder)],
                "actlint (warm cache)": actlint + ["--cache-dir", str(cache), str(folder)]}
    if tool == "flake8":
        return {"flake8 (default plugins)": [str(bindir / "flake8"), "-j", str(jobs), "--exit-zero", str(folder)]}
    if tool == "ruff":
        ruff = [str(bindir / "ruff"), "check", "--no-cache", "--exit-zero", "--quiet"]
        return {"ruff (default rules)": ruff + [str(folder)], "ruff (all rules)": ruff + ["--select", "ALL", str(folder)]}
    if tool == "torchfix":
        return {"TorchFix": [str(bindir / "torchfix"), str(folder)]}
    raise SystemExit(f"unknown tool {tool}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--venv", type=Path, default=Path(tempfile.gettempdir()) / "actlint-bench-venv")
    parser.add_argument("--corpus", default="timm,transformers")
    parser.add_argument("--tools", default="actlint,flake8,ruff,torchfix")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--slow-rounds", type=int, default=1, help="rounds for runs over 60 s (TorchFix)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--fresh", action="store_true", help="recreate the virtual environment")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "RESULTS.md")
    args = parser.parse_args(argv)
    corpora = [c for c in args.corpus.split(",") if c]
    tools = [t for t in args.tools.split(",") if t]
    python = setup(args.venv, corpora, tools, args.fresh)
    bindir, packages = python.parent, site_packages(python)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    rows = []
    for corpus in corpora:
        folder = packages / corpus
        files = list(folder.rglob("*.py"))
        lines = sum(len(p.read_bytes().splitlines()) for p in files)
        cache = Path(tempfile.mkdtemp(prefix="actlint-bench-cache-"))
        for tool in tools:
            for label, cmd in commands(tool, bindir, folder, cache, args.jobs).items():
                if "warm" in label:
                    measure(cmd, env)  # fill the cache
                walls, peaks = [], []
                for round_ in range(args.rounds):
                    wall, peak = measure(cmd, env)
                    walls.append(wall)
                    peaks.append(peak)
                    print(f"  {corpus:<12} {label:<26} round {round_ + 1}: {wall:7.2f} s  {peak:6.0f} MB", flush=True)
                    if wall > 60 and round_ + 1 >= args.slow_rounds:
                        break
                rows.append((corpus, label, len(files), lines, statistics.median(walls), max(peaks)))
        shutil.rmtree(cache, ignore_errors=True)
    table = render(rows, args)
    print(table)
    args.output.write_text(table)
    return 0


def render(rows, args) -> str:
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    out = [f"# Benchmark results\n", f"Run on {date.today().isoformat()} ({machine}), "
           f"{args.rounds} rounds (median), `--jobs {args.jobs}` where a tool takes it.\n"]
    for corpus in dict.fromkeys(r[0] for r in rows):
        mine = {r[1]: r[4] for r in rows if r[0] == corpus}
        cold = mine.get("actlint (cold)")
        first = next(r for r in rows if r[0] == corpus)
        out.append(f"\n## {corpus} ({first[2]} files, {first[3]:,} lines)\n")
        out.append("| tool | median wall | files/s | peak memory | actlint cold / tool |")
        out.append("|---|---|---|---|---|")
        for c, label, files, lines, wall, peak in rows:
            if c != corpus:
                continue
            ratio = f"{cold / wall:.2f}" if cold and "actlint" not in label else ""
            out.append(f"| {label} | {wall:.2f} s | {files / wall:.0f} | {peak:.0f} MB | {ratio} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())

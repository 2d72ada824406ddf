"""Speed benchmark: actlint against flake8, ruff and TorchFix on the same real sources, in one run.

    python benchmarks/bench.py                      # timm and transformers, 3 rounds
    python benchmarks/bench.py --corpus timm --rounds 5 --tools actlint,flake8
    python benchmarks/bench.py --tools actlint,flake8 --baseline aad4c97   # this checkout against a revision

Throwaway virtual environments (``--venv``, default under the system temp folder):
one gets the corpora (timm, transformers: installed without dependencies, only
their sources are read), and each tool gets its own (actlint from this checkout),
so flake8 runs with its default plugins only.  ``--baseline REV`` adds actlint as
it was at git revision REV (exported with ``git archive``, in a venv of its own),
interleaved with the rest, and a target row: this checkout's cold run within
``--baseline-limit`` (default 5%) of the baseline's.  Every tool runs on the same
package folders, the tools interleaved round by round; the table gives the median
wall time over the rounds, files per second and peak memory (GNU time's maximum
resident set size: the largest process of the tree).  Results are printed and
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
# TorchFix needs about 110 s for timm; on transformers (ten times the code) it would hold
# the run for half an hour, so it runs there only when asked for (--slow-peers).
SLOW_PEERS = {"transformers": {"torchfix"}}


def run(cmd, **kwargs):
    return subprocess.run(cmd, check=True, **kwargs)


def _venv(path: Path, fresh: bool) -> Path:
    if fresh and path.exists():
        shutil.rmtree(path)
    python = path / "bin" / "python"
    if not python.exists():
        run([sys.executable, "-m", "venv", str(path)])
        run([str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"])
    return python


def _export(rev: str) -> Path:
    """The tree of this repository at ``rev``, written to a temporary folder."""
    out = Path(tempfile.mkdtemp(prefix=f"actlint-bench-{rev}-"))
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], capture_output=True, check=True).stdout
    run(["tar", "-x", "-C", str(out)], input=archive)
    return out


def setup(venv: Path, corpora: list[str], tools: list[str], fresh: bool,
          baseline: str | None = None) -> tuple[Path, dict[str, Path]]:
    """The corpora in one venv; each tool alone in its own.

    flake8 loads every installed plugin: with actlint or TorchFix beside it (both
    register one), "plain flake8" would run their checks too and look ten times
    slower than it is.
    """
    python = _venv(venv, fresh)
    wanted = [CORPORA[c] for c in corpora]
    if wanted:
        run([str(python), "-m", "pip", "install", "-q", "--no-deps", *wanted])
    bindirs = {}
    for tool in tools:
        own = _venv(venv.with_name(f"{venv.name}-{tool}"), fresh)
        if tool == "actlint":
            run([str(own), "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps", str(ROOT)])
            run([str(own), "-m", "pip", "install", "-q", str(ROOT)])
        else:
            run([str(own), "-m", "pip", "install", "-q", PEERS[tool]])
        bindirs[tool] = own.parent
    if baseline:
        # always fresh: the venv's name says the revision, but a branch name can move
        own = _venv(venv.with_name(f"{venv.name}-baseline"), True)
        tree = _export(baseline)
        run([str(own), "-m", "pip", "install", "-q", str(tree)])
        shutil.rmtree(tree, ignore_errors=True)
        bindirs["baseline"] = own.parent
    return python, bindirs


def site_packages(python: Path) -> Path:
    out = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def measure(cmd: list[str], env: dict) -> tuple[float, float, float]:
    """(wall seconds, peak RSS in MB, CPU seconds: user + system of the process and its children) of one run.

    CPU time is what the baseline comparison uses: a busy machine stretches the wall time of
    whichever tool it happens to hit, far less the CPU time it spends."""
    timer = shutil.which("time") or "/usr/bin/time"
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        start = time.perf_counter()
        subprocess.run([timer, "-f", "%M %U %S", "-o", rss.name, *cmd], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - start
        match = re.search(r"(\d+) ([\d.]+) ([\d.]+)\s*$", Path(rss.name).read_text())
    if not match:
        return wall, float("nan"), float("nan")
    return wall, int(match.group(1)) / 1024, float(match.group(2)) + float(match.group(3))


def commands(tool: str, bindirs: dict[str, Path], folder: Path, cache: Path, jobs: int,
             baseline: str | None = None) -> dict[str, list[str]]:
    bindir = bindirs[tool]
    actlint = [str(bindir / "actlint"), "--select", "ALL", "--no-gitignore", "--exit-zero", "--jobs", str(jobs)]
    if tool == "actlint":
        return {"actlint (cold)": actlint + ["--no-cache", str(folder)],
                "actlint (warm cache)": actlint + ["--cache-dir", str(cache), str(folder)]}
    if tool == "baseline":
        return {f"actlint@{baseline} (cold)": actlint + ["--no-cache", str(folder)]}
    if tool == "flake8":
        return {"flake8 (default plugins)": [str(bindir / "flake8"), "-j", str(jobs), "--exit-zero", str(folder)]}
    if tool == "ruff":
        ruff = [str(bindir / "ruff"), "check", "--no-cache", "--exit-zero", "--quiet"]
        return {"ruff (default rules)": ruff + [str(folder)], "ruff (all rules)": ruff + ["--select", "ALL", str(folder)]}
    if tool == "torchfix":
        return {"TorchFix": [str(bindir / "torchfix"), str(folder)]}
    raise SystemExit(f"unknown tool {tool}")


def startup_rows(bindir: Path, rounds: int, env: dict) -> list[tuple[str, float, float]]:
    """The pre-commit case: ``--version``, and one small framework file, each a whole process."""
    work = Path(tempfile.mkdtemp(prefix="actlint-bench-small-"))
    small = work / "model.py"
    small.write_text("import torch.nn as nn\nimport torch.nn.functional as F\n\n\n"
                     "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                     "        self.fc = nn.Linear(4, 2)\n\n    def forward(self, x):\n"
                     "        return F.softmax(self.fc(x), dim=-1)\n")
    plain = work / "util.py"
    plain.write_text("def add(a, b):\n    return a + b\n")
    rows = []
    for label, cmd in (("actlint --version", [str(bindir / "actlint"), "--version"]),
                       ("actlint one small torch file", [str(bindir / "actlint"), "--no-cache", str(small)]),
                       ("actlint one small plain file", [str(bindir / "actlint"), "--no-cache", str(plain)])):
        walls, peaks, _ = zip(*(measure(cmd, env) for _ in range(max(rounds, 5))))
        rows.append((label, statistics.median(walls), max(peaks)))
        print(f"  {label:<32} {statistics.median(walls):6.2f} s", flush=True)
    shutil.rmtree(work, ignore_errors=True)
    return rows


def one_file_in_project(bindirs: dict[str, Path], folder: Path, env: dict, args):
    """One file of a project linted alone, as a pre-commit hook does: with a pyproject.toml above
    it, actlint also searches the project for the files that import it (the reverse import index).
    Cold: no index yet, a fresh cache folder each round."""
    project = Path(tempfile.mkdtemp(prefix="actlint-bench-project-"))
    shutil.copytree(folder, project / folder.name)
    (project / "pyproject.toml").write_text("[project]\nname = 'bench'\nversion = '0'\n")
    target = max((p for p in (project / folder.name).rglob("*.py") if "nn.Module" in p.read_text(errors="replace")),
                 key=lambda p: p.stat().st_size)
    tools = ["actlint"] + (["baseline"] if args.baseline else [])
    results = {}
    for round_ in range(max(args.rounds, 3)):
        for tool in tools:
            label = "actlint (one file of a project)" if tool == "actlint" else \
                f"actlint@{args.baseline} (one file of a project)"
            cache = project / f"cache-{tool}-{round_}"
            cmd = [str(bindirs[tool] / "actlint"), "--select", "ALL", "--exit-zero", "--cache-dir", str(cache),
                   str(target)]
            wall, peak, cpu = measure(cmd, env)
            walls, peaks, cpus = results.setdefault(label, ([], [], []))
            walls.append(wall)
            peaks.append(peak)
            cpus.append(cpu)
            print(f"  {folder.name:<12} {label:<26} round {round_ + 1}: {wall:7.2f} s", flush=True)
    shutil.rmtree(project, ignore_errors=True)
    return [(label, walls, peaks, cpus) for label, (walls, peaks, cpus) in results.items()]


def warm_one_changed(bindir: Path, folder: Path, env: dict, jobs: int) -> tuple[float, float]:
    """Warm cache over a copy of the corpus with one file edited: only that file is linted again."""
    copy = Path(tempfile.mkdtemp(prefix="actlint-bench-copy-")) / folder.name
    shutil.copytree(folder, copy)
    cache = copy.parent / "cache"
    cmd = [str(bindir / "actlint"), "--select", "ALL", "--no-gitignore", "--exit-zero", "--jobs", str(jobs),
           "--cache-dir", str(cache), str(copy)]
    measure(cmd, env)
    target = max((p for p in copy.rglob("*.py") if "torch" in p.read_text(errors="replace")),
                 key=lambda p: p.stat().st_size)
    target.write_text(target.read_text() + "\n# edited\n")
    result = measure(cmd, env)
    shutil.rmtree(copy.parent, ignore_errors=True)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--venv", type=Path, default=Path(tempfile.gettempdir()) / "actlint-bench-venv")
    parser.add_argument("--corpus", default="timm,transformers")
    parser.add_argument("--tools", default="actlint,flake8,ruff,torchfix")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--slow-rounds", type=int, default=1, help="rounds for runs over 60 s (TorchFix)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--fresh", action="store_true", help="recreate the virtual environment")
    parser.add_argument("--slow-peers", action="store_true", help="also run TorchFix on transformers")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "RESULTS.md")
    parser.add_argument("--baseline", metavar="REV", help="also run actlint as it was at this git revision")
    parser.add_argument("--baseline-limit", type=float, default=5.0, metavar="PERCENT",
                        help="how much slower than the baseline the cold run may be (default 5)")
    args = parser.parse_args(argv)
    corpora = [c for c in args.corpus.split(",") if c]
    tools = [t for t in args.tools.split(",") if t]
    python, bindirs = setup(args.venv, corpora, tools, args.fresh, args.baseline)
    if args.baseline:
        tools.append("baseline")
    packages = site_packages(python)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    rows = []
    for corpus in corpora:
        folder = packages / corpus
        files = list(folder.rglob("*.py"))
        lines = sum(len(p.read_bytes().splitlines()) for p in files)
        cache = Path(tempfile.mkdtemp(prefix="actlint-bench-cache-"))
        for round_ in range(args.rounds):
            # rounds interleave the tools, so a busy spell on the machine hits them all alike
            for tool in tools:
                if tool in SLOW_PEERS.get(corpus, ()) and not args.slow_peers:
                    continue
                for label, cmd in commands(tool, bindirs, folder, cache, args.jobs, args.baseline).items():
                    if "warm" in label and round_ == 0:
                        measure(cmd, env)  # fill the cache
                    if round_ >= args.slow_rounds and any(r[1] == label and r[0] == corpus and min(r[4]) > 60
                                                          for r in rows):
                        continue
                    wall, peak, cpu = measure(cmd, env)
                    row = next((r for r in rows if r[0] == corpus and r[1] == label), None)
                    if row is None:
                        row = (corpus, label, len(files), lines, [], [], [])
                        rows.append(row)
                    row[4].append(wall)
                    row[5].append(peak)
                    row[6].append(cpu)
                    print(f"  {corpus:<12} {label:<26} round {round_ + 1}: {wall:7.2f} s  {peak:6.0f} MB", flush=True)
        if "actlint" in tools:
            wall, peak, cpu = warm_one_changed(bindirs["actlint"], folder, env, args.jobs)
            rows.append((corpus, "actlint (warm, 1 file changed)", len(files), lines, [wall], [peak], [cpu]))
            print(f"  {corpus:<12} actlint (warm, 1 file changed): {wall:7.2f} s", flush=True)
        shutil.rmtree(cache, ignore_errors=True)
    if "actlint" in tools:
        for label, walls, peaks, cpus in one_file_in_project(bindirs, packages / corpora[0], env, args):
            rows.append((corpora[0], label, 1, 0, walls, peaks, cpus))
    rows = [(c, label, f, n, statistics.median(w), max(p), statistics.median(u)) for c, label, f, n, w, p, u in rows]
    startup = startup_rows(bindirs["actlint"], args.rounds, env) if "actlint" in tools else []
    table = render(rows, startup, args)
    print(table)
    args.output.write_text(table)
    return 0


# (corpus, what, limit): cold runs as a fraction of plain flake8's time, warm runs in seconds, memory in MB
TARGETS = (("timm", "cold", 0.33), ("transformers", "cold", 0.5), ("timm", "warm", 0.5),
           ("transformers", "warm", 0.5), ("timm", "changed", 1.0), ("transformers", "changed", 1.0),
           ("transformers", "memory", 500))


def target_rows(rows) -> list[tuple[str, str, bool]]:
    """Each speed target the run can judge: (target, what was measured, whether it is met)."""
    by = {(r[0], r[1]): r for r in rows}
    found = []
    for corpus, what, limit in TARGETS:
        cold = by.get((corpus, "actlint (cold)"))
        if what == "cold":
            flake8 = by.get((corpus, "flake8 (default plugins)"))
            if cold and flake8:
                ratio = cold[4] / flake8[4]
                found.append((f"{corpus} cold at most {limit}x plain flake8", f"{ratio:.2f}x ({cold[4]:.2f} s "
                              f"against {flake8[4]:.2f} s)", ratio <= limit))
        elif what == "memory":
            if cold:
                found.append((f"{corpus} cold peak memory under {limit} MB", f"{cold[5]:.0f} MB", cold[5] < limit))
        else:
            label = "actlint (warm cache)" if what == "warm" else "actlint (warm, 1 file changed)"
            row = by.get((corpus, label))
            if row:
                found.append((f"{corpus} {label[9:-1]} under {limit:g} s", f"{row[4]:.2f} s", row[4] < limit))
    return found


def baseline_rows(rows, baseline: str, limit: float) -> list[tuple[str, str, bool]]:
    """This checkout's cold runs (and the one-file project run) against the baseline's."""
    by = {(r[0], r[1]): r for r in rows}
    found = []
    for (corpus, label), row in by.items():
        if not label.startswith("actlint (") or "warm" in label:
            continue
        base = by.get((corpus, label.replace("actlint (", f"actlint@{baseline} (", 1)))
        if base:
            change = (row[6] / base[6] - 1) * 100
            found.append((f"{corpus} {label[9:-1]} within {limit:g}% of {baseline} (CPU time)",
                          f"{change:+.1f}% ({row[6]:.2f} s against {base[6]:.2f} s; wall {row[4]:.2f} s "
                          f"against {base[4]:.2f} s)", change <= limit))
    return found


def render(rows, startup, args) -> str:
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    out = ["# Benchmark results\n", f"Run on {date.today().isoformat()} ({machine}) by `python benchmarks/bench.py "
           f"--rounds {args.rounds}`: median wall time over the rounds (slow runs over 60 s: "
           f"{args.slow_rounds} round), `--jobs {args.jobs}` where a tool takes it, peak memory is the "
           f"largest resident set of the process tree's biggest process (GNU time).\n"]
    for corpus in dict.fromkeys(r[0] for r in rows):
        mine = {r[1]: r[4] for r in rows if r[0] == corpus}
        cold = mine.get("actlint (cold)")
        first = next(r for r in rows if r[0] == corpus)
        out.append(f"\n## {corpus} ({first[2]} files, {first[3]:,} lines)\n")
        out.append("| tool | median wall | median CPU | files/s | peak memory | actlint cold / tool |")
        out.append("|---|---|---|---|---|---|")
        for c, label, files, lines, wall, peak, cpu in rows:
            if c != corpus:
                continue
            ratio = f"{cold / wall:.2f}" if cold and "actlint" not in label else ""
            out.append(f"| {label} | {wall:.2f} s | {cpu:.2f} s | {files / wall:.0f} | {peak:.0f} MB | {ratio} |")
    checks = target_rows(rows)
    if args.baseline:
        checks += baseline_rows(rows, args.baseline, args.baseline_limit)
    if checks:
        out.append("\n## Targets\n")
        out.append("| target | measured | met |")
        out.append("|---|---|---|")
        out.extend(f"| {label} | {measured} | {'yes' if met else '**no**'} |" for label, measured, met in checks)
    if startup:
        out.append("\n## Start-up (one process, median of at least 5)\n")
        out.append("| command | median wall | peak memory |")
        out.append("|---|---|---|")
        out.extend(f"| {label} | {wall:.2f} s | {peak:.0f} MB |" for label, wall, peak in startup)
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())

"""The verifier's cost, warm start against cold start, in one run, interleaved.

    python benchmarks/verify_bench.py                          # ../shared/cases, one child at a time
    python benchmarks/verify_bench.py path/ --rounds 3 --folder path/ --jobs 2

Per model: each model's child runs exactly as ``actlint --verify`` runs it, one at a time
(no parallel workers, so the numbers do not share cores), cold (a fresh ``python -I``) and
warm (forked from the server that imported the frameworks once), alternating round by
round.  Columns: the cold child's framework import, its build and run, and the wall time
the parent sees, cold and warm.  End to end (``--folder``, and ``examples/mnist_mlp.py``):
the whole ``actlint --verify`` command, ``ACTLINT_COLD_START=1`` against the default,
alternating; it also checks that both give the same verdicts and numbers, and reads the
peak memory of the parent and the server from ``--verbose``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from actlint.config import Config  # noqa: E402
from actlint.engine import decode, display_path, lint_paths  # noqa: E402
from actlint.verify.build.targets import Settings, file_targets  # noqa: E402
from actlint.verify.sandbox.runner import _child_env, run_child  # noqa: E402
from actlint.verify.sandbox.warm import WarmStart  # noqa: E402


def targets_of(paths: list[Path]):
    files = sorted(p for path in paths for p in ([path] if path.is_file() else path.glob("*.py")))
    findings = lint_paths(files, Config()).findings
    out = []
    for file in files:
        shown = display_path(file)
        text = decode(file.read_bytes())
        if not any(tok in text for tok in ("torch", "keras", "tensorflow")):
            continue
        found, _ = file_targets(shown, file, text, [f for f in findings if f.path == shown], Settings())
        out.extend(found)
    return out


def per_model(targets, rounds: int, timeout: float) -> list[str]:
    """The table of one child at a time, cold and warm alternating."""
    home = Path(tempfile.mkdtemp(prefix="actlint-bench-warm-"))
    env = dict(_child_env(1), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", TMPDIR=str(home))
    warm = WarmStart(env, keras=any(t.spec().get("framework") == "keras" for t in targets))
    out = ["| model | findings | status | cold import s | build s | run s | cold wall s | warm wall s |",
           "|---|---:|---|---:|---:|---:|---:|---:|"]
    cold_walls, warm_walls = [], []
    try:
        for t in targets:
            spec = dict(t.spec(), device="cpu", train_steps=3, batch=64, seed=0)
            cold, hot = [], []
            for _ in range(rounds):
                cold.append(run_child(spec, timeout, threads=1))
                hot.append(run_child(spec, timeout, threads=1, warm=warm))
            timings = [r.data.get("timings") or {} for r in cold]
            med = [_median([tm.get(k) for tm in timings]) for k in ("import_s", "build_s")]
            run_s = _median([(tm.get("run_s") or 0) + (tm.get("probe_s") or 0) if "run_s" in tm else None
                             for tm in timings])
            cold_wall, warm_wall = _median([r.wall_s for r in cold]), _median([r.wall_s for r in hot])
            cold_walls.append(cold_wall)
            warm_walls.append(warm_wall)
            data = hot[-1].data
            status = "ok" if data.get("ok") else f"inconclusive: {data.get('reason', '')[:40]}"
            out.append(f"| {t.label} | {len(t.findings)} | {status} | " +
                       " | ".join(_fmt(v) for v in (*med, run_s, cold_wall, warm_wall)) + " |")
    finally:
        warm.close()
    out.insert(0, f"{warm.describe()}.\n")
    out.append(f"\nall {len(targets)} models, one at a time: cold {sum(cold_walls):.1f} s (median "
               f"{statistics.median(cold_walls):.2f} s per model), warm {sum(warm_walls):.1f} s (median "
               f"{statistics.median(warm_walls):.2f} s per model)")
    return out


def _comparable(value, key=""):
    """A finding without what changes from run to run whatever the start (timings, unseeded weight hashes)."""
    if isinstance(value, dict):
        return {k: _comparable(v, k) for k, v in value.items()
                if not k.endswith("_s") and k not in ("timings", "weights_sha256", "summary", "message")}
    if isinstance(value, list):
        return [_comparable(v, key) for v in value]
    return value


def end_to_end(paths: list[Path], rounds: int, jobs: int, label: str) -> list[str]:
    """Whole ``actlint --verify`` commands, cold and warm alternating: wall time, memory, same results."""
    walls = {"cold": [], "warm": []}
    memory = {"cold": "", "warm": ""}
    results = {}
    for _ in range(rounds):
        for mode in ("cold", "warm"):
            env = dict(os.environ, ACTLINT_COLD_START="1" if mode == "cold" else "0")
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "actlint", "--verify", "--no-cache", "--exit-zero",
                                   "--verbose", "--jobs", str(jobs), "--format", "json", *map(str, paths)],
                                  capture_output=True, text=True, env=env, cwd=ROOT)
            walls[mode].append(time.perf_counter() - start)
            found = re.findall(r"peak memory: .*", done.stderr)
            memory[mode] = found[-1] if found else "(not reported)"
            try:
                results[mode] = json.loads(done.stdout)
            except ValueError:
                results[mode] = None
    same = results["cold"] is not None and _comparable(results["cold"]) == _comparable(results["warm"])
    verdicts = [(f["path"], f["line"], f["code"], f.get("verdict")) for f in results["warm"] or []]
    same_verdicts = verdicts == [(f["path"], f["line"], f["code"], f.get("verdict")) for f in results["cold"] or []]
    decided = sum(v[3] in ("confirmed", "refuted") for v in verdicts)
    # numbers measured on a script's own unseeded model differ from run to run, cold or warm alike
    numbers = "yes" if same else "no (a run of an unseeded script measures new weights each time)"
    return [f"| {label} | {statistics.median(walls['cold']):.1f} s | {statistics.median(walls['warm']):.1f} s | "
            f"{len(verdicts)} ({decided} decided) | {'yes' if same_verdicts else '**no**'} | {numbers} | "
            f"{memory['warm'].removeprefix('peak memory: ')} |"]


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _fmt(value) -> str:
    return "–" if value is None else f"{value:.2f}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, default=[ROOT.parent / "shared" / "cases"])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--folder", type=Path, action="append", default=[],
                        help="also time `actlint --verify FOLDER` end to end, cold and warm")
    parser.add_argument("--jobs", type=int, default=2, help="--jobs of the end-to-end runs")
    parser.add_argument("--skip-models", action="store_true", help="only the end-to-end runs")
    args = parser.parse_args(argv)
    print(f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores, rounds {args.rounds}\n")
    if not args.skip_models:
        targets = targets_of(args.paths)
        if not targets:
            print("no models found", file=sys.stderr)
            return 1
        print("\n".join(per_model(targets, args.rounds, args.timeout)))
    print(f"\nEnd to end (`actlint --verify --jobs {args.jobs}`, median of {args.rounds}):\n")
    print("| what | cold | warm | findings | same verdicts | same numbers | peak memory (warm) |")
    print("|---|---:|---:|---|---|---|---|")
    for folder in args.folder:
        print("\n".join(end_to_end([folder], args.rounds, args.jobs, f"`{folder.name}/`")), flush=True)
    print("\n".join(end_to_end([ROOT / "examples" / "mnist_mlp.py"], args.rounds, args.jobs,
                               "`examples/mnist_mlp.py`")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

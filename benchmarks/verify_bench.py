"""The verifier's cost per model: build, run (forward, backward, probes, training steps), total.

    python benchmarks/verify_bench.py                      # ../shared/cases, cpu (and cuda when present)
    python benchmarks/verify_bench.py path/ --device cpu --rounds 3

Each model runs in its own child process exactly as ``actlint --verify`` runs it, one
at a time (no parallel workers, so the numbers do not share cores).  Columns: framework
import in the child, building the model, running it (forward + backward + the probes of
its findings + the training steps), the child's own total, and the wall time seen by the
parent (process start and teardown included).  Medians over the rounds.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from actlint.config import Config  # noqa: E402
from actlint.engine import decode, display_path, lint_paths  # noqa: E402
from actlint.verify.sandbox.runner import run_child  # noqa: E402
from actlint.verify.build.targets import Settings, file_targets  # noqa: E402


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


def devices(requested: str | None) -> list[str]:
    if requested:
        return [requested]
    found = ["cpu"]
    try:
        import torch  # only to ask whether a GPU is there

        if torch.cuda.is_available():
            found.append("cuda")
    except ImportError:
        pass
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, default=[ROOT.parent / "shared" / "cases"])
    parser.add_argument("--device", help="cpu or cuda (default: cpu, and cuda when available)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args(argv)
    targets = targets_of(args.paths)
    if not targets:
        print("no models found", file=sys.stderr)
        return 1
    print(f"python {platform.python_version()}, {platform.machine()}, {len(targets)} models, rounds {args.rounds}")
    for device in devices(args.device):
        print(f"\n### device: {device}\n")
        print("| model | findings | status | import s | build s | run s | child total s | wall s |")
        print("|---|---:|---|---:|---:|---:|---:|---:|")
        totals = []
        for t in targets:
            spec = dict(t.spec(), device=device, train_steps=3, batch=64, seed=0)
            rows = []
            for _ in range(args.rounds):
                res = run_child(spec, args.timeout, threads=1)
                timings = res.data.get("timings") or {}
                rows.append((timings.get("import_s"), timings.get("build_s"),
                             (timings.get("run_s") or 0) + (timings.get("probe_s") or 0) if "run_s" in timings
                             else None, timings.get("total_s"), res.wall_s, res.data))
            med = [_median([r[i] for r in rows]) for i in range(5)]
            data = rows[-1][5]
            status = "ok" if data.get("ok") else f"inconclusive: {data.get('reason', '')[:40]}"
            totals.append(med[4])
            print(f"| {t.label} | {len(t.findings)} | {status} | " + " | ".join(_fmt(v) for v in med) + " |")
        print(f"\nall models: {sum(totals):.1f} s wall, median {statistics.median(totals):.2f} s per model")
    return 0


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _fmt(value) -> str:
    return "–" if value is None else f"{value:.2f}"


if __name__ == "__main__":
    raise SystemExit(main())

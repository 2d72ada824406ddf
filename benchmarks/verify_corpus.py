"""``actlint --verify`` on folders of real code, as a user runs it: models built, verdicts, reasons, time.

    python benchmarks/verify_corpus.py examples=~/src/examples tutorial=~/src/pytorch-tutorial
    python benchmarks/verify_corpus.py --out /tmp/vc --jobs 2 --timeout 60 NAME=FOLDER ...
    python benchmarks/verify_corpus.py --sample 70 --sample-dir /tmp/verify70 NAME=FOLDER ...

Each corpus is one CLI run (``actlint --no-cache --verify --report OUT/NAME --format json``)
in a fresh process, timed from the outside.  The table gives, per corpus: files, models
found and built, static findings by verdict, the share of findings with a verdict
(confirmed or refuted), runtime diagnostics, wall time and the median model time, then
the most common reasons a model was not built or a finding stayed inconclusive.

``--sample N`` first copies N model files (files that define a ``nn.Module``/``keras``
model, taken round-robin across the corpora in path order) into ``--sample-dir`` and
runs that folder as one more corpus: the "a folder of 70 real files" timing.  The
copies stay outside the repository.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL_PATTERN = re.compile(r"class\s+\w+\s*\([^)]*(Module|Model|Sequential)\b|Sequential\(|keras\.Model\(|Model\(inputs")


def _normalise(reason: str | None) -> str:
    """A reason without its line numbers, shapes and names, so that equal causes count together."""
    text = (reason or "no reason given").split(" [verify")[0]
    text = re.sub(r"\(line \d+\)", "", text)
    text = re.sub(r"line \d+", "line N", text)
    text = re.sub(r"'[^']*'", "'…'", text)
    text = re.sub(r"\[[^\]]*\]", "[…]", text)
    text = re.sub(r"\d+(\.\d+)?", "N", text)
    return text.strip()[:110]


def run_corpus(name: str, folder: Path, out: Path, jobs: int, timeout: float) -> dict:
    report_dir = out / name
    shutil.rmtree(report_dir, ignore_errors=True)
    env = dict(os.environ, KERAS_BACKEND=os.environ.get("KERAS_BACKEND", "torch"))
    cmd = [sys.executable, "-m", "actlint", "--no-cache", "--exit-zero", "--verify", "--report", str(report_dir),
           "--format", "json", "--jobs", str(jobs), "--timeout", str(timeout), str(folder)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    wall = time.perf_counter() - start
    report_file = report_dir / "report.json"
    if not report_file.is_file():
        return {"name": name, "error": f"exit {proc.returncode}: {proc.stderr.strip()[-500:]}", "wall_s": wall}
    report = json.loads(report_file.read_text(encoding="utf-8"))
    models = report["models"]
    findings = report["findings"]
    static = [f for f in findings if not f["code"].startswith("ACT9") and f["code"] != "ACT000"]
    verdicts = collections.Counter(f.get("verdict", "none") for f in static)
    by_code: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for f in static:
        by_code[f["code"]][f.get("verdict", "none")] += 1
    not_built = collections.Counter(_normalise(m.get("reason")) for m in models if not m["ok"])
    inconclusive = collections.Counter(_normalise((f.get("evidence") or {}).get("summary") or f["message"])
                                       for f in static if f.get("verdict") == "inconclusive")
    times = [m["wall_s"] for m in models if m.get("wall_s") is not None]
    files = sum(1 for p in folder.rglob("*") if p.suffix in (".py", ".ipynb"))
    decided = verdicts.get("confirmed", 0) + verdicts.get("refuted", 0)
    return {
        "name": name, "folder": str(folder), "files": files, "models": len(models),
        "built": sum(1 for m in models if m["ok"]), "findings": len(static), "verdicts": dict(verdicts),
        "decided_share": decided / len(static) if static else None,
        "by_code": {k: dict(v) for k, v in sorted(by_code.items())},
        "diagnostics": dict(collections.Counter(f["code"] for f in findings if f["code"].startswith("ACT9"))),
        "not_built": not_built.most_common(), "inconclusive": inconclusive.most_common(),
        "wall_s": wall, "median_model_s": statistics.median(times) if times else None,
        "max_model_s": max(times) if times else None, "exit": proc.returncode,
        "stderr": proc.stderr.strip()[-300:] if proc.returncode not in (0, 1) else "",
    }


def sample_files(corpora: list[tuple[str, Path]], n: int, dest: Path) -> Path:
    """Copy ``n`` model files, round-robin over the corpora, into ``dest`` (flat names)."""
    pools = []
    for name, folder in corpora:
        files = [p for p in sorted(folder.rglob("*.py"))
                 if MODEL_PATTERN.search(p.read_text(encoding="utf-8", errors="replace"))]
        pools.append((name, files))
    picked: list[tuple[str, Path, Path]] = []
    while len(picked) < n and any(files for _, files in pools):
        for name, files in pools:
            if files and len(picked) < n:
                f = files.pop(0)
                picked.append((name, f, f.relative_to(dict(corpora)[name])))
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for name, src, rel in picked:
        target = dest / f"{name}__{'__'.join(rel.parts)}"
        shutil.copyfile(src, target)
    return dest


def _pct(x) -> str:
    return "–" if x is None else f"{100 * x:.0f}%"


def table(rows: list[dict]) -> str:
    lines = ["| corpus | files | models built | findings | confirmed | refuted | inconclusive | with a verdict "
             "| ACT9xx | wall | median model |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['name']} | error: {r['error'][:80]} |")
            continue
        v = r["verdicts"]
        share = r["built"] / r["models"] if r["models"] else None
        med = f"{r['median_model_s']:.1f} s" if r["median_model_s"] is not None else "–"
        lines.append(f"| {r['name']} | {r['files']} | {r['built']}/{r['models']} ({_pct(share)}) | {r['findings']} "
                     f"| {v.get('confirmed', 0)} | {v.get('refuted', 0)} | {v.get('inconclusive', 0)} "
                     f"| {_pct(r['decided_share'])} | {sum(r['diagnostics'].values())} | {r['wall_s']:.0f} s | {med} |")
    rows = [r for r in rows if not r["name"].startswith("sample")]  # the sample repeats the corpora's files
    total_models = sum(r.get("models", 0) for r in rows)
    total_built = sum(r.get("built", 0) for r in rows)
    total_f = sum(r.get("findings", 0) for r in rows)
    decided = sum(r.get("verdicts", {}).get("confirmed", 0) + r.get("verdicts", {}).get("refuted", 0) for r in rows)
    lines.append(f"| **all** | {sum(r.get('files', 0) for r in rows)} | {total_built}/{total_models} "
                 f"({_pct(total_built / total_models if total_models else None)}) | {total_f} | | | "
                 f"| {_pct(decided / total_f if total_f else None)} | | {sum(r.get('wall_s', 0) for r in rows):.0f} s | |")
    return "\n".join(lines)


def details(rows: list[dict]) -> str:
    out = []
    for r in rows:
        if "error" in r:
            continue
        out.append(f"\n### {r['name']}\n")
        codes = ", ".join(f"{code} {dict(v)}" for code, v in r["by_code"].items()) or "none"
        out.append(f"- verdicts by code: {codes}")
        if r["diagnostics"]:
            out.append(f"- runtime diagnostics: {r['diagnostics']}")
        for title, key in (("not built", "not_built"), ("inconclusive", "inconclusive")):
            if r[key]:
                out.append(f"- {title}: " + "; ".join(f"{n}× {why}" for why, n in r[key][:8]))
        if r.get("stderr"):
            out.append(f"- stderr: {r['stderr']}")
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpora", nargs="+", help="NAME=FOLDER")
    parser.add_argument("--out", type=Path, default=Path("/tmp/actlint-verify-corpus"))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--sample", type=int, default=0, help="also run a folder of N model files from the corpora")
    parser.add_argument("--sample-dir", type=Path, default=Path("/tmp/actlint-verify-sample"))
    parser.add_argument("--sample-only", action="store_true", help="run only the sampled folder")
    args = parser.parse_args(argv)
    corpora = []
    for item in args.corpora:
        name, _, folder = item.partition("=")
        if not folder:
            parser.error(f"{item!r}: expected NAME=FOLDER")
        corpora.append((name, Path(folder).expanduser().resolve()))
    args.out.mkdir(parents=True, exist_ok=True)
    todo = [] if args.sample_only else list(corpora)
    if args.sample:
        todo.append((f"sample{args.sample}", sample_files(corpora, args.sample, args.sample_dir)))
    rows = []
    for name, folder in todo:
        row = run_corpus(name, folder, args.out, args.jobs, args.timeout)
        rows.append(row)
        print(f"{name}: {row.get('built', '?')}/{row.get('models', '?')} built, {row.get('verdicts', row.get('error'))}, "
              f"{row['wall_s']:.0f} s", file=sys.stderr)
    (args.out / "summary.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    print(table(rows))
    print(details(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

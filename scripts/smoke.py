"""Real-code smoke run: lint the installed sources of torch, transformers, timm and keras.

    python scripts/smoke.py                                  # the four packages, against the baseline
    python scripts/smoke.py --site-packages /tmp/corpus/lib/python3.11/site-packages
    python scripts/smoke.py --update-baseline                # after judging every change by hand

For each package it prints the files, lines, time, peak memory, internal errors
(the bar is zero), ACT000 unreadable files and the findings per rule, then what
this run adds to or removes from the reviewed baseline (scripts/smoke_baseline.json:
package-relative path, code, line and message of every finding of the last
reviewed run, each with the verdict given in review: real or false positive
and why), in the spirit of ruff's ecosystem check.

Exit status: 0 clean and equal to the baseline; 1 findings differ from the
baseline (unless --update-baseline); 2 internal errors or a package not found.
Nothing is imported from the linted packages: they are located with
importlib's path finder and read as text.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import sysconfig
import time
from collections import Counter
from dataclasses import dataclass, field
from importlib.machinery import PathFinder
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("torch", "transformers", "timm", "keras")
BASELINE = ROOT / "scripts" / "smoke_baseline.json"
CORPUS = Path("/tmp/corpus/lib/python3.11/site-packages")


@dataclass
class PackageRun:
    name: str
    version: str | None
    root: Path  # the folder holding the package (site-packages), paths are relative to it
    files: int = 0
    lines: int = 0
    seconds: float = 0.0
    findings: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    @property
    def per_rule(self) -> Counter:
        return Counter(f["code"] for f in self.findings)


def default_site_packages() -> Path:
    if CORPUS.is_dir():
        return CORPUS
    return Path(sysconfig.get_paths()["purelib"])


def locate(package: str, site_packages: Path | None) -> Path | None:
    """The package folder, found without importing it (importing torch would run its code)."""
    if site_packages is not None:
        spec = PathFinder.find_spec(package, [str(site_packages)])
    else:
        from importlib.util import find_spec

        spec = find_spec(package)  # a top-level name: finds, does not import
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def package_version(package: str, site_packages: Path) -> str | None:
    for info in sorted(site_packages.glob(f"{package}-*.dist-info")):
        metadata = info / "METADATA"
        if metadata.is_file():
            for line in metadata.read_text(encoding="utf-8", errors="replace").splitlines():
                if line.startswith("Version:"):
                    return line.split(":", 1)[1].strip()
    return None


def package_files(folder: Path, subdirs: list[str] | None = None, limit: int | None = None) -> list[Path]:
    """The package's .py files in a stable order (optionally only some subfolders, at most ``limit``)."""
    tops = [folder / s for s in subdirs] if subdirs else [folder]
    files: list[Path] = []
    for top in tops:
        found = sorted(p for p in top.rglob("*.py") if "__pycache__" not in p.parts)
        files.extend(found[:limit] if limit is not None else found)
    return files


def count_lines(files: list[Path]) -> int:
    total = 0
    for path in files:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        total += data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    return total


def lint_package(name: str, folder: Path, files: list[Path], jobs: int | None) -> PackageRun:
    from actlint.config import Config
    from actlint.engine import lint_paths

    base = folder.parent
    run = PackageRun(name, package_version(name, base), base, files=len(files), lines=count_lines(files))
    config = Config(root=base)
    start = time.perf_counter()
    report = lint_paths(files, config, jobs=jobs, cache=None)
    run.seconds = time.perf_counter() - start

    def rel(path: str) -> str:
        return Path(os.path.relpath(os.path.abspath(path), base)).as_posix()

    for f in report.findings:
        run.findings.append({"path": rel(f.path), "code": f.code, "line": f.line, "message": f.message})
    run.errors = [str(e) for e in report.errors]
    run.notices = list(report.notices)
    return run


def _key(finding: dict) -> tuple:
    return (finding["path"], finding["code"], finding["line"], finding["message"])


def compare(run: PackageRun, baseline: dict, linted: set[str] | None = None) -> tuple[list[dict], list[dict]]:
    """(new, lost) findings against the baseline; ``linted`` limits the baseline to the files this run saw."""
    recorded = baseline.get("packages", {}).get(run.name, {}).get("findings", [])
    if linted is not None:
        recorded = [f for f in recorded if f["path"] in linted]
    before, now = Counter(map(_key, recorded)), Counter(map(_key, run.findings))

    def extra(findings: list[dict], surplus: Counter) -> list[dict]:
        picked = []
        for f in findings:
            if surplus[_key(f)] > 0:
                surplus[_key(f)] -= 1
                picked.append(f)
        return picked

    return extra(run.findings, now - before), extra(recorded, before - now)


def load_baseline(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"packages": {}}


def write_baseline(path: Path, runs: list[PackageRun], previous: dict) -> None:
    from actlint.atomic import write_text_atomic

    packages = dict(previous.get("packages", {}))
    for run in runs:
        # A finding that is still there keeps the verdict given in review; a new one has none yet.
        verdicts = {_key(f): f["verdict"] for f in packages.get(run.name, {}).get("findings", []) if "verdict" in f}
        findings = []
        for f in sorted(run.findings, key=lambda f: (f["path"], f["line"], f["code"], f["message"])):
            entry = {k: f[k] for k in ("path", "code", "line", "message")}
            if _key(f) in verdicts:
                entry["verdict"] = verdicts[_key(f)]
            findings.append(entry)
        packages[run.name] = {"version": run.version, "files": run.files, "findings": findings}
    # One finding a line, so a baseline update reads as a plain diff in review.
    comment = "Findings of the last reviewed smoke run (scripts/smoke.py); judgements in docs/smoke.md."
    parts = ['{\n "comment": ' + json.dumps(comment) + ",", ' "packages": {']
    for n, (name, entry) in enumerate(sorted(packages.items())):
        rows = ",\n".join("   " + json.dumps(f, ensure_ascii=False) for f in entry["findings"])
        parts.append(f'  {json.dumps(name)}: {{"version": {json.dumps(entry["version"])}, "files": {entry["files"]}, '
                     f'"findings": [' + (f"\n{rows}\n  ]}}" if rows else "]}"))
        if n < len(packages) - 1:
            parts[-1] += ","
    parts.append(" }\n}\n")
    text = "\n".join(parts)
    json.loads(text)  # well-formed before it replaces the old one
    write_text_atomic(path, text)


def peak_rss_mb() -> tuple[float, float]:
    """Peak resident memory of this process and of the largest worker process, in MB (Linux: kB units)."""
    scale = 1 / 1024 if sys.platform != "darwin" else 1 / 1024 / 1024
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * scale)


def print_run(run: PackageRun, out) -> None:
    version = f" {run.version}" if run.version else ""
    rate = run.lines / run.seconds if run.seconds else 0.0
    print(f"{run.name}{version}: {run.files} files, {run.lines} lines, {run.seconds:.1f} s "
          f"({rate:,.0f} lines/s), {len(run.findings)} findings, {len(run.errors)} internal errors", file=out)
    for code, count in sorted(run.per_rule.items()):
        print(f"  {code}: {count}", file=out)
    for notice in run.notices:
        print(f"  notice: {notice}", file=out)
    for error in run.errors:
        print(f"  INTERNAL ERROR: {error}", file=out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("packages", nargs="*", default=list(PACKAGES), help=f"default: {' '.join(PACKAGES)}")
    parser.add_argument("--site-packages", type=Path, default=None,
                        help=f"where the packages are installed (default: {CORPUS} if present, else this "
                             "interpreter's site-packages)")
    parser.add_argument("--subdir", action="append", default=None,
                        help="lint only this subfolder of each package (repeatable), e.g. nn")
    parser.add_argument("--limit", type=int, default=None, help="at most this many files per (sub)folder")
    parser.add_argument("--jobs", "-j", type=int, default=None, help="worker processes (default: all cores)")
    parser.add_argument("--baseline", type=Path, default=BASELINE)
    parser.add_argument("--update-baseline", action="store_true",
                        help="record this run's findings as the reviewed baseline (judge them first)")
    parser.add_argument("--show", action="store_true", help="print every finding, not only the changes")
    parser.add_argument("--json", type=Path, help="also write the run's numbers and findings here")
    args = parser.parse_args(argv)
    out = sys.stdout

    site = args.site_packages if args.site_packages is not None else default_site_packages()
    baseline = load_baseline(args.baseline)
    partial = bool(args.subdir) or args.limit is not None
    runs: list[PackageRun] = []
    missing: list[str] = []
    total_start = time.perf_counter()
    for name in args.packages:
        folder = locate(name, site)
        if folder is None:
            print(f"{name}: not installed under {site}", file=out)
            missing.append(name)
            continue
        files = package_files(folder, args.subdir, args.limit)
        run = lint_package(name, folder, files, args.jobs)
        runs.append(run)
        print_run(run, out)
        if args.show:
            verdicts = {_key(f): f.get("verdict", "not judged")
                        for f in baseline.get("packages", {}).get(name, {}).get("findings", [])}
            for f in run.findings:
                print(f"    {f['path']}:{f['line']}: {f['code']} {f['message']}", file=out)
                print(f"      verdict: {verdicts.get(_key(f), 'new, not judged')}", file=out)
    total = time.perf_counter() - total_start
    main_mb, worker_mb = peak_rss_mb()
    print(f"total: {sum(r.files for r in runs)} files, {sum(r.lines for r in runs)} lines, "
          f"{sum(len(r.findings) for r in runs)} findings, {sum(len(r.errors) for r in runs)} internal errors, "
          f"{total:.1f} s; peak RSS {main_mb:.0f} MB (main), {worker_mb:.0f} MB (largest worker)", file=out)

    changed = False
    for run in runs:
        recorded = baseline.get("packages", {}).get(run.name)
        if recorded is None:
            print(f"{run.name}: no baseline yet", file=out)
            changed = True
            continue
        if recorded.get("version") != run.version:
            print(f"{run.name}: baseline is for version {recorded.get('version')}, this is {run.version}; "
                  "differences may be the package's own changes", file=out)
        linted = None
        if partial:
            linted = {Path(os.path.relpath(p, run.root)).as_posix()
                      for p in package_files(locate(run.name, site), args.subdir, args.limit)}
        new, lost = compare(run, baseline, linted)
        for f in new:
            print(f"  + {f['path']}:{f['line']}: {f['code']} {f['message']}", file=out)
        for f in lost:
            print(f"  - {f['path']}:{f['line']}: {f['code']} {f['message']}", file=out)
        if new or lost:
            print(f"{run.name}: {len(new)} new, {len(lost)} lost against the baseline", file=out)
            changed = True

    if args.json:
        args.json.write_text(json.dumps({
            "packages": [{"name": r.name, "version": r.version, "files": r.files, "lines": r.lines,
                          "seconds": round(r.seconds, 2), "per_rule": dict(r.per_rule), "errors": r.errors,
                          "notices": r.notices, "findings": r.findings} for r in runs],
            "peak_rss_mb": {"main": round(main_mb), "worker": round(worker_mb)},
        }, indent=1) + "\n")
    if args.update_baseline:
        if partial:
            print("--update-baseline needs a full run (no --subdir or --limit)", file=sys.stderr)
            return 2
        write_baseline(args.baseline, runs, baseline)
        print(f"baseline written: {args.baseline}", file=out)
        changed = False
    if any(r.errors for r in runs) or missing:
        return 2
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())

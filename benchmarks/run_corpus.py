"""``actlint run`` and ``actlint --verify`` over a manifest of real training scripts, as their users run them.

    python benchmarks/run_corpus.py --manifest /work/corpus21/MANIFEST.tsv --out /tmp/rc --timeout 120
    python benchmarks/run_corpus.py --manifest M.tsv --out /tmp/rc --only-verify          # the synthetic baseline
    python benchmarks/run_corpus.py --manifest M.tsv --out /tmp/rc --only-run --jobs 2 --repo keras
    python benchmarks/run_corpus.py --manifest M.tsv --out /tmp/rc --actlint /other/venv/bin/actlint

The manifest is a TSV with a header: ``repo  script  framework  data  command  workdir  notes``.
``repo`` is ``owner/name``; its files are in ``owner+name/`` beside the manifest (``--corpus`` to
look elsewhere); ``workdir`` is relative to that folder; ``command`` is what the user types there.

For each row, in its working directory with ``KERAS_BACKEND=torch``:
``actlint run --format json --report OUT/SLUG/run --timeout T -- COMMAND`` (stdout and stderr kept,
killed after T + 60 s).  For each repository once: ``actlint --no-cache --verify --format json
--report OUT/REPO/verify --jobs 2 .`` in the repository's folder.  ``python`` in a command is the
interpreter beside the ``actlint`` used (``--actlint``), so one virtual environment is measured.

Written into OUT: ``table.md`` (per repository: scripts, runs that reached a training step, models
captured, findings in those files and how many were decided; for ``--verify``: models found and
built, findings and how many were decided; totals; the reasons left), ``findings.tsv`` (every
refuted finding with its evidence, to read against the code) and ``results.json`` (everything).
A row that crashes, hangs or finds ``actlint run`` missing is reported as such; the rest go on.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import csv
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

VERDICTS = ("confirmed", "refuted", "inconclusive")


# ----------------------------------------------------------------------------------------- manifest

def read_manifest(path: Path, corpus: Path) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8", newline="") as f:
        for i, row in enumerate(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)):
            if not row.get("repo") or row["repo"].startswith("#"):
                continue
            row = {k: (v or "").strip() for k, v in row.items() if k}
            row["index"] = i
            row["folder"] = str(corpus / row["repo"].replace("/", "+"))
            row["workdir"] = row.get("workdir") or "."
            row["slug"] = _slug(f"{row['repo'].replace('/', '+')}__{i:03d}__{row['script']}")
            rows.append(row)
    return rows


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", text).strip("_")[:120]


# ----------------------------------------------------------------------------------------- running

def _env(actlint: str) -> dict:
    env = dict(os.environ)
    env["KERAS_BACKEND"] = "torch"
    env.pop("PYTHONPATH", None)  # the user's environment, not this checkout's
    bindir = str(Path(actlint).resolve().parent) if os.sep in actlint else ""
    if bindir:
        env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
        env["VIRTUAL_ENV"] = str(Path(bindir).parent)
    return env


def _run(cmd: list[str], cwd: str, env: dict, limit: float, stdout_path: Path, stderr_path: Path) -> dict:
    """Run ``cmd`` in its own process group; kill the group after ``limit`` seconds."""
    start = time.perf_counter()
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        try:
            proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
        except OSError as exc:
            return {"exit": None, "wall_s": 0.0, "killed": False, "error": f"could not start: {exc}"}
        killed = False
        try:
            proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            killed = True
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    proc.wait(timeout=10)
                    break
                except subprocess.TimeoutExpired:
                    continue
    return {"exit": proc.returncode, "wall_s": round(time.perf_counter() - start, 1), "killed": killed}


def run_available(actlint: str, env: dict) -> tuple[bool, str]:
    """Whether this actlint has the ``run`` command (an older one lints a folder named 'run')."""
    try:
        proc = subprocess.run([actlint, "run", "--help"], capture_output=True, text=True, env=env, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"{type(exc).__name__}: {exc}"
    text = proc.stdout + proc.stderr
    if proc.returncode == 0 and "actlint run" in text:
        return True, ""
    return False, (text.strip().splitlines() or [f"exit {proc.returncode}"])[-1][:200]


def _load_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _tail(path: Path, n: int = 400) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()[-n:]
    except OSError:
        return ""


def run_row(row: dict, args, env: dict) -> dict:
    out = args.out / row["slug"]
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    cwd = str(Path(row["folder"]) / row["workdir"])
    result = {"repo": row["repo"], "script": row["script"], "framework": row.get("framework"),
              "command": row["command"], "workdir": row["workdir"], "slug": row["slug"]}
    if not Path(cwd).is_dir():
        return dict(result, status="error", reason=f"no folder {cwd}")
    try:
        user_cmd = shlex.split(row["command"])
    except ValueError as exc:
        return dict(result, status="error", reason=f"bad command: {exc}")
    cmd = [args.actlint, "run", "--format", "json", "--report", str(out / "run"), "--timeout", str(args.timeout)]
    if args.steps:
        cmd += ["--steps", str(args.steps)]
    cmd += ["--"] + user_cmd
    proc = _run(cmd, cwd, env, args.timeout + 60, out / "stdout.json", out / "stderr.txt")
    result.update(proc)
    findings = _load_json(out / "stdout.json")
    report = _load_json(out / "run" / "report.json") or {}
    run = report.get("run") if isinstance(report.get("run"), dict) else {}
    captured = run.get("captured") or [m.get("model") for m in report.get("models", []) if isinstance(m, dict)]
    result["captured"] = [c for c in captured if c]
    result["models"] = _models(report)
    result["findings"] = _findings(findings, report, row["workdir"])
    result["substituted"] = run.get("substituted")
    result["run_exit"] = run.get("exit")
    result["timed_out"] = run.get("timed_out")
    if proc.get("error"):
        result.update(status="error", reason=proc["error"])
    elif proc["killed"]:
        result.update(status="killed", reason=f"actlint run still running after {args.timeout + 60:.0f} s (killed)")
    elif result["captured"]:
        result.update(status="captured", reason=None)
    else:
        why = run.get("reason") or _reason_from_stderr(out / "stderr.txt") or f"exit {proc['exit']}, no report"
        result.update(status="not captured", reason=why)
    result["stderr_tail"] = _tail(out / "stderr.txt")
    return result


def _reason_from_stderr(path: Path) -> str:
    text = _tail(path, 4000)
    for line in reversed(text.splitlines()):
        m = re.search(r"actlint run: (?:nothing verified: )?(.*)", line)
        if m:
            return m.group(1).strip()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return lines[-1].strip()[:200] if lines else ""


def verify_repo(repo: str, folder: str, args, env: dict) -> dict:
    out = args.out / _slug(repo.replace("/", "+"))
    shutil.rmtree(out / "verify", ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    cmd = [args.actlint, "--no-cache", "--verify", "--format", "json", "--report", str(out / "verify"),
           "--jobs", str(args.verify_jobs)]
    if args.verify_timeout:
        cmd += ["--timeout", str(args.verify_timeout)]
    cmd.append(".")
    result = {"repo": repo, "folder": folder}
    if not Path(folder).is_dir():
        return dict(result, status="error", reason=f"no folder {folder}", models=[], findings=[])
    proc = _run(cmd, folder, env, args.verify_limit, out / "verify_stdout.json", out / "verify_stderr.txt")
    result.update(proc)
    report = _load_json(out / "verify" / "report.json") or {}
    result["models"] = _models(report)
    result["findings"] = _findings(_load_json(out / "verify_stdout.json"), report, ".")
    result["summary"] = report.get("summary")
    if proc.get("error"):
        result.update(status="error", reason=proc["error"])
    elif proc["killed"]:
        result.update(status="killed", reason=f"--verify still running after {args.verify_limit:.0f} s (killed)")
    elif not report:
        result.update(status="error", reason=_reason_from_stderr(out / "verify_stderr.txt") or f"exit {proc['exit']}")
    else:
        result.update(status="ok", reason=None)
    result["stderr_tail"] = _tail(out / "verify_stderr.txt")
    return result


def _models(report: dict) -> list[dict]:
    models = []
    for m in report.get("models") or []:
        if not isinstance(m, dict):
            continue
        built = m.get("built") or m.get("source") or ("synthetic" if "built" not in m else None)
        models.append({"model": m.get("model"), "path": m.get("path"), "ok": bool(m.get("ok")),
                       "reason": m.get("reason"), "built": built, "framework": m.get("framework")})
    return models


def _findings(stdout, report: dict, workdir: str) -> list[dict]:
    """The findings of the JSON array on stdout (else report.json's), paths made relative to the repository."""
    items = stdout if isinstance(stdout, list) else report.get("findings") if isinstance(report, dict) else None
    found = []
    for f in items or []:
        if not isinstance(f, dict) or not f.get("code"):
            continue
        evidence = f.get("evidence") if isinstance(f.get("evidence"), dict) else {}
        path = f.get("path") or ""
        if path and workdir not in ("", ".") and not os.path.isabs(path):
            path = os.path.normpath(os.path.join(workdir, path))
        found.append({"code": f["code"], "path": path, "line": f.get("line"), "verdict": f.get("verdict"),
                      "message": f.get("message", ""), "summary": evidence.get("summary") or evidence.get("reason"),
                      "source": evidence.get("source"), "model": evidence.get("model")})
    return found


def _static(findings: list[dict]) -> list[dict]:
    """Static findings: not ACT000 (unreadable file) and not a runtime diagnostic (ACT9xx, verdict 'observed')."""
    return [f for f in findings if f["code"] != "ACT000" and not f["code"].startswith("ACT9")
            and f.get("verdict") != "observed"]


# ----------------------------------------------------------------------------------------- tables

def normalise(reason) -> str:
    """A reason without its numbers, names and shapes, so that equal causes count together."""
    text = str(reason or "no reason given").split(" [verify")[0]
    text = re.sub(r"\(line \d+\)", "", text)
    text = re.sub(r"line \d+", "line N", text)
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", text)
    text = re.sub(r"\[[^\]]*\]", "[…]", text)
    text = re.sub(r"\([^()]*\d[^()]*\)", "(…)", text)
    text = re.sub(r"\d+(\.\d+)?", "N", text)
    return re.sub(r"\s+", " ", text).strip()[:120]


def _pct(n: int, d: int) -> str:
    return "–" if not d else f"{100 * n / d:.0f}%"


def _counts(findings: list[dict]) -> dict:
    c = collections.Counter(f.get("verdict") or "none" for f in findings)
    return {"findings": len(findings), **{v: c.get(v, 0) for v in VERDICTS}, "none": c.get("none", 0)}


def build_tables(runs: list[dict], verifies: list[dict], meta: dict) -> str:
    repos = list(dict.fromkeys([r["repo"] for r in runs] + [v["repo"] for v in verifies]))
    lines = [f"# actlint corpus run ({meta['date']})", "",
             f"- actlint: `{meta['actlint']}` ({meta['version']}); `actlint run` available: "
             f"{'yes' if meta['run_available'] else 'no — ' + meta['run_unavailable_reason']}",
             f"- manifest: `{meta['manifest']}`; timeout {meta['timeout']} s per run; "
             f"modes: {', '.join(meta['modes'])}", ""]
    if runs:
        lines += ["## actlint run (the user's command, traced)", "",
                  "| repository | scripts | reached a step | models captured | findings in those files "
                  "| confirmed | refuted | inconclusive | decided |", "|---|---|---|---|---|---|---|---|---|"]
        tot = collections.Counter()
        for repo in repos:
            rows = [r for r in runs if r["repo"] == repo]
            if not rows:
                continue
            reached = [r for r in rows if r.get("captured")]
            c = _counts([f for r in reached for f in _static(r.get("findings", []))])
            models = sum(len(r["captured"]) for r in reached)
            decided = c["confirmed"] + c["refuted"]
            lines.append(f"| {repo} | {len(rows)} | {len(reached)} | {models} | {c['findings']} | {c['confirmed']} "
                         f"| {c['refuted']} | {c['inconclusive']} | {decided} ({_pct(decided, c['findings'])}) |")
            tot.update(scripts=len(rows), reached=len(reached), models=models, decided=decided,
                       **{k: c[k] for k in ("findings",) + VERDICTS})
        lines.append(f"| **total** | {tot['scripts']} | {tot['reached']} ({_pct(tot['reached'], tot['scripts'])}) "
                     f"| {tot['models']} | {tot['findings']} | {tot['confirmed']} | {tot['refuted']} "
                     f"| {tot['inconclusive']} | {tot['decided']} ({_pct(tot['decided'], tot['findings'])}) |")
        lines += ["", "Per script:", "", "| repository | command (workdir) | status | captured | findings | "
                  "decided | wall |", "|---|---|---|---|---|---|---|"]
        for r in runs:
            c = _counts(_static(r.get("findings", [])))
            dec = c["confirmed"] + c["refuted"]
            status = r["status"] if r["status"] == "captured" else f"{r['status']}: {normalise(r.get('reason'))}"
            lines.append(f"| {r['repo']} | `{r['command']}` ({r['workdir']}) | {status.replace('|', '/')} "
                         f"| {len(r.get('captured') or [])} | {c['findings']} | {dec} | {r.get('wall_s', 0):.0f} s |")
        lines.append("")
    if verifies:
        lines += ["## actlint --verify (each repository folder)", "",
                  "| repository | models found | built | built from a run | built synthetic | findings "
                  "| confirmed | refuted | inconclusive | no verdict | decided | wall |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        tot = collections.Counter()
        for v in verifies:
            models = v.get("models", [])
            built = [m for m in models if m["ok"]]
            from_run = sum(1 for m in built if m.get("built") == "run")
            synthetic = sum(1 for m in built if m.get("built") == "synthetic")
            c = _counts(_static(v.get("findings", [])))
            decided = c["confirmed"] + c["refuted"]
            note = "" if v["status"] == "ok" else f" ({v['status']}: {normalise(v.get('reason'))})"
            lines.append(f"| {v['repo']}{note} | {len(models)} | {len(built)} | {from_run} | {synthetic} "
                         f"| {c['findings']} | {c['confirmed']} | {c['refuted']} | {c['inconclusive']} | {c['none']} "
                         f"| {decided} ({_pct(decided, c['findings'])}) | {v.get('wall_s', 0):.0f} s |")
            tot.update(models=len(models), built=len(built), from_run=from_run, synthetic=synthetic,
                       decided=decided, wall=v.get("wall_s", 0), **{k: c[k] for k in ("findings", "none") + VERDICTS})
        lines.append(f"| **total** | {tot['models']} | {tot['built']} ({_pct(tot['built'], tot['models'])}) "
                     f"| {tot['from_run']} | {tot['synthetic']} | {tot['findings']} | {tot['confirmed']} "
                     f"| {tot['refuted']} | {tot['inconclusive']} | {tot['none']} "
                     f"| {tot['decided']} ({_pct(tot['decided'], tot['findings'])}) | {tot['wall']:.0f} s |")
        lines.append("")
    lines += ["## Reasons left", ""]
    groups = []
    if runs:
        groups.append(("actlint run: not captured", collections.Counter(
            normalise(r.get("reason")) for r in runs if not r.get("captured"))))
        groups.append(("actlint run: inconclusive findings", collections.Counter(
            normalise(f.get("summary") or f["message"]) for r in runs if r.get("captured")
            for f in _static(r.get("findings", [])) if f.get("verdict") == "inconclusive")))
    if verifies:
        groups.append(("--verify: models not built", collections.Counter(
            normalise(m.get("reason")) for v in verifies for m in v.get("models", []) if not m["ok"])))
        groups.append(("--verify: inconclusive findings", collections.Counter(
            normalise(f.get("summary") or f["message"]) for v in verifies for f in _static(v.get("findings", []))
            if f.get("verdict") == "inconclusive")))
    for title, counter in groups:
        lines.append(f"### {title} ({sum(counter.values())})")
        lines.append("")
        lines += [f"- {n}× {why}" for why, n in counter.most_common(25)] or ["- none"]
        if len(counter) > 25:
            lines.append(f"- … {len(counter) - 25} more kinds ({sum(n for _, n in counter.most_common()[25:])})")
        lines.append("")
    return "\n".join(lines)


def refuted_tsv(runs: list[dict], verifies: list[dict]) -> str:
    out = ["source\trepo\tpath\tline\tcode\tmessage\tevidence"]
    clean = lambda s: re.sub(r"\s+", " ", str(s or "")).strip()  # noqa: E731
    for source, items in (("run", runs), ("verify", verifies)):
        for item in items:
            for f in _static(item.get("findings", [])):
                if f.get("verdict") == "refuted":
                    out.append("\t".join([source, item["repo"], f["path"], str(f.get("line") or ""), f["code"],
                                          clean(f["message"].split(" [verify")[0]), clean(f.get("summary"))]))
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------------------- main

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("/tmp/actlint-run-corpus"))
    parser.add_argument("--corpus", type=Path, help="folder holding owner+name/ (default: the manifest's folder)")
    parser.add_argument("--timeout", type=float, default=120, help="actlint run --timeout per script (s)")
    parser.add_argument("--steps", type=int, help="actlint run --steps")
    parser.add_argument("--only-verify", action="store_true")
    parser.add_argument("--only-run", action="store_true")
    parser.add_argument("--jobs", type=int, default=1, help="scripts run at once")
    parser.add_argument("--verify-jobs", type=int, default=2, help="--jobs given to actlint --verify")
    parser.add_argument("--verify-timeout", type=float, help="--timeout given to actlint --verify (per model)")
    parser.add_argument("--verify-limit", type=float, default=3600, help="wall-clock limit of one --verify (s)")
    parser.add_argument("--actlint", default=shutil.which("actlint") or "actlint",
                        help="the actlint executable (its folder's python runs the commands)")
    parser.add_argument("--repo", action="append", default=[], help="only repositories whose name contains this")
    parser.add_argument("--limit", type=int, help="only the first N rows (after --repo)")
    args = parser.parse_args(argv)
    if args.only_run and args.only_verify:
        parser.error("--only-run and --only-verify exclude each other")
    corpus = args.corpus or args.manifest.resolve().parent
    rows = read_manifest(args.manifest, corpus)
    if args.repo:
        rows = [r for r in rows if any(s.lower() in r["repo"].lower() for s in args.repo)]
    if args.limit:
        rows = rows[:args.limit]
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    env = _env(args.actlint)
    try:
        version = subprocess.run([args.actlint, "--version"], capture_output=True, text=True, env=env,
                                 timeout=60).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"run_corpus: cannot run {args.actlint}: {exc}", file=sys.stderr)
        return 2
    available, why = run_available(args.actlint, env)
    modes = (["verify"] if not args.only_run else []) + (["run"] if not args.only_verify else [])
    meta = {"date": time.strftime("%Y-%m-%d %H:%M"), "actlint": args.actlint, "version": version,
            "run_available": available, "run_unavailable_reason": why, "manifest": str(args.manifest),
            "timeout": args.timeout, "modes": modes, "rows": len(rows)}
    print(f"run_corpus: {len(rows)} scripts, {version}, actlint run {'available' if available else 'NOT available: ' + why}",
          file=sys.stderr)

    runs: list[dict] = []
    if "run" in modes:
        def one(row):
            if not available:
                return {"repo": row["repo"], "script": row["script"], "command": row["command"],
                        "workdir": row["workdir"], "slug": row["slug"], "status": "unavailable",
                        "reason": f"actlint run not available: {why}", "captured": [], "findings": [], "wall_s": 0}
            try:
                return run_row(row, args, env)
            except Exception as exc:  # noqa: BLE001 - one row's failure is a row of the table
                return {"repo": row["repo"], "script": row["script"], "command": row["command"],
                        "workdir": row["workdir"], "slug": row["slug"], "status": "error",
                        "reason": f"harness: {type(exc).__name__}: {exc}", "captured": [], "findings": [], "wall_s": 0}
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futures = {pool.submit(one, row): row for row in rows}
            for future in concurrent.futures.as_completed(futures):
                r = future.result()
                runs.append(r)
                print(f"[run {len(runs)}/{len(rows)}] {r['repo']} {r['command']}: {r['status']}"
                      f"{'' if r['status'] == 'captured' else ' — ' + str(r.get('reason'))[:100]}"
                      f" ({len(r.get('captured') or [])} models, {r.get('wall_s', 0):.0f} s)", file=sys.stderr)
        order = {row["slug"]: i for i, row in enumerate(rows)}
        runs.sort(key=lambda r: order.get(r["slug"], 0))

    verifies: list[dict] = []
    if "verify" in modes:
        repos = list(dict.fromkeys((r["repo"], r["folder"]) for r in rows))
        for repo, folder in repos:
            try:
                v = verify_repo(repo, folder, args, env)
            except Exception as exc:  # noqa: BLE001
                v = {"repo": repo, "folder": folder, "status": "error", "reason": f"harness: {type(exc).__name__}: {exc}",
                     "models": [], "findings": [], "wall_s": 0}
            verifies.append(v)
            s = v.get("summary") or {}
            print(f"[verify {len(verifies)}/{len(repos)}] {repo}: {v['status']}, {s.get('built', '?')}/"
                  f"{s.get('models', '?')} built, {s.get('verdicts')}, {v.get('wall_s', 0):.0f} s", file=sys.stderr)

    table = build_tables(runs, verifies, meta)
    (args.out / "table.md").write_text(table + "\n", encoding="utf-8")
    (args.out / "findings.tsv").write_text(refuted_tsv(runs, verifies), encoding="utf-8")
    (args.out / "results.json").write_text(json.dumps({"meta": meta, "runs": runs, "verify": verifies}, indent=1,
                                                      default=str), encoding="utf-8")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

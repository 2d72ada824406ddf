"""``--report DIR``: the machine-readable JSON and an HTML page with plots, one section per model.

Plots (matplotlib, PNG): gradient norm per learned layer on a log scale (with the ReLU twin
when ACT101 built one), and a histogram of each activation's output at init.  Everything is
written inside DIR and nowhere else.
"""

from __future__ import annotations

import html
import io
import json
import os
import re
import traceback
from pathlib import Path

from actlint.atomic import write_bytes_atomic, write_text_atomic

_BADGE = {"confirmed": "#c0392b", "observed": "#d35400", "refuted": "#27ae60", "inconclusive": "#7f8c8d"}


def _slug(label: str, used: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9]+", "_", label).strip("_")[-60:] or "model"
    slug, n = base, 2
    while slug in used:
        slug, n = f"{base}_{n}", n + 1
    used.add(slug)
    return slug


def summary_counts(outcome) -> dict:
    """Models found and built, verdicts of the static findings, runtime diagnostics, internal errors, seconds."""
    verdicts = {"confirmed": 0, "refuted": 0, "inconclusive": 0}
    diagnostics = 0
    for f in outcome.findings:
        verdict = f.extra.get("verdict")
        if verdict == "observed":
            diagnostics += 1
        elif f.code != "ACT000":
            key = verdict or "not verified"
            verdicts[key] = verdicts.get(key, 0) + 1
    return {"models": len(outcome.models), "built": sum(1 for m in outcome.models if m.ok),
            "from_runs": sum(1 for m in outcome.models if m.ok and _built_by_run(m)),
            "devices": list(outcome.devices), "verdicts": verdicts, "runtime_diagnostics": diagnostics,
            "internal_errors": len(getattr(outcome, "faults", [])),
            "elapsed_s": round(getattr(outcome, "elapsed_s", 0.0), 3)}


def _built_by_run(run) -> bool:
    build = getattr(getattr(run, "target", None), "build", None) or {}
    return build.get("kind") == "run"


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def summary_line(outcome) -> str:
    """``verify: 12 models, 10 built (cpu); 7 confirmed, 1 refuted, 3 inconclusive; 2 runtime diagnostics; 41.2 s``."""
    c = summary_counts(outcome)
    how = list(c["devices"])
    if c.get("from_runs"):
        how.append(f"{c['from_runs']} from their scripts' own runs")
    devices = f" ({'; '.join(how)})" if how else ""
    always = ("confirmed", "refuted", "inconclusive")
    verdicts = ", ".join(f"{n} {k}" for k, n in c["verdicts"].items() if n or k in always)
    parts = [f"verify: {_n(c['models'], 'model')}, {c['built']} built{devices}", verdicts,
             _n(c["runtime_diagnostics"], "runtime diagnostic")]
    if c["internal_errors"]:
        parts.append(_n(c["internal_errors"], "internal error"))
    parts.append(f"{c['elapsed_s']:.1f} s")
    return "; ".join(parts)


def _where(row: dict, key: str = "line") -> str:
    """``12``, or ``cell 3:4`` for a notebook."""
    cell = row.get("cell" if key == "line" else "module_cell")
    line = row.get(key)
    if line is None:
        return ""
    return f"cell {cell}:{line}" if cell is not None else str(line)


def model_record(run) -> dict:
    """What the JSON report keeps of one model's run (histograms left to the plots)."""
    try:
        return _model_record(run)
    except Exception as exc:  # noqa: BLE001 - a broken record must not cost the report
        t = run.target
        return {"model": t.label, "path": t.path, "framework": t.framework, "ok": run.ok,
                "reason": f"internal error in the report: {type(exc).__name__}: {exc}", "wall_s": run.wall_s,
                "timings": None, "input": None, "assumptions": [], "layers": [], "activations": [],
                "findings": [], "diagnostics": [], "internal_error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc()}


def _model_record(run) -> dict:
    t, r = run.target, run.result
    timings = r.get("timings") or {}
    record = {
        "model": t.label, "path": t.path, "framework": t.framework, "ok": run.ok, "reason": r.get("reason"), "child_traceback": r.get("traceback"),
        "device": r.get("device"), "wall_s": round(run.wall_s, 3),
        "built": "run" if t.build.get("kind") == "run" else "synthetic",
        "batch": r.get("batch"), "loss_replay": r.get("loss_replay"),
        "timings": {k: round(v, 3) for k, v in timings.items() if isinstance(v, (int, float))} or None,
        "input": r.get("input"), "assumptions": t.assumptions, "loss": r.get("loss"),
        "grad_ratio_first_last": r.get("grad_ratio"),
        "layers": r.get("layers", []),
        "activations": [{k: v for k, v in op.items() if k != "hist"} for op in r.get("ops", [])],
        "findings": [dict({"code": f.code, "line": f.line, "verdict": v.verdict, "summary": v.summary,
                           "evidence": v.evidence}, **({"cell": f.cell} if f.cell is not None else {}))
                     for f, v in run.verdicts],
        "diagnostics": [d.to_dict() for d in run.diagnostics],
    }
    fault = getattr(run, "fault", None)
    if fault is not None:
        record.update(internal_error=fault.error, stage=fault.stage, traceback=fault.traceback)
    return record


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return buffer.getvalue()


def _grad_plot(run, plt) -> bytes | None:
    layers = run.result.get("layers", [])
    norms = [r.get("grad_norm") for r in layers]
    if not any(norms):
        return None
    labels = [f"{r['type']}\n{'L' if r.get('cell') is None else ''}{_where(r)}" if r.get("line") else r["type"]
              for r in layers]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.9 * len(norms) + 2), 3.2))
    xs = range(len(norms))
    ax.plot(xs, [n or float("nan") for n in norms], "o-", label="this model")
    twin = next((p.get("twin_grad_norms") for p in run.result.get("probes", {}).values()
                 if isinstance(p, dict) and p.get("twin_grad_norms")), None)
    if twin and len(twin) == len(norms):
        ax.plot(xs, [n or float("nan") for n in twin], "s--", label="twin: ReLU + Kaiming")
        ax.legend(fontsize=8)
    ax.set_yscale("log")
    ax.set_xticks(list(xs))
    ax.set_xticklabels(labels, fontsize=7)
    ax.set_ylabel("weight gradient norm")
    ax.set_title("Gradient norm per learned layer (first → last)", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    data = _png(fig)
    plt.close(fig)
    return data


def _hist_plot(run, plt) -> bytes | None:
    ops = [op for op in run.result.get("ops", []) if op.get("hist", {}).get("counts")][:12]
    if not ops:
        return None
    cols = min(4, len(ops))
    rows = (len(ops) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 2.3 * rows), squeeze=False)
    for ax in axes.flat[len(ops):]:
        ax.axis("off")
    for ax, op in zip(axes.flat, ops):
        h = op["hist"]
        edges = h["edges"]
        widths = [b - a for a, b in zip(edges[:-1], edges[1:])]
        ax.bar(edges[:-1], h["counts"], width=widths, align="edge", color="#2c7fb8")
        where = _where(op) or _where(op, "module_line")
        extra = ""
        if op.get("saturated_frac") is not None:
            extra = f", sat {100 * op['saturated_frac']:.0f}%"
        if op.get("dead_unit_frac") is not None:
            extra = f", dead {100 * op['dead_unit_frac']:.0f}%"
        ax.set_title(f"{op['fn']} (line {where}){extra}", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle("Activation outputs at init (synthetic batch)", fontsize=9)
    fig.tight_layout()
    data = _png(fig)
    plt.close(fig)
    return data


def write_report(folder: Path, outcome, findings_json: list[dict], extra: dict | None = None) -> list[Path]:
    """Write report.json, index.html and the PNG plots into ``folder``; returns the files written.

    ``extra``: more top-level keys of report.json (``actlint run`` adds ``run``: the command and what it captured).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    records = [model_record(run) for run in outcome.models]
    faults = [f.to_dict() for f in getattr(outcome, "faults", [])]
    report = {"summary": summary_counts(outcome), "devices": outcome.devices, "models": records,
              "internal_errors": faults, "findings": findings_json}
    report.update(extra or {})
    write_text_atomic(folder / "report.json", json.dumps(report, indent=2, default=str) + "\n")
    written.append(folder / "report.json")

    used: set[str] = set()
    sections = []
    summary_rows = []
    for run, record in zip(outcome.models, records):
        slug = _slug(run.target.label, used)
        images = []
        for kind, maker in (("grads", _grad_plot), ("acts", _hist_plot)):
            try:
                data = maker(run, plt) if run.ok else None
            except Exception:  # noqa: BLE001 - a plot that fails is left out, the section stays
                plt.close("all")
                data = None
            if data:
                path = folder / f"{slug}_{kind}.png"
                write_bytes_atomic(path, data)
                written.append(path)
                images.append(path.name)
        try:
            sections.append(_section(slug, run, record, images))
        except Exception as exc:  # noqa: BLE001
            sections.append(f"<section id='{slug}'><h2>{html.escape(run.target.label)}</h2>"
                            f"<p>internal error in the report: {html.escape(f'{type(exc).__name__}: {exc}')}</p>"
                            "</section>")
        summary_rows.append(_summary_row(slug, run, record))
    errors = "".join(f"<li>{html.escape(f['path'])}{' (' + html.escape(f['model']) + ')' if f['model'] else ''}: "
                     f"internal error while {html.escape(f['stage'])}: {html.escape(f['error'])}"
                     f"<pre>{html.escape(f['traceback'])}</pre></li>" for f in faults)
    page = _PAGE.format(devices=html.escape(", ".join(outcome.devices) or "none"),
                        summary=html.escape(summary_line(outcome)),
                        errors=f"<h2>Internal errors</h2><ul>{errors}</ul>" if errors else "",
                        rows="\n".join(summary_rows), sections="\n".join(sections))
    write_text_atomic(folder / "index.html", page)
    written.append(folder / "index.html")
    for path in written:  # a report is for reading: not the 0600 of a temporary file
        os.chmod(path, 0o644)
    return written


def _summary_row(slug: str, run, record: dict) -> str:
    counts: dict[str, int] = {}
    for f in record["findings"]:
        counts[f["verdict"]] = counts.get(f["verdict"], 0) + 1
    counts_text = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no static findings"
    status = "built and ran" if run.ok and not record.get("internal_error") else \
        f"inconclusive: {record['reason']}" if not run.ok else f"built; {record['reason']}"
    t = record.get("timings") or {}
    cells = "".join(f"<td>{_secs(t.get(k))}</td>" for k in ("build_s", "run_s", "probe_s"))
    return (f"<tr><td><a href='#{slug}'>{html.escape(run.target.label)}</a></td><td>{html.escape(status)}</td>"
            f"<td>{html.escape(counts_text)}</td><td>{len(record['diagnostics'])}</td>{cells}"
            f"<td>{_secs(record['wall_s'])}</td></tr>")


def _secs(x) -> str:
    return "" if not isinstance(x, (int, float)) else f"{x:.2f} s" if x < 10 else f"{x:.1f} s"


def _badge(verdict: str) -> str:
    return (f"<span class='badge' style='background:{_BADGE.get(verdict, '#555')}'>"
            f"{html.escape(verdict)}</span>")


def _section(slug: str, run, record: dict, images: list[str]) -> str:
    parts = [f"<section id='{slug}'><h2>{html.escape(run.target.label)}</h2>"]
    meta = [f"framework {record['framework']}", f"device {record.get('device') or 'n/a'}"]
    if record.get("input"):
        meta.append(f"input {tuple(record['input']['shape'])} {record['input'].get('dtype', 'float')}")
    t = record.get("timings") or {}
    meta.append(", ".join(f"{name} {_secs(t[key])}" for name, key in (
        ("import", "import_s"), ("build", "build_s"), ("run", "run_s"), ("probes", "probe_s")) if key in t)
        + f"{', ' if t else ''}wall {_secs(record['wall_s'])}")
    parts.append(f"<p class='meta'>{html.escape(' · '.join(meta))}</p>")
    for a in record["assumptions"]:
        parts.append(f"<p class='meta'>assumed: {html.escape(a)}</p>")
    if not run.ok or record.get("internal_error"):
        parts.append(f"<p>{_badge('inconclusive')} {html.escape(record['reason'] or '')}</p>")
    if record.get("traceback"):
        parts.append(f"<pre>{html.escape(record['traceback'])}</pre>")
    items = [f"<li>{_badge(f['verdict'])} <b>{f['code']}</b> {_at(f)}: {html.escape(f['summary'])}</li>"
             for f in record["findings"]]
    items += [f"<li>{_badge('observed')} <b>{d['code']}</b> {_at(d)}: {html.escape(d['message'])}</li>"
              for d in record["diagnostics"]]
    if items:
        parts.append("<ul>" + "".join(items) + "</ul>")
    for name in images:
        parts.append(f"<img src='{html.escape(name)}' alt='{html.escape(name)}'>")
    if record["layers"]:
        rows = "".join(
            f"<tr><td>{i}</td><td>{html.escape(str(r.get('type')))}</td><td>{_where(r)}</td>"
            f"<td>{_fmt(r.get('grad_norm'))}</td><td>{_fmt((r.get('out') or {}).get('std'))}</td></tr>"
            for i, r in enumerate(record["layers"]))
        parts.append("<table><tr><th>#</th><th>layer</th><th>line</th><th>grad norm</th><th>output std</th></tr>"
                     f"{rows}</table>")
    parts.append("</section>")
    return "\n".join(parts)


def _at(f: dict) -> str:
    return f"cell {f['cell']} line {f['line']}" if f.get("cell") is not None else f"line {f['line']}"


def _fmt(x) -> str:
    return "" if x is None else f"{x:.3g}"


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>actlint --verify report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }}
section {{ border-top: 1px solid #ddd; margin-top: 2em; padding-top: 1em; }}
.badge {{ color: white; border-radius: 3px; padding: 1px 6px; font-size: 0.85em; }}
.meta {{ color: #666; font-size: 0.9em; margin: 0.2em 0; }}
table {{ border-collapse: collapse; font-size: 0.9em; margin-top: 0.8em; }}
td, th {{ border: 1px solid #ddd; padding: 2px 8px; text-align: left; }}
img {{ display: block; margin: 0.8em 0; max-width: 100%; }}
li {{ margin: 0.3em 0; }}
</style></head><body>
<h1>actlint --verify</h1>
<p>Device: {devices}. Each model was built in its own process and run on synthetic data.</p>
<p><b>{summary}</b></p>
{errors}
<table><tr><th>model</th><th>status</th><th>static findings</th><th>runtime diagnostics</th><th>build</th>
<th>run</th><th>probes</th><th>wall</th></tr>
{rows}
</table>
{sections}
</body></html>
"""

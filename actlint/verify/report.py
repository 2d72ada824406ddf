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


def model_record(run) -> dict:
    """What the JSON report keeps of one model's run (histograms left to the plots)."""
    t, r = run.target, run.result
    return {
        "model": t.label, "path": t.path, "framework": t.framework, "ok": run.ok, "reason": r.get("reason"),
        "device": r.get("device"), "wall_s": round(run.wall_s, 3), "timings": r.get("timings"),
        "input": r.get("input"), "assumptions": t.assumptions, "loss": r.get("loss"),
        "grad_ratio_first_last": r.get("grad_ratio"),
        "layers": r.get("layers", []),
        "activations": [{k: v for k, v in op.items() if k != "hist"} for op in r.get("ops", [])],
        "findings": [{"code": f.code, "line": f.line, "verdict": v.verdict, "summary": v.summary,
                      "evidence": v.evidence} for f, v in run.verdicts],
        "diagnostics": [d.to_dict() for d in run.diagnostics],
    }


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return buffer.getvalue()


def _grad_plot(run, plt) -> bytes | None:
    layers = run.result.get("layers", [])
    norms = [r.get("grad_norm") for r in layers]
    if not any(norms):
        return None
    labels = [f"{r['type']}\nL{r['line']}" if r.get("line") else r["type"] for r in layers]
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
        where = op.get("line") or op.get("module_line")
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


def write_report(folder: Path, outcome, findings_json: list[dict]) -> list[Path]:
    """Write report.json, index.html and the PNG plots into ``folder``; returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    records = [model_record(run) for run in outcome.models]
    report = {"devices": outcome.devices, "models": records, "findings": findings_json}
    write_text_atomic(folder / "report.json", json.dumps(report, indent=2, default=str) + "\n")
    written.append(folder / "report.json")

    used: set[str] = set()
    sections = []
    summary_rows = []
    for run, record in zip(outcome.models, records):
        slug = _slug(run.target.label, used)
        images = []
        for kind, maker in (("grads", _grad_plot), ("acts", _hist_plot)):
            data = maker(run, plt) if run.ok else None
            if data:
                path = folder / f"{slug}_{kind}.png"
                write_bytes_atomic(path, data)
                written.append(path)
                images.append(path.name)
        sections.append(_section(slug, run, record, images))
        counts = {}
        for f in record["findings"]:
            counts[f["verdict"]] = counts.get(f["verdict"], 0) + 1
        counts_text = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no static findings"
        status = "ran" if run.ok else f"inconclusive: {record['reason']}"
        summary_rows.append(
            f"<tr><td><a href='#{slug}'>{html.escape(run.target.label)}</a></td><td>{html.escape(status)}</td>"
            f"<td>{html.escape(counts_text)}</td><td>{len(record['diagnostics'])}</td>"
            f"<td>{record['wall_s']:.1f} s</td></tr>")
    page = _PAGE.format(devices=html.escape(", ".join(outcome.devices) or "none"),
                        rows="\n".join(summary_rows), sections="\n".join(sections))
    write_text_atomic(folder / "index.html", page)
    written.append(folder / "index.html")
    for path in written:  # a report is for reading: not the 0600 of a temporary file
        os.chmod(path, 0o644)
    return written


def _badge(verdict: str) -> str:
    return (f"<span class='badge' style='background:{_BADGE.get(verdict, '#555')}'>"
            f"{html.escape(verdict)}</span>")


def _section(slug: str, run, record: dict, images: list[str]) -> str:
    parts = [f"<section id='{slug}'><h2>{html.escape(run.target.label)}</h2>"]
    meta = [f"framework {record['framework']}", f"device {record.get('device') or 'n/a'}"]
    if record.get("input"):
        meta.append(f"input {tuple(record['input']['shape'])} {record['input'].get('dtype', 'float')}")
    if record.get("timings"):
        t = record["timings"]
        meta.append("build {:.2f} s, run {:.2f} s, total {:.1f} s".format(
            t.get("build_s", 0) or 0, (t.get("run_s", 0) or 0) + (t.get("probe_s", 0) or 0), record["wall_s"]))
    parts.append(f"<p class='meta'>{html.escape(' · '.join(meta))}</p>")
    for a in record["assumptions"]:
        parts.append(f"<p class='meta'>assumed: {html.escape(a)}</p>")
    if not run.ok:
        parts.append(f"<p>{_badge('inconclusive')} {html.escape(record['reason'] or '')}</p>")
    items = [f"<li>{_badge(f['verdict'])} <b>{f['code']}</b> line {f['line']}: {html.escape(f['summary'])}</li>"
             for f in record["findings"]]
    items += [f"<li>{_badge('observed')} <b>{d['code']}</b> line {d['line']}: {html.escape(d['message'])}</li>"
              for d in record["diagnostics"]]
    if items:
        parts.append("<ul>" + "".join(items) + "</ul>")
    for name in images:
        parts.append(f"<img src='{html.escape(name)}' alt='{html.escape(name)}'>")
    if record["layers"]:
        rows = "".join(
            f"<tr><td>{i}</td><td>{html.escape(str(r.get('type')))}</td><td>{r.get('line') or ''}</td>"
            f"<td>{_fmt(r.get('grad_norm'))}</td><td>{_fmt((r.get('out') or {}).get('std'))}</td></tr>"
            for i, r in enumerate(record["layers"]))
        parts.append("<table><tr><th>#</th><th>layer</th><th>line</th><th>grad norm</th><th>output std</th></tr>"
                     f"{rows}</table>")
    parts.append("</section>")
    return "\n".join(parts)


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
<table><tr><th>model</th><th>status</th><th>static findings</th><th>runtime diagnostics</th><th>time</th></tr>
{rows}
</table>
{sections}
</body></html>
"""

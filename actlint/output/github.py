"""GitHub Actions workflow commands: one ``::warning`` annotation per finding, naming its related locations."""

from __future__ import annotations

from actlint.findings import Finding, where


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def render(findings: list[Finding]) -> str:
    lines = []
    for f in findings:
        level = "error" if f.code == "ACT000" else "warning"
        props = (f"file={_escape_property(f.path)},line={f.line},col={f.column},"
                 f"endLine={f.end_line},endColumn={f.end_column},title={_escape_property(f.code + ' ' + f.name)}")
        at = f"cell {f.cell}, line {f.line}: " if f.cell is not None else ""
        also = "".join(f" (see also {where(r['path'], r['line'], r['column'], r.get('cell'))}: {r['message']})"
                       for r in f.related)
        lines.append(f"::{level} {props}::{_escape_data(f.code + ' ' + at + f.message + also)}")
    return "\n".join(lines) + ("\n" if lines else "")

"""``path:line:col: CODE message``, the form editors and CI logs parse."""

from __future__ import annotations

from actlint.findings import Finding


def render(findings: list[Finding]) -> str:
    lines = [f"{f.where}: {f.code} {f.message}" for f in findings]
    if findings:
        files = len({f.path for f in findings})
        lines.append(f"Found {len(findings)} finding{'s' * (len(findings) != 1)} "
                     f"in {files} file{'s' * (files != 1)}.")
    return "\n".join(lines) + ("\n" if lines else "")

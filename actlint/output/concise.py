"""``path:line:col: CODE message``, one line per finding and nothing else: no code frame, no colour, no
closing count, so every line of the output is a finding (for grep, editors and log parsers)."""

from __future__ import annotations

from actlint.findings import Finding


def render(findings: list[Finding]) -> str:
    return "".join(f"{f.where}: {f.code} {f.message}\n" for f in findings)

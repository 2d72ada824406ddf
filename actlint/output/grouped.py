"""Findings under a header line per file (the path), in the order the files come, then the closing count."""

from __future__ import annotations

from actlint.findings import Finding
from actlint.output.text import summary


def _position(f: Finding) -> str:
    return f"{'' if f.cell is None else f'cell {f.cell}:'}{f.line}:{f.column}"


def render(findings: list[Finding]) -> str:
    """Each file's path, its findings indented as ``line:col  CODE  message`` (positions padded to one
    width in the file), a blank line between files, and ``Found N findings in M files.``."""
    by_file: dict[str, list[Finding]] = {}
    for f in findings:
        by_file.setdefault(f.path, []).append(f)
    blocks = []
    for path, found in by_file.items():
        width = max(len(_position(f)) for f in found)
        rows = [f"  {_position(f):<{width}}  {f.code}  {f.message}" for f in found]
        blocks.append("\n".join([path, *rows]) + "\n")
    if not blocks:
        return ""
    return "\n".join(blocks) + "\n" + summary(findings) + "\n"

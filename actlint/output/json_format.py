"""One JSON array, one object per finding."""

from __future__ import annotations

import json

from actlint.findings import Finding


def render(findings: list[Finding]) -> str:
    return json.dumps([f.to_dict() for f in findings], indent=2) + "\n"

"""GitLab Code Quality: a JSON array of issues, as the ``codequality`` report of a CI job.

Each issue's ``fingerprint`` is a hash of the path, the code and the flagged line's text (the message where
the line cannot be read), not of the line number, so a finding keeps its fingerprint when code above it
moves and GitLab shows it as old, not new; the same finding on two identical lines gets a running number so
every fingerprint of a run is unique.  ``severity``: ``major`` for a finding, ``critical`` for a file that
could not be checked (ACT000); under ``--verify`` ``critical`` when confirmed and ``info`` when refuted.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import PurePath

from actlint.findings import Finding, where

_SEVERITY = {"confirmed": "critical", "observed": "critical", "refuted": "info"}


def _severity(f: Finding) -> str:
    if f.code == "ACT000":
        return "critical"
    return _SEVERITY.get(f.extra.get("verdict"), "major")


def _static_message(f: Finding) -> str:
    """The message without the verdict ``--verify`` appends, so a fingerprint does not change with it."""
    return f.message.split(" [verify: ", 1)[0]


def fingerprints(findings: list[Finding]) -> list[str]:
    """A stable, run-unique fingerprint per finding (see the module's docstring)."""
    from actlint.output.frames import Sources

    sources = Sources()
    seen: dict[tuple[str, str, str], int] = {}
    out = []
    for f in findings:
        text = sources.line(f.path, f.line, f.cell)
        anchor = text.strip() if text is not None and text.strip() else _static_message(f)
        key = (PurePath(f.path).as_posix(), f.code, anchor)
        n = seen[key] = seen.get(key, -1) + 1
        out.append(hashlib.sha256("\0".join((*key, str(n))).encode("utf-8")).hexdigest())
    return out


def render(findings: list[Finding]) -> str:
    issues = []
    for f, fingerprint in zip(findings, fingerprints(findings)):
        at = f"cell {f.cell}, line {f.line}: " if f.cell is not None else ""
        also = "".join(f" (see also {where(r['path'], r['line'], r['column'], r.get('cell'))}: {r['message']})"
                       for r in f.related)
        issues.append({
            "description": f"{f.code} {at}{f.message}{also}",
            "check_name": f.code,
            "fingerprint": fingerprint,
            "severity": _severity(f),
            "location": {"path": PurePath(f.path).as_posix(), "lines": {"begin": f.line, "end": f.end_line}},
        })
    return json.dumps(issues, indent=2) + "\n"

"""SARIF 2.1.0, as GitHub code scanning reads it."""

from __future__ import annotations

import json
from pathlib import PurePath

from actlint import __version__
from actlint.findings import Finding
from actlint.pages import page_url, read_page


def _rule_descriptor(code: str, rule) -> dict:
    page = read_page(code) or rule.summary
    return {
        "id": code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.summary},
        "helpUri": page_url(code),
        "help": {"text": page, "markdown": page},
        "defaultConfiguration": {"level": "error" if code == "ACT000" else "warning"},
        "properties": {"tags": ["machine-learning", "correctness"]},
    }


def _location(path: str, line: int, column: int, end_line: int, end_column: int, cell: int | None) -> dict:
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": PurePath(path).as_posix(), "uriBaseId": "%SRCROOT%"},
            "region": {"startLine": line, "startColumn": column, "endLine": end_line, "endColumn": end_column},
        },
        **({"logicalLocations": [{"name": f"cell {cell}", "kind": "member"}]} if cell is not None else {}),
    }


def _related(finding: Finding) -> dict:
    """The other ends of the mistake (the loss call, the layer an init feeds), so code scanning links them."""
    if not finding.related:
        return {}
    return {"relatedLocations": [
        {"id": number, "message": {"text": r["message"]},
         **_location(r["path"], r["line"], r["column"], r["end_line"], r["end_column"], r.get("cell"))}
        for number, r in enumerate(finding.related, start=1)]}


def render(findings: list[Finding]) -> str:
    from actlint.checks import all_rules  # the rule table is part of a SARIF log

    rules = all_rules()
    codes = list(rules)
    results = []
    for f in findings:
        results.append({
            "ruleId": f.code,
            "ruleIndex": codes.index(f.code) if f.code in codes else -1,
            "level": "error" if f.code == "ACT000" else "warning",
            "message": {"text": (f"cell {f.cell}, line {f.line}: " if f.cell is not None else "") + f.message},
            "locations": [_location(f.path, f.line, f.column, f.end_line, f.end_column, f.cell)],
            **_related(f),
            **({"properties": {"cell": f.cell}} if f.cell is not None else {}),
        })
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "actlint",
                "version": __version__,
                "informationUri": "https://github.com/actlint/actlint",
                "rules": [_rule_descriptor(code, rule) for code, rule in rules.items()],
            }},
            "results": results,
        }],
    }
    return json.dumps(log, indent=2) + "\n"

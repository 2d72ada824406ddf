"""JUnit XML, as Jenkins, GitLab and Azure Pipelines read test reports.

One ``<testsuite>`` per linted file with findings (its name the path), one failing ``<testcase>`` per
finding; a run without findings is one passing test case, so CI shows a green run rather than no tests.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import PurePath

from actlint.findings import Finding, where

# Characters XML 1.0 cannot carry even escaped (control characters other than tab, newline and return).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _classname(path: str) -> str:
    """``src/model.py`` -> ``src.model``: CI tools show a dotted class name as package and class."""
    pure = PurePath(path)
    parts = [p for p in pure.with_suffix("").parts if p not in ("/", "\\", ".", "..")] or [pure.name]
    return ".".join(parts)


def _case_name(f: Finding) -> str:
    if f.cell is not None:
        return f"{f.code} at cell {f.cell}, line {f.line}:{f.column}"
    return f"{f.code} at line {f.line}:{f.column}"


def _failure_text(f: Finding) -> str:
    lines = [f"{f.where}: {f.code} {f.message}"]
    lines += [f"see also {where(r['path'], r['line'], r['column'], r.get('cell'))}: {r['message']}"
              for r in f.related]
    return "\n".join(lines)


def render(findings: list[Finding]) -> str:
    root = ET.Element("testsuites", name="actlint", tests=str(max(1, len(findings))),
                      failures=str(len(findings)), errors="0")
    by_file: dict[str, list[Finding]] = {}
    for f in findings:
        by_file.setdefault(f.path, []).append(f)
    for path, found in by_file.items():
        suite = ET.SubElement(root, "testsuite", name=_clean(path), tests=str(len(found)),
                              failures=str(len(found)), errors="0", skipped="0")
        for f in found:
            case = ET.SubElement(suite, "testcase", classname=_clean(_classname(path)), name=_clean(_case_name(f)))
            failure = ET.SubElement(case, "failure", message=_clean(f.message), type=f.code)
            failure.text = _clean(_failure_text(f))
    if not findings:
        suite = ET.SubElement(root, "testsuite", name="actlint", tests="1", failures="0", errors="0", skipped="0")
        ET.SubElement(suite, "testcase", classname="actlint", name="no findings")
    ET.indent(root)
    # ASCII with character references for the rest, so the report reads the same whatever stdout's encoding
    body = ET.tostring(root, encoding="us-ascii").decode("ascii")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"

"""Inline expectations: ``# expect: ACT101`` and ``# expect-alt: ACT101`` comments on fixture lines.

``expect`` lines must carry the finding; an ``expect-alt`` line is the other end
of the same mistake, where the finding may be reported instead.  For each code
the findings must all sit on expect or expect-alt lines, one per expect line.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

_EXPECT = re.compile(r"#\s*expect(?P<alt>-alt)?:\s*(?P<codes>ACT\d{3}(?:\s*,\s*ACT\d{3})*)")


def read_expectations(text: str) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    expect: dict[str, list[int]] = defaultdict(list)
    alt: dict[str, list[int]] = defaultdict(list)
    for number, line in enumerate(text.splitlines(), start=1):
        for match in _EXPECT.finditer(line):
            target = alt if match.group("alt") else expect
            for code in re.findall(r"ACT\d{3}", match.group("codes")):
                target[code].append(number)
    return expect, alt


def mismatches(text: str, findings, codes: set[str]) -> list[str]:
    """Human-readable differences between the comments and the findings, for the given codes."""
    expect, alt = read_expectations(text)
    actual: dict[str, list[int]] = defaultdict(list)
    for f in findings:
        actual[f.code].append(f.line)
    problems = []
    for code in sorted(codes):
        wanted, allowed = expect.get(code, []), set(expect.get(code, [])) | set(alt.get(code, []))
        got = actual.get(code, [])
        stray = [line for line in got if line not in allowed]
        if stray:
            problems.append(f"{code}: unexpected finding on line(s) {stray}")
        if len(got) != len(wanted):
            problems.append(f"{code}: expected {len(wanted)} finding(s) on lines {wanted} "
                            f"(or alternates {sorted(alt.get(code, []))}), got lines {sorted(got)}")
    return problems


def python_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if p.is_file())

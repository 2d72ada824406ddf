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


def project_mismatches(folder: Path, codes: set[str]) -> list[str]:
    """Differences for a project folder whose files import each other.

    Linted as a folder, every file gives exactly what its comments name: a finding that crosses files
    stands at its ``expect`` line (the thing to change), once.  Linted file by file (as pre-commit and
    flake8 do), each file's findings stand on its own ``expect`` / ``expect-alt`` lines (a cross-file
    finding at the importer's ``expect-alt`` line, naming the other file), at most one per line and code,
    and every mistake is reported by some file.
    """
    from actlint.checks import all_rules
    from actlint.config import Config
    from actlint.engine import lint_paths, lint_text

    files = python_files(folder)
    config = Config(root=folder)
    everything = frozenset(all_rules())
    problems = []
    together = lint_paths(files, config, jobs=1)
    by_file: dict[str, list] = defaultdict(list)
    for finding in together.findings:
        by_file[str(Path(finding.path).resolve())].append(finding)
    for path in files:
        text = path.read_text(encoding="utf-8")
        problems += [f"folder run, {path.name}: {p}" for p in mismatches(text, by_file[str(path.resolve())], codes)]
    expected = reported = 0
    for path in files:
        text = path.read_text(encoding="utf-8")
        expect, alt = read_expectations(text)
        expected += sum(len(expect.get(code, [])) for code in codes)
        alone = lint_text(text, str(path), config, everything)
        problems += [f"{path.name} alone: internal error {e}" for e in alone.errors]
        seen = set()
        for finding in alone.findings:
            if finding.code not in codes:
                continue
            reported += 1
            if finding.line not in set(expect.get(finding.code, [])) | set(alt.get(finding.code, [])):
                problems.append(f"{path.name} alone: unexpected {finding.code} on line {finding.line}")
            if (finding.code, finding.line) in seen:
                problems.append(f"{path.name} alone: {finding.code} twice on line {finding.line}")
            seen.add((finding.code, finding.line))
    if reported < expected:
        problems.append(f"file by file: {reported} finding(s) for {expected} expected mistake(s)")
    return problems


def python_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if p.is_file())

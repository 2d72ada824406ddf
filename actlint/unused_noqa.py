"""ACT100 unused-noqa: a ``# noqa: ACT104`` (or a file-level ``# actlint: noqa: ACT104``) that suppressed
nothing, reported at the code in the comment, with a safe fix that removes it.

Only codes of rules that ran on the file are judged: a bare ``# noqa``, other tools' codes (``E501``),
prefixes (``ACT1``) and the codes of rules not selected for the file are left alone, since nothing
says whether they are needed.  The engine produces these findings (:func:`unused_findings`) from the
file's noqa table and the entries that suppressed a finding; :func:`drop_used_elsewhere` then takes
back the ones that suppressed, at their home, a finding another linted file reported.
"""

from __future__ import annotations

import io
import os
import re
import tokenize
from dataclasses import dataclass, replace

from actlint.findings import Edit, Finding, Fix
from actlint.noqa import _CODE, _FILE_NOQA, _NOQA, ALL, FILE, is_suppressed

CODE = "ACT100"
NAME = "unused-noqa"
WHOLE = "remove the unused noqa comment"
_LEADING = " \t-:;,"  # what may separate a noqa comment's codes from the reason written after them


@dataclass(frozen=True)
class Directive:
    """One noqa comment that names codes; columns are 0-based in its line, ends exclusive."""

    key: int                                  # the line, or FILE for a file-level comment
    line: int
    text: str                                 # the whole line, without its ending
    comment: tuple[int, int]                  # the comment token
    start: int                                # the directive's '#'
    end: int                                  # just past its last code
    codes: tuple[tuple[str, int, int], ...]   # (CODE, start, end) of each code as written


def _comments(text: str) -> dict[int, tuple[int, int]] | None:
    """Line -> (start, end) of its comment token, or None when the text does not tokenize."""
    comments: dict[int, tuple[int, int]] = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.COMMENT:
                comments[token.start[0]] = (token.start[1], token.end[1])
    except (tokenize.TokenError, SyntaxError, ValueError):
        return None
    return comments


def directives(text: str, table: dict[int, frozenset[str]]) -> list[Directive]:
    """The noqa comments of ``table`` (:func:`actlint.noqa.suppressions` of ``text``) that name codes and are
    real comments (not text in a string); empty when the file's lines cannot be told apart reliably."""
    if not any(codes is not ALL for codes in table.values()):
        return []
    lines = text.split("\n")
    if len(text.splitlines()) != len(lines) - (1 if text.endswith("\n") or not text else 0):
        return []  # form feeds or lone carriage returns: the table's line numbers are not the editor's
    comments = _comments(text)
    if comments is None:
        return []
    found: list[Directive] = []

    def add(key: int, number: int, at: int, codes_start: int, codes: str) -> None:
        line = lines[number - 1].rstrip("\r")
        comment = comments.get(number)
        if comment is None or not comment[0] <= at < comment[1]:
            return
        spans = tuple((m.group().upper(), codes_start + m.start(), codes_start + m.end())
                      for m in _CODE.finditer(codes))
        found.append(Directive(key, number, line, comment, at, spans[-1][2], spans))

    for number, codes in table.items():
        if number == FILE or codes is ALL:
            continue
        match = _NOQA.search(lines[number - 1].rstrip("\r"))
        if match is not None and match.group("codes") is not None:
            add(number, number, match.start(), match.start("codes"), match.group("codes"))
    if table.get(FILE) not in (None, ALL):
        for match in _FILE_NOQA.finditer(text):
            if match.group("codes") is not None:
                number = text.count("\n", 0, match.start()) + 1
                begin = text.rfind("\n", 0, match.start()) + 1
                add(FILE, number, text.index("#", match.start()) - begin, match.start("codes") - begin,
                    match.group("codes"))
    return sorted(found, key=lambda d: d.line)


def unused_findings(text: str, path: str, table: dict[int, frozenset[str]], judged: frozenset[str],
                    used: set[tuple[int, str]], keep: frozenset[tuple[int, str]] = frozenset()) -> list[Finding]:
    """ACT100 for each code in a noqa comment whose rule is in ``judged`` and that suppressed nothing:
    ``used`` holds the (key, code) entries that suppressed a finding here, ``keep`` the (line, code) of
    comments that suppressed another file's finding at its home."""
    out = []
    for directive in directives(text, table):
        stale = [i for i, (code, _, _) in enumerate(directive.codes)
                 if code in judged and (directive.key, code) not in used and (directive.line, code) not in keep]
        if not stale or is_suppressed(CODE, directive.line, table):
            continue
        whole = len(stale) == len(directive.codes)
        for i in stale:
            code, start, end = directive.codes[i]
            if directive.key == FILE:
                message = f"unused file-level noqa code {code}: no {code} finding in this file to suppress; remove it"
            else:
                message = f"unused noqa code {code}: no {code} finding on this line to suppress; remove it"
            fix = _remove_directive(directive) if whole else _remove_code(directive.line, directive.codes, i)
            if fix is not None and not _only_removes(directive, fix, [code for code, _, _ in directive.codes]
                                                     if whole else [code]):
                fix = None
            out.append(Finding(CODE, NAME, message, path, directive.line, start + 1, directive.line, end + 1,
                               fix=fix))
    return out


def _codes_of(line: str) -> tuple[list[str] | None, list[str] | None]:
    """The codes a line's noqa comment and its file-level one name (sorted; None: no such comment)."""
    match, whole = _NOQA.search(line), _FILE_NOQA.match(line)
    return tuple(None if m is None else sorted(c.upper() for c in _CODE.findall(m.group("codes") or "*"))
                 for m in (match, whole))


def _only_removes(d: Directive, fix: Fix, removed: list[str]) -> bool:
    """Whether the line after the fix suppresses what it did less the removed codes: taking a noqa out
    must not make another one on the line count instead (``# noqa: ACT104  # noqa: ACT1``), or turn what is
    left into a file-level comment."""
    edit = fix.edits[0]
    after = d.text[:edit.column - 1] + edit.content + d.text[edit.end_column - 1:]
    before = list(_codes_of(d.text))
    slot = 1 if d.key == FILE else 0
    left = list(before[slot])
    for code in removed:
        left.remove(code)
    before[slot] = left or None
    return _codes_of(after) == tuple(before)


def _remove_code(line: int, codes, i: int) -> Fix:
    """Remove the i-th code and the separator before it (after it, for the first), keeping the others."""
    if i == 0:
        start, end = codes[0][1], codes[1][1]
    else:
        start, end = codes[i - 1][2], codes[i][2]
    return Fix(f"remove {codes[i][0]} from the noqa comment", (Edit(line, start + 1, line, end + 1, ""),))


def _remove_directive(d: Directive) -> Fix | None:
    """Remove the directive: the whole comment (and the spaces before it) when nothing else is in it; a
    reason written after the codes stays as a comment, and so does a comment before the directive.  None
    when another noqa follows in the comment: with this one gone, that one would start to suppress."""
    text, (c0, c1) = d.text, d.comment
    rest = text[d.end:c1]
    if _NOQA.search(rest):
        return None
    if rest.strip(_LEADING):
        kept = rest.lstrip(_LEADING)
        start, end, content = d.start, c1, kept if kept.startswith("#") else "# " + kept
    elif text[c0:d.start].strip():
        start, end, content = len(text[:d.start].rstrip()), c1, ""
    else:
        start, end, content = len(text[:c0].rstrip()), c1, ""
    return Fix(WHOLE, (Edit(d.line, start + 1, d.line, end + 1, content),))


_STALE = re.compile(r"ACT\d{3}")


def stale_code(finding: Finding) -> str:
    """The code an ACT100 finding says is unused (the first its message names)."""
    return _STALE.search(finding.message).group()


def drop_used_elsewhere(findings: list[Finding], path: str, used: set[tuple[str, int, str]]) -> list[Finding]:
    """``findings`` of one file without the ACT100 findings of codes that suppressed another file's finding
    at its home here (``used``: absolute path, line of the comment, code).  A comment that loses some of
    its findings keeps the others, whose fixes then remove only their own code."""
    where = os.path.abspath(path)
    dropped = {(f.line, f.column) for f in findings
               if f.code == CODE and f.cell is None and (where, f.line, stale_code(f)) in used}
    if not dropped:
        return findings
    lines = {line for line, _ in dropped}
    groups: dict[int, list[Finding]] = {}
    for f in findings:
        if f.code == CODE and f.cell is None and f.line in lines:
            groups.setdefault(f.line, []).append(f)
    out = []
    for f in findings:
        if f.code == CODE and f.cell is None and (f.line, f.column) in dropped:
            continue
        if f.code == CODE and f.cell is None and f.line in lines and f.fix is not None and f.fix.message == WHOLE:
            # the comment stays (another file needs one of its codes): remove only this code
            group = sorted(groups[f.line], key=lambda g: g.column)
            codes = [(stale_code(g), g.column - 1, g.end_column - 1) for g in group]
            f = replace(f, fix=_remove_code(f.line, codes, group.index(f)))
        out.append(f)
    return out

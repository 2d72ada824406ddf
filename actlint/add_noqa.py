"""``--add-noqa``: a ``# noqa: ACTnnn`` on every line that has findings, so a codebase can adopt actlint
with a clean run and fix its old findings later.

Codes join an existing ``# noqa: E501`` comment (never twice); a line without one gets ``  # noqa: ...``
at its end.  A line that cannot take a comment (it ends inside a string, or continues with a backslash)
is named, not touched.  Files are written atomically, and only when they are still what was linted;
notebooks are edited cell by cell, every other byte of their JSON kept.
"""

from __future__ import annotations

import io
import os
import re
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

from actlint.findings import Finding
from actlint.noqa import _CODE, _NOQA, is_suppressed


@dataclass
class NoqaOutcome:
    path: str
    added: int = 0                      # lines that gained codes
    problems: list[str] = field(default_factory=list)   # lines left as they were, and why
    error: str | None = None            # the file was not written, and why


def _comment_spots(text: str) -> tuple[dict[int, tuple[int, str]], set[int]]:
    """(line -> (column, text) of its comment, lines that cannot end with a comment)."""
    comments: dict[int, tuple[int, str]] = {}
    blocked: set[int] = set()
    opened: list[int] = []
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        kind = tokenize.tok_name.get(token.type, "")
        if token.type == tokenize.COMMENT:
            comments[token.start[0]] = (token.start[1], token.string)
        elif token.type == tokenize.STRING and token.end[0] > token.start[0]:
            blocked.update(range(token.start[0], token.end[0]))
        elif kind == "FSTRING_START":
            opened.append(token.start[0])
        elif kind == "FSTRING_END" and opened:
            blocked.update(range(opened.pop(), token.end[0]))
    for number, line in enumerate(_lines(text), start=1):
        if line.rstrip("\r\n").endswith("\\") and number not in comments:
            blocked.add(number)
    return comments, blocked


def _lines(text: str) -> list[str]:
    """The lines as the tokenizer numbers them (split at ``\\n`` only), each with its ending."""
    return re.findall(r"[^\n]*\n|[^\n]+$", text)


def add_to_text(text: str, wanted: dict[int, set[str]]) -> tuple[str, int, list[tuple[int, str]]]:
    """``text`` with the codes ``wanted`` per line (1-based) in noqa comments: (new text, lines changed,
    [(line, why it was left alone)]).  Raises ``tokenize.TokenError`` or ``SyntaxError`` on text that does not
    tokenize."""
    comments, blocked = _comment_spots(text)
    lines = _lines(text)
    changed, skipped = 0, []
    for number in sorted(wanted):
        if not 1 <= number <= len(lines):
            skipped.append((number, "the file has no such line"))
            continue
        line = lines[number - 1]
        body = line.rstrip("\r\n")
        ending = line[len(body):]
        comment = comments.get(number)
        match = _NOQA.search(comment[1]) if comment else None
        if match is not None and match.group("codes") is None:
            continue  # a bare noqa already silences every code
        present = [c.upper() for c in _CODE.findall(match.group("codes"))] if match else []
        table = {number: frozenset(present)}
        new = sorted(c for c in wanted[number] if not is_suppressed(c, number, table))
        if not new:
            continue
        if number in blocked:
            skipped.append((number, "it ends inside a string or continues with a backslash, so it cannot "
                                    "take a comment"))
            continue
        if match is not None:
            at = comment[0] + match.end("codes")
            body = body[:at] + ", " + ", ".join(new) + body[at:]
        else:
            body = body.rstrip() + "  # noqa: " + ", ".join(new)
        lines[number - 1] = body + ending
        changed += 1
    return "".join(lines), changed, skipped


def _wanted(findings: list[Finding], line_of) -> dict[int, set[str]]:
    wanted: dict[int, set[str]] = {}
    for f in findings:
        wanted.setdefault(line_of(f), set()).add(f.code)
    return wanted


def add_noqa_file(path: Path, findings: list[Finding], linted: os.stat_result | None) -> NoqaOutcome:
    """Add noqa comments for ``findings`` (all in ``path``); ``linted`` is the file's stat when it was linted:
    a file changed since is left alone."""
    from actlint.engine import DecodeError, decode, read_notebook_program
    from actlint.fixes import ChangedWhileFixing, source_encoding, write_fixed
    from actlint.notebook import NotebookError, write_back

    outcome = NoqaOutcome(findings[0].path)
    unsuppressible = [f for f in findings if f.code == "ACT000"]
    for f in unsuppressible:
        outcome.problems.append(f"{f.where}: ACT000 cannot be silenced with noqa (the file is not analysed); "
                                f"fix it or exclude the file")
    for f in findings:
        if f.code == "ACT100":  # a noqa to keep a stale noqa would only pile up more of them
            outcome.problems.append(f"{f.where}: ACT100 is not silenced with noqa: remove the unused code "
                                    f"(its safe fix does: actlint --fix)")
    findings = [f for f in findings if f.code not in ("ACT000", "ACT100")]
    if not findings:
        return outcome
    try:
        data = path.read_bytes()
        now = path.stat()
    except OSError as exc:
        outcome.error = f"cannot read: {exc.strerror or exc}"
        return outcome
    if linted is not None and (now.st_mtime_ns, now.st_size) != (linted.st_mtime_ns, linted.st_size):
        outcome.error = "changed since it was linted; left as it is (run --add-noqa again)"
        return outcome
    try:
        text = decode(data)
        if path.suffix == ".ipynb":
            notebook = read_notebook_program(text)
            starts = {cell.number: cell.start for cell in notebook.cells}
            wanted = _wanted(findings, lambda f: starts[f.cell] + f.line - 1)
            program, outcome.added, skipped = add_to_text(notebook.program, wanted)
            skipped = [("cell {}:{}".format(*notebook.locate(n)), why) for n, why in skipped]
            new, encoding, bom = (write_back(notebook, program) if outcome.added else text), "utf-8", False
        else:
            encoding, bom = source_encoding(data)
            new, outcome.added, skipped = add_to_text(text, _wanted(findings, lambda f: f.line))
    except (DecodeError, NotebookError, SyntaxError, tokenize.TokenError, KeyError) as exc:
        outcome.error = f"cannot add noqa comments: {exc}"
        outcome.added = 0
        return outcome
    outcome.problems += [f"{outcome.path}:{line}: noqa not added: {why}" for line, why in skipped]
    if outcome.added:
        if not os.access(path, os.W_OK):
            outcome.error, outcome.added = "read-only: not written", 0
            return outcome
        try:
            write_fixed(path, new, encoding, bom, original=data)
        except ChangedWhileFixing as exc:
            outcome.error, outcome.added = str(exc), 0
        except (OSError, UnicodeEncodeError) as exc:
            outcome.error, outcome.added = f"not written: {getattr(exc, 'strerror', None) or exc}", 0
    return outcome

"""Findings as Language Server Protocol values: ranges in the client's position encoding, diagnostics, the
edits of a fix and of a ``# noqa`` comment, and code actions.

A finding's lines and columns are 1-based and count code points, its end exclusive; LSP positions are
0-based and count the client's units (UTF-16 by default, UTF-8 or UTF-32 where it says so), and lines end
at ``\\n``, ``\\r\\n`` or ``\\r``.  Only :mod:`lsprotocol` (pygls's types) is needed here.
"""

from __future__ import annotations

import re
import tokenize
from dataclasses import dataclass

from lsprotocol import types

from actlint.findings import Finding, Fix

_NEWLINE = re.compile(r"\r\n|\r|\n")


def _units(encoding: str | None):
    """The number of code units a string takes in the client's position encoding."""
    if encoding == types.PositionEncodingKind.Utf8:
        return lambda s: len(s.encode("utf-8", "surrogatepass"))
    if encoding == types.PositionEncodingKind.Utf32:
        return len
    return lambda s: len(s.encode("utf-16-le", "surrogatepass")) // 2


class Lines:
    """A document's lines as LSP numbers them, converting a finding's places to LSP positions."""

    def __init__(self, text: str, encoding: str | None = None):
        self.text = text
        self.lines = _NEWLINE.split(text)
        self._units = _units(encoding)

    def position(self, line: int, column: int) -> types.Position:
        """1-based line and code-point column -> an LSP position (clamped to the document)."""
        index = min(max(line - 1, 0), len(self.lines) - 1)
        text = self.lines[index]
        if line - 1 >= len(self.lines):  # past the last line: its end
            return types.Position(line=index, character=self._units(text))
        return types.Position(line=index, character=self._units(text[:max(column - 1, 0)]))

    def range(self, line: int, column: int, end_line: int, end_column: int) -> types.Range:
        start, end = self.position(line, column), self.position(end_line, end_column)
        if (end.line, end.character) < (start.line, start.character):
            end = start
        return types.Range(start=start, end=end)

    def line_range(self, line: int) -> types.Range:
        """The text of a 1-based line, its ending left out."""
        index = min(max(line - 1, 0), len(self.lines) - 1)
        return types.Range(start=types.Position(line=index, character=0),
                           end=types.Position(line=index, character=self._units(self.lines[index])))


def finding_range(finding: Finding, lines: Lines) -> types.Range:
    return lines.range(finding.line, finding.column, finding.end_line, finding.end_column)


def diagnostic(finding: Finding, lines: Lines, related=None) -> types.Diagnostic:
    """The diagnostic of a finding; ``related(entry) -> Location | None`` places the other ends it names."""
    from actlint.pages import page_url

    info = []
    for entry in finding.related:
        location = related(entry) if related is not None else None
        if location is not None:
            info.append(types.DiagnosticRelatedInformation(location=location, message=entry["message"]))
    return types.Diagnostic(
        range=finding_range(finding, lines),
        message=finding.message,
        severity=types.DiagnosticSeverity.Error if finding.code == "ACT000" else types.DiagnosticSeverity.Warning,
        code=finding.code,
        code_description=types.CodeDescription(href=page_url(finding.code)),
        source="actlint",
        related_information=info or None,
        data={"name": finding.name, "fix": None if finding.fix is None else
              {"message": finding.fix.message, "safe": finding.fix.safe}},
    )


def fix_edits(fix: Fix, lines: Lines) -> list[types.TextEdit] | None:
    """The text edits of a fix, or None when one falls outside the document (it cannot be applied here)."""
    edits = []
    for edit in fix.edits:
        if not (1 <= edit.line <= edit.end_line <= len(lines.lines)):
            return None
        edits.append(types.TextEdit(range=lines.range(edit.line, edit.column, edit.end_line, edit.end_column),
                                    new_text=edit.content))
    return edits


def noqa_edit(finding: Finding, source: str, lines: Lines) -> types.TextEdit | None:
    """The edit that silences ``finding`` with ``# noqa: CODE`` on its line (joining a noqa comment already
    there, as ``--add-noqa`` does); None where that line cannot take a comment or already silences it.
    ``source`` is the Python text of the document, line for line (a notebook cell's with its magics read)."""
    from actlint.add_noqa import add_to_text

    if finding.code == "ACT000":
        return None  # a file that is not analysed cannot be silenced by noqa
    try:
        new, changed, _ = add_to_text(source, {finding.line: {finding.code}})
    except (SyntaxError, tokenize.TokenError, ValueError):
        return None
    if not changed:
        return None
    new_line = _NEWLINE.split(new)[finding.line - 1]
    if finding.line - 1 >= len(lines.lines):
        return None
    return types.TextEdit(range=lines.line_range(finding.line), new_text=new_line)


@dataclass
class Entry:
    """One finding as shown in one document (a file, or a notebook's cell)."""

    finding: Finding
    uri: str
    version: int | None
    diagnostic: types.Diagnostic
    lines: Lines
    source: str  # the Python text the noqa comment is computed on

    def overlaps(self, span: types.Range) -> bool:
        start, end = self.diagnostic.range.start, self.diagnostic.range.end
        key = lambda p: (p.line, p.character)  # noqa: E731
        if key(start) == key(end):  # an empty range: the line it is on
            return span.start.line <= start.line <= span.end.line
        return key(span.start) <= key(end) and key(start) <= key(span.end)

    def covers(self, position: types.Position) -> bool:
        start, end = self.diagnostic.range.start, self.diagnostic.range.end
        if (start.line, start.character) == (end.line, end.character):
            return position.line == start.line
        return (start.line, start.character) <= (position.line, position.character) <= (end.line, end.character)

    def actions(self, versioned: bool = False) -> list[types.CodeAction]:
        """The quick fix (safe ones preferred; unsafe ones say so) and the ``# noqa`` action; ``versioned``:
        the client takes versioned document changes (so an edit to a document changed since is refused)."""
        finding, out = self.finding, []
        if finding.fix is not None:
            edits = fix_edits(finding.fix, self.lines)
            if edits:
                title = f"{finding.code}: {finding.fix.message}" + ("" if finding.fix.safe else " (unsafe)")
                out.append(types.CodeAction(
                    title=title, kind=types.CodeActionKind.QuickFix, diagnostics=[self.diagnostic],
                    is_preferred=finding.fix.safe or None,
                    edit=self._workspace_edit(edits, versioned)))
        noqa = noqa_edit(finding, self.source, self.lines)
        if noqa is not None:
            out.append(types.CodeAction(
                title=f"Add `# noqa: {finding.code}`", kind=types.CodeActionKind.QuickFix,
                diagnostics=[self.diagnostic], edit=self._workspace_edit([noqa], versioned)))
        return out

    def _workspace_edit(self, edits: list[types.TextEdit], versioned: bool) -> types.WorkspaceEdit:
        if not versioned:
            return types.WorkspaceEdit(changes={self.uri: edits})
        document = types.OptionalVersionedTextDocumentIdentifier(uri=self.uri, version=self.version)
        return types.WorkspaceEdit(document_changes=[types.TextDocumentEdit(text_document=document, edits=edits)])


def hover_text(codes: list[str]) -> str:
    """The rule pages of the codes, in order, as one markdown text."""
    from actlint.pages import page_url, read_page

    pages = []
    for code in dict.fromkeys(codes):
        page = read_page(code)
        pages.append(page.strip() if page else f"{code}: no rule page installed; see {page_url(code)}")
    return "\n\n---\n\n".join(pages)

"""``actlint server``: a language server over stdin and stdout, built on pygls (``pip install 'actlint[lsp]'``).

It lints what the editor holds, not what is on disk: a Python file's buffer on open, on every change (after
a short pause in typing) and on save, and a notebook document (LSP 3.17) as one program, as ``actlint
notebook.ipynb`` would, its diagnostics published on each cell with positions in that cell.  Each document
is linted with the configuration its path would get on the command line (``[tool.actlint]`` of the nearest
pyproject.toml: ``select``, ``ignore``, ``per-file-ignores``, rule options; ``force-exclude`` leaves
excluded files alone).  A finding with a fix offers it as a quick fix (a safe one is the preferred action;
an unsafe one says so), every finding offers ``# noqa: CODE`` on its line, and hovering a finding shows its
rule page.  Like plain linting, it never imports torch, keras or tensorflow.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from actlint import __version__
from actlint.lsp_convert import Entry, Lines, diagnostic, hover_text

DEBOUNCE_SECONDS = 0.3  # after a change, wait this long for the next keystroke before linting
PYTHON_SUFFIXES = (".py", ".pyi", ".pyw")
logger = logging.getLogger(__name__)


@dataclass
class Linted:
    """The findings of one document (a file, or a whole notebook) at one version, by the URI they show on."""

    version: object
    entries: dict[str, list[Entry]] = field(default_factory=dict)


class ActlintServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__(
            "actlint", __version__,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            # every cell of every notebook is synced, so cells are numbered as Jupyter numbers them; only
            # Python code cells are linted
            notebook_document_sync=types.NotebookDocumentSyncOptions(
                notebook_selector=[types.NotebookDocumentFilterWithNotebook(notebook="*")], save=True),
        )
        self.linted: dict[str, Linted] = {}        # document (file or notebook) URI -> its findings
        self.published: dict[str, set[str]] = {}   # document URI -> the URIs it published diagnostics on
        self.pending: dict[str, asyncio.TimerHandle] = {}
        self.problems_shown: set[str] = set()      # configuration errors already shown to the user

    # -- what a document is -------------------------------------------------------------------------

    def path_of(self, uri: str, suffix: str) -> Path:
        """The file a document stands for; an unsaved one (``untitled:``) is taken to be in the workspace."""
        path = to_fs_path(uri)
        if path:
            return Path(path)
        name = unquote(urlparse(uri).path).rsplit("/", 1)[-1] or "untitled"
        folder = Path(self.workspace.root_path) if self.workspace.root_path else Path.cwd()
        return folder / (name if name.endswith(suffix) else name + suffix)

    def is_python(self, uri: str) -> bool:
        document = self.workspace.text_documents.get(unquote(uri))
        if document is None:
            return False
        return document.language_id == "python" or (to_fs_path(uri) or "").endswith(PYTHON_SUFFIXES)

    def config_for(self, path: Path):
        """The configuration the CLI would use for ``path``; None (said once) when it cannot be read."""
        from actlint.config import ConfigError, load_project_config

        try:
            return load_project_config(path)
        except ConfigError as exc:
            message = f"actlint: {exc}"
            if message not in self.problems_shown:
                self.problems_shown.add(message)
                self.window_show_message(types.ShowMessageParams(type=types.MessageType.Error, message=message))
            return None

    @staticmethod
    def excluded(path: Path, config) -> bool:
        if not config.force_exclude:
            return False  # as on the command line, a file named (opened) is linted even when excluded
        from actlint.discover import named_file_excluded

        return named_file_excluded(path, config)

    def owner_of(self, uri: str) -> str:
        """The document whose lint shows on ``uri``: a cell's notebook, or the file itself."""
        notebook = self.workspace.get_notebook_document(cell_uri=uri)
        return notebook.uri if notebook is not None else uri

    def version_of(self, uri: str) -> object:
        notebook = self.workspace.get_notebook_document(notebook_uri=uri)
        if notebook is not None:
            return notebook.version, tuple(self.version_of(cell.document) for cell in notebook.cells)
        document = self.workspace.text_documents.get(unquote(uri))
        return None if document is None else document.version

    @property
    def encoding(self):
        return self.workspace.position_encoding

    # -- linting ------------------------------------------------------------------------------------

    def schedule(self, uri: str) -> None:
        """Lint ``uri`` once typing pauses (a later change restarts the wait)."""
        self.cancel(uri)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.lint(uri)
            return
        self.pending[uri] = loop.call_later(DEBOUNCE_SECONDS, self.lint, uri)

    def cancel(self, uri: str) -> None:
        handle = self.pending.pop(uri, None)
        if handle is not None:
            handle.cancel()

    def lint(self, uri: str) -> Linted | None:
        """Lint a document now and publish its diagnostics; returns what was found."""
        self.cancel(uri)
        try:
            if self.workspace.get_notebook_document(notebook_uri=uri) is not None:
                linted = self._lint_notebook(uri)
            elif self.is_python(uri):
                linted = self._lint_file(uri)
            else:
                return None
        except Exception as exc:  # noqa: BLE001 - one document's failure must not stop the server
            logger.exception("linting %s failed", uri)
            self.window_log_message(types.LogMessageParams(
                type=types.MessageType.Error, message=f"actlint: internal error linting {uri}: "
                                                      f"{type(exc).__name__}: {exc}"))
            return None
        self.linted[uri] = linted
        self._publish(uri, linted)
        return linted

    def fresh(self, uri: str) -> Linted | None:
        """The findings of the document shown on ``uri``, linted again if it changed since."""
        owner = self.owner_of(uri)
        linted = self.linted.get(owner)
        if linted is None or linted.version != self.version_of(owner) or owner in self.pending:
            linted = self.lint(owner)
        return linted

    def _lint_file(self, uri: str) -> Linted:
        from actlint.engine import lint_source

        document = self.workspace.get_text_document(uri)
        linted = Linted(document.version, {uri: []})  # published even when empty: it clears what was shown
        path = self.path_of(uri, ".py")
        config = self.config_for(path)
        if config is None or self.excluded(path, config):
            return linted
        text = document.source
        result = lint_source(text, path, config, shown=str(path), notebook=False)
        self._log(result)
        lines = Lines(text, self.encoding)
        linted.entries[uri] = [self._entry(f, uri, document.version, lines, text, {None: (uri, lines)})
                               for f in result.findings]
        return linted

    def _lint_notebook(self, uri: str) -> Linted:
        from actlint.engine import lint_source
        from actlint.ipython_syntax import python_source

        notebook = self.workspace.get_notebook_document(notebook_uri=uri)
        linted = Linted(self.version_of(uri), {cell.document: [] for cell in notebook.cells})
        path = self.path_of(uri, ".ipynb")
        config = self.config_for(path)
        if config is None or self.excluded(path, config):
            return linted
        cells, places = [], {}
        for number, cell in enumerate(notebook.cells, start=1):
            document = self.workspace.get_text_document(cell.document)
            code = cell.kind == types.NotebookCellKind.Code and document.language_id in (None, "python")
            cells.append({"cell_type": "code" if code else "markdown", "metadata": {}, "source": document.source})
            places[number] = (cell.document, Lines(document.source, self.encoding), document)
        raw = json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
        result = lint_source(raw, path, config, shown=str(path), notebook=True)
        self._log(result)
        related = {n: (cell_uri, lines) for n, (cell_uri, lines, _) in places.items()}
        first = next((n for n, c in enumerate(cells, start=1) if c["cell_type"] == "code"), None)
        for finding in result.findings:
            number = finding.cell if finding.cell in places else first
            if number is None:
                continue
            cell_uri, lines, document = places[number]
            source = python_source(document.source)
            linted.entries[cell_uri].append(self._entry(finding, cell_uri, document.version, lines, source, related))
        return linted

    def _entry(self, finding, uri: str, version, lines: Lines, source: str, places: dict) -> Entry:
        """``places``: notebook cell number (None for a file) -> (URI, lines), for the related locations."""

        def related(entry: dict):
            cell = entry.get("cell")
            if cell is not None and cell in places:
                target, target_lines = places[cell]
            elif cell is None and None in places and _same_file(entry["path"], finding.path):
                target, target_lines = places[None]
            else:
                target, target_lines = from_fs_path(str(Path(entry["path"]).resolve())), None
            if target is None:
                return None
            place = (entry["line"], entry["column"], entry["end_line"], entry["end_column"])
            span = target_lines.range(*place) if target_lines is not None else _plain_range(*place)
            return types.Location(uri=target, range=span)

        return Entry(finding, uri, version, diagnostic(finding, lines, related), lines, source)

    def _log(self, result) -> None:
        for line in [*result.notices, *map(str, result.errors)]:
            self.window_log_message(types.LogMessageParams(type=types.MessageType.Warning, message=f"actlint: {line}"))

    def _publish(self, uri: str, linted: Linted) -> None:
        targets = set(linted.entries)
        for stale in self.published.get(uri, set()) - targets:
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=stale, diagnostics=[]))
        for target, entries in linted.entries.items():
            document = self.workspace.text_documents.get(unquote(target))
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
                uri=target, version=None if document is None else document.version,
                diagnostics=[e.diagnostic for e in entries]))
        self.published[uri] = targets

    def forget(self, uri: str, also: list[str] = ()) -> None:
        """A closed document: its diagnostics cleared."""
        self.cancel(uri)
        self.linted.pop(uri, None)
        for target in self.published.pop(uri, set()) | set(also):
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=target, diagnostics=[]))

    def versioned_edits(self) -> bool:
        capabilities = self.client_capabilities
        edit = capabilities.workspace and capabilities.workspace.workspace_edit
        return bool(edit and edit.document_changes)


def _same_file(a: str, b: str) -> bool:
    return Path(a).resolve() == Path(b).resolve()


def _plain_range(line: int, column: int, end_line: int, end_column: int) -> types.Range:
    """A range in a file the server does not hold: columns are taken as they are (exact for ASCII lines)."""
    return types.Range(start=types.Position(line=max(line - 1, 0), character=max(column - 1, 0)),
                       end=types.Position(line=max(end_line - 1, 0), character=max(end_column - 1, 0)))


def build_server() -> ActlintServer:
    server = ActlintServer()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: ActlintServer, params: types.DidOpenTextDocumentParams):
        ls.lint(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: ActlintServer, params: types.DidChangeTextDocumentParams):
        ls.schedule(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: ActlintServer, params: types.DidSaveTextDocumentParams):
        ls.lint(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: ActlintServer, params: types.DidCloseTextDocumentParams):
        ls.forget(params.text_document.uri)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_OPEN)
    def notebook_open(ls: ActlintServer, params: types.DidOpenNotebookDocumentParams):
        ls.lint(params.notebook_document.uri)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CHANGE)
    def notebook_change(ls: ActlintServer, params: types.DidChangeNotebookDocumentParams):
        ls.schedule(params.notebook_document.uri)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_SAVE)
    def notebook_save(ls: ActlintServer, params: types.DidSaveNotebookDocumentParams):
        ls.lint(params.notebook_document.uri)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CLOSE)
    def notebook_close(ls: ActlintServer, params: types.DidCloseNotebookDocumentParams):
        ls.forget(params.notebook_document.uri, [cell.uri for cell in params.cell_text_documents])

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION,
                    types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]))
    def code_action(ls: ActlintServer, params: types.CodeActionParams):
        wanted = [str(getattr(kind, "value", kind)) for kind in params.context.only or ()]
        if wanted and "quickfix" not in wanted and "" not in wanted:
            return None  # only other kinds (refactorings, source actions) were asked for
        linted = ls.fresh(params.text_document.uri)
        if linted is None:
            return None
        versioned = ls.versioned_edits()
        actions = [action for entry in linted.entries.get(params.text_document.uri, [])
                   if entry.overlaps(params.range) for action in entry.actions(versioned)]
        return actions or None

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def hover(ls: ActlintServer, params: types.HoverParams):
        linted = ls.fresh(params.text_document.uri)
        if linted is None:
            return None
        entries = [e for e in linted.entries.get(params.text_document.uri, []) if e.covers(params.position)]
        if not entries:
            return None
        return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown,
                                                        value=hover_text([e.finding.code for e in entries])),
                           range=entries[0].diagnostic.range)

    return server


def serve() -> int:
    """Run the server on stdin and stdout until the client says exit.  Anything else that prints goes to
    stderr: stdout carries the protocol alone."""
    import sys

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr
    build_server().start_io(stdin, stdout)
    return 0

"""``actlint server`` driven by a real LSP client (pytest-lsp) over the server process's stdin and stdout."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest_lsp = pytest.importorskip("pytest_lsp")
from lsprotocol import types  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities  # noqa: E402

from actlint.pages import page_url, read_page  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SERVER = [sys.executable, "-m", "actlint", "server"]
ENV = {**os.environ, "KERAS_BACKEND": "torch", "PYTHONPATH": str(ROOT)}

MODEL = '''\
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(20, 4)

    def forward(self, x):
        return torch.softmax(self.fc(x), dim=1)


def confidence(logits):
    return torch.log(torch.softmax(logits, dim=-1))


model = Net()
criterion = nn.CrossEntropyLoss()
loss = criterion(model(torch.randn(8, 20)), torch.randint(0, 4, (8,)))
loss.backward()
'''
SOFTMAX_LINE = 10                      # 0-based: '        return torch.softmax(self.fc(x), dim=1)'
SOFTMAX_RANGE = ((10, 15), (10, 47))   # 'torch.softmax(self.fc(x), dim=1)'


@pytest.fixture
def project(tmp_path):
    """A project whose pyproject ignores ACT109 everywhere and ACT102 under scripts/."""
    (tmp_path / "pyproject.toml").write_text(
        '[tool.actlint]\nignore = ["ACT109"]\nper-file-ignores = { "scripts/*" = ["ACT102"] }\n', encoding="utf-8")
    (tmp_path / "scripts").mkdir()
    return tmp_path


@pytest.fixture
def bare(tmp_path):
    """A folder without configuration: every default rule runs."""
    return tmp_path


async def _start(lsp_client: LanguageClient, root: Path, capabilities: str = "visual-studio-code"):
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities(capabilities), root_uri=root.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)]))


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER, server_env=ENV))
async def client(lsp_client: LanguageClient, bare):
    await _start(lsp_client, bare)
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER, server_env=ENV))
async def configured(lsp_client: LanguageClient, project):
    await _start(lsp_client, project)
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER, server_env=ENV))
async def utf8_client(lsp_client: LanguageClient, bare):
    await _start(lsp_client, bare, "neovim@v0.11.0")  # asks for UTF-8 positions first
    yield
    await lsp_client.shutdown_session()


async def _diagnostics(client: LanguageClient, uri: str, until=lambda d: True, timeout: float = 60):
    """The diagnostics last published for ``uri`` once ``until(them)`` holds."""
    async def wait():
        while not (uri in client.diagnostics and until(client.diagnostics[uri])):
            await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        return list(client.diagnostics[uri])

    return await asyncio.wait_for(wait(), timeout)


def _open(client: LanguageClient, uri: str, text: str, version: int = 1) -> None:
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=uri, language_id="python", version=version, text=text)))


def _codes(diagnostics) -> list[str]:
    return [d.code for d in diagnostics]


def _span(d: types.Diagnostic):
    return (d.range.start.line, d.range.start.character), (d.range.end.line, d.range.end.character)


def _apply(text: str, edit: types.WorkspaceEdit, uri: str) -> str:
    """Apply a workspace edit's text edits for ``uri`` to ``text`` (ASCII text: characters are columns)."""
    if edit.document_changes:
        edits = [e for change in edit.document_changes if change.text_document.uri == uri for e in change.edits]
    else:
        edits = list(edit.changes[uri])
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(p: types.Position) -> int:
        return starts[p.line] + p.character

    for e in sorted(edits, key=lambda e: offset(e.range.start), reverse=True):
        text = text[:offset(e.range.start)] + e.new_text + text[offset(e.range.end):]
    return text


async def _actions(client: LanguageClient, uri: str, diagnostic: types.Diagnostic):
    return await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=diagnostic.range,
        context=types.CodeActionContext(diagnostics=[diagnostic])))


@pytest.mark.asyncio
async def test_unsaved_buffer_gets_act102_at_its_exact_range(client: LanguageClient, bare):
    uri = (bare / "model.py").as_uri()  # never written to disk: the buffer is what is linted
    _open(client, uri, MODEL)
    found = await _diagnostics(client, uri)
    act102 = [d for d in found if d.code == "ACT102"]
    assert len(act102) == 1, found
    d = act102[0]
    assert _span(d) == SOFTMAX_RANGE
    assert d.source == "actlint"
    assert d.severity == types.DiagnosticSeverity.Warning
    assert d.code_description.href == page_url("ACT102")
    assert "CrossEntropyLoss" in d.message
    assert "ACT109" in _codes(found)  # no configuration here: every default rule runs


@pytest.mark.asyncio
async def test_change_that_removes_the_bug_clears_it(client: LanguageClient, bare):
    uri = (bare / "model.py").as_uri()
    _open(client, uri, MODEL)
    assert "ACT102" in _codes(await _diagnostics(client, uri))
    fixed = MODEL.replace("return torch.softmax(self.fc(x), dim=1)", "return self.fc(x)")
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=fixed)]))
    found = await _diagnostics(client, uri, until=lambda d: "ACT102" not in _codes(d))
    assert "ACT102" not in _codes(found)
    assert "ACT109" in _codes(found)


@pytest.mark.asyncio
async def test_incremental_change_is_applied_to_the_buffer(client: LanguageClient, bare):
    uri = (bare / "model.py").as_uri()
    _open(client, uri, MODEL)
    await _diagnostics(client, uri, until=lambda d: "ACT102" in _codes(d))
    (start, _), (end_line, end) = SOFTMAX_RANGE[0], SOFTMAX_RANGE[1]
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangePartial(
            range=types.Range(start=types.Position(line=start, character=SOFTMAX_RANGE[0][1]),
                              end=types.Position(line=end_line, character=end)),
            text="self.fc(x)")]))
    await _diagnostics(client, uri, until=lambda d: "ACT102" not in _codes(d))


@pytest.mark.asyncio
async def test_quick_fix_edit_applied_gives_the_fixed_text(client: LanguageClient, bare):
    uri = (bare / "model.py").as_uri()
    _open(client, uri, MODEL)
    found = await _diagnostics(client, uri)
    act102 = next(d for d in found if d.code == "ACT102")
    actions = await _actions(client, uri, act102)
    fixes = [a for a in actions if not a.title.startswith("Add `# noqa")]
    assert len(fixes) == 1, [a.title for a in actions]
    fix = fixes[0]
    assert fix.kind == types.CodeActionKind.QuickFix
    assert fix.title == "ACT102: remove the softmax (unsafe)"
    assert not fix.is_preferred  # an unsafe fix is never the preferred action
    assert fix.diagnostics and fix.diagnostics[0].code == "ACT102"
    expected = MODEL.replace("return torch.softmax(self.fc(x), dim=1)", "return self.fc(x)")
    assert _apply(MODEL, fix.edit, uri) == expected

    act109 = next(d for d in found if d.code == "ACT109")
    safe = [a for a in await _actions(client, uri, act109) if a.title.startswith("ACT109")]
    assert len(safe) == 1 and safe[0].is_preferred and "(unsafe)" not in safe[0].title
    assert "return torch.log_softmax(logits, dim=-1)\n" in _apply(MODEL, safe[0].edit, uri)


@pytest.mark.asyncio
async def test_noqa_action_adds_the_comment_and_joins_an_existing_one(client: LanguageClient, bare):
    uri = (bare / "model.py").as_uri()
    _open(client, uri, MODEL)
    act102 = next(d for d in await _diagnostics(client, uri) if d.code == "ACT102")
    noqa = [a for a in await _actions(client, uri, act102) if a.title == "Add `# noqa: ACT102`"]
    assert len(noqa) == 1
    assert _apply(MODEL, noqa[0].edit, uri) == MODEL.replace(
        "return torch.softmax(self.fc(x), dim=1)\n", "return torch.softmax(self.fc(x), dim=1)  # noqa: ACT102\n")

    other = (bare / "other.py").as_uri()
    text = MODEL.replace("dim=1)\n", "dim=1)  # noqa: E501\n")
    _open(client, other, text)
    act102 = next(d for d in await _diagnostics(client, other) if d.code == "ACT102")
    noqa = [a for a in await _actions(client, other, act102) if a.title == "Add `# noqa: ACT102`"]
    assert "dim=1)  # noqa: E501, ACT102\n" in _apply(text, noqa[0].edit, other)


@pytest.mark.asyncio
async def test_applying_the_noqa_edit_silences_the_finding(client: LanguageClient, bare):
    uri = (bare / "model.py").as_uri()
    _open(client, uri, MODEL)
    act102 = next(d for d in await _diagnostics(client, uri) if d.code == "ACT102")
    noqa = next(a for a in await _actions(client, uri, act102) if a.title == "Add `# noqa: ACT102`")
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=_apply(MODEL, noqa.edit, uri))]))
    found = await _diagnostics(client, uri, until=lambda d: "ACT102" not in _codes(d))
    assert "ACT109" in _codes(found)


@pytest.mark.asyncio
async def test_hover_on_a_finding_shows_its_rule_page(client: LanguageClient, bare):
    uri = (bare / "model.py").as_uri()
    _open(client, uri, MODEL)
    await _diagnostics(client, uri)
    hover = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=SOFTMAX_LINE, character=20)))
    assert hover is not None
    assert hover.contents.kind == types.MarkupKind.Markdown
    assert hover.contents.value == read_page("ACT102").strip()
    assert hover.contents.value.startswith("# ACT102 probabilities-where-logits-expected")
    nothing = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=0, character=3)))
    assert nothing is None


@pytest.mark.asyncio
async def test_close_clears_the_diagnostics(client: LanguageClient, bare):
    uri = (bare / "model.py").as_uri()
    _open(client, uri, MODEL)
    assert await _diagnostics(client, uri, until=bool)
    client.text_document_did_close(types.DidCloseTextDocumentParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))
    assert await _diagnostics(client, uri, until=lambda d: not d) == []


@pytest.mark.asyncio
async def test_save_lints_the_buffer_again(client: LanguageClient, bare):
    path = bare / "model.py"
    path.write_text(MODEL, encoding="utf-8")
    uri = path.as_uri()
    _open(client, uri, "import torch\n")
    assert await _diagnostics(client, uri) == []
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=MODEL)]))
    client.text_document_did_save(types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri)))
    assert "ACT102" in _codes(await _diagnostics(client, uri, until=bool))


@pytest.mark.asyncio
async def test_project_configuration_is_honoured(configured: LanguageClient, project):
    uri = (project / "model.py").as_uri()
    _open(configured, uri, MODEL)
    found = await _diagnostics(configured, uri)
    assert "ACT102" in _codes(found)
    assert "ACT109" not in _codes(found)  # ignore = ["ACT109"]

    script = (project / "scripts" / "train.py").as_uri()
    _open(configured, script, MODEL)
    assert await _diagnostics(configured, script) == []  # per-file-ignores: scripts/* ignores ACT102


@pytest.mark.asyncio
async def test_only_other_kinds_asked_for_gives_no_quick_fix(client: LanguageClient, bare):
    uri = (bare / "model.py").as_uri()
    _open(client, uri, MODEL)
    act102 = next(d for d in await _diagnostics(client, uri) if d.code == "ACT102")
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=act102.range,
        context=types.CodeActionContext(diagnostics=[act102], only=[types.CodeActionKind.Refactor])))
    assert not actions


@pytest.fixture
def broken(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.actlint]\nignore = ["ACT1O2"]\n', encoding="utf-8")
    return tmp_path


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER, server_env=ENV))
async def broken_client(lsp_client: LanguageClient, broken):
    await _start(lsp_client, broken)
    yield
    await lsp_client.shutdown_session()


@pytest.mark.asyncio
async def test_a_configuration_error_is_shown_and_nothing_is_linted(broken_client: LanguageClient, broken):
    uri = (broken / "model.py").as_uri()
    _open(broken_client, uri, MODEL)
    assert await _diagnostics(broken_client, uri) == []
    [message] = broken_client.messages
    assert message.type == types.MessageType.Error
    assert "'ACT1O2' matches no rule code; did you mean 'ACT102'" in message.message


NOTEBOOK_CELLS = [
    "import torch\nimport torch.nn as nn\n\nnet = nn.Linear(20, 4)\ncriterion = nn.CrossEntropyLoss()\n",
    "x = torch.randn(8, 20)\n%time y = torch.randint(0, 4, (8,))\nprobs = torch.softmax(net(x), dim=1)\n"
    "loss = criterion(probs, y)\nloss.backward()\n",
]


@pytest.mark.asyncio
async def test_notebook_document_gets_cell_relative_diagnostics(client: LanguageClient, bare):
    notebook_uri = (bare / "analysis.ipynb").as_uri()
    cell_uris = [f"vscode-notebook-cell:{(bare / 'analysis.ipynb').as_posix()}#cell{n}" for n in range(3)]
    client.notebook_document_did_open(types.DidOpenNotebookDocumentParams(
        notebook_document=types.NotebookDocument(
            uri=notebook_uri, notebook_type="jupyter-notebook", version=1,
            cells=[types.NotebookCell(kind=types.NotebookCellKind.Code, document=cell_uris[0]),
                   types.NotebookCell(kind=types.NotebookCellKind.Markup, document=cell_uris[1]),
                   types.NotebookCell(kind=types.NotebookCellKind.Code, document=cell_uris[2])]),
        cell_text_documents=[
            types.TextDocumentItem(uri=cell_uris[0], language_id="python", version=1, text=NOTEBOOK_CELLS[0]),
            types.TextDocumentItem(uri=cell_uris[1], language_id="markdown", version=1, text="# torch.softmax\n"),
            types.TextDocumentItem(uri=cell_uris[2], language_id="python", version=1, text=NOTEBOOK_CELLS[1]),
        ]))
    found = await _diagnostics(client, cell_uris[2], until=lambda d: "ACT102" in _codes(d))
    act102 = next(d for d in found if d.code == "ACT102")
    # line 3 of the third cell: 'probs = torch.softmax(net(x), dim=1)'
    assert _span(act102) == ((2, 8), (2, 36))
    assert "line 4 of cell 3" in act102.message  # the loss call, named by cell
    assert list(client.diagnostics.get(cell_uris[0])) == []  # published, empty, on the cell without findings

    act102_actions = await _actions(client, cell_uris[2], act102)
    fix = next(a for a in act102_actions if a.title.startswith("ACT102"))
    assert "probs = net(x)\n" in _apply(NOTEBOOK_CELLS[1], fix.edit, cell_uris[2])
    noqa = next(a for a in act102_actions if a.title == "Add `# noqa: ACT102`")
    assert "dim=1)  # noqa: ACT102\n" in _apply(NOTEBOOK_CELLS[1], noqa.edit, cell_uris[2])

    # the softmax removed in the cell: the notebook's diagnostics are cleared
    fixed = NOTEBOOK_CELLS[1].replace("torch.softmax(net(x), dim=1)", "net(x)")
    client.notebook_document_did_change(types.DidChangeNotebookDocumentParams(
        notebook_document=types.VersionedNotebookDocumentIdentifier(uri=notebook_uri, version=2),
        change=types.NotebookDocumentChangeEvent(cells=types.NotebookDocumentCellChanges(text_content=[
            types.NotebookDocumentCellContentChanges(
                document=types.VersionedTextDocumentIdentifier(uri=cell_uris[2], version=2),
                changes=[types.TextDocumentContentChangeWholeDocument(text=fixed)])]))))
    await _diagnostics(client, cell_uris[2], until=lambda d: "ACT102" not in _codes(d))

    client.notebook_document_did_close(types.DidCloseNotebookDocumentParams(
        notebook_document=types.NotebookDocumentIdentifier(uri=notebook_uri),
        cell_text_documents=[types.TextDocumentIdentifier(uri=u) for u in cell_uris]))


@pytest.mark.asyncio
async def test_columns_are_in_the_clients_units(client: LanguageClient, utf8_client: LanguageClient, bare):
    text = MODEL.replace("        return torch.softmax(", '        s = "😀"; return torch.softmax(')
    uri = (bare / "model.py").as_uri()
    start = len('        s = "😀"; return ')  # 24 code points
    for who, extra in ((client, 1), (utf8_client, 3)):  # the emoji is 2 UTF-16 units, 4 UTF-8 bytes
        _open(who, uri, text)
        act102 = next(d for d in await _diagnostics(who, uri) if d.code == "ACT102")
        assert act102.range.start.character == start + extra
        assert act102.range.end.character == start + extra + len("torch.softmax(self.fc(x), dim=1)")


def test_server_never_imports_the_frameworks(tmp_path):
    """A session (open, code action, hover) in a server process that reports which modules it imported."""
    report = tmp_path / "modules.json"
    script = (
        "import atexit, json, sys\n"
        f"atexit.register(lambda: open({str(report)!r}, 'w').write(json.dumps(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('torch', 'keras', 'tensorflow', 'jax')))))\n"
        "from actlint.cli import main\n"
        "sys.exit(main(['server']))\n"
    )
    command = [sys.executable, "-c", script]

    async def session():
        config = ClientServerConfig(server_command=command, server_env=ENV)
        client = await config.start()
        await _start(client, tmp_path)
        uri = (tmp_path / "model.py").as_uri()
        _open(client, uri, MODEL)
        act102 = next(d for d in await _diagnostics(client, uri) if d.code == "ACT102")
        assert await _actions(client, uri, act102)
        await client.shutdown_session()
        await client.stop()

    asyncio.run(session())
    assert json.loads(report.read_text()) == []


def test_without_pygls_the_server_says_what_to_install():
    script = ("import sys\nsys.modules['pygls'] = None\nfrom actlint.cli import main\n"
              "sys.exit(main(['server']))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=ENV, timeout=120)
    assert done.returncode == 2
    assert "actlint[lsp]" in done.stderr
    assert "Traceback" not in done.stderr


def test_server_help_works():
    done = subprocess.run([sys.executable, "-m", "actlint", "server", "--help"], capture_output=True, text=True,
                          env=ENV, timeout=120)
    assert done.returncode == 0 and "language server" in done.stdout

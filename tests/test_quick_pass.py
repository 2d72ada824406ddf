"""The quick first pass (rules over CPython's tree, LibCST only for files with a finding) changes no result."""

from __future__ import annotations

import ast
import importlib.util
import textwrap
from pathlib import Path

import pytest
from conftest import ROOT, SHARED_CASES, SHARED_CASES_NEXT

from actlint import engine
from actlint.checks import FileContext, all_rules
from actlint.config import Config
from actlint.index import FileIndex
from actlint.parse import parse_module
from actlint.project import Project
from actlint.skeleton import Unsupported, skeleton

ALL = frozenset(all_rules())


def _package_files(name: str, *parts: str) -> list[Path]:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return []
    folder = Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)
    return sorted(folder.glob("*.py"))


def _sources() -> list[Path]:
    files = sorted((ROOT / "fixtures").rglob("*.py"))
    for shared in (SHARED_CASES, SHARED_CASES_NEXT):
        if shared.is_dir():
            files += sorted(shared.rglob("*.py"))
    # a slice of installed model code: library layers and models, where most files hold no finding
    files += _package_files("torch", "nn", "modules") + _package_files("keras", "src", "applications")
    return files


def _key(result):
    return ([(f.code, f.line, f.column, f.end_line, f.end_column, f.message, f.fix is not None,
              repr(f.related)) for f in result.findings],
            [(e.code, e.message) for e in result.errors], result.read, result.notices)


def _lint(path: Path, quick: bool, monkeypatch):
    monkeypatch.setattr(engine, "QUICK_PASS", quick)
    return engine.lint_file(path, Config(root=path.parent))


def test_same_findings_with_and_without_the_quick_pass(monkeypatch):
    decided = []
    real = engine._quick_pass

    def spy(*args, **kwargs):
        result = real(*args, **kwargs)
        decided.append(result is not None)
        return result

    monkeypatch.setattr(engine, "_quick_pass", spy)
    files = _sources()
    differing = [p for p in files if _key(_lint(p, True, monkeypatch)) != _key(_lint(p, False, monkeypatch))]
    assert differing == []
    # not vacuous: the quick pass ran, settled files alone, and sent the files with findings on
    assert sum(decided) >= 20 and decided.count(False) >= 20


def _findings(path: Path, text: str, index: FileIndex, quick: bool):
    ctx = FileContext(path=str(path), text=text, index=index, options={},
                      project=Project.for_file(str(path), quick=quick), notebook=None)
    found, failed = [], []
    for rule in engine._rules_for(ALL):
        if not rule.could_fire(text):
            continue
        try:
            found += [(f.code, f.line, f.column, f.end_line, f.end_column, f.message) for f in rule(ctx).check() if f]
        except Exception:  # noqa: BLE001 - recorded: the engine sends such a file to the full pass
            failed.append(rule.code)
    return found, failed


# fixtures/act100 holds unused noqa codes: the engine finds them, no rule does
@pytest.mark.parametrize("path", sorted(p for p in (ROOT / "fixtures").rglob("bad_*.py") if p.parent.name != "act100"),
                         ids=lambda p: p.name)
def test_quick_tree_gives_the_full_trees_findings(path):
    """Over the quick tree the rules find what they find over LibCST's, at the same places, with the same
    messages; a rule may instead fail while building a fix (code of another tree), which also sends the
    file to the full pass, but never report less."""
    text = path.read_text(encoding="utf-8")
    full, full_failed = _findings(path, text, FileIndex(parse_module(text)), quick=False)
    module, places = skeleton(text)
    quick, quick_failed = _findings(path, text, FileIndex(module, places), quick=True)
    assert full and not full_failed
    assert [f for f in full if f[0] not in quick_failed] == [f for f in quick if f[0] not in quick_failed]
    assert len(quick_failed) <= 1


def _place(source: str, pick):
    source = textwrap.dedent(source)
    module, places = skeleton(source)
    full = FileIndex(parse_module(source))
    quick = FileIndex(module, places)
    return quick.position(pick(quick)), full.position(pick(full))


def test_places_match_libcst_for_names_without_an_ast_node():
    source = """\
        import torch

        class Modèle(torch.nn.Module):
            async def forward(self, données, *, dim=1):
                return torch.softmax(données, dim=dim)  # é
        """
    quick, full = _place(source, lambda index: index.classes[0].name)
    assert quick == full
    quick, full = _place(source, lambda index: index.functions[0].name)
    assert quick == full
    quick, full = _place(source, lambda index: index.calls[0].func.attr)
    assert quick == full
    quick, full = _place(source, lambda index: index.calls[0].args[1].keyword)
    assert quick == full
    quick, full = _place(source, lambda index: index.calls[0])
    assert quick == full == (5, 16, 5, 47)


def test_quick_tree_lays_statements_out_as_libcst_does():
    source = "import torch; x = 1\nif a:\n    pass\nelif b:\n    pass\nelse:\n    if c:\n        pass\n"
    module, _ = skeleton(source)
    real = parse_module(source)
    assert [type(s).__name__ for s in module.body] == [type(s).__name__ for s in real.body]
    assert len(module.body[0].body) == len(real.body[0].body) == 2
    assert type(module.body[1].orelse) is type(real.body[1].orelse)  # elif: an If
    assert type(module.body[1].orelse.orelse) is type(real.body[1].orelse.orelse)  # else: an Else


def test_call_arguments_keep_source_order():
    module, _ = skeleton("f(a, key=1, *rest, **more)\ng(key=1, *rest)\n")
    first, second = (line.body[0].value for line in module.body)
    assert [(a.star, a.keyword.value if a.keyword else None) for a in first.args] == [
        ("", None), ("", "key"), ("*", None), ("**", None)]
    assert [a.star for a in second.args] == ["", "*"]


def test_match_statements_are_read_without_their_patterns(lint):
    source = textwrap.dedent("""\
        import torch.nn.functional as F

        def pick(x, kind):
            match kind:
                case "soft" if F.softmax(x, dim=1) is not None:
                    return F.softmax(x)
        """)
    module, _ = skeleton(source)
    calls = FileIndex(module).calls
    assert len(calls) == len(FileIndex(parse_module(source)).calls) == 2
    assert [(f.code, f.line) for f in lint(source)] == [("ACT104", 6)]


def test_an_unmirrored_construct_takes_the_full_pass(lint, monkeypatch):
    import actlint.skeleton as quick_tree

    def unsupported(self, node):
        raise Unsupported("Match")

    monkeypatch.setitem(quick_tree._Builder.statements, ast.Match, unsupported)
    answers = []
    real = engine._quick_pass
    monkeypatch.setattr(engine, "_quick_pass", lambda *a, **k: answers.append(real(*a, **k)) or answers[-1])
    source = textwrap.dedent("""\
        import torch.nn.functional as F

        def pick(x, kind):
            match kind:
                case "soft":
                    return F.softmax(x{dim})
        """)
    with pytest.raises(Unsupported):
        skeleton(source.format(dim=""))
    assert [(f.code, f.line) for f in lint(source.format(dim=""))] == [("ACT104", 6)]
    assert lint(source.format(dim=", dim=1")) == []
    assert answers == [None, None]  # both went to the full pass


def test_the_quick_pass_prints_no_python_warnings_about_user_code(lint):
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert lint('import torch\nx = 1 ()\ny = "\\d"\nz = torch.softmax(x, dim=1)\n') == []
    assert [str(w.message) for w in caught] == []

"""ACT100 unused-noqa: noqa codes of rules that ran and suppressed nothing; what is never judged; the fix;
findings that cross files; the cache; notebooks; the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import ROOT

from actlint import engine
from actlint.checks import all_rules
from actlint.cli import main
from actlint.config import Config
from actlint.engine import fix_paths, lint_paths, lint_text
from actlint.findings import Edit

ALL = frozenset(all_rules())
DEFAULT = frozenset(code for code, rule in all_rules().items() if rule.default)

SOURCE = textwrap.dedent("""\
    import torch.nn as nn
    import torch.nn.functional as F


    def probs(x):
        a = F.softmax(x)  # noqa: ACT104
        b = F.softmax(x, dim=1)  # noqa: ACT101, ACT104
        c = F.softmax(x, dim=1)  # noqa: ACT104, E501
        d = F.softmax(x, dim=1)  # noqa
        e = F.softmax(x, dim=1)  # noqa: E501
        f = F.softmax(x, dim=1)  # noqa: ACT1
        g = F.softmax(x, dim=1)  # noqa: ACT104 the reason
        h = F.softmax(x, dim=1)  # keep this  # noqa: ACT104
        i = F.softmax(x)  # noqa: ACT101,ACT104
        s = "# noqa: ACT104"
        # noqa: ACT109
        return a, b, c, d, e, f, g, h, i, s
    """)

FIXED = textwrap.dedent("""\
    import torch.nn as nn
    import torch.nn.functional as F


    def probs(x):
        a = F.softmax(x)  # noqa: ACT104
        b = F.softmax(x, dim=1)
        c = F.softmax(x, dim=1)  # noqa: E501
        d = F.softmax(x, dim=1)  # noqa
        e = F.softmax(x, dim=1)  # noqa: E501
        f = F.softmax(x, dim=1)  # noqa: ACT1
        g = F.softmax(x, dim=1)  # the reason
        h = F.softmax(x, dim=1)  # keep this
        i = F.softmax(x)  # noqa: ACT104
        s = "# noqa: ACT104"

        return a, b, c, d, e, f, g, h, i, s
    """)


def act100(findings) -> list[tuple[int, int, str]]:
    return [(f.line, f.column, f.message.split(":")[0]) for f in findings if f.code == "ACT100"]


def lint(source: str, codes=ALL, path: str = "example.py", **kwargs):
    result = lint_text(source, path, Config(), frozenset(codes), **kwargs)
    assert not result.errors, result.errors
    return result.findings


def test_each_unused_code_of_a_rule_that_ran_is_reported_at_the_code():
    assert act100(lint(SOURCE)) == [
        (7, 38, "unused noqa code ACT101"), (7, 46, "unused noqa code ACT104"),
        (8, 38, "unused noqa code ACT104"),
        (12, 38, "unused noqa code ACT104"),
        (13, 51, "unused noqa code ACT104"),
        (14, 31, "unused noqa code ACT101"),
        (16, 13, "unused noqa code ACT109"),
    ]
    finding = next(f for f in lint(SOURCE) if f.code == "ACT100")
    assert (finding.name, finding.end_column, finding.fix.safe) == ("unused-noqa", 44, True)
    assert finding.message == "unused noqa code ACT101: no ACT101 finding on this line to suppress; remove it"


def test_codes_of_rules_that_did_not_run_are_not_judged():
    # ACT101 is not selected: line 7's ACT101 and line 14's are left alone, ACT104 is still judged
    without = ALL - {"ACT101", "ACT109"}
    assert [(line, col) for line, col, _ in act100(lint(SOURCE, without))] == [(7, 46), (8, 38), (12, 38), (13, 51)]
    # nothing but ACT100 selected: no rule ran, so no code is judged
    assert act100(lint(SOURCE, {"ACT100"})) == []
    assert act100(lint(SOURCE, {"ACT000", "ACT100"})) == []


def test_off_by_default():
    assert not all_rules()["ACT100"].default
    assert "ACT100" not in Config().enabled_codes("x.py", all_rules())
    assert "ACT100" in Config(select=("ALL",)).enabled_codes("x.py", all_rules())
    assert "ACT100" in Config(extend_select=("ACT100",)).enabled_codes("x.py", all_rules())
    assert act100(lint(SOURCE, DEFAULT)) == []
    assert lint(SOURCE, DEFAULT) == []  # lines 6 and 14 are silenced, by a code that is used


def test_a_used_noqa_and_other_comments_are_left_alone():
    used = textwrap.dedent("""\
        import torch.nn.functional as F
        import torch.nn as nn

        net = nn.Sequential(nn.Linear(8, 8), nn.Sigmoid(), nn.Linear(8, 2))  # noqa: ACT101
        p = F.softmax(net(x))  # noqa: ACT104, E501
        q = F.softmax(net(x))  # NOQA:act104
        r = F.softmax(net(x))  # noqa: ACT100, ACT104
        s = F.softmax(net(x), dim=1)  # noqa: ACT100, ACT104
        """)
    # line 8's ACT104 is unused, but the comment silences ACT100 itself
    assert act100(lint(used)) == []
    assert act100(lint(used.replace("ACT100, ACT104\n", "ACT104\n"))) == [(8, 39, "unused noqa code ACT104")]


def test_file_level_codes_are_judged_over_the_whole_file():
    body = "import torch.nn.functional as F\n\n\ndef f(x):\n    return F.softmax(x)\n"
    used = lint("# actlint: noqa: ACT104\n" + body)
    assert used == []
    unused = lint("# actlint: noqa: ACT101, ACT104\n" + body)
    assert act100(unused) == [(1, 18, "unused file-level noqa code ACT101")]
    assert unused[0].message == ("unused file-level noqa code ACT101: no ACT101 finding in this file to "
                                 "suppress; remove it")
    assert unused[0].fix.edits[0].content == "" and (unused[0].fix.edits[0].column, unused[0].fix.edits[0].end_column) == (18, 26)
    # bare, it silences everything, ACT100 included; nothing to judge
    assert lint("# actlint: noqa\n" + body.replace("(x)\n", "(x, dim=1)  # noqa: ACT104\n")) == []
    # an ACT104 line noqa and a file-level one both silencing the finding: neither is reported
    assert act100(lint("# actlint: noqa: ACT104\n" + body.replace("(x)\n", "(x)  # noqa: ACT104\n"))) == []


def test_a_rule_that_failed_on_the_file_is_not_judged(monkeypatch):
    rule = all_rules()["ACT104"]

    def broken(self):
        raise ValueError("boom")

    monkeypatch.setattr(rule, "check", broken)
    result = lint_text(SOURCE, "example.py", Config(), ALL)
    assert [e.rule for e in result.errors] == ["ACT104"]
    assert [(f.line, f.column) for f in result.findings if f.code == "ACT100"] == [(7, 38), (14, 31), (16, 13)]


def test_the_quick_pass_does_not_hide_an_unused_noqa(monkeypatch):
    clean = "import torch\n\nx = torch.softmax(torch.ones(3), dim=0)  # noqa: ACT104\n"
    for quick in (True, False):
        monkeypatch.setattr(engine, "QUICK_PASS", quick)
        assert act100(lint(clean)) == [(3, 50, "unused noqa code ACT104")]
    # no rule's trigger words at all, and no framework named: the codes are still unused
    assert act100(lint("import torch\n\nx = 1  # noqa: ACT104\n")) == [(3, 16, "unused noqa code ACT104")]
    assert act100(lint("x = 1  # noqa: ACT104\n")) == [(1, 16, "unused noqa code ACT104")]
    # a file that does not parse is not analysed: ACT000 only
    assert [f.code for f in lint("import torch\nx = (  # noqa: ACT104\n")] == ["ACT000"]


def test_the_fix_removes_the_code_or_the_comment(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "m.py"
    path.write_text(SOURCE)
    assert main(["--no-cache", "--fix", "--extend-select", "ACT100", "m.py"]) == 0
    assert path.read_text() == FIXED
    # line 7's two codes share one fix, the comment's removal: 6 fixes for the 7 findings
    assert "fixed 6 findings in 1 file" in capsys.readouterr().err
    assert main(["--no-cache", "--extend-select", "ACT100", "--format", "json", "m.py"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    # only the selected rules' codes go: ACT101's stay
    path.write_text(SOURCE)
    assert main(["--no-cache", "--fix", "--select", "ACT104,ACT100", "m.py"]) == 0
    fixed = path.read_text().splitlines()
    assert fixed[6] == "    b = F.softmax(x, dim=1)  # noqa: ACT101"
    assert fixed[13] == "    i = F.softmax(x)  # noqa: ACT101,ACT104"
    assert fixed[15] == "    # noqa: ACT109"


def test_cross_file_finding_keeps_the_noqa_at_its_home(tmp_path, capsys, monkeypatch):
    model = textwrap.dedent("""\
        import torch
        from torch import nn


        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(8, 4)

            def forward(self, x):
                return torch.softmax(self.fc(x), dim=1)  # noqa: ACT102, ACT104
        """)
    train = textwrap.dedent("""\
        import torch
        from torch import nn

        from model import Net


        def train(loader):
            torch.manual_seed(0)
            model = Net()
            criterion = nn.CrossEntropyLoss()
            for x, y in loader:
                criterion(model(x), y).backward()
        """)
    (tmp_path / "pyproject.toml").write_text("[tool.actlint]\nextend-select = [\"ACT100\"]\n")
    (tmp_path / "model.py").write_text(model)
    (tmp_path / "train.py").write_text(train)
    config = Config(root=tmp_path, source=tmp_path / "pyproject.toml", extend_select=("ACT100",))
    files = [tmp_path / "model.py", tmp_path / "train.py"]

    def where(report):
        return [(Path(f.path).name, f.line, f.column, f.fix.edits if f.fix else None) for f in report.findings]

    # model.py alone sees no ACT102: both of its codes look unused
    alone = lint_text(model, str(files[0]), config, ALL)
    assert [(f.line, f.column, f.fix.message) for f in alone.findings] == [
        (11, 58, "remove the unused noqa comment"), (11, 66, "remove the unused noqa comment")]
    # a run over both files, and a run over model.py that lints its importers: ACT102 is used, ACT104 not,
    # and its fix now removes only ACT104
    only_104 = [("model.py", 11, 66, (Edit(11, 64, 11, 72, ""),))]
    assert where(lint_paths(files, config, jobs=1)) == only_104
    assert where(lint_paths(files[:1], config, jobs=1, importers=True)) == only_104
    # train.py alone: its finding is silenced at home; nothing of model.py is reported
    assert lint_paths(files[1:], config, jobs=1).findings == []
    # the same warm, from the cache
    cache = engine_cache(tmp_path)
    for _ in range(2):
        assert where(lint_paths(files[:1], config, jobs=1, cache=cache, importers=True)) == only_104
        assert where(lint_paths(files, config, jobs=1, cache=cache)) == only_104
    assert cache.hits >= 3
    # --fix on model.py alone keeps the code train.py's finding needs
    monkeypatch.chdir(tmp_path)
    assert main(["--no-cache", "--fix", "model.py"]) == 0
    assert (tmp_path / "model.py").read_text() == model.replace("# noqa: ACT102, ACT104", "# noqa: ACT102")
    assert main(["--no-cache", "model.py", "train.py"]) == 0
    assert capsys.readouterr().out == ""
    # with the whole noqa gone, the finding is back, at its home
    (tmp_path / "model.py").write_text(model.replace("  # noqa: ACT102, ACT104", ""))
    assert main(["--no-cache", "--format", "concise", "model.py"]) == 1
    assert capsys.readouterr().out.startswith("model.py:11:16: ACT102 ")


def engine_cache(folder: Path):
    from actlint.cache import Cache

    return Cache(folder / ".actlint_cache", "settings")


def test_a_warm_run_gives_the_same_findings(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.py").write_text(SOURCE)
    args = ["--cache-dir", str(tmp_path / "cache"), "--extend-select", "ACT100", "--format", "json", "m.py"]
    assert main(args) == 1
    cold = capsys.readouterr().out
    assert main(args) == 1
    assert capsys.readouterr().out == cold
    assert sum(1 for f in json.loads(cold) if f["code"] == "ACT100") == 7
    assert list((tmp_path / "cache").rglob("*.json"))


def test_old_cache_entries_are_not_read():
    from actlint import cache

    assert cache._FORMAT >= 4


def _notebook(*sources: str) -> str:
    cells = [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
              "source": source.splitlines(keepends=True)} for source in sources]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1) + "\n"


def test_notebook_cells_are_judged_and_fixed_in_place(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = "%matplotlib inline\nimport torch\nimport torch.nn.functional as F\n"
    second = "x = torch.randn(2, 3)\np = F.softmax(x, dim=1)  # noqa: ACT104, E501\nq = F.softmax(x)  # noqa: ACT104\n"
    (tmp_path / "nb.ipynb").write_text(_notebook(first, second))
    assert main(["--no-cache", "--extend-select", "ACT100", "--format", "concise", "nb.ipynb"]) == 1
    assert capsys.readouterr().out == (
        "nb.ipynb:cell 2:2:34: ACT100 unused noqa code ACT104: no ACT104 finding on this line to suppress; "
        "remove it\n")
    assert main(["--no-cache", "--extend-select", "ACT100", "--fix", "nb.ipynb"]) == 0
    cells = json.loads((tmp_path / "nb.ipynb").read_text())["cells"]
    assert "".join(cells[0]["source"]) == first
    assert "".join(cells[1]["source"]) == second.replace("# noqa: ACT104, E501", "# noqa: E501")


def test_add_noqa_does_not_silence_act100(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    source = "import torch.nn.functional as F\n\n\ndef f(x):\n    return F.softmax(x, dim=1)  # noqa: ACT104\n"
    (tmp_path / "m.py").write_text(source)
    assert main(["--no-cache", "--extend-select", "ACT100", "--add-noqa", "m.py"]) == 1
    err = capsys.readouterr().err
    assert "m.py:5:41: ACT100 is not silenced with noqa" in err and "added noqa comments to 0 lines" in err
    assert (tmp_path / "m.py").read_text() == source


def test_rule_page_and_table(capsys):
    assert main(["rule", "ACT100"]) == 0
    assert capsys.readouterr().out.startswith("# ACT100 unused-noqa\n")
    assert main(["rule", "unused-noqa"]) == 0
    capsys.readouterr()
    assert main(["rule", "--all"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("ACT100"))
    assert row.split()[:3] == ["ACT100", "unused-noqa", "safe"]


def test_select_names_it_and_the_default_run_does_not_report_it(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.py").write_text(SOURCE)
    assert main(["--no-cache", "--format", "concise", "m.py"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["--no-cache", "--select", "ALL", "--statistics", "m.py"]) == 1
    assert capsys.readouterr().out.split()[:2] == ["7", "ACT100"]
    assert main(["--no-cache", "--extend-select", "unused-noqa", "m.py"]) == 2  # the name is not a code
    assert "write the code 'ACT100'" in capsys.readouterr().err


@pytest.mark.parametrize("line, fixed", [
    ("x = 1  # noqa: ACT104", "x = 1"),
    ("x = 1  # noqa:ACT104", "x = 1"),
    ("x = 1\t# noqa: ACT104, ACT101", "x = 1"),
    ("x = 1  # noqa: ACT104 - legacy", "x = 1  # legacy"),
    ("x = 1  # noqa: ACT104  # expect: nothing", "x = 1  # expect: nothing"),
    ("x = 1  # type: ignore  # noqa: ACT104", "x = 1  # type: ignore"),
    ("x = 1  # noqa: E501, ACT104", "x = 1  # noqa: E501"),
    ("x = 1  # noqa: ACT104, E501", "x = 1  # noqa: E501"),
    ("x = 1  # noqa: ACT101 ACT104 E501", "x = 1  # noqa: E501"),
    ("    # noqa: ACT104", ""),
])
def test_fix_text(line, fixed):
    from actlint.fixes import fix_text

    text = f"import torch\nif True:\n    pass\n{line}\n"
    outcome = fix_text(text, "m.py", lambda t: lint(t), unsafe=False)
    assert outcome.fixed == f"import torch\nif True:\n    pass\n{fixed}\n"
    assert act100(lint(outcome.fixed)) == []


def test_fix_paths_without_act100_lints_nothing_twice(tmp_path, monkeypatch):
    calls = []
    real = engine.lint_paths
    monkeypatch.setattr(engine, "lint_paths", lambda *a, **k: calls.append(a) or real(*a, **k))
    (tmp_path / "m.py").write_text(SOURCE)
    fix_paths([tmp_path / "m.py"], Config(root=tmp_path), unsafe=False, write=False)
    assert calls == []
    fix_paths([tmp_path / "m.py"], Config(root=tmp_path, extend_select=("ACT100",)), unsafe=False, write=False)
    assert len(calls) == 1


def test_a_file_that_names_no_framework_still_has_its_noqa_judged(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "plain.py").write_text("x = 1  # noqa: ACT104\ny = 2  # noqa: E501\n")
    assert main(["--no-cache", "--format", "concise", "plain.py"]) == 0
    assert main(["--no-cache", "--extend-select", "ACT100", "--format", "concise", "plain.py"]) == 1
    assert capsys.readouterr().out == ("plain.py:1:16: ACT100 unused noqa code ACT104: no ACT104 finding on this "
                                       "line to suppress; remove it\n")


def test_flake8_drops_what_importers_need_at_home(tmp_path):
    pytest.importorskip("flake8")
    (tmp_path / ".git").mkdir()
    (tmp_path / "pyproject.toml").write_text('[tool.actlint]\nextend-select = ["ACT100"]\n')
    (tmp_path / "model.py").write_text(textwrap.dedent("""\
        import torch
        from torch import nn


        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(8, 4)

            def forward(self, x):
                return torch.softmax(self.fc(x), dim=1)  # noqa: ACT102, ACT104
        """))
    (tmp_path / "train.py").write_text(textwrap.dedent("""\
        import torch
        from torch import nn

        from model import Net

        torch.manual_seed(0)
        model = Net()
        nn.CrossEntropyLoss()(model(torch.randn(2, 8)), torch.tensor([0, 1])).backward()
        """))
    out = subprocess.run([sys.executable, "-m", "flake8", "--select", "ACT", "model.py"], capture_output=True,
                         text=True, cwd=tmp_path, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout == ("model.py:11:66: ACT100 unused noqa code ACT104: no ACT104 finding on this line to "
                          "suppress; remove it [fix: remove ACT104 from the noqa comment]\n"), out.stdout + out.stderr


@pytest.mark.parametrize("line", [
    "x = 1  # noqa: ACT104  # noqa: ACT1",          # the second noqa would start to count
    "# actlint: noqa: ACT1  # noqa: ACT104",        # what is left would become a file-level noqa
])
def test_no_fix_where_removing_the_noqa_would_let_another_count(line):
    findings = [f for f in lint(f"import torch\n{line}\n") if f.code == "ACT100"]
    assert [(f.line, f.fix) for f in findings] == [(2, None)]

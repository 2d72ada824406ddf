"""A file's flow is freed as soon as the file is linted (its reference cycles broken), not left to the cyclic
garbage collector, and freeing it changes no finding."""

from __future__ import annotations

import gc
import textwrap

from actlint import engine
from actlint.checks import all_rules
from actlint.config import Config
from actlint.picture import flow, values

ALL = frozenset(all_rules())

MODEL = textwrap.dedent('''
    import torch
    import torch.nn as nn
    import torch.nn.functional as F


    class Net(nn.Module):
        def __init__(self, hidden=32):
            super().__init__()
            self.fc1 = nn.Linear(784, hidden)
            self.fc2 = nn.Linear(hidden, 10)
            self.layers = nn.ModuleList([nn.Linear(hidden, hidden) for _ in range(3)])

        def forward(self, x):
            def block(h):
                return torch.sigmoid(h)

            x = block(self.fc1(x))
            for layer in self.layers:
                x = block(layer(x))
            return F.softmax(self.fc2(x))


    def train():
        model = Net()
        criterion = nn.CrossEntropyLoss()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        loss = criterion(model(torch.randn(8, 784)), torch.zeros(8, dtype=torch.long))
        loss.backward()
        optimizer.step()
''')

QUIET = textwrap.dedent('''
    import torch.nn as nn
    import torch.nn.functional as F


    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.act = nn.ReLU()

        def forward(self, x):
            def inner(h):
                return self.act(h)
            return F.softmax(inner(self.fc(x)), dim=-1)
''')

FLOW_TYPES = (flow.Flow, flow.Scope, flow.Unit, flow.ClassInfo, values.Instance, values.Function)


def _left_to_collector(text: str) -> tuple[list, list]:
    """The findings of ``text`` and the flow objects a collection after it finds in cyclic garbage."""
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        result = engine.lint_text(text, "model.py", Config(), ALL)
        gc.collect()
        left = [o for o in gc.garbage if isinstance(o, FLOW_TYPES)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if was:
            gc.enable()
    return result.findings, left


def test_full_pass_frees_its_flow():
    findings, left = _left_to_collector(MODEL)
    assert findings  # the full pass ran (the quick pass found something)
    assert left == []


def test_quick_pass_frees_its_flow():
    findings, left = _left_to_collector(QUIET)
    assert findings == []  # the quick pass alone (a rule read the picture: the softmax)
    assert left == []


def test_release_changes_no_finding(monkeypatch):
    def findings():
        result = engine.lint_text(MODEL, "model.py", Config(), ALL)
        return [(f.code, f.line, f.column, f.message) for f in result.findings]

    released = findings()
    monkeypatch.setattr(flow.Flow, "release", lambda self: None)
    assert findings() == released


def test_the_call_memo_keeps_what_its_keys_name_alive():
    """The memo keys a call by ``id()`` of its bound object and arguments: while the entry lives they must too, or
    a new object given a freed one's id would hit another call's result (and findings would vary run to run)."""
    import libcst as cst

    from actlint.index import FileIndex

    f = flow.Flow(FileIndex(cst.parse_module(MODEL)), None, "model.py")
    f.run()
    assert f.memo, "the model's calls should be memoised"
    held = {id(o) for entry in f._memo_held for part in entry
            for o in ([part] if not isinstance(part, (list, dict)) else
                      (list(part.values()) if isinstance(part, dict) else part))}
    for fn_node, bound, parts, _names in f.memo:
        assert bound == id(None) or bound in held
        assert all(p[1] in held for p in parts if p[0] == "o")
    f.release()
    assert f._memo_held == [] and f.memo == {}

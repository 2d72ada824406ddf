"""Messages say what is true of the code in front of them."""

from __future__ import annotations

EPSILON = """\
import torch

def matcher_cost(logits, eps=1e-8):
    p = logits.softmax(-1)
    a = -(p + 1e-8).log()
    b = torch.log(torch.sigmoid(logits) + eps)
    c = torch.log(torch.softmax(logits, -1))
    return a, b, c
"""


def test_act109_message_tells_the_epsilon_form_from_the_bare_log(lint):
    found = {f.line: f.message for f in lint(EPSILON, select="ACT109")}
    assert sorted(found) == [5, 6, 7]
    for line in (5, 6):
        assert "kept off zero by an epsilon or a clamp, flattens at log(eps)" in found[line]
        assert "-inf" not in found[line]
    assert found[7].startswith("log of the softmax at line 7 underflows to -inf")
    assert found[7].endswith("use log_softmax")

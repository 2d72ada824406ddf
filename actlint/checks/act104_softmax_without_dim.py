"""ACT104 softmax-without-dim: a PyTorch softmax whose dimension is left implicit."""

from __future__ import annotations

import libcst as cst

from actlint.checks.base import Rule
from actlint.findings import Edit, Fix

# qualified name -> index of the positional ``dim`` argument
_MODULES = {
    "torch.nn.Softmax": 0,
    "torch.nn.LogSoftmax": 0,
    "torch.nn.Softmin": 0,
}
_FUNCTIONS = {
    "torch.nn.functional.softmax": 1,
    "torch.nn.functional.log_softmax": 1,
    "torch.nn.functional.softmin": 1,
}


def _dim_argument(call: cst.Call, position: int) -> cst.Arg | None:
    positional = 0
    for arg in call.args:
        if arg.star:  # *args may carry dim: not provably missing
            return arg
        if arg.keyword is not None:
            if arg.keyword.value == "dim":
                return arg
            continue
        if positional == position:
            return arg
        positional += 1
    return None


class SoftmaxWithoutDim(Rule):
    code = "ACT104"
    name = "softmax-without-dim"
    summary = "PyTorch softmax, log-softmax or softmin called without dim"
    fixes = "unsafe"
    tokens = ("oftmax", "oftmin")

    def check(self):
        for call in self.index.calls:
            qualname = self.index.call_name(call)
            position = _MODULES.get(qualname, _FUNCTIONS.get(qualname))
            if position is None:
                continue
            arg = _dim_argument(call, position)
            if arg is not None and not (isinstance(arg.value, cst.Name) and arg.value.value == "None"):
                continue
            short = qualname.rsplit(".", 1)[1]
            yield self.finding(
                call,
                f"{short} without dim: PyTorch infers it from the input's rank, a deprecated choice that is "
                f"dim 1 for 2-D input but dim 0 for 3-D input, the batch of (batch, seq, classes); pass dim "
                f"explicitly (dim=-1 for classes last)",
                fix=self._fix(call, arg),
            )

    def _fix(self, call: cst.Call, arg: cst.Arg | None) -> Fix | None:
        """Minimal edits (replace ``None``, or insert ``dim=-1``) so the call's layout is kept."""
        if arg is not None:
            if arg.keyword is None:
                return None  # an explicit positional None: leave it to the author
            edit = self.edit(arg.value, "-1")
        elif call.args:
            line, col, end_line, end_col = self.index.position(call.args[-1].value)
            edit = Edit(end_line, end_col, end_line, end_col, ", dim=-1")
        else:
            line, col, end_line, end_col = self.index.position(call)
            edit = Edit(end_line, end_col - 1, end_line, end_col - 1, "dim=-1")
        return Fix("pass dim=-1", (edit,), safe=False)

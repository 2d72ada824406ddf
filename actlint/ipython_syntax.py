"""IPython's syntax in a notebook cell, turned into Python line for line (nothing is executed).

Jupyter runs a cell through IPython's input transformer: line magics (``%matplotlib inline``), shell
commands (``!pip install``, ``files = !ls``), help (``obj?``, ``obj??``, ``torch.*Tensor?``) and cell
magics (``%%time``) are not Python.  Where IPython is installed its own token transformer decides which
lines are IPython syntax; elsewhere a scanner that knows brackets, strings and backslash continuations
gives the same answer (a ``%`` that continues an expression is the modulo operator, not a magic).  Either
way every line keeps its number, so findings point at the cell's own lines.
"""

from __future__ import annotations

import re

# Cell magics whose body is Python that runs (timed, captured, profiled); the others hold another language.
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug", "memit", "lprun", "mprun"})
_ASSIGNED = re.compile(r"^(\s*)([A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*)\s*=\s*[%!]")
_PLACEHOLDER = "get_ipython()"


def python_source(source: str) -> str:
    """The cell as the Python IPython runs, with the same number of lines."""
    lines = source.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        name = lines[first].lstrip()[2:].split(None, 1)[0] if lines[first].strip() != "%%" else ""
        if name not in PYTHON_CELL_MAGICS:
            return "\n".join("" for _ in lines)  # another language (%%bash, %%html, %%writefile)
        body = python_source("\n".join(lines[first + 1:]))
        return "\n".join([""] * (first + 1) + body.split("\n"))
    transformed = _with_ipython(lines)
    if transformed is None:
        transformed = _with_scanner(lines)
    return "\n".join(transformed)


def ipython_available() -> bool:
    return _transformer() is not None


_MANAGER: list = []


def _transformer():
    if not _MANAGER:
        try:
            from IPython.core.inputtransformer2 import TransformerManager
        except Exception:  # noqa: BLE001 - not installed, or broken: the scanner answers
            _MANAGER.append(None)
        else:
            _MANAGER.append(TransformerManager())
    return _MANAGER[0]


def _with_ipython(lines: list[str]) -> list[str] | None:
    """IPython's token transforms, when installed and when they keep the line count (else None)."""
    manager = _transformer()
    if manager is None:
        return None
    try:
        out = manager.do_token_transforms([line + "\n" for line in lines])
    except Exception:  # noqa: BLE001 - IPython cannot read it either: leave it to the parser to say why
        return None
    out = [line[:-1] if line.endswith("\n") else line for line in out]
    if len(out) != len(lines):
        return None  # a magic continued over lines is joined: the scanner keeps the lines apart
    return [new if new == old else _placeholder(old) for old, new in zip(lines, out)]


def _placeholder(line: str) -> str:
    """A line of IPython syntax as a Python statement that binds what it binds (``files = !ls``)."""
    indent = line[: len(line) - len(line.lstrip())]
    assigned = _ASSIGNED.match(line)
    if assigned is not None:
        return f"{indent}{assigned.group(2)} = {_PLACEHOLDER}"
    return indent + _PLACEHOLDER


def _with_scanner(lines: list[str]) -> list[str]:
    out: list[str] = []
    depth, string, continued = 0, None, False
    i = 0
    while i < len(lines):
        line = lines[i]
        at_start = depth == 0 and string is None and not continued
        stripped = line.lstrip()
        if at_start and (stripped[:1] in ("%", "!", "?") or _ASSIGNED.match(line)):
            out.append(_placeholder(line))
            while line.rstrip().endswith("\\") and i + 1 < len(lines):  # a magic continued on the next line
                i += 1
                line = lines[i]
                out.append("")
            i += 1
            continue
        depth, string, continued, last = _scan(line, depth, string)
        if at_start and last == "?" and depth == 0 and string is None and not continued:
            out.append(_placeholder(line))  # obj? / obj?? / torch.*Tensor?
        else:
            out.append(line)
        i += 1
    return out


def _scan(line: str, depth: int, string: str | None):
    """Bracket depth, open string and continuation after ``line``; and its last significant character."""
    j, n, last = 0, len(line), None
    while j < n:
        c = line[j]
        if string is not None:
            if c == "\\":
                j += 2
                continue
            if line.startswith(string, j):
                j += len(string)
                string = None
                last = c
                continue
            j += 1
            continue
        if c == "#":
            return depth, string, False, last  # a backslash in a comment continues nothing
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth = max(0, depth - 1)
        elif c in "'\"":
            quote = line[j:j + 3] if line[j:j + 3] in ("'''", '"""') else c
            string = quote
            j += len(quote)
            last = c
            continue
        if not c.isspace():
            last = c
        j += 1
    continued = line.rstrip().endswith("\\")
    if string in ("'", '"') and not continued:
        string = None  # an unterminated one-line string: the parser reports it
    return depth, string, continued, last

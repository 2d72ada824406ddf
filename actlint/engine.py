"""Lint one file (read → skip by tokens → quick pass → parse → index → checks → noqa) and many files.

The quick pass runs the rules over a tree built from CPython's parser (:mod:`actlint.skeleton`); only a
file where it finds something is parsed by LibCST and checked again, and that pass is what is reported."""

from __future__ import annotations

import ast
import gc
import itertools
import os
import re
import sys
import tokenize
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from io import BytesIO
from pathlib import Path

from actlint.config import Config
from actlint.findings import ENGINE_CODES, Finding, InternalError
from actlint.interrupt import OutOfTime, terminate_as_interrupt, time_budget
from actlint.project import unchanged

# libcst and the rules are imported only once a file needs parsing: a run over files
# that never mention a framework (the common pre-commit case) never pays for them.

FRAMEWORK_TOKENS = ("torch", "keras", "tensorflow", "lightning", "jax", "flax", "optax")
QUICK_PASS = True  # rules run first over CPython's tree; LibCST parses only files with a finding
MAX_NESTING = 150  # bracket depth beyond which the parser's recursion is not trusted
_BRACKETS = re.compile(r"[()\[\]{}]")
_BRACKET_STEP = {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}


@dataclass
class FileResult:
    path: str
    findings: list[Finding] = field(default_factory=list)
    errors: list[InternalError] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    parsed: bool = False
    cacheable: bool = True
    read: dict[str, str] = field(default_factory=dict)  # local modules the analysis read: path -> content hash
    # noqa comments of other files that suppressed, at its home there, a finding of this one: (path as
    # shown, line of the comment, code); they are not unused (ACT100) when that file is linted too
    home_noqa: list[tuple[str, int, str]] = field(default_factory=list)


@dataclass
class Report:
    results: list[FileResult] = field(default_factory=list)
    noqa_used_elsewhere: set[tuple[str, int, str]] = field(default_factory=set)  # (absolute path, line, code)

    @property
    def findings(self) -> list[Finding]:
        return sorted((f for r in self.results for f in r.findings), key=lambda f: f.sort_key)

    @property
    def errors(self) -> list[InternalError]:
        return [e for r in self.results for e in r.errors]

    @property
    def notices(self) -> list[str]:
        return [n for r in self.results for n in r.notices]


def _unreadable(path: str, message: str, line: int = 1, column: int = 1) -> Finding:
    return Finding("ACT000", "unreadable-file", message, path, line, column, line, column)


class DecodeError(ValueError):
    """Bytes that are not Python source text; ``line`` and ``column`` point at the first bad byte."""

    def __init__(self, message: str, line: int = 1, column: int = 1):
        super().__init__(message)
        self.line, self.column = line, column


def decode(data: bytes) -> str:
    """Text of a Python source, honouring a PEP 263 coding cookie (UTF-8 otherwise)."""
    if b"\x00" in data:
        raise DecodeError("not a Python source file (it contains NUL bytes, so it is probably binary)")
    try:
        encoding, _ = tokenize.detect_encoding(BytesIO(data).readline)
    except SyntaxError as exc:
        raise DecodeError(f"cannot decode: {exc}") from exc
    try:
        text = data.decode(encoding)
    except LookupError as exc:
        raise DecodeError(f"cannot decode: unknown encoding {encoding!r}") from exc
    except UnicodeDecodeError as exc:
        before = data[:exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        raise DecodeError(f"cannot decode as {encoding}: byte 0x{data[exc.start]:02x} is not valid {encoding} "
                          f"(declare the file's encoding with a '# -*- coding: ... -*-' line, or re-save it "
                          f"as UTF-8)", line, column) from exc
    return text[1:] if text.startswith("\ufeff") else text


def max_bracket_depth(text: str) -> int:
    """How deep brackets nest in code (brackets in strings and comments do not count)."""
    # Cheap, and exact for code whose strings and comments hold balanced brackets; where
    # it is off, the parser's RecursionError is still caught and reported.
    naive = _naive_depth(text)
    if naive <= MAX_NESTING:
        return naive
    depth = deepest = 0
    try:
        for token in tokenize.generate_tokens(iter(text.splitlines(keepends=True)).__next__):
            if token.type == tokenize.OP:
                if token.string in "([{":
                    depth += 1
                    deepest = max(deepest, depth)
                elif token.string in ")]}" and depth:
                    depth -= 1
    except (tokenize.TokenError, SyntaxError, StopIteration):
        pass
    return deepest


def _deepest_line(text: str) -> int:
    depth = deepest = 0
    line = best = 1
    for char in text:
        if char == "\n":
            line += 1
        elif char in "([{":
            depth += 1
            if depth > deepest:
                deepest, best = depth, line
        elif char in ")]}" and depth:
            depth -= 1
    return best


def _naive_depth(text: str) -> int:
    """Deepest bracket nesting counting every bracket character (string contents included)."""
    steps = map(_BRACKET_STEP.__getitem__, _BRACKETS.findall(text))
    return max(0, max(itertools.accumulate(steps), default=0))


def cpython_syntax_error(text: str) -> tuple[str, int, int] | None:
    """CPython's parser on the source: (message, line, column) of its error, or None."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(text, "<source>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as exc:
        return exc.msg, exc.lineno or 1, exc.offset or 1
    except (RecursionError, MemoryError, ValueError):
        return "the file nests too deeply for the parser", 1, 1
    return None


def syntax_error(text: str) -> tuple[str, int, int] | None:
    """Whether a file that no rule needs parsed is broken: (message, line, column), or None.

    CPython's parser answers fast and says it more clearly; LibCST, the parser the
    rules use, has the last word, since it knows syntax newer than the interpreter.
    """
    verdict = cpython_syntax_error(text)
    if verdict is None:
        return None
    import libcst as cst

    try:
        cst.parse_module(text)
    except cst.ParserSyntaxError:
        return verdict
    except RecursionError:
        return "the file nests too deeply for the parser", 1, 1
    return None


def _rules_for(codes: frozenset[str]):
    from actlint.checks import all_rules

    rules = all_rules()
    return [rules[c] for c in sorted(codes) if c in rules and c not in ENGINE_CODES]


def _noqa_table(text: str, codes: frozenset[str]) -> dict | None:
    """The file's noqa table when ACT100 runs and a comment names a code it judges, else None."""
    if "ACT100" not in codes or "noqa" not in text.lower():
        return None
    from actlint.noqa import ALL, suppressions

    table = suppressions(text)
    judged = {rule.code for rule in _rules_for(codes)}
    if any(codes_ is not ALL and codes_ & judged for codes_ in table.values()):
        return table
    return None


def _unused_noqa(text: str, path: str, codes: frozenset[str], table: dict | None, used=frozenset(),
                 errored=frozenset(), keep=frozenset()) -> list[Finding]:
    """ACT100 findings of a file that was analysed (``table`` from :func:`_noqa_table`): ``used`` holds the
    (key, code) noqa entries that suppressed a finding, ``errored`` the rules that failed here (not judged)."""
    if table is None:
        return []
    from actlint.unused_noqa import unused_findings

    judged = frozenset(rule.code for rule in _rules_for(codes)) - frozenset(errored)
    return unused_findings(text, path, table, judged, set(used), frozenset(keep))


@contextmanager
def collector_paused():
    """Python's cyclic garbage collector off while one file is analysed.

    Parsing builds hundreds of thousands of objects that all stay alive until the file is done, so the
    collector's passes find nothing to free and cost a fifth of the run; the little cyclic garbage one
    file leaves is collected once it is back on."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def lint_text(text: str, path: str, config: Config, codes: frozenset[str], notebook=None,
              keep_noqa=frozenset()) -> FileResult:
    """Lint source text already read; ``codes`` are the rules enabled for this file.  ``notebook`` maps a
    line of a notebook's joined program to (cell, line in cell), for the places messages name.
    ``keep_noqa``: (line, code) of noqa comments another file's finding needs at its home (not ACT100)."""
    with collector_paused():
        return _lint_text(text, path, config, codes, notebook, keep_noqa)


def _lint_text(text: str, path: str, config: Config, codes: frozenset[str], notebook,
               keep_noqa=frozenset()) -> FileResult:
    result = FileResult(path)
    table = _noqa_table(text, codes)
    if not any(tok in text for tok in FRAMEWORK_TOKENS):
        if table is not None and cpython_syntax_error(text) is None:  # no rule can find anything here
            result.findings = _unused_noqa(text, path, codes, table, keep=keep_noqa)
        return result
    depth = max_bracket_depth(text)
    if depth > MAX_NESTING:
        if "ACT000" in codes:
            line = _deepest_line(text)
            result.findings.append(_unreadable(
                path, f"not analysed: brackets nest {depth} deep (actlint's limit is {MAX_NESTING})", line))
        return result
    rules = [rule for rule in _rules_for(codes) if rule.could_fire(text)]
    if not rules:
        # no rule can fire here, so skip the expensive parse; still say when the file is broken
        error = syntax_error(text) if "ACT000" in codes or table is not None else None
        if error is not None and "ACT000" in codes:
            result.findings.append(_unreadable(path, f"syntax error: {error[0]}", error[1], error[2]))
        if error is None:
            result.findings = _unused_noqa(text, path, codes, table, keep=keep_noqa)
        return result
    if QUICK_PASS and table is None:  # with ACT100 on, a file whose noqa comments it judges takes the full pass
        quick = _quick_pass(text, path, config, rules, notebook)
        if quick is not None:
            return quick
    import libcst as cst

    from actlint.checks import FileContext
    from actlint.index import FileIndex
    from actlint.noqa import suppressing, suppressions
    from actlint.parse import parse_module
    from actlint.project import Project

    try:
        module = parse_module(text)
    except cst.ParserSyntaxError as exc:
        if "ACT000" in codes:
            message, line, column = cpython_syntax_error(text) or (
                str(exc).strip().splitlines()[0], exc.raw_line, exc.raw_column + 1)
            result.findings.append(_unreadable(path, f"syntax error: {message}", line, column))
        return result
    except RecursionError:
        if "ACT000" in codes:
            result.findings.append(_unreadable(path, "not analysed: the file nests too deeply for the parser"))
        return result
    result.parsed = True
    index = FileIndex(module)
    project = Project.for_file(path)
    ctx = FileContext(path=path, text=text, index=index, options=config.options_for(), project=project,
                      notebook=notebook)
    noqa = suppressions(text) if table is None else table
    used: set[tuple[int, str]] = set()  # (line or FILE, code) of the noqa entries that suppressed a finding
    home_noqa: set[tuple[str, int, str]] = set()
    for rule_class in rules:
        try:
            for finding in rule_class(ctx).check():
                if finding is None:
                    continue
                here, home = suppressing(finding.code, finding.line, noqa), _suppressed_at_home(finding, ctx)
                if here or home:
                    used.update(here)
                    home_noqa.update(home)
                else:
                    result.findings.append(finding)
        except RecursionError:
            result.errors.append(InternalError(path, rule_class.code, "the file nests too deeply to analyse"))
        except Exception as exc:  # a rule bug must not lose the other files' results
            result.errors.append(InternalError(path, rule_class.code, f"{type(exc).__name__}: {exc}"))
    ctx.release()
    result.findings += _unused_noqa(text, path, codes, table, used, {e.rule for e in result.errors}, keep_noqa)
    result.home_noqa = sorted(home_noqa)
    if project is not None:
        result.read = dict(project.read)
    result.findings.sort(key=lambda f: f.sort_key)
    return result


def _quick_pass(text: str, path: str, config: Config, rules: list, notebook) -> FileResult | None:
    """The rules run over a quick tree (:mod:`actlint.skeleton`): the file's result when they find nothing,
    None when the full pass must run (a finding, which LibCST's tree places and fixes; a rule error; a file
    or construct the quick tree does not read).  Suppressions are not consulted: a suppressed finding
    still sends the file to the full pass, which reports exactly what it always did."""
    from actlint.checks import FileContext
    from actlint.index import quick_index
    from actlint.project import Project

    index = quick_index(text)
    if index is None:
        return None
    project = Project.for_file(path, quick=True)
    ctx = FileContext(path=path, text=text, index=index, options=config.options_for(), project=project,
                      notebook=notebook)
    try:
        for rule_class in rules:
            try:
                if any(finding is not None for finding in rule_class(ctx).check()):
                    return None
            except Exception:  # noqa: BLE001 - whatever went wrong, the full pass reports it as it always has
                return None
    finally:
        ctx.release()
    result = FileResult(path, parsed=True)
    if project is not None:
        result.read = dict(project.read)
    return result


def _suppressed_at_home(finding: Finding, ctx) -> list[tuple[str, int, str]]:
    """The ``# noqa`` comments at its home (the line a run that lints both files reports it at) that suppress
    a finding placed here from an imported module, as (path, line of the comment, code); empty when none do."""
    if finding.home is None:
        return []
    from actlint.noqa import FILE, file_directive_lines, suppressing, suppressions

    tables = ctx.cached("home noqa", lambda ctx: {})
    path = finding.home["path"]
    if path not in tables:
        index = next((index for shown, index in ctx.other_modules() if shown == path), None)
        code = index.module.code if index is not None else ""
        tables[path] = (suppressions(code), file_directive_lines(code) if "actlint" in code else {})
    table, file_lines = tables[path]
    out = []
    for key, code in suppressing(finding.code, finding.home["line"], table):
        out.extend((path, line, code) for line in (file_lines.get(code, ()) if key == FILE else (key,)))
    return out


def display_path(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def lint_file(path: Path, config: Config) -> FileResult:
    shown = display_path(path)
    relpath = _relative_to_root(path, config)
    report_unreadable = config.allows("ACT000", relpath)
    try:
        size = path.stat().st_size
        if size > config.max_file_bytes:
            result = FileResult(shown)
            result.notices.append(
                f"{shown}: skipped: {size / 1e6:.1f} MB is over the {config.max_file_bytes / 1e6:.1f} MB "
                f"limit (max-file-size)")
            return result
        data = path.read_bytes()
    except OSError as exc:
        result = FileResult(shown)
        if report_unreadable:
            result.findings.append(_unreadable(shown, f"cannot read: {exc.strerror or exc}"))
        return result
    try:
        text = decode(data)
    except DecodeError as exc:
        result = FileResult(shown)
        if report_unreadable:
            result.findings.append(_unreadable(shown, str(exc), exc.line, exc.column))
        return result
    return _lint_decoded(text, path, shown, config, path.suffix == ".ipynb")


def lint_source(text: str, path: Path, config: Config, shown: str | None = None,
                notebook: bool | None = None) -> FileResult:
    """Lint text that is not read from disk (an editor's unsaved buffer, stdin) as the file at ``path`` would
    be linted: the codes its configuration enables there (``select``, ``ignore``, ``per-file-ignores``), a
    notebook's JSON when ``notebook`` (by default: ``path`` ends in ``.ipynb``), and the size and time limits.
    ``shown`` is the path findings name (by default ``path`` as :func:`display_path` gives it)."""
    shown = display_path(path) if shown is None else shown
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > config.max_file_bytes:
        result = FileResult(shown)
        result.notices.append(f"{shown}: skipped: {size / 1e6:.1f} MB is over the "
                              f"{config.max_file_bytes / 1e6:.1f} MB limit (max-file-size)")
        return result
    return _lint_decoded(text, path, shown, config, path.suffix == ".ipynb" if notebook is None else notebook)


def _lint_decoded(text: str, path: Path, shown: str, config: Config, notebook: bool) -> FileResult:
    relpath = _relative_to_root(path, config)
    if not any(tok in text for tok in FRAMEWORK_TOKENS) and not notebook \
            and not ("noqa" in text.lower() and config.allows("ACT100", relpath, default=False)):
        return FileResult(shown)  # (a noqa comment here may be unused, ACT100: lint_text says)
    from actlint.checks import all_rules

    codes = config.enabled_codes(relpath, all_rules())
    try:
        with time_budget(config.max_file_seconds):
            if notebook:
                return lint_notebook(text, shown, config, codes)
            return lint_text(text, shown, config, codes)
    except OutOfTime:
        result = FileResult(shown, cacheable=False)  # another machine, or a quieter moment, may finish it
        result.notices.append(f"{shown}: skipped: linting took over {config.max_file_seconds:g} s "
                              f"(max-file-seconds)")
        return result


def _cell_parse_error(source: str) -> str | None:
    """``line:column:reason`` of a cell that does not parse (CPython's words and place where it agrees that
    the cell is broken: LibCST's own say little), or None."""
    import libcst as cst

    try:
        cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        cpython = cpython_syntax_error(source)
        if cpython is not None:
            message, line, column = cpython
            return f"{line}:{column}:{message}"
        return f"{exc.raw_line}:{exc.raw_column + 1}:{str(exc).strip().splitlines()[0]}"
    except RecursionError:
        return "1:1:nests too deeply for the parser"
    return None


def read_notebook_program(text: str):
    """The notebook and its joined program; cells that do not parse are blanked (and carry their error)."""
    import libcst as cst

    from actlint.notebook import read_notebook

    notebook = read_notebook(text)
    try:
        cst.parse_module(notebook.program)
    except (cst.ParserSyntaxError, RecursionError):
        notebook = read_notebook(text, parses=_cell_parse_error)
    return notebook


def lint_notebook(text: str, shown: str, config: Config, codes: frozenset[str]) -> FileResult:
    """Lint a notebook's code cells as one program; positions are given per cell."""
    from dataclasses import replace

    from actlint.findings import Edit, Fix
    from actlint.notebook import NotebookError

    try:
        notebook = read_notebook_program(text)
    except NotebookError as exc:
        result = FileResult(shown)
        if "ACT000" in codes:
            result.findings.append(_unreadable(shown, str(exc)))
        return result
    result = lint_text(notebook.program, shown, config, codes, notebook=notebook.locate)

    def cell_edit(edit: Edit) -> Edit:
        _, line = notebook.locate(edit.line)
        _, end_line = notebook.locate(edit.end_line)
        return replace(edit, line=line, end_line=end_line)

    mapped = []
    for finding in result.findings:
        cell, line = notebook.locate(finding.line)
        _, end_line = notebook.locate(finding.end_line)
        fix = finding.fix and Fix(finding.fix.message, tuple(cell_edit(e) for e in finding.fix.edits), finding.fix.safe)
        mapped.append(replace(finding, line=line, end_line=end_line, cell=cell, fix=fix))
    for cell in notebook.cells:
        if cell.error is not None and "ACT000" in codes:
            line, column, message = cell.error.split(":", 2)
            mapped.append(replace(_unreadable(shown, f"syntax error: {message}", int(line), int(column)),
                                  cell=cell.number))
    result.findings = sorted(mapped, key=lambda f: f.sort_key)
    return result


def _relative_to_root(path: Path, config: Config) -> str:
    try:
        return path.resolve().relative_to(config.root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _lint_one(path: Path, config: Config) -> FileResult:
    try:
        return lint_file(path, config)
    except RecursionError:
        result = FileResult(display_path(path))
        result.errors.append(InternalError(result.path, "engine", "the file nests too deeply to analyse"))
        return result
    except Exception as exc:  # an engine bug on one file must not lose the other files' results
        result = FileResult(display_path(path))
        result.errors.append(InternalError(result.path, "engine", f"{type(exc).__name__}: {exc}"))
        return result


def _lint_batch(args: tuple[list[Path], Config]) -> list[FileResult]:
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 5000))
    paths, config = args
    return [_lint_one(p, config) for p in paths]


def _worker_init() -> None:
    """Workers leave Ctrl-C to the parent, which stops the pool (no traceback from every worker)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the pool ends its workers with SIGTERM: no traceback then


def lint_paths(files: list[Path], config: Config, jobs: int | None = None, cache=None,
               importers: bool = False) -> Report:
    """Lint many files, from the cache where it has them and in parallel where it pays.

    With ``importers``, the project's files that import a linted one are linted as well, and what they
    find at home in a linted file is reported there (:mod:`actlint.importers`); nothing else of theirs is.
    Results come back in input order whatever the job count.
    """
    results = _lint_cached(files, config, jobs, cache)
    extra: list[FileResult] = []
    if importers:
        from actlint.importers import find_importers

        found = find_importers(files, config, None if cache is None else cache.folder / "importers.json")
        if found:
            linted = {os.path.abspath(r.path) for r in results}
            extra = _lint_cached(found, config, jobs, cache)
            for result in extra:
                result.findings = [f for f in result.findings
                                   if f.home is not None and os.path.abspath(f.home["path"]) in linted]
                result.errors, result.notices = [], []
    # a noqa that suppressed another file's finding at its home here is used, whatever this file found
    used = {(os.path.abspath(path), line, code) for r in results + extra for path, line, code in r.home_noqa}
    if used:
        from actlint.unused_noqa import drop_used_elsewhere

        for result in results:
            result.findings = drop_used_elsewhere(result.findings, result.path, used)
    return Report(place_at_home(results + extra)[:len(results)], used)


def _lint_cached(files: list[Path], config: Config, jobs: int | None, cache) -> list[FileResult]:
    results: list[FileResult | None] = [None] * len(files)
    todo: list[int] = []
    keys: dict[int, str] = {}
    if cache is not None:
        for i, path in enumerate(files):
            try:
                data = path.read_bytes() if path.stat().st_size <= config.max_file_bytes else None
            except OSError:
                data = None
            if data is None:
                todo.append(i)
                continue
            shown = display_path(path)
            keys[i] = cache.key(data, shown, config.fingerprint())
            hit = cache.get(keys[i])
            if hit is None or not unchanged(hit[2]):  # a local module it read has changed since
                todo.append(i)
            else:
                results[i] = FileResult(shown, hit[0], [], hit[1], read=hit[2], home_noqa=hit[3])
    else:
        todo = list(range(len(files)))
    for i, result in zip(todo, _lint_many([files[i] for i in todo], config, jobs)):
        results[i] = result
        if cache is not None and i in keys and not result.errors and result.cacheable:
            cache.put(keys[i], result.findings, result.notices, result.read, result.home_noqa)
    return [r for r in results if r is not None]


def place_at_home(results: list[FileResult]) -> list[FileResult]:
    """A finding placed in an importing file moves to its home in an imported module that is linted too
    (the softmax in ``network.py``, not the loss call in ``train.py``); a finding reported from several
    files is kept once."""
    by_file = {os.path.abspath(r.path): r for r in results}
    for result in results:
        kept = []
        for finding in result.findings:
            home = finding.home and by_file.get(os.path.abspath(finding.home["path"]))
            if home is None:
                kept.append(finding)
                continue
            spot = {k: finding.home[k] for k in ("line", "column", "end_line", "end_column", "message")}
            home.findings.append(replace(finding, path=home.path, fix=None, home=None, **spot,
                                         related=tuple(finding.home.get("related", ()))))
        result.findings = kept
    for result in results:
        seen, unique = set(), []
        for finding in sorted(result.findings, key=lambda f: f.sort_key):
            where = (finding.code, finding.cell, finding.line, finding.column)
            if where not in seen:
                seen.add(where)
                unique.append(finding)
        result.findings = unique
    return results


def _lint_many(files: list[Path], config: Config, jobs: int | None):
    jobs = jobs or os.cpu_count() or 1
    if jobs <= 1 or len(files) < 8:
        return _lint_batch((files, config))
    size = max(1, min(8, len(files) // (jobs * 8)))
    batches = [files[i:i + size] for i in range(0, len(files), size)]
    done: dict[int, list[FileResult]] = {}
    with terminate_as_interrupt():  # workers shut down, none left behind
        pool = ProcessPoolExecutor(max_workers=jobs, initializer=_worker_init)
        try:
            # the biggest batches first, so no worker is left with a large file at the end
            order = sorted(range(len(batches)), key=lambda n: -_bytes(batches[n]))
            futures = {pool.submit(_lint_batch, (batches[n], config)): n for n in order}
            for future in as_completed(futures):
                try:
                    done[futures[future]] = future.result()
                except BrokenProcessPool:
                    pass  # a worker died: its batch and the ones still queued are redone below
        finally:
            # on Ctrl-C or SIGTERM the queued batches are dropped, not run to the end
            pool.shutdown(wait=True, cancel_futures=True)
        lost = [path for n, batch in enumerate(batches) if n not in done for path in batch]
        redone = iter(_lint_isolated(lost, config) if lost else [])
    out: list[FileResult] = []
    for n, batch in enumerate(batches):
        out.extend(done[n] if n in done else (next(redone) for _ in batch))
    return out


def _bytes(paths: list[Path]) -> int:
    total = 0
    for path in paths:
        try:
            total += path.stat().st_size
        except OSError:
            pass
    return total


def _lint_isolated(files: list[Path], config: Config) -> list[FileResult]:
    """Lint files one at a time in a worker after one died, so a file that kills its worker is named."""
    out: list[FileResult] = []
    pool = None
    try:
        for path in files:
            if pool is None:
                pool = ProcessPoolExecutor(max_workers=1, initializer=_worker_init)
            try:
                out.extend(pool.submit(_lint_batch, ([path], config)).result())
            except BrokenProcessPool:
                pool.shutdown(wait=True)
                pool = None
                result = FileResult(display_path(path))
                result.errors.append(InternalError(
                    result.path, "engine", "the worker process linting this file died (crashed or was killed)"))
                out.append(result)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return out


def fix_file(path: Path, config: Config, unsafe: bool, write: bool, keep_noqa=frozenset()):
    """Fix one file in place (or only compute the fix when ``write`` is false).  ``keep_noqa``: (line, code)
    of its noqa comments that other files' findings need at their home here (ACT100 leaves them)."""
    from actlint.fixes import FixOutcome, source_encoding, write_fixed

    shown = display_path(path)
    try:
        data = path.read_bytes()
        text = decode(data)
        encoding, bom = source_encoding(data)
    except (OSError, ValueError, SyntaxError):
        return FixOutcome(shown, "", "")  # reported by the lint pass as ACT000
    notebook = path.suffix == ".ipynb"
    outcome = fix_source(text, path, config, unsafe, shown, keep_noqa=keep_noqa)
    if write and outcome.changed:
        try:
            write_fixed(path, outcome.fixed, *(("utf-8", False) if notebook else (encoding, bom)), original=data)
        except (OSError, UnicodeEncodeError) as exc:
            outcome.problems.append(f"{shown}: fixes not written: {exc}")
    return outcome


def fix_source(text: str, path: Path, config: Config, unsafe: bool, shown: str | None = None,
               notebook: bool | None = None, keep_noqa=frozenset()):
    """The fixes of a source text (or a notebook's JSON) as the file at ``path`` would get them: a
    :class:`~actlint.fixes.FixOutcome` whose ``fixed`` is the whole new text.  Nothing is written."""
    from actlint.checks import all_rules
    from actlint.fixes import FixOutcome, fix_text

    shown = display_path(path) if shown is None else shown
    codes = config.enabled_codes(_relative_to_root(path, config), all_rules())
    if not (path.suffix == ".ipynb" if notebook is None else notebook):
        return fix_text(text, shown, lambda t: lint_text(t, shown, config, codes, keep_noqa=keep_noqa).findings,
                        unsafe)
    from actlint.notebook import NotebookError, write_back

    # the joined program is fixed, then only the changed cells' sources are rewritten in the JSON
    try:
        book = read_notebook_program(text)
    except NotebookError:
        return FixOutcome(shown, text, text)
    program = fix_text(book.program, shown, lambda t: lint_text(t, shown, config, codes).findings, unsafe)
    return FixOutcome(shown, text, write_back(book, program.fixed) if program.changed else text,
                      program.applied, program.problems)


def fix_paths(files: list[Path], config: Config, unsafe: bool, write: bool, jobs: int | None = None):
    """Fix each file.  With ACT100 on, the files and their importers are linted first: a noqa comment that
    suppresses, at its home, a finding another file reports is used, though the file alone cannot see it."""
    used: set[tuple[str, int, str]] = set()
    if any(config.allows("ACT100", _relative_to_root(p, config), default=False) for p in files):
        used = lint_paths(files, config, jobs=jobs, importers=True).noqa_used_elsewhere
    return [fix_file(p, config, unsafe, write,
                     frozenset((line, code) for where, line, code in used if where == os.path.abspath(p)))
            for p in files]

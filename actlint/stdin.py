"""``actlint --stdin-filename PATH``: lint (or fix) the source read from stdin as if it were the file at PATH.

PATH chooses the configuration (the nearest pyproject.toml above it), the codes its ``per-file-ignores``
leave, whether the text is a notebook's JSON (``.ipynb``), and the path the findings name; the file itself
is never read or written, and need not exist.  Editors and formatters' pipelines pass an unsaved buffer
this way.  With ``--fix`` the fixed source goes to stdout and the findings left to stderr (as ruff does);
``--diff`` prints the fixes as a diff.  The exit status is the plain command's.
"""

from __future__ import annotations

import sys

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def lint_stdin(args, config) -> int:
    from actlint.discover import named_file_excluded
    from actlint.engine import DecodeError, _unreadable, decode, fix_source, lint_source
    from actlint.fixes import source_encoding

    path = args.stdin_filename
    shown = str(path)
    data = sys.stdin.buffer.read()
    if config.force_exclude and named_file_excluded(path, config):
        if args.fix:
            _write_bytes(data)  # an excluded file passes through unchanged
        return EXIT_CLEAN
    try:
        text = decode(data)
        encoding, bom = source_encoding(data)
    except (DecodeError, SyntaxError) as exc:
        if args.fix:
            _write_bytes(data)
        findings = []
        if config.allows("ACT000", _relative(path, config)):
            findings.append(_unreadable(shown, str(exc), getattr(exc, "line", 1), getattr(exc, "column", 1)))
        return _report(args, findings, [], [], text=None, shown=shown, stream=sys.stderr if args.fix else sys.stdout)

    problems: list[str] = []
    if args.fix or args.diff:
        outcome = fix_source(text, path, config, unsafe=args.unsafe_fixes, shown=shown)
        problems = list(outcome.problems)
        if args.diff:
            sys.stdout.write(outcome.diff() if outcome.changed else "")
            for problem in problems:
                print(f"actlint: {problem}", file=sys.stderr)
            return EXIT_FINDINGS if outcome.changed and not args.exit_zero else EXIT_CLEAN
        fixed = data  # unchanged, byte for byte
        if outcome.changed:
            try:
                fixed = (b"\xef\xbb\xbf" if bom else b"") + outcome.fixed.encode(encoding)
            except UnicodeEncodeError as exc:
                problems.append(f"{shown}: fixes not applied: {exc}")
                outcome.fixed, outcome.applied = text, []
        _write_bytes(fixed)
        if outcome.applied:
            if args.show_fixes:
                for finding in outcome.applied:
                    kind = "safe" if finding.fix.safe else "unsafe"
                    print(f"actlint: fixed {finding.where}: {finding.code} ({kind}) {finding.fix.message}",
                          file=sys.stderr)
            count = len(outcome.applied)
            print(f"actlint: fixed {count} finding{'s' * (count != 1)} in 1 file", file=sys.stderr)
        text = outcome.fixed
    result = lint_source(text, path, config, shown=shown)
    return _report(args, result.findings, result.notices, [*map(str, result.errors), *problems], text=text,
                   shown=shown, stream=sys.stderr if args.fix else sys.stdout, errors=bool(result.errors))


def _report(args, findings, notices, problems, text, shown, stream, errors: bool = False) -> int:
    from contextlib import nullcontext

    from actlint.cli import render_report
    from actlint.output.frames import given_source

    with given_source(shown, text) if text is not None else nullcontext():
        rendered = render_report(args, findings, stream)
    if args.output:
        from actlint.atomic import write_text_atomic

        write_text_atomic(args.output, rendered)
    else:
        stream.write(rendered)
        stream.flush()
    for line in [*notices, *problems]:
        print(f"actlint: {line}", file=sys.stderr)
    if errors:
        return EXIT_ERROR
    return EXIT_FINDINGS if findings and not args.exit_zero else EXIT_CLEAN


def _relative(path, config) -> str:
    from actlint.engine import _relative_to_root

    return _relative_to_root(path, config)


def _write_bytes(data: bytes) -> None:
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.flush()

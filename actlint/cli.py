"""The ``actlint`` command: arguments, exit codes, ``actlint rule`` and the ``actlint server`` entry."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from actlint import __version__
from actlint.interrupt import terminate_as_interrupt

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
FORMATS = ("text", "concise", "grouped", "json", "sarif", "github", "gitlab", "junit")
PLAIN_TEXT = ("text", "concise", "grouped")  # --statistics prints its table in these


def _codes(value: str) -> tuple[str, ...]:
    return tuple(c.strip().upper() for c in value.split(",") if c.strip())


def _lint_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="actlint",
        description="Find activation, loss and initialisation mistakes in PyTorch and Keras model code. "
                    "Plain linting reads source only: it never imports or runs your code.",
        epilog="Rule pages: 'actlint rule CODE', or 'actlint rule --all' for the table. "
               "Editors: 'actlint server' (a language server; extra: lsp). "
               "Exit status: 0 clean, 1 findings, 2 usage or internal error.",
    )
    parser.add_argument("paths", nargs="*", help="files or folders (default: the current folder)")
    parser.add_argument("--select", type=_codes, help="comma-separated codes or prefixes to run (e.g. ACT1,ACT104)")
    parser.add_argument("--extend-select", type=_codes, help="codes to run in addition to the configured ones")
    parser.add_argument("--ignore", type=_codes, help="comma-separated codes or prefixes to skip")
    parser.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    parser.add_argument("--exit-zero", action="store_true", help="exit 0 even when there are findings")
    parser.add_argument("--config", type=Path, help="pyproject.toml to read instead of the nearest one")
    parser.add_argument("--no-gitignore", action="store_true", help="lint files that .gitignore excludes")
    parser.add_argument("--force-exclude", action="store_true", default=None,
                        help="apply exclude, extend-exclude and .gitignore to files named on the command line too "
                             "(the pre-commit hook passes it, since it names every staged file)")
    parser.add_argument("--jobs", "-j", type=int, default=None, help="worker processes (default: all cores)")
    parser.add_argument("--no-cache", action="store_true", help="lint every file, neither reading nor writing the cache")
    parser.add_argument("--cache-dir", type=Path, help="cache folder (default: .actlint_cache beside pyproject.toml)")
    parser.add_argument("--output", "-o", type=Path, help="write the report to this file instead of stdout")
    parser.add_argument("--fix", action="store_true", help="apply safe fixes in place (atomically), then report the rest")
    parser.add_argument("--unsafe-fixes", action="store_true",
                        help="with --fix or --diff, also apply fixes that may change behaviour")
    parser.add_argument("--diff", action="store_true", help="print the fixes as a unified diff; write nothing")
    parser.add_argument("--show-fixes", action="store_true",
                        help="in the text format, say under each fixable finding what its fix does and whether it "
                             "is safe; with --fix, list the fixes applied")
    parser.add_argument("--show-source", action=argparse.BooleanOptionalAction, default=None,
                        help="in the text format, show each finding's code with a caret under it, and the other "
                             "end of the mistake (the loss call, the layer an init feeds) (default: on when "
                             "writing to a terminal; colour only there, never under NO_COLOR)")
    parser.add_argument("--statistics", action="store_true",
                        help="print a count per rule code instead of the findings "
                             "(text, concise, grouped or json format)")
    parser.add_argument("--add-noqa", action="store_true",
                        help="add '# noqa: ACTnnn' to every line with findings (merged into existing noqa "
                             "comments), so a codebase adopts actlint with a clean run; written atomically")
    verify = parser.add_argument_group("runtime verification (needs the 'verify' extra: torch, keras, matplotlib)")
    verify.add_argument("--verify", action="store_true",
                        help="build each model in a child process, run it on synthetic data and give every finding "
                             "a verdict (confirmed / refuted / inconclusive) with the numbers")
    verify.add_argument("--device", help="device for --verify (default: cuda when available, else cpu)")
    verify.add_argument("--timeout", type=float, help="seconds each model may take under --verify (default: 60)")
    verify.add_argument("--report", type=Path, metavar="DIR",
                        help="with --verify, write report.json, index.html and plots into DIR (implies --verify)")
    verify.add_argument("--strict", action="store_true", help="with --verify, an inconclusive verdict also fails the run")
    parser.add_argument("--stdin-filename", type=Path, metavar="PATH",
                        help="read the source from stdin and lint it as the file at PATH (its configuration, "
                             "per-file-ignores, a notebook if PATH ends in .ipynb); findings name PATH; with "
                             "--fix the fixed source goes to stdout and the findings left to stderr")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="print the traceback of any internal error (each is always named in one line)")
    parser.add_argument("--version", action="version", version=f"actlint {__version__}")
    return parser


def _rule_command(argv: list[str]) -> int:
    from actlint.checks import all_rules
    from actlint.pages import read_page
    from actlint.verify.judge.diagnostics import RUNTIME_RULES

    parser = argparse.ArgumentParser(prog="actlint rule", description="Print a rule's page.")
    parser.add_argument("code", nargs="?", help="a rule code such as ACT104, or a rule name")
    parser.add_argument("--all", action="store_true",
                        help="a table of every rule (the ACT9xx runtime diagnostics come from --verify)")
    args = parser.parse_args(argv)
    names = {code: (rule.name, rule.summary) for code, rule in all_rules().items()}
    names.update(RUNTIME_RULES)
    if args.all or not args.code:
        fixes = {code: rule.fixes or "-" for code, rule in all_rules().items()}
        width = max(len(name) for name, _ in names.values())
        print(f"{'code':<6}  {'name':<{width}}  {'fix':<6}  summary")
        for code, (name, summary) in names.items():
            print(f"{code}  {name:<{width}}  {fixes.get(code, '-'):<6}  {summary}")
        return EXIT_CLEAN
    wanted = args.code.strip()
    code = next((c for c, (name, _) in names.items() if c == wanted.upper() or name == wanted), None)
    if code is None:
        print(f"actlint: unknown rule {wanted!r}; 'actlint rule --all' lists them", file=sys.stderr)
        return EXIT_ERROR
    page = read_page(code)
    if page is None:
        print(f"actlint: rule {code} has no page installed", file=sys.stderr)
        return EXIT_ERROR
    sys.stdout.write(page if page.endswith("\n") else page + "\n")
    return EXIT_CLEAN


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        with terminate_as_interrupt():
            if argv and argv[0] == "rule":
                return _rule_command(argv[1:])
            if argv and argv[0] == "run":
                from actlint.run_command import run_command

                return run_command(argv[1:])
            if argv and argv[0] == "server":
                return _server_command(argv[1:])
            return _lint_command(argv)
    except KeyboardInterrupt:
        print("actlint: interrupted", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        return EXIT_ERROR


def _server_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="actlint server",
        description="Run the language server over stdin and stdout: diagnostics as you type (Python files and "
                    "notebook documents), quick fixes, '# noqa' actions and rule pages on hover. "
                    "Needs pygls: pip install 'actlint[lsp]'.")
    parser.parse_args(argv)
    try:
        from actlint.server import serve
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in ("pygls", "lsprotocol"):
            raise
        print(f"actlint: the language server needs pygls ({exc.name} cannot be imported); "
              "install actlint[lsp]: pip install 'actlint[lsp]'", file=sys.stderr)
        return EXIT_ERROR
    return serve()


def _lint_command(argv: list[str]) -> int:
    parser = _lint_parser()
    args = parser.parse_args(argv)  # --version and --help end here, before anything heavy is imported

    if args.stdin_filename is not None and args.paths not in ([], ["-"]):
        parser.error("--stdin-filename reads the source from stdin: give no paths (or '-')")

    from actlint.codes import RULE_NAMES
    from actlint.config import ConfigError, load_project_config
    from actlint.discover import discover
    from actlint.engine import lint_paths
    paths = [str(args.stdin_filename)] if args.stdin_filename is not None else args.paths or ["."]
    try:
        config = load_project_config(Path(paths[0]), explicit=args.config)
    except ConfigError as exc:
        print(f"actlint: {exc}", file=sys.stderr)
        return EXIT_ERROR
    from actlint.config import unknown_option_codes

    problem = unknown_option_codes([("--select", args.select), ("--ignore", args.ignore),
                                    ("--extend-select", args.extend_select)], RULE_NAMES)
    if problem:
        print(f"actlint: {problem}", file=sys.stderr)
        return EXIT_ERROR
    config = config.with_overrides(
        select=args.select,
        extend_select=args.extend_select,
        # an explicit --select replaces the file's selection, its ignore list included
        ignore=(() if args.select else config.ignore) + (args.ignore or ()),
        respect_gitignore=False if args.no_gitignore else None,
        force_exclude=args.force_exclude,
    )
    if args.jobs is not None and args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if args.add_noqa and (args.fix or args.diff or args.verify or args.report or args.statistics):
        parser.error("--add-noqa cannot be combined with --fix, --diff, --verify, --report or --statistics")
    if args.statistics and args.format not in (*PLAIN_TEXT, "json"):
        parser.error("--statistics prints a table (text, concise, grouped) or json, not " + args.format)
    if args.unsafe_fixes and not (args.fix or args.diff):
        print("actlint: --unsafe-fixes applies nothing without --fix or --diff; "
              "the [*] marks and counts below include the unsafe fixes", file=sys.stderr)
    if args.stdin_filename is not None:
        if args.add_noqa or args.verify or args.report:
            parser.error("--stdin-filename cannot be combined with --add-noqa, --verify or --report")
        from actlint.stdin import lint_stdin

        return lint_stdin(args, config)

    found = discover(paths, config)
    for missing in found.missing:
        print(f"actlint: {missing}: no such file or folder", file=sys.stderr)
    fix_problems: list[str] = []
    if args.fix or args.diff:
        from actlint.engine import fix_paths

        outcomes = fix_paths(found.files, config, unsafe=args.unsafe_fixes, write=not args.diff, jobs=args.jobs)
        fix_problems = [p for o in outcomes for p in o.problems]
        if args.diff:
            diffs = [o.diff() for o in outcomes if o.changed]
            sys.stdout.write("".join(diffs))
            for problem in fix_problems:
                print(f"actlint: {problem}", file=sys.stderr)
            return EXIT_FINDINGS if diffs and not args.exit_zero else EXIT_CLEAN
        fixed = sum(len(o.applied) for o in outcomes)
        if fixed and args.show_fixes:
            for o in outcomes:
                for finding in o.applied:
                    kind = "safe" if finding.fix.safe else "unsafe"
                    print(f"actlint: fixed {finding.where}: {finding.code} ({kind}) {finding.fix.message}",
                          file=sys.stderr)
        if fixed:
            files = sum(1 for o in outcomes if o.changed)
            print(f"actlint: fixed {fixed} finding{'s' * (fixed != 1)} in {files} file{'s' * (files != 1)}",
                  file=sys.stderr)
    cache = None
    if not args.no_cache:
        from actlint.cache import Cache

        cache = Cache(args.cache_dir or config.root / ".actlint_cache", repr((config.options_for(), config.max_file_bytes)))
    linted = _stats(found.files) if args.add_noqa else {}
    report = lint_paths(found.files, config, jobs=args.jobs, cache=cache, importers=True)
    findings = report.findings
    if args.add_noqa:
        return _add_noqa(found, report, linted)
    outcome = None
    cannot_verify = None  # why --verify could not run at all: exit 2 once the static findings are out
    if args.verify or args.report:
        outcome = _verify(args, config, found.files, findings)
        if isinstance(outcome, int):
            return outcome
        if isinstance(outcome, str):
            cannot_verify, outcome = outcome, None
        else:
            findings = outcome.findings

    rendered = render_report(args, findings, sys.stdout)
    if outcome is not None and args.format in ("text", "grouped") and not args.statistics:
        rendered += _verify_summary(outcome)
    if args.output:
        from actlint.atomic import write_text_atomic
        write_text_atomic(args.output, rendered)
    else:
        sys.stdout.write(rendered)
    for notice in report.notices:
        print(f"actlint: {notice}", file=sys.stderr)
    for error in report.errors:
        print(f"actlint: {error}", file=sys.stderr)
    for problem in fix_problems:
        print(f"actlint: {problem}", file=sys.stderr)
    if not found.files and not found.missing and not found.excluded:
        print("actlint: no Python files found in " + ", ".join(paths), file=sys.stderr)

    if outcome is not None:
        if args.verbose:
            for note in outcome.notes:
                print(f"actlint: --verify: {note}", file=sys.stderr)
        for fault in outcome.faults:
            print(f"actlint: {fault.note()}" + ("" if args.verbose else " (--verbose shows the traceback)"),
                  file=sys.stderr)
            if args.verbose:
                sys.stderr.write(fault.traceback if fault.traceback.endswith("\n") else fault.traceback + "\n")

    if cannot_verify:
        print(f"actlint: --verify cannot run: {cannot_verify}; the findings above have no verdict", file=sys.stderr)
    if report.errors or found.missing or cannot_verify or (outcome is not None and (outcome.faults or outcome.report_failed)):
        return EXIT_ERROR
    if outcome is not None:
        unverified = any("verdict" not in f.extra for f in findings)
        failed = outcome.failed(args.strict) or unverified
        return EXIT_FINDINGS if failed and not args.exit_zero else EXIT_CLEAN
    if findings and not args.exit_zero:
        return EXIT_FINDINGS
    return EXIT_CLEAN


def render_report(args, findings, stream) -> str:
    """The report of ``findings`` in the format the arguments ask for; ``stream`` is where it goes when
    there is no ``--output`` (code frames and colour by default only on a terminal)."""
    from actlint.output import FORMATTERS

    if args.statistics:
        return _statistics(findings, args.format)
    if args.format == "text":
        from actlint.output import text

        terminal = args.output is None and stream.isatty()
        show = args.show_source if args.show_source is not None else terminal
        return text.render(findings, show_source=show, color=terminal and not os.environ.get("NO_COLOR"),
                           unsafe=args.unsafe_fixes, show_fixes=args.show_fixes)
    return FORMATTERS[args.format](findings)


def _statistics(findings, format: str) -> str:
    from actlint.output.text import counts, statistics

    if format == "json":
        import json

        return json.dumps([{"code": c, "name": name, "count": n} for c, name, n in counts(findings)], indent=2) + "\n"
    return statistics(findings)


def _stats(files: list[Path]) -> dict:
    """Each file's stat before linting: ``--add-noqa`` leaves a file that changed since alone."""
    from actlint.engine import display_path

    stats = {}
    for path in files:
        try:
            stats[display_path(path)] = (path, path.stat())
        except OSError:
            pass
    return stats


def _add_noqa(found, report, linted: dict) -> int:
    from actlint.add_noqa import add_noqa_file

    by_file: dict[str, list] = {}
    for finding in report.findings:
        by_file.setdefault(finding.path, []).append(finding)
    added = files = 0
    failed = left = False
    for shown, findings in by_file.items():
        path, stat = linted.get(shown, (Path(shown), None))
        outcome = add_noqa_file(path, findings, stat)
        for problem in outcome.problems:
            print(f"actlint: {problem}", file=sys.stderr)
            left = True
        if outcome.error is not None:
            print(f"actlint: {shown}: {outcome.error}", file=sys.stderr)
            failed = True
        added += outcome.added
        files += outcome.added > 0
    print(f"actlint: added noqa comments to {added} line{'s' * (added != 1)} in {files} file{'s' * (files != 1)}",
          file=sys.stderr)
    for notice in report.notices:
        print(f"actlint: {notice}", file=sys.stderr)
    for error in report.errors:
        print(f"actlint: {error}", file=sys.stderr)
    if failed or report.errors or found.missing:
        return EXIT_ERROR
    return EXIT_FINDINGS if left else EXIT_CLEAN


def _verify(args, config, files, findings):
    """Run the verifier; returns its outcome, an exit status for a bad setting, or why it cannot run here."""
    from actlint.config import ConfigError
    from actlint.verify.build.targets import Settings
    from actlint.verify.preflight import cannot_run
    from actlint.verify.session import verify, worker_count

    try:
        settings = Settings.from_config(config.verify)
    except ConfigError as exc:
        print(f"actlint: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if args.device:
        settings.device = args.device
    if args.timeout is not None:
        if args.timeout <= 0:
            print("actlint: --timeout must be positive", file=sys.stderr)
            return EXIT_ERROR
        settings.timeout = args.timeout
    problem = cannot_run(settings.device)
    if problem:
        return problem
    try:
        outcome = verify(findings, files, settings, config.root, workers=worker_count(args.jobs),
                         show_progress=args.format in ("text", "grouped"))
    except Exception as exc:  # noqa: BLE001 - per-file errors are contained inside; this is the last guard
        import traceback

        print(f"actlint: internal error in --verify: {type(exc).__name__}: {exc}"
              + ("" if args.verbose else " (--verbose shows the traceback)"), file=sys.stderr)
        if args.verbose:
            traceback.print_exc()
        return EXIT_ERROR
    if args.report:
        try:
            from actlint.verify.judge.report import write_report
        except ImportError as exc:  # pragma: no cover - matplotlib missing
            print(f"actlint: --report needs matplotlib ({exc}); pip install 'actlint[verify]'", file=sys.stderr)
            return EXIT_ERROR
        try:
            write_report(args.report, outcome, [f.to_dict() for f in outcome.findings])
        except Exception as exc:  # noqa: BLE001 - the verdicts are still printed; the status says it failed
            import traceback

            print(f"actlint: could not write the report to {args.report}: {type(exc).__name__}: {exc}",
                  file=sys.stderr)
            if args.verbose:
                traceback.print_exc()
            outcome.report_failed = True
        else:
            print(f"actlint: report written to {args.report / 'index.html'}", file=sys.stderr)
    return outcome


def _verify_summary(outcome) -> str:
    from actlint.verify.judge.report import summary_line

    return summary_line(outcome) + "\n"


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

"""``actlint run [options] -- COMMAND...``: verify the findings on the user's own training run.

The project (the current folder) is linted first, as ``actlint`` would; then the command runs
unchanged under the tracer, which captures every model it trains with its real batch, loss and
device, measures it for ``--steps`` steps and stops the command (``--continue`` lets it train on).
The findings of the files that defined a captured model, its loss, its init or its training step
are printed with their verdicts; the command's own output goes to stderr, so ``--format json``
stays parseable.  Exit status as ``--verify``: 1 on a confirmed finding or a runtime diagnostic
(``--strict``: also an inconclusive one), 0 otherwise; 2 when nothing could be verified (the
command trained no model, could not start, or actlint failed).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from actlint.cli import FORMATS

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="actlint run",
        description="Run your training command with actlint's tracer: every model it trains is captured with its "
                    "real batch, loss and device, measured for a few steps, and each static finding of the files "
                    "that define it gets a verdict from those numbers. The command is stopped after the steps.",
        epilog="Example: actlint run -- python train.py --lr 0.1   (exit: 0 nothing confirmed, 1 a finding "
               "confirmed or a runtime diagnostic, 2 nothing could be verified)")
    parser.add_argument("--steps", type=int, default=None, help="training steps to measure (default: 3)")
    parser.add_argument("--continue", dest="keep_going", action="store_true",
                        help="let the command train on after the steps (the report is written when it ends)")
    parser.add_argument("--format", choices=FORMATS, default="text")
    parser.add_argument("--output", type=Path, help="write the findings to this file instead of stdout")
    parser.add_argument("--report", type=Path, metavar="DIR", help="write report.json, index.html and plots into DIR")
    parser.add_argument("--device", choices=("cpu", "cuda"),
                        help="cpu hides the GPUs from the command; default: the device the script chooses")
    parser.add_argument("--timeout", type=float, help="seconds the command may run before it is stopped "
                                                      "(default: 300)")
    parser.add_argument("--strict", action="store_true", help="an inconclusive verdict also fails the run")
    parser.add_argument("--allow-network", action="store_true",
                        help="let the command use the network (datasets and weights download instead of stand-ins)")
    parser.add_argument("--config", type=Path, help="read this pyproject.toml instead of the nearest one")
    parser.add_argument("--select", help="only these codes or prefixes")
    parser.add_argument("--ignore", help="skip these codes or prefixes")
    parser.add_argument("--verbose", "-v", action="store_true", help="print tracebacks of internal errors")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    return parser


def run_command(argv: list[str]) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        parser.error("give the command to run after --, e.g. actlint run -- python train.py")
    if args.steps is not None and args.steps < 1:
        parser.error("--steps must be at least 1")
    if args.timeout is not None and args.timeout <= 0:
        parser.error("--timeout must be positive")

    from actlint.codes import RULE_NAMES
    from actlint.config import ConfigError, load_config
    from actlint.discover import discover
    from actlint.engine import lint_paths

    cwd = Path.cwd()
    try:
        config = load_config(cwd, explicit=args.config, rule_names=RULE_NAMES)
    except ConfigError as exc:
        print(f"actlint: {exc}", file=sys.stderr)
        return EXIT_ERROR
    codes = lambda v: tuple(c.strip().upper() for c in (v or "").split(",") if c.strip())  # noqa: E731
    from actlint.config import unknown_option_codes

    problem = unknown_option_codes([("--select", codes(args.select)), ("--ignore", codes(args.ignore))], RULE_NAMES)
    if problem:
        print(f"actlint: {problem}", file=sys.stderr)
        return EXIT_ERROR
    if args.device and args.device != "cpu":
        from actlint.verify.preflight import cannot_run

        problem = cannot_run(args.device)
        if problem:
            print(f"actlint run: {problem}; nothing was run", file=sys.stderr)
            return EXIT_ERROR
    config = config.with_overrides(select=codes(args.select) or None,
                                   ignore=(() if args.select else config.ignore) + codes(args.ignore))
    settings = _settings(config)
    if isinstance(settings, int):
        return settings
    steps = args.steps or settings.train_steps or 3
    timeout = args.timeout or 300.0
    from actlint.verify.traced_session import script_files

    named = sorted(os.path.relpath(f) for f in script_files(command, cwd))  # linted even where excluded
    found = discover(["."] + named, config)
    report = lint_paths(found.files, config, jobs=1 if len(found.files) < 8 else None, cache=None)
    for error in report.errors:
        print(f"actlint: {error}", file=sys.stderr)

    from actlint.verify.traced_session import verify_command

    try:
        outcome, rest, traced = verify_command(
            command, cwd, report.findings, project_root=config.root, steps=steps, timeout=timeout,
            allow_network=args.allow_network, keep_going=args.keep_going, device=args.device, stream=sys.stderr)
    except Exception as exc:  # noqa: BLE001 - the last guard: an actlint bug is exit 2, with its name
        import traceback

        print(f"actlint run: internal error: {type(exc).__name__}: {exc}"
              + ("" if args.verbose else " (--verbose shows the traceback)"), file=sys.stderr)
        if args.verbose:
            traceback.print_exc()
        return EXIT_ERROR
    findings = outcome.findings
    rendered = _render(findings, args)
    if args.format in ("text", "grouped"):
        rendered += run_summary(outcome, traced, len(rest)) + "\n"
    if args.output:
        from actlint.atomic import write_text_atomic

        write_text_atomic(args.output, rendered)
    else:
        sys.stdout.write(rendered)
    if traced.result.get("internal_traceback") and args.verbose:
        sys.stderr.write(traced.result["internal_traceback"])
    if args.report:
        status = _write_report(args, outcome, traced, command, rest)
        if status:
            return status
    if not traced.models:
        print(f"actlint run: nothing verified: {traced.reason()}", file=sys.stderr)
        return EXIT_ERROR
    if report.errors:
        return EXIT_ERROR
    failed = outcome.failed(args.strict)
    return EXIT_FINDINGS if failed else EXIT_CLEAN


def _settings(config):
    from actlint.config import ConfigError
    from actlint.verify.build.targets import Settings

    try:
        return Settings.from_config(config.verify)
    except ConfigError as exc:
        print(f"actlint: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _render(findings, args) -> str:
    from actlint.output import FORMATTERS

    if args.format == "text":
        from actlint.output import text

        terminal = args.output is None and sys.stdout.isatty()
        return text.render(findings, show_source=terminal, color=terminal and not os.environ.get("NO_COLOR"))
    return FORMATTERS[args.format](findings)


def run_summary(outcome, traced, omitted: int) -> str:
    """``run: 2 models captured (cpu) from python train.py; 3 confirmed, 1 refuted, 0 inconclusive; ...``."""
    from actlint.verify.judge.report import summary_counts

    c = summary_counts(outcome)
    n = len(traced.models)
    devices = f" ({', '.join(c['devices'])})" if c["devices"] else ""
    verdicts = ", ".join(f"{k_n} {k}" for k, k_n in c["verdicts"].items()
                         if k_n or k in ("confirmed", "refuted", "inconclusive"))
    parts = [f"run: {n} model{'s' * (n != 1)} captured{devices}", verdicts,
             f"{c['runtime_diagnostics']} runtime diagnostic{'s' * (c['runtime_diagnostics'] != 1)}"]
    if omitted:
        parts.append(f"{omitted} finding{'s' * (omitted != 1)} in files the run did not train from (not shown; "
                     f"'actlint' lists them)")
    subs = traced.result.get("substituted") or []
    if subs:
        parts.append("synthetic stand-in data for " + ", ".join(sorted({s.get("dataset", "?") for s in subs})))
    parts.append(f"{traced.wall_s:.1f} s")
    line = "; ".join(parts)
    if not n:
        line += f"\nrun: {traced.reason()}"
    return line


def run_info(traced, command: list[str], omitted: int) -> dict:
    """What report.json says of the run itself."""
    return {"command": command, "captured": [m.get("label") for m in traced.models],
            "reason": None if traced.models else traced.reason(), "exit": traced.exit_code,
            "timed_out": traced.timed_out, "wall_s": round(traced.wall_s, 3),
            "assumptions": traced.result.get("assumptions") or [], "substituted": traced.result.get("substituted"),
            "notes": traced.result.get("notes") or [], "omitted_findings": omitted}


def _write_report(args, outcome, traced, command, rest) -> int:
    try:
        from actlint.verify.judge.report import write_report
    except ImportError as exc:  # pragma: no cover - matplotlib missing
        print(f"actlint: --report needs matplotlib ({exc}); pip install 'actlint[verify]'", file=sys.stderr)
        return EXIT_ERROR
    try:
        write_report(args.report, outcome, [f.to_dict() for f in outcome.findings],
                     extra={"run": run_info(traced, command, len(rest))})
    except Exception as exc:  # noqa: BLE001
        print(f"actlint: could not write the report to {args.report}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    print(f"actlint: report written to {args.report / 'index.html'}", file=sys.stderr)
    return 0

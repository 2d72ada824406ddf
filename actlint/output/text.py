"""``path:line:col: CODE message``, the form editors and CI logs parse; optionally with code frames."""

from __future__ import annotations

from actlint.findings import Finding


def fixable(finding: Finding, unsafe: bool) -> bool:
    """Whether ``--fix`` (with ``--unsafe-fixes`` when ``unsafe``) would fix this finding."""
    return finding.fix is not None and (finding.fix.safe or unsafe)


def render(findings: list[Finding], show_source: bool = False, color: bool = False, unsafe: bool = False,
           show_fixes: bool = False) -> str:
    """One line per finding and a closing count; ``[*]`` marks what ``--fix`` would fix (the unsafe fixes
    too when ``unsafe``), and the count says how many.  ``show_source`` adds a code frame (and a blank
    line) under each, ``show_fixes`` the fix's description, ``color`` paints it for a terminal."""
    from actlint.output.frames import BOLD, RED, RESET, Sources, frame

    sources = Sources() if show_source else None
    lines = []
    for f in findings:
        mark = "[*] " if fixable(f, unsafe) else ""
        if color:
            lines.append(f"{BOLD}{f.where}{RESET}: {RED}{f.code}{RESET} {mark}{f.message}")
        else:
            lines.append(f"{f.where}: {f.code} {mark}{f.message}")
        if show_fixes and f.fix is not None:
            lines.append(f"    {'safe' if f.fix.safe else 'unsafe'} fix: {f.fix.message}")
        if sources is not None:
            shown = frame(f, sources, color)
            lines.extend(shown + [""] if shown else [])
    if findings:
        lines.append(summary(findings))
        lines.extend(fix_summary(findings, unsafe))
    return "\n".join(lines) + ("\n" if lines else "")


def summary(findings: list[Finding]) -> str:
    """``Found N findings in M files.``, the closing line of the text and grouped formats."""
    files = len({f.path for f in findings})
    return f"Found {len(findings)} finding{'s' * (len(findings) != 1)} in {files} file{'s' * (files != 1)}."


def fix_summary(findings: list[Finding], unsafe: bool) -> list[str]:
    """How many findings ``--fix`` would fix, and how many more ``--unsafe-fixes`` would (none: no line)."""
    ready = sum(fixable(f, unsafe) for f in findings)
    hidden = 0 if unsafe else sum(f.fix is not None and not f.fix.safe for f in findings)
    lines = []
    if ready:
        flag = "--fix --unsafe-fixes" if unsafe else "--fix"
        more = f" ({hidden} more with `--unsafe-fixes`)" if hidden else ""
        lines.append(f"[*] {ready} fixable with `actlint {flag}`{more}.")
    elif hidden:
        them = "them" if hidden != 1 else "it"
        lines.append(f"{hidden} fix{'es' * (hidden != 1)} may change behaviour: `--diff --unsafe-fixes` shows "
                     f"{them}, `--fix --unsafe-fixes` applies {them}.")
    return lines


def counts(findings: list[Finding]) -> list[tuple[str, str, int]]:
    """(code, rule name, count) per code, the most frequent first (then by code)."""
    tally: dict[tuple[str, str], int] = {}
    for f in findings:
        tally[f.code, f.name] = tally.get((f.code, f.name), 0) + 1
    return [(code, name, n) for (code, name), n in sorted(tally.items(), key=lambda item: (-item[1], item[0][0]))]


def statistics(findings: list[Finding]) -> str:
    """A count per code with the rule's name, the most frequent first."""
    rows = counts(findings)
    width = max((len(str(n)) for _, _, n in rows), default=1)
    return "".join(f"{n:>{width}}  {code}  {name}\n" for code, name, n in rows)

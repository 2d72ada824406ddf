"""``path:line:col: CODE message``, the form editors and CI logs parse; optionally with code frames."""

from __future__ import annotations

from actlint.findings import Finding


def render(findings: list[Finding], show_source: bool = False, color: bool = False) -> str:
    """One line per finding and a closing count; ``show_source`` adds a code frame (and a blank line) under
    each, ``color`` paints it for a terminal."""
    from actlint.output.frames import BOLD, RED, RESET, Sources, frame

    sources = Sources() if show_source else None
    lines = []
    for f in findings:
        if color:
            lines.append(f"{BOLD}{f.where}{RESET}: {RED}{f.code}{RESET} {f.message}")
        else:
            lines.append(f"{f.where}: {f.code} {f.message}")
        if sources is not None:
            shown = frame(f, sources, color)
            lines.extend(shown + [""] if shown else [])
    if findings:
        lines.append(summary(findings))
    return "\n".join(lines) + ("\n" if lines else "")


def summary(findings: list[Finding]) -> str:
    """``Found N findings in M files.``, the closing line of the text and grouped formats."""
    files = len({f.path for f in findings})
    return f"Found {len(findings)} finding{'s' * (len(findings) != 1)} in {files} file{'s' * (files != 1)}."


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

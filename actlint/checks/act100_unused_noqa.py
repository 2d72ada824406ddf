"""ACT100: a noqa code that suppressed nothing; the engine reports it (:mod:`actlint.unused_noqa`), not a
check.  Off by default: ``--extend-select ACT100`` (or ``ALL``) turns it on."""

from actlint.checks.base import Rule


class UnusedNoqa(Rule):
    code = "ACT100"
    name = "unused-noqa"
    summary = "A `# noqa` code that suppresses no finding of a rule that ran"
    default = False
    fixes = "safe"

    def check(self):
        return iter(())

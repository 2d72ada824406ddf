"""ACT000: the file could not be read or parsed; the engine reports it, not a check."""

from actlint.checks.base import Rule


class Unreadable(Rule):
    code = "ACT000"
    name = "unreadable-file"
    summary = "The file could not be decoded or parsed, so nothing in it was checked"

    def check(self):
        return iter(())

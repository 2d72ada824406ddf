"""Every rule's code and name, without importing the rules.

The rules load LibCST; checking the codes a command line or a config names must not,
or a warm run that finds everything in the cache pays for it.  The registry
(``actlint.checks.all_rules``) is the truth: tests/test_cli.py keeps this table equal to it.
"""

RULE_NAMES = {
    "ACT000": "unreadable-file",
    "ACT100": "unused-noqa",
    "ACT101": "saturating-hidden-activation",
    "ACT102": "probabilities-where-logits-expected",
    "ACT103": "sigmoid-then-bce",
    "ACT104": "softmax-without-dim",
    "ACT105": "non-probability-output",
    "ACT106": "init-activation-mismatch",
    "ACT107": "unseeded-training",
    "ACT108": "activation-on-raw-input",
    "ACT109": "log-of-probabilities",
    "ACT110": "softmax-for-multilabel",
    "ACT111": "single-unit-softmax",
    "ACT112": "low-precision-saturation",
    "ACT113": "sigmoid-for-multiclass",
    "ACT114": "single-class-cross-entropy",
}

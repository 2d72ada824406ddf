"""Inputs for fuzzing the engine: generated programs and mutated fixtures (used by the tests and scripts/fuzz.py)."""

from __future__ import annotations

import random
from pathlib import Path

from actlint.checks import all_rules
from actlint.config import Config
from actlint.engine import lint_text

ALL_CODES = None
# Framework words that make the engine parse and every rule run on generated text.
PRELUDE = ("import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\nfrom tensorflow import keras\n"
           "# softmax sigmoid tanh Tanh log( BCE CrossEntropy cross_entropy .backward( .fit( .compile( "
           ".parameters() xavier kaiming mixed_float16 autocast .half( categorical_crossentropy\n")


def lint_all(text: str):
    """Lint with every rule; returns the result (findings and internal errors)."""
    global ALL_CODES
    if ALL_CODES is None:
        ALL_CODES = frozenset(all_rules())
    return lint_text(text, "fuzz.py", Config(), ALL_CODES)


def mutations(text: str, rng: random.Random, count: int):
    """Deleted lines, truncations, swapped and duplicated lines, dropped brackets: mostly broken code."""
    lines = text.splitlines(keepends=True)
    for _ in range(count):
        kind = rng.randrange(6)
        mutated = list(lines)
        if kind == 0 and mutated:
            del mutated[rng.randrange(len(mutated))]
        elif kind == 1:
            cut = rng.randrange(len(text) + 1)
            yield text[:cut]
            continue
        elif kind == 2 and len(mutated) > 1:
            i, j = rng.randrange(len(mutated)), rng.randrange(len(mutated))
            mutated[i], mutated[j] = mutated[j], mutated[i]
        elif kind == 3 and mutated:
            i = rng.randrange(len(mutated))
            mutated.insert(i, mutated[i])
        elif kind == 4:
            joined = "".join(mutated)
            positions = [k for k, c in enumerate(joined) if c in "()[]{}:,"]
            if positions:
                k = rng.choice(positions)
                yield joined[:k] + joined[k + 1:]
                continue
        else:
            tokens = "".join(mutated).split(" ")
            if len(tokens) > 2:
                i, j = rng.randrange(len(tokens)), rng.randrange(len(tokens))
                tokens[i], tokens[j] = tokens[j], tokens[i]
            yield " ".join(tokens)
            continue
        yield "".join(mutated)


def corpus_files(root: Path) -> list[Path]:
    return sorted((root / "fixtures").rglob("*.py"))

"""Long fuzz run: generated programs (hypothesmith) and mutated fixtures through every rule.

    python scripts/fuzz.py --examples 5000

Prints the examples run, failures (with the input saved under --save) and time.
Exit status 1 when any example made actlint raise.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", type=Path, default=Path("fuzz-failures"))
    args = parser.parse_args(argv)

    import hypothesmith
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hseed

    from actlint.fuzzing import PRELUDE, corpus_files, lint_all, mutations

    failures: list[tuple[str, str]] = []
    ran = 0

    def check(source: str) -> None:
        nonlocal ran
        ran += 1
        try:
            result = lint_all(source)
            problem = "; ".join(str(e) for e in result.errors)
        except Exception:  # the engine itself raised
            problem = traceback.format_exc(limit=3)
        if problem:
            failures.append((source, problem))

    start = time.perf_counter()
    generated = args.examples * 3 // 4

    @hseed(args.seed)
    @settings(max_examples=generated, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(hypothesmith.from_grammar())
    def run_generated(source):
        check(PRELUDE + source)

    run_generated()
    rng = random.Random(args.seed)
    files = corpus_files(ROOT)
    while ran < args.examples and files:
        path = rng.choice(files)
        for mutant in mutations(path.read_text(encoding="utf-8"), rng, 1):
            check(mutant)
    elapsed = time.perf_counter() - start
    if failures:
        args.save.mkdir(parents=True, exist_ok=True)
        for number, (source, problem) in enumerate(failures):
            (args.save / f"failure_{number}.py").write_text(source)
            print(f"failure {number}: {problem.splitlines()[-1] if problem else ''}")
    print(f"{ran} examples, {len(failures)} failures, {elapsed:.1f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

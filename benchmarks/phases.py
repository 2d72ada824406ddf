"""Where a cold lint's time goes, phase by phase, in one process (no profiler: wall time per phase).

    python benchmarks/phases.py <folder> [<folder> ...]

Times the phases of ``lint_file`` over every ``.py`` file under the folders, with all
rules: reading and the token filter, the syntax check of files no rule needs, the
quick tree (CPython's parse, then the LibCST-shaped nodes built from it), the index
walk, the model picture, the rules' own work, and LibCST's full parse of the files
with a finding.  The numbers behind ``benchmarks/PROFILE.md``.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from pathlib import Path

from actlint import engine, skeleton
from actlint.config import Config
from actlint.index import FileIndex
from actlint.picture import flow


def main(argv: list[str]) -> int:
    spent: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - start
                counts[name] += 1
        return wrapper

    import actlint.parse

    # nested phases are subtracted from their parents below
    patches = [(engine, "syntax_error", "syntax check (files no rule needs)"),
               (engine, "_quick_pass", "quick pass (all of it)"),
               (skeleton, "skeleton", "quick tree (ast parse + nodes)"),
               (flow, "build_picture", "model picture (flow)"),
               (actlint.parse, "parse_module", "LibCST parse (files with a finding)")]
    for module, name, label in patches:
        setattr(module, name, timed(label, getattr(module, name)))
    FileIndex.__init__ = timed("index walk", FileIndex.__init__)
    total = 0.0
    files = 0
    for folder in map(Path, argv):
        config = Config(root=folder, select=("ALL",))
        for path in sorted(folder.rglob("*.py")):
            start = time.perf_counter()
            engine.lint_file(path, config)
            total += time.perf_counter() - start
            files += 1
    quick = spent.pop("quick pass (all of it)", 0.0)
    tree = spent["quick tree (ast parse + nodes)"]
    rows = dict(spent)
    rows["rules' own work (quick pass)"] = max(0.0, quick - tree - rows.get("index walk", 0.0)
                                                - rows.get("model picture (flow)", 0.0))
    rows["the rest (reading, token filter, the full pass's other work)"] = max(0.0, total - quick - rows.get(
        "syntax check (files no rule needs)", 0.0) - rows.get("LibCST parse (files with a finding)", 0.0))
    print(f"{files} files, {total:.2f} s in one process\n")
    print("| phase | calls | time | share |")
    print("|---|---|---|---|")
    for label, seconds in rows.items():
        print(f"| {label} | {counts.get(label, '')} | {seconds:.2f} s | {seconds / total:.0%} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

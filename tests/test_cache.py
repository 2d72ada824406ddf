"""The cache and the worker pool change how fast results come, never what they are."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT


@pytest.fixture
def corpus(tmp_path) -> Path:
    """A copy of the fixtures and examples (plenty of findings, over the pool's batching threshold)."""
    folder = tmp_path / "corpus"
    shutil.copytree(ROOT / "fixtures", folder / "fixtures")
    shutil.copytree(ROOT / "examples", folder / "examples")
    (folder / "broken.py").write_text("import torch\ndef f(:\n")
    return folder


def lint_json(folder: Path, *args: str) -> list[dict]:
    out = subprocess.run([sys.executable, "-m", "actlint", "--format", "json", *args, "."],
                         capture_output=True, text=True, cwd=folder, timeout=300)
    assert out.returncode == 1, out.stderr
    return json.loads(out.stdout)


def test_same_results_with_and_without_cache_and_any_job_count(corpus, tmp_path):
    cache = str(tmp_path / "cache")
    baseline = lint_json(corpus, "--no-cache", "--jobs", "1")
    assert len(baseline) > 50 and {"ACT000", "ACT101", "ACT104"} <= {f["code"] for f in baseline}
    assert lint_json(corpus, "--no-cache", "--jobs", "2") == baseline
    assert lint_json(corpus, "--no-cache", "--jobs", "3") == baseline
    assert lint_json(corpus, "--cache-dir", cache, "--jobs", "2") == baseline  # cold: fills the cache
    assert any(Path(cache).rglob("*.json"))
    assert lint_json(corpus, "--cache-dir", cache, "--jobs", "1") == baseline  # warm
    assert lint_json(corpus, "--cache-dir", cache, "--jobs", "2") == baseline


def test_corrupt_entries_are_ignored_and_rewritten(corpus, tmp_path):
    cache = tmp_path / "cache"
    baseline = lint_json(corpus, "--cache-dir", str(cache))
    entries = sorted(cache.rglob("*.json"))
    for n, entry in enumerate(entries):
        entry.write_text(["{not json", "", '{"key": "someone else", "findings": [], "notices": []}', "[]"][n % 4])
    assert lint_json(corpus, "--cache-dir", str(cache)) == baseline
    for entry in entries:
        assert "key" in json.loads(entry.read_text())


def test_only_a_changed_file_is_linted_again(corpus, tmp_path):
    from actlint.cache import Cache
    from actlint.config import Config
    from actlint.engine import lint_paths

    files = sorted(corpus.rglob("*.py"))
    config = Config(root=corpus)

    def run() -> tuple[Cache, list]:
        cache = Cache(tmp_path / "cache", "settings")
        return cache, lint_paths(files, config, jobs=1, cache=cache).findings

    cold, first = run()
    assert cold.hits == 0 and cold.misses == len(files)
    warm, second = run()
    assert (warm.hits, warm.misses) == (len(files), 0) and second == first
    changed = corpus / "examples" / "mnist_mlp.py"
    changed.write_text(changed.read_text().replace("F.softmax(self.out(x))", "self.out(x)"))
    again, third = run()
    assert (again.hits, again.misses) == (len(files) - 1, 1)
    assert {(f.code, f.line) for f in first if f.path.endswith("mnist_mlp.py")} - \
        {(f.code, f.line) for f in third if f.path.endswith("mnist_mlp.py")} == {("ACT102", 23), ("ACT104", 23)}


def test_a_different_configuration_does_not_reuse_entries(corpus, tmp_path):
    cache = str(tmp_path / "cache")
    lint_json(corpus, "--cache-dir", cache)
    only_104 = lint_json(corpus, "--cache-dir", cache, "--select", "ACT104")
    assert {f["code"] for f in only_104} == {"ACT104"}


def test_unwritable_cache_folder_still_lints(corpus, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would go")
    assert lint_json(corpus, "--cache-dir", str(blocker)) == lint_json(corpus, "--no-cache")

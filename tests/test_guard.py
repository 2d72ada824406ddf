"""The verifier child's fence, in a process of its own (an audit hook cannot be removed)."""
import subprocess
import sys
import textwrap


def _fenced(tmp_path, body: str) -> subprocess.CompletedProcess:
    scratch, outside = tmp_path / "scratch", tmp_path / "outside"
    scratch.mkdir()
    (outside / "cache").mkdir(parents=True)
    code = textwrap.dedent(f"""
        import os
        from actlint.verify.sandbox import guard
        guard.install({str(scratch)!r})
        outside = {str(outside)!r}
    """) + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_makedirs_of_a_folder_that_is_there_passes_and_a_new_one_outside_scratch_is_refused(tmp_path):
    done = _fenced(tmp_path, """
        os.makedirs(os.path.join(outside, "cache"), exist_ok=True)
        print("existing: ok")
        try:
            os.makedirs(os.path.join(outside, "cache", "new"), exist_ok=True)
        except PermissionError as exc:
            print("new:", exc)
        try:
            os.mkdir(os.path.join(outside, "cache"))
        except FileExistsError:
            print("mkdir of an existing folder: FileExistsError")
    """)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "existing: ok"
    assert lines[1].startswith("new: actlint --verify: writing ") and lines[1].endswith(
        "cache/new is disabled (only the scratch folder is writable)")
    assert lines[2] == "mkdir of an existing folder: FileExistsError"
    assert not (tmp_path / "outside" / "cache" / "new").exists()

"""Per-file result cache, keyed by content hash, actlint version and the effective configuration.

Entries live under the cache folder (``.actlint_cache`` beside the configuration
by default), one small JSON file each, written atomically.  An entry that
cannot be read, or that belongs to another key, is ignored and rewritten.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from actlint import __version__
from actlint.atomic import write_text_atomic
from actlint.findings import Edit, Finding, Fix

_FORMAT = 4  # 3: findings carry their related locations; 4: the noqa comments of other files used at home (ACT100)


def _code_fingerprint() -> str:
    """actlint's own source files (name, size, mtime): an edited checkout never reads a stale result."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        try:
            stat = path.stat()
        except OSError:
            continue
        digest.update(f"{path.relative_to(root)}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def _finding_to_json(f: Finding) -> dict:
    data = f.to_dict()
    data["extra"] = f.extra
    if f.home is not None:
        data["home"] = f.home
    return data


def _finding_from_json(data: dict) -> Finding:
    fix = data.get("fix")
    return Finding(
        code=data["code"], name=data["name"], message=data["message"], path=data["path"],
        line=data["line"], column=data["column"], end_line=data["end_line"], end_column=data["end_column"],
        fix=Fix(fix["message"], tuple(Edit(**e) for e in fix["edits"]), fix["applicability"] == "safe")
        if fix else None,
        extra=data.get("extra") or {}, cell=data.get("cell"), home=data.get("home"),
        related=tuple(data.get("related") or ()),
    )


class Cache:
    def __init__(self, folder: Path, settings: str) -> None:
        self.folder = Path(folder)
        self.settings = hashlib.sha256(
            f"{__version__}|{_FORMAT}|{_code_fingerprint()}|{settings}".encode()).hexdigest()[:16]
        self.hits = self.misses = 0

    def key(self, data: bytes, path: str, config_fingerprint: str) -> str:
        digest = hashlib.sha256(data)
        digest.update(f"\0{path}\0{config_fingerprint}\0{self.settings}".encode())
        return digest.hexdigest()

    def _entry(self, key: str) -> Path:
        return self.folder / __version__ / key[:2] / f"{key[2:]}.json"

    def get(self, key: str):
        """(findings, notices, local modules read: path -> hash, noqa comments of other files used at home:
        [(path, line, code)]) for a key, or None on a miss or an unreadable entry.  The caller checks that the
        modules read are unchanged."""
        try:
            data = json.loads(self._entry(key).read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("key") != key:
                raise ValueError("foreign entry")
            found = ([_finding_from_json(f) for f in data["findings"]], list(data["notices"]),
                     dict(data.get("read") or {}), [tuple(u) for u in data["home_noqa"]])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            self.misses += 1
            return None
        self.hits += 1
        return found

    def put(self, key: str, findings: list[Finding], notices: list[str], read: dict[str, str] | None = None,
            home_noqa: list | None = None) -> None:
        entry = self._entry(key)
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            marker = self.folder / ".gitignore"
            if not marker.exists():
                write_text_atomic(marker, "# created by actlint\n*\n")
            write_text_atomic(entry, json.dumps({"key": key, "findings": [_finding_to_json(f) for f in findings],
                                                 "notices": notices, "read": read or {},
                                                 "home_noqa": [list(u) for u in home_noqa or ()]}))
        except OSError:
            pass  # a read-only checkout still lints, just without a cache

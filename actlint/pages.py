"""The rule pages (``rules/ACTxxx.md``): shipped in the wheel, read from the checkout otherwise."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent
_FOLDERS = (_HERE / "_rules", _HERE.parent / "rules")


def page_path(code: str) -> Path | None:
    for folder in _FOLDERS:
        candidate = folder / f"{code.upper()}.md"
        if candidate.is_file():
            return candidate
    return None


def read_page(code: str) -> str | None:
    path = page_path(code)
    return path.read_text(encoding="utf-8") if path else None


def page_url(code: str) -> str:
    return f"https://github.com/actlint/actlint/blob/main/rules/{code.upper()}.md"

"""Formatters: each turns the findings of a run into text for one audience."""

from __future__ import annotations

from typing import Callable

from actlint.findings import Finding

from actlint.output import github, json_format, sarif, text

FORMATTERS: dict[str, Callable[[list[Finding]], str]] = {
    "text": text.render,
    "json": json_format.render,
    "sarif": sarif.render,
    "github": github.render,
}

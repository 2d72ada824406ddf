"""Formatters: each turns the findings of a run into text for one audience."""

from __future__ import annotations

from typing import Callable

from actlint.findings import Finding

from actlint.output import concise, github, gitlab, grouped, json_format, junit, sarif, text

FORMATTERS: dict[str, Callable[[list[Finding]], str]] = {
    "text": text.render,
    "concise": concise.render,
    "grouped": grouped.render,
    "json": json_format.render,
    "sarif": sarif.render,
    "github": github.render,
    "gitlab": gitlab.render,
    "junit": junit.render,
}

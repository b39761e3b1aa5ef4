"""The dashboard's words in the campaign's language (messages.yml), English where it has none."""

from __future__ import annotations

from functools import cache
from importlib import resources

import yaml


@cache
def words(language: str) -> dict[str, str]:
    text = resources.files("scheduler.web").joinpath("messages.yml").read_text(encoding="utf-8")
    tables: dict[str, dict[str, str]] = yaml.safe_load(text)
    base = language.split("_")[0].split("-")[0]
    return {**tables["en"], **tables.get(base, {})}

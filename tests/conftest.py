"""Every test's renditions go to a cache of the test session's own, never the user's ~/.cache."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True, scope="session")
def _rendition_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("renditions")
    # Subprocesses (the CLI, the daemon) inherit both; XDG_CACHE_HOME also covers those whose environment
    # drops every CAMPAIGN_ setting.
    names = ("CAMPAIGN_CACHE_DIR", "XDG_CACHE_HOME")
    before = {name: os.environ.get(name) for name in names}
    os.environ["CAMPAIGN_CACHE_DIR"] = str(folder / "campaign")
    os.environ["XDG_CACHE_HOME"] = str(folder / "xdg")
    yield folder
    for name, value in before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value

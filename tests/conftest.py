"""Every test's renditions go to a cache of the test session's own, never the user's ~/.cache."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True, scope="session")
def _rendition_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("renditions")
    before = os.environ.get("CAMPAIGN_CACHE_DIR")
    os.environ["CAMPAIGN_CACHE_DIR"] = str(folder)  # subprocesses (the CLI, the daemon) inherit it
    yield folder
    if before is None:
        os.environ.pop("CAMPAIGN_CACHE_DIR", None)
    else:
        os.environ["CAMPAIGN_CACHE_DIR"] = before

"""Real servers for integration tests: a throwaway PostgreSQL cluster, and daemons as subprocesses."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from tests.pgserver import create_database, pg_bin, postgres


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server of our own on 127.0.0.1 (or $CAMPAIGN_TEST_POSTGRES_URL); its admin URL."""
    given = os.environ.get("CAMPAIGN_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    if pg_bin() is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed; .ci/run installs it")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    with postgres() as url:
        yield url


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A fresh, empty database on the test server."""
    return create_database(postgres_server, f"t_{uuid.uuid4().hex[:12]}")

"""The migrations build exactly the schema that scheduler.publish.ledger describes."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from scheduler.publish.ledger import Ledger, metadata


def test_migrations_create_every_table_and_index_of_the_ledger(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    ledger.upgrade()
    ledger.check_schema()
    with ledger.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    ledger.close()
    assert differences == []

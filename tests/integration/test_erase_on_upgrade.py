"""The upgrade that brings erasing purges (revision 0010) also rewrites what earlier purges left behind:
replies deleted without secure_delete still sat in the free space of the SQLite file; on PostgreSQL
the tables are rewritten into new files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text

from scheduler.publish import ledger as ledger_module
from scheduler.publish.ledger import Ledger

DISCLOSURE = "Ik word thuis geslagen en niemand weet het"
AUTHOR = "@kim@elders.example"


def at_0006(ledger: Ledger) -> None:
    config = Config()
    config.set_main_option("script_location", str(Path(ledger_module.__file__).parent / "migrations"))
    with ledger.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0006")


def raw_bytes(database: Path) -> bytes:
    return b"".join(path.read_bytes() for path in (database, Path(f"{database}-wal")) if path.exists())


def test_a_reply_purged_before_without_secure_delete_is_gone_from_the_file_after_the_upgrade(tmp_path: Path) -> None:
    database = tmp_path / "campaign.db"
    ledger = Ledger(f"sqlite:///{database}")
    at_0006(ledger)
    ledger.close()
    # As an earlier release purged on a SQLite built without secure_delete (macOS, python.org, Windows).
    old = sqlite3.connect(database, isolation_level=None)
    old.execute("PRAGMA secure_delete=OFF")
    old.execute(
        "INSERT INTO replies (delivery_id, post, channel, network, remote_id, author, at, text, url, found_at)"
        " VALUES (1, 'p', 'masto', 'mastodon', '1', ?, '2027-01-01 00:00:00.000000', ?, NULL,"
        " '2027-01-01 00:00:00.000000')",
        (AUTHOR, DISCLOSURE),
    )
    old.execute("DELETE FROM replies")
    old.close()
    assert DISCLOSURE.encode() in raw_bytes(database)  # what the old purge left behind

    ledger = Ledger(f"sqlite:///{database}")
    ledger.upgrade()
    ledger.check_schema()
    left = raw_bytes(database)  # read with the ledger still open, as a running daemon would keep it
    ledger.close()
    assert DISCLOSURE.encode() not in left and AUTHOR.encode() not in left


@pytest.mark.postgres
def test_on_postgresql_the_upgrade_rewrites_the_reply_tables_into_new_files(postgres_url: str) -> None:
    ledger = Ledger(postgres_url)
    at_0006(ledger)
    files = "SELECT pg_relation_filenode('replies'), pg_relation_filenode('alerts')"
    with ledger.engine.connect() as conn:
        before = tuple(conn.execute(text(files)).one())
    ledger.upgrade()
    ledger.check_schema()
    with ledger.engine.connect() as conn:
        after = tuple(conn.execute(text(files)).one())
    ledger.close()
    assert all(new != old for new, old in zip(after, before, strict=True))

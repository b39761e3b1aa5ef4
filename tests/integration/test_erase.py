"""Purged replies are erased from the files, not only from queries: `campaign replies purge` says when a
reader kept SQLite's write-ahead log from being emptied, and the upgrade that brings erasing purges
(revision 0010) rewrites what earlier purges left in free space (on PostgreSQL: the tables, into new
files). The purge itself, with watch-list alerts, on SQLite and PostgreSQL: tests/integration/test_results.py."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text

from scheduler.publish import ledger as ledger_module
from scheduler.publish.ledger import Ledger
from tests.integration.daemon_helpers import campaign, now, write

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


def add_reply(database: Path, *, secure_delete: bool = True, delete: bool = False) -> None:
    """A reply as the collector keeps it (no delivery row needed: foreign keys are off here)."""
    raw = sqlite3.connect(database, isolation_level=None)
    raw.execute(f"PRAGMA secure_delete={'ON' if secure_delete else 'OFF'}")
    raw.execute(
        "INSERT INTO replies (delivery_id, post, channel, network, remote_id, author, at, text, url, found_at)"
        " VALUES (1, 'p', 'masto', 'mastodon', '1', ?, '2020-01-01 00:00:00.000000', ?, NULL,"
        " '2020-01-01 00:00:00.000000')",
        (AUTHOR, DISCLOSURE),
    )
    if delete:
        raw.execute("DELETE FROM replies")
    raw.close()


def test_purge_says_when_a_reader_kept_the_write_ahead_log_and_the_next_purge_empties_it(tmp_path: Path) -> None:
    root = write(tmp_path, {"p": (now() + timedelta(days=1), "Een bericht.")})
    database = root / "campaign.db"
    ledger = Ledger(f"sqlite:///{database}")
    ledger.upgrade()
    ledger.close()
    add_reply(database)
    keeper = Ledger(f"sqlite:///{database}")  # stays open, as a daemon does: the log is not emptied on close
    keeper.replies.stored_replies()
    reader = sqlite3.connect(database, isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM replies").fetchone() == (1,)  # a read in progress
    try:
        held = campaign(root, "replies", "purge", "--older-than", "90d")
        assert held.returncode == 0, held.stderr
        assert held.stdout.startswith("deleted 1 reply") and "campaign.db-wal" in held.stderr
        assert DISCLOSURE.encode() in raw_bytes(database)  # what the message warns of
    finally:
        reader.rollback()
        reader.close()
    again = campaign(root, "replies", "purge", "--older-than", "90d")
    left = raw_bytes(database)
    keeper.close()
    assert again.returncode == 0 and again.stderr == ""
    assert DISCLOSURE.encode() not in left and AUTHOR.encode() not in left


def test_a_reply_purged_before_without_secure_delete_is_gone_from_the_file_after_the_upgrade(tmp_path: Path) -> None:
    database = tmp_path / "campaign.db"
    ledger = Ledger(f"sqlite:///{database}")
    at_0006(ledger)
    ledger.close()
    # As an earlier release purged on a SQLite built without secure_delete (macOS, python.org, Windows).
    add_reply(database, secure_delete=False, delete=True)
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

"""The migrations build exactly the schema that scheduler.publish.ledger describes."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from scheduler.publish import ledger as ledger_module
from scheduler.publish.ledger import Ledger, metadata


def test_migrations_create_every_table_and_index_of_the_ledger(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    ledger.upgrade()
    ledger.check_schema()
    with ledger.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    ledger.close()
    assert differences == []


def test_upgrading_takes_the_reply_link_out_of_the_watch_list_alerts_recorded_before(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    config = Config()
    config.set_main_option("script_location", str(Path(ledger_module.__file__).parent / "migrations"))
    with ledger.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0006")
        for kind, message in (
            ("reply", "a reply on mastodon matches the watch list ('help'): https://social.example/@kim/1; answer it"),
            ("failed", "HTTP 500 from social.example"),
        ):
            conn.execute(
                text("INSERT INTO alerts (at, kind, message, unsent) VALUES ('2027-01-01 00:00:00.000000', :k, :m, 0)"),
                {"k": kind, "m": message},
            )
    ledger.upgrade()
    messages = {a.kind: a.message for a in ledger.alerts.latest()}
    ledger.close()
    assert "@kim" not in messages["reply"] and "campaign replies" in messages["reply"]
    assert messages["failed"] == "HTTP 500 from social.example"

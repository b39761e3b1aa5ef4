"""The database: engines, the one transaction helper (where the database's own errors become this
project's), the schema's upgrade and check, and the clock every daemon shares."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError

from scheduler.errors import LedgerError, LedgerUnavailable
from scheduler.publish.states import State
from scheduler.publish.store.schema import deliveries
from scheduler.secrets import redact

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"
MIN_SQLITE = (3, 35, 0)  # UPDATE … RETURNING
BUSY_TIMEOUT_MS = 30_000  # how long a SQLite statement waits for another connection's lock
CHECKPOINT_WAIT_MS = 5000  # how long a purge waits for readers to let go of SQLite's write-ahead log
ERASING_REVISION = "0010"  # purged replies are erased from here on (secure_delete); older ones are rewritten once


def database_url(given: str | None, root: Path) -> str:
    """DATABASE_URL as SQLAlchemy needs it; default: campaign.db in the campaign root."""
    url = given or f"sqlite:///{root / 'campaign.db'}"
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Database:
    """One ledger database: its engines and transactions. Safe to share between threads."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _engine(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        # Long reads (the results collector's) take no write lock on SQLite, so a claim never waits for them.
        self._reader = _engine(url, deferred=True) if self.is_sqlite else self.engine

    @contextmanager
    def tx(self, *, read: bool = False) -> Iterator[Connection]:
        """One transaction (`read`: one that only reads). The one place where the database's own
        errors become this project's."""
        try:
            with (self._reader if read else self.engine).begin() as conn:
                yield conn
        except DBAPIError as exc:
            if isinstance(exc, OperationalError | InterfaceError) or exc.connection_invalidated:
                raise LedgerUnavailable(
                    redact(f"the database cannot be reached: {first_line(exc.orig or exc)}")
                ) from None
            raise

    def close(self) -> None:
        self.engine.dispose()
        self._reader.dispose()

    def upgrade(self) -> None:
        """Bring the schema to the newest revision (Alembic)."""
        from alembic import command
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.tx() as conn:
            before = MigrationContext.configure(conn).get_current_revision()
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
        if before is not None:
            applied = ScriptDirectory.from_config(config).iterate_revisions("head", before)
            if ERASING_REVISION in {script.revision for script in applied}:
                self._rewrite_reply_tables()

    def _rewrite_reply_tables(self) -> None:
        """Once, on the upgrade that brings secure_delete: rewrite what holds replies, so that those
        purged before (without it) leave nothing in the free space of the files."""
        try:
            if self.is_sqlite:
                connection = self.engine.raw_connection()
                try:
                    connection.driver_connection.execute("VACUUM")  # type: ignore[union-attr]
                finally:
                    connection.close()
                self.empty_wal()
                return
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM FULL replies, alerts")  # not in a transaction; a moment's lock
        except (sqlite3.Error, DBAPIError) as exc:
            reason = first_line(exc.orig or exc) if isinstance(exc, DBAPIError) else first_line(exc)
            command = (
                "`sqlite3 campaign.db VACUUM` with the daemon stopped"
                if self.is_sqlite
                else "`VACUUM FULL replies, alerts`"
            )
            raise LedgerUnavailable(
                redact(
                    f"the schema is upgraded, but clearing the replies purged before failed ({reason}):"
                    f" they may linger in free space until you run {command}"
                )
            ) from None

    def check_schema(self) -> None:
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
        with self.tx() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
        if current != head:
            raise LedgerError(
                f"the database schema is at {current or 'nothing'}, not {head}: run `campaign db upgrade`"
            )

    def clock(self) -> datetime:
        """Now, by the database's clock on PostgreSQL (shared by every daemon), else this host's."""
        if self.is_sqlite:
            return datetime.now(UTC)
        with self.tx() as conn:
            value = conn.execute(select(func.now())).scalar_one()
        moment: datetime = value.astimezone(UTC)
        return moment

    # ------------------------------------------------------------------ files → ledger

    def insert(self, table: Table) -> Any:
        """INSERT with ON CONFLICT, in the ledger's dialect."""
        return (sqlite_insert if self.is_sqlite else postgresql_insert)(table)

    def empty_wal(self) -> bool:
        """Copy SQLite's write-ahead log into the file and truncate it to nothing: the log keeps
        every page as it was written (a deleted reply's text too) until a checkpoint reuses it.
        False if a reader held on to it for the whole busy timeout."""
        # On the driver's own connection: a checkpoint cannot run inside the transaction SQLAlchemy would begin.
        connection = self.engine.raw_connection()
        driver: Any = connection.driver_connection
        try:
            # While it waits for readers it holds off new writers (a daemon's claims): wait briefly, not 30 s.
            driver.execute(f"PRAGMA busy_timeout={CHECKPOINT_WAIT_MS}")
            busy, _, _ = driver.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.Error as exc:
            raise LedgerUnavailable(redact(f"the database cannot be reached: {first_line(exc)}")) from None
        finally:
            driver.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            connection.close()
        return not busy


def first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [error.__class__.__name__])[0]


def chunks(values: list[str], size: int = 500) -> Iterator[list[str]]:
    """`values` in lists small enough for one IN (...) on every database."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


_SQLITE_PRAGMAS = (
    "journal_mode=WAL",
    f"busy_timeout={BUSY_TIMEOUT_MS}",
    "synchronous=FULL",
    "foreign_keys=ON",
    # What is deleted (a purged reply) is overwritten with zeros, not left in free space. Debian
    # builds SQLite with this on; other builds (macOS, python.org, Windows) leave it off.
    "secure_delete=ON",
)


def _engine(url: str, *, deferred: bool = False) -> Engine:
    if url.startswith("sqlite"):
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise LedgerError(
                f"SQLite {sqlite3.sqlite_version} is too old: the ledger needs {'.'.join(map(str, MIN_SQLITE))}+"
            )
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" below decides
            for pragma in _SQLITE_PRAGMAS:
                dbapi_connection.execute(f"PRAGMA {pragma}")

        @event.listens_for(engine, "begin")
        def _begin(connection: Connection) -> None:
            # Take the write lock up front (no upgrade deadlocks); a reader's engine reads a WAL snapshot.
            connection.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")

        return engine
    try:
        return create_engine(url, pool_pre_ping=True, pool_size=10)
    except (SQLAlchemyError, ImportError) as exc:
        raise LedgerError(redact(f"cannot use DATABASE_URL: {exc}")) from None


def published_sends(url: str) -> set[tuple[str, str]]:
    """(post, channel) of every delivery the ledger at `url` has as published, read without writing:
    SQLite opened read-only (no WAL switch, no lock taken), PostgreSQL in a read-only transaction.
    A SQLite file that does not exist has published nothing. LedgerError if it cannot be read."""
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if not path or path == ":memory:" or not Path(path).is_file():
            return set()
        engine = create_engine(f"sqlite:///file:{Path(path).resolve().as_posix()}?mode=ro&uri=true")
    else:
        try:
            engine = create_engine(
                url, connect_args={"options": "-c default_transaction_read_only=on", "connect_timeout": 5}
            )
        except (SQLAlchemyError, ImportError) as exc:
            raise LedgerError(redact(f"cannot use DATABASE_URL: {exc}")) from None
    try:
        with engine.connect() as conn:
            query = select(deliveries.c.post, deliveries.c.channel).where(deliveries.c.state == State.PUBLISHED)
            return {(row.post, row.channel) for row in conn.execute(query)}
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise LedgerError(redact(f"cannot read the ledger: {reason}")) from None
    finally:
        engine.dispose()

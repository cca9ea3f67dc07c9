"""Engine and session factory, and schema migrations. Nothing connects at import time."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from newsmill_schema.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


# How long an SQLite statement waits for a lock another connection holds before it
# fails with "database is locked". sqlite3's ``timeout`` argument is SQLite's busy
# timeout, installed as the connection opens, before any statement or event listener.
SQLITE_BUSY_TIMEOUT_S = 30.0


def make_engine(database_url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets a busy timeout, foreign keys and a write lock for FOR UPDATE."""
    if database_url.startswith("sqlite"):
        path = database_url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            database_url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
            **kwargs,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "before_execute", _sqlite_lock_for_update)
        return engine
    return create_engine(database_url, pool_pre_ping=True, pool_size=5, max_overflow=5, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Per-connection settings only, none of which reads or locks the file, so a
    # connect never waits for another connection. The journal mode is the file's
    # own, set once by the migrations (use_wal).
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_lock_for_update(conn: Connection, statement: Any, *_: Any) -> None:
    """On SQLite, ``with_for_update()`` takes the database's write lock before its read.

    SQLite has no row locks and ignores FOR UPDATE. sqlite3's legacy transaction
    control, kept on purpose, begins a transaction only at the first INSERT,
    UPDATE or DELETE, so a write transaction starts with a write: SQLite waits
    for its lock through the busy handler. A transaction that read first would
    have to upgrade its read snapshot, and when another process committed in
    between SQLite fails that at once ("database is locked", no waiting), so
    beginning every session's transaction at its first read (SQLAlchemy's
    recipe) would need BEGIN IMMEDIATE everywhere, and a long read such as an
    export would then hold off every writer. Only a read that asks for a row
    lock begins the transaction, with BEGIN IMMEDIATE (waited for the same
    way): the read-check-write after it is serialised as a row lock makes it on
    Postgres, instead of acting on a row another process changes meanwhile.
    """
    if getattr(statement, "_for_update_arg", None) is None:  # set by with_for_update()
        return
    driver = conn.connection.driver_connection
    if driver is not None and not driver.in_transaction:
        driver.execute("BEGIN IMMEDIATE")


def use_wal(dbapi_connection: sqlite3.Connection) -> None:
    """Put an SQLite database in WAL mode, where readers and the writer do not block each other.

    The mode is stored in the file, so the migrations set it once and every
    later connection finds it. The switch needs the write lock from inside a
    read, where SQLite answers "database is locked" at once rather than wait
    (waiting there could deadlock); a lock another connection holds briefly is
    waited out here instead, up to the busy timeout.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while True:
        try:
            dbapi_connection.execute("PRAGMA journal_mode=WAL").close()
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
        time.sleep(0.01)


class Database:
    """An engine and its session factory, made from settings at start-up."""

    def __init__(self, database_url: str) -> None:
        self.url = database_url
        self.engine = make_engine(database_url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        return cls(settings.database_url)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error."""
        with self._sessions() as session, session.begin():
            yield session

    def upgrade(self) -> None:
        """Bring the schema to the latest migration."""
        upgrade(self.url)

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Run Alembic migrations up to ``revision``."""
    command.upgrade(alembic_config(database_url), revision)

"""The migrations build exactly the schema the SQLAlchemy models describe; SQLite's settings."""

from __future__ import annotations

import sqlite3
from contextlib import closing

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert, select

from newsmill_schema import models
from newsmill_schema.db import SQLITE_BUSY_TIMEOUT_S, Database, upgrade
from newsmill_schema.minhash import unpack
from newsmill_schema.models import Base
from newsmill_worker.dedup.fingerprint import DedupParams, signature, text_of

# Full-text search objects are made by migration 0002 in raw SQL, not by the models.
_RAW_SQL_OBJECTS = ("articles_fts", "ix_articles_fulltext")


def _modelled(obj: object, name: str | None, *_: object) -> bool:
    return not (name or "").startswith(_RAW_SQL_OBJECTS)


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    # Given a database migrated to the head revision
    db = Database(database_url)
    db.upgrade()
    try:
        # When alembic compares it with the models
        with db.engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"include_object": _modelled, "compare_type": True}
            )
            differences = compare_metadata(context, Base.metadata)
    finally:
        db.dispose()

    # Then there is nothing a new migration would have to add or drop
    assert differences == []


def test_the_signature_migration_signs_the_articles_stored_before_it(database_url: str) -> None:
    # Given articles stored by a schema without signatures
    db = Database(database_url)
    upgrade(database_url, "0004")
    texts = {"First story": "one two three four five six", "Second story": "", "": "..."}
    try:
        with db.session() as session:
            for n, (title, body) in enumerate(texts.items()):
                job = models.Job(state="done", source_kind="file", source_uri=f"inbox/{n}")
                session.add(job)
                session.flush()
                session.execute(
                    insert(models.Article.__table__).values(
                        job_id=job.id,
                        title=title,
                        body=body,
                        content_hash=f"{n:064}",
                        source_kind="file",
                        source_uri=f"inbox/{n}",
                        authors=[],
                        credits=[],
                        word_count=0,
                    )
                )

        # When the schema is brought up to date
        db.upgrade()

        # Then each has the signature the worker computes from its title and body
        params = DedupParams()
        with db.session() as session:
            rows = session.execute(
                select(models.Article.title, models.Article.body, models.DedupSignature.signature)
                .join(models.DedupSignature)
                .order_by(models.Article.id)
            ).all()
        assert [(r.title, r.body) for r in rows] == list(texts.items())
        for row in rows:
            assert unpack(row.signature) == signature(text_of(row.title, row.body), params)
    finally:
        db.dispose()


def test_an_embedded_database_is_in_wal_mode_from_its_creation(sqlite_url: str) -> None:
    # Given a fresh file brought up to date by the migrations alone
    upgrade(sqlite_url)

    # Then the file itself says WAL, before any newsmill connection opened it
    path = sqlite_url.removeprefix("sqlite:///")
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_each_sqlite_connection_waits_for_locks_and_enforces_foreign_keys(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    db.upgrade()
    try:
        with db.engine.connect() as conn:
            pragmas = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("busy_timeout", "foreign_keys", "synchronous", "journal_mode")
            }
    finally:
        db.dispose()

    assert pragmas == {
        "busy_timeout": SQLITE_BUSY_TIMEOUT_S * 1000,
        "foreign_keys": 1,
        "synchronous": 1,  # NORMAL: in WAL mode a commit does not wait for fsync
        "journal_mode": "wal",
    }

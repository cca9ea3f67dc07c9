"""The migrations build exactly the schema the SQLAlchemy models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from newsmill_schema.db import Database
from newsmill_schema.models import Base

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

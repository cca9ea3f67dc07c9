"""Raw document bytes, stored once under their sha256."""

from __future__ import annotations

import hashlib

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from newsmill_schema import models
from newsmill_schema.models import utcnow


def store_blobs(session: Session, datas: list[bytes]) -> list[str]:
    """Store many raw documents in one statement; returns their digests in order."""
    rows = {hashlib.sha256(d).hexdigest(): d for d in datas}
    if rows:
        dialect = session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        now = utcnow()
        session.execute(
            insert(models.Blob).on_conflict_do_nothing(),
            [{"sha256": k, "data": v, "size": len(v), "created_at": now} for k, v in rows.items()],
        )
    return [hashlib.sha256(d).hexdigest() for d in datas]


def store_blob(session: Session, data: bytes) -> str:
    """Store raw bytes unless already stored; returns their sha256 hex digest."""
    digest = hashlib.sha256(data).hexdigest()
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        insert(models.Blob)
        .values(sha256=digest, data=data, size=len(data), created_at=utcnow())
        .on_conflict_do_nothing()
    )
    return digest

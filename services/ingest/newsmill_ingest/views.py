"""Read-side queries behind ``status``, ``jobs`` and ``docs``: plain data out."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import func, select

from newsmill_schema import models
from newsmill_schema.article import Article, Source
from newsmill_schema.db import Database


@dataclass
class JobRow:
    id: int
    state: str
    source_kind: str
    source_uri: str
    article_id: int | None
    attempts: int
    error: str | None
    created_at: datetime | None
    finished_at: datetime | None

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat() if self.created_at else None
        data["finished_at"] = self.finished_at.isoformat() if self.finished_at else None
        return data


def job_counts(db: Database) -> dict[str, int]:
    """Jobs per state."""
    with db.session() as session:
        rows = session.execute(
            select(models.Job.state, func.count()).group_by(models.Job.state)
        ).all()
    return {state: count for state, count in rows}


def jobs(
    db: Database, state: str | None = None, limit: int | None = None, newest_first: bool = False
) -> list[JobRow]:
    """The job ledger, optionally of one state."""
    query = select(models.Job)
    if state:
        query = query.where(models.Job.state == state)
    query = query.order_by(models.Job.id.desc() if newest_first else models.Job.id)
    if limit:
        query = query.limit(limit)
    with db.session() as session:
        return [_job_row(job) for job in session.execute(query).scalars()]


def _job_row(job: models.Job) -> JobRow:
    return JobRow(
        id=job.id,
        state=job.state,
        source_kind=job.source_kind,
        source_uri=job.source_uri,
        article_id=job.article_id,
        attempts=job.attempts,
        error=job.error,
        created_at=job.created_at,
        finished_at=job.finished_at,
    )


def article_count(db: Database) -> dict[str, int]:
    """Articles stored, and how many of them are near-duplicates."""
    with db.session() as session:
        total = session.scalar(select(func.count()).select_from(models.Article)) or 0
        near = (
            session.scalar(
                select(func.count())
                .select_from(models.Article)
                .where(models.Article.duplicate_of.is_not(None))
            )
            or 0
        )
    return {"articles": total, "canonical": total - near, "near_duplicates": near}


def articles(db: Database, limit: int | None = None, canonical: bool = False) -> list[Article]:
    """Stored articles in insertion order."""
    query = select(models.Article).order_by(models.Article.id)
    if canonical:
        query = query.where(models.Article.duplicate_of.is_(None))
    if limit:
        query = query.limit(limit)
    with db.session() as session:
        return [to_article(row, []) for row in session.execute(query).scalars()]


def article(db: Database, article_id: int) -> Article | None:
    """One article with every source it arrived from."""
    with db.session() as session:
        row = session.get(models.Article, article_id)
        if row is None:
            return None
        sources = session.execute(
            select(models.ArticleSource)
            .where(models.ArticleSource.article_id == article_id)
            .order_by(models.ArticleSource.id)
        ).scalars()
        return to_article(row, [Source(kind=s.kind, uri=s.uri) for s in sources])


def to_article(row: models.Article, sources: list[Source]) -> Article:
    return Article(
        id=row.id,
        title=row.title,
        subtitle=row.subtitle,
        body=row.body,
        authors=row.authors or [],
        published_at=row.published_at,
        language=row.language,
        publisher=row.publisher,
        url=row.url,
        credits=row.credits or [],
        word_count=row.word_count,
        content_hash=row.content_hash,
        duplicate_of=row.duplicate_of,
        similarity=row.similarity,
        source=Source(kind=row.source_kind, uri=row.source_uri),
        sources=sources,
        ingested_at=row.ingested_at,
        processed_at=row.processed_at,
    )


def job_counts_by_source(db: Database) -> dict[str, dict[str, int]]:
    """Jobs per source kind (file, feed, record), then per state."""
    with db.session() as session:
        rows = session.execute(
            select(models.Job.source_kind, models.Job.state, func.count()).group_by(
                models.Job.source_kind, models.Job.state
            )
        ).all()
    counts: dict[str, dict[str, int]] = {}
    for kind, state, count in rows:
        counts.setdefault(kind, {})[state] = count
    return counts


def finished_since(db: Database, since: datetime) -> int:
    """Jobs that reached a final state at or after ``since``."""
    with db.session() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(models.Job).where(models.Job.finished_at >= since)
            )
            or 0
        )


@dataclass
class FeedRow:
    id: int
    url: str
    title: str | None
    last_success_at: datetime | None
    last_error: str | None
    consecutive_errors: int
    next_poll_at: datetime | None
    entries_seen: int

    @property
    def healthy(self) -> bool:
        return self.consecutive_errors == 0

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        for key in ("last_success_at", "next_poll_at"):
            value = data[key]
            data[key] = value.isoformat() if value else None
        data["healthy"] = self.healthy
        return data


def feeds(db: Database) -> list[FeedRow]:
    """Every registered feed with its polling health, failing ones first."""
    query = select(models.Feed).order_by(models.Feed.consecutive_errors.desc(), models.Feed.id)
    with db.session() as session:
        return [
            FeedRow(
                id=f.id,
                url=f.url,
                title=f.title,
                last_success_at=f.last_success_at,
                last_error=f.last_error,
                consecutive_errors=f.consecutive_errors,
                next_poll_at=f.next_poll_at,
                entries_seen=f.entries_seen,
            )
            for f in session.execute(query).scalars()
        ]


def feeds_failing(db: Database) -> int:
    """Feeds whose last poll failed."""
    with db.session() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(models.Feed)
                .where(models.Feed.consecutive_errors > 0)
            )
            or 0
        )

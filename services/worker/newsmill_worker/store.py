"""The worker's database adapter: claim a job, save its articles, fail it.

Every function takes a Session inside the caller's transaction, so a job's
outcome (its state, its article, its sources) commits or rolls back as one.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from newsmill_schema import models
from newsmill_schema.blobs import store_blob
from newsmill_schema.messages import FINISHED_STATES, JobState
from newsmill_schema.models import utcnow
from newsmill_worker.pipeline import Parsed, RecordError


@dataclass(frozen=True)
class Work:
    """What a worker needs to process a job, read inside the claiming transaction."""

    job_id: int
    name: str
    source_kind: str
    source_uri: str
    data: bytes
    attempt: int


class AttemptsExhausted(Exception):
    """The job has been started too many times: a crash or kill loops on it."""


def start(session: Session, job_id: int, max_attempts: int) -> Work | None:
    """Mark a job processing and return its bytes; None when there is nothing to do.

    A job already finished (a redelivered or re-published message) is skipped,
    which makes the task idempotent. The attempt count is bumped before any
    work, so a document that kills its worker cannot loop forever.
    """
    job = session.execute(
        select(models.Job).where(models.Job.id == job_id).with_for_update()
    ).scalar_one_or_none()
    if job is None or job.state in FINISHED_STATES:
        return None
    job.attempts += 1
    if job.attempts > max_attempts:
        reason = job.error or "worker process died or was killed while processing"
        _fail(job, f"gave up after {max_attempts} attempts: {reason}")
        raise AttemptsExhausted(job.error)
    job.state = JobState.PROCESSING
    job.started_at = utcnow()
    blob = session.get(models.Blob, job.blob_sha256) if job.blob_sha256 else None
    return Work(
        job_id=job.id,
        name=job.name,
        source_kind=job.source_kind,
        source_uri=job.source_uri,
        data=blob.data if blob else b"",
        attempt=job.attempts,
    )


def fail(session: Session, job_id: int, reason: str) -> None:
    """End a job as failed with a one-line reason (unless it already finished)."""
    job = session.get(models.Job, job_id, with_for_update=True)
    if job is None or job.state in FINISHED_STATES:
        return
    _fail(job, reason)


def note_error(session: Session, job_id: int, reason: str) -> None:
    """Remember why an attempt failed, for the final reason if attempts run out."""
    job = session.get(models.Job, job_id, with_for_update=True)
    if job is not None and job.state not in FINISHED_STATES:
        job.error = reason


def _fail(job: models.Job, reason: str) -> None:
    job.state = JobState.FAILED
    job.error = reason[:2000]
    job.finished_at = utcnow()


def finish(session: Session, work: Work, outcomes: list[Parsed | RecordError], hashes: list[str]) -> str:
    """Store a job's articles and end it; returns the job's final state.

    One article: the job itself gets it. Several (a JSON Lines or feed file):
    the job is split into one child job per record, each ending done,
    duplicate or failed on its own, in this same transaction.
    """
    job = session.get(models.Job, work.job_id, with_for_update=True)
    assert job is not None
    if job.state in FINISHED_STATES:
        return job.state
    if len(outcomes) == 1:
        return _settle(session, job, outcomes[0], hashes[0])
    for part, (outcome, digest) in enumerate(zip(outcomes, hashes, strict=True)):
        child = _child_job(session, job, part, outcome)
        _settle(session, child, outcome, digest)
    job.state = JobState.DONE
    job.finished_at = utcnow()
    job.error = None
    return job.state


def _child_job(session: Session, parent: models.Job, part: int, outcome: Parsed | RecordError) -> models.Job:
    ref = outcome.ref or f"#record={part}"
    blob_sha = store_blob(session, outcome.raw) if outcome.raw else parent.blob_sha256
    child = models.Job(
        state=JobState.PROCESSING,
        source_kind="record",
        source_uri=f"{parent.source_uri}{ref}",
        name=f"{parent.name}{ref}",
        blob_sha256=blob_sha,
        parent_id=parent.id,
        part=part,
        feed_id=parent.feed_id,
        attempts=1,
        created_at=parent.created_at,
        started_at=utcnow(),
    )
    session.add(child)
    session.flush()
    return child


def _settle(session: Session, job: models.Job, outcome: Parsed | RecordError, digest: str) -> str:
    if isinstance(outcome, RecordError):
        _fail(job, outcome.reason)
        return job.state
    existing = session.execute(
        select(models.Article).where(models.Article.content_hash == digest)
    ).scalar_one_or_none()
    if existing is not None and existing.job_id != job.id:
        return _link_duplicate(session, job, existing)
    article = existing or _insert_article(session, job, outcome, digest)
    _add_source(session, article.id, job)
    job.state = JobState.DONE
    job.article_id = article.id
    job.error = None
    job.finished_at = utcnow()
    return job.state


def _insert_article(session: Session, job: models.Job, parsed: Parsed, digest: str) -> models.Article:
    article = models.Article(
        job_id=job.id,
        title=parsed.title,
        subtitle=parsed.subtitle,
        body=parsed.body,
        authors=parsed.authors,
        published_at=parsed.published_at,
        language=parsed.language,
        publisher=parsed.publisher,
        url=parsed.url,
        credits=parsed.credits,
        word_count=parsed.word_count,
        content_hash=digest,
        source_kind=job.source_kind,
        source_uri=job.source_uri,
        ingested_at=job.created_at,
        processed_at=utcnow(),
    )
    session.add(article)
    session.flush()
    return article


def _link_duplicate(session: Session, job: models.Job, existing: models.Article) -> str:
    _add_source(session, existing.id, job)
    job.state = JobState.DUPLICATE
    job.article_id = existing.id
    job.error = None
    job.finished_at = utcnow()
    return job.state


def _add_source(session: Session, article_id: int, job: models.Job) -> None:
    present = session.execute(
        select(models.ArticleSource.id).where(models.ArticleSource.job_id == job.id)
    ).first()
    if present:
        return
    session.add(
        models.ArticleSource(article_id=article_id, job_id=job.id, kind=job.source_kind, uri=job.source_uri)
    )

"""The worker's database adapter: claim a job, save its articles, fail it.

Every function takes a Session inside the caller's transaction, so a job's
outcome (its state, its article, its sources) commits or rolls back as one.

Saving an article decides once what its text is: the new text of an article
that exists already (a job run again, a feed entry that changed), written
into it in place; or a new text, settled into its cluster of copies
(``dedup.clusters``: exact copy, near copy, or the canonical of its story).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from newsmill_schema import models
from newsmill_schema.blobs import store_blob
from newsmill_schema.messages import FINISHED_STATES, JobState
from newsmill_schema.models import utcnow
from newsmill_worker.dedup import clusters, index
from newsmill_worker.dedup.fingerprint import DedupParams, Fingerprint, fingerprint
from newsmill_worker.pipeline import Parsed, RecordError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Work:
    """What a worker needs to process a job, read inside the claiming transaction."""

    job_id: int
    name: str
    source_kind: str
    source_uri: str
    data: bytes
    attempt: int


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
        log.warning("job failed: %s", job.error, extra={"job_id": job.id})
        return None
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


def finish(
    session: Session,
    work: Work,
    outcomes: list[Parsed | RecordError],
    hashes: Sequence[str | Fingerprint],
    params: DedupParams | None = None,
) -> str:
    """Store a job's articles and end it; returns the job's final state.

    ``hashes`` holds each outcome's fingerprint (or just its content hash, and
    the fingerprint is computed here with ``params``). One article: the job
    itself gets it. Several (a JSON Lines or feed file): the job is split into
    one child job per record, each ending done, duplicate or failed on its
    own, in this same transaction.
    """
    params = params or DedupParams()
    job = session.get(models.Job, work.job_id, with_for_update=True)
    assert job is not None
    if job.state in FINISHED_STATES:
        return job.state
    prints = [_fingerprint(o, h, params) for o, h in zip(outcomes, hashes, strict=True)]
    if len(outcomes) == 1:
        return _store(session, job, outcomes[0], prints[0], params)
    for part, (outcome, fp) in enumerate(zip(outcomes, prints, strict=True)):
        _store(session, _child_job(session, job, part, outcome), outcome, fp, params)
    job.state = JobState.DONE
    job.finished_at = utcnow()
    job.error = None
    return job.state


def _fingerprint(
    outcome: Parsed | RecordError, given: str | Fingerprint, params: DedupParams
) -> Fingerprint | None:
    if isinstance(outcome, RecordError):
        return None
    if isinstance(given, Fingerprint):
        return given
    fp = fingerprint(outcome, params)
    return replace(fp, content_hash=given) if given else fp


def _child_job(
    session: Session, parent: models.Job, part: int, outcome: Parsed | RecordError
) -> models.Job:
    ref = outcome.ref or f"#record={part}"
    blob_sha = store_blob(session, outcome.raw) if outcome.raw else parent.blob_sha256
    rerun = session.execute(
        select(models.Job).where(models.Job.parent_id == parent.id, models.Job.part == part)
    ).scalar_one_or_none()
    if rerun is not None:
        # The parent is run again: its records keep their jobs (and their articles).
        rerun.state = JobState.PROCESSING
        rerun.blob_sha256 = blob_sha
        rerun.attempts += 1
        rerun.error = None
        rerun.started_at = utcnow()
        rerun.finished_at = None
        return rerun
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


def _store(
    session: Session,
    job: models.Job,
    outcome: Parsed | RecordError,
    fp: Fingerprint | None,
    params: DedupParams,
) -> str:
    """One article's text: written where it belongs, its source noted, its job ended."""
    if isinstance(outcome, RecordError) or fp is None:
        _fail(job, outcome.reason if isinstance(outcome, RecordError) else "no fingerprint")
        return job.state
    # Decide under the locks of this text's story, one decision at a time.
    index.lock(session, fp, job.id)
    article, rewrote = _place(session, job, outcome, fp, params)
    _add_source(session, article.id, job)
    return _end(job, article, rewrote)


def _place(
    session: Session, job: models.Job, parsed: Parsed, fp: Fingerprint, params: DedupParams
) -> tuple[models.Article, bool]:
    """The article this text ends in, and whether the job wrote it in place.

    A job run again rewrites the article it created (or, when its new text is
    exactly another article's, leaves it as it was: reprocessing never merges).
    A feed job whose entry changed rewrites the article the entry made. Any
    other text is new: an exact copy, a near copy or a story of its own.
    """
    # A first run names no article: it skips the lookup.
    own = _article(session, _own_article_id(session, job)) if job.article_id else None
    if own is not None:
        clusters.rewrite(session, own, parsed, fp)
        return own, False
    entry = _article(session, _entry_article_id(session, job)) if job.feed_id else None
    if entry is not None and clusters.rewrite(session, entry, parsed, fp):
        return entry, True
    article = clusters.settle(session, job, parsed, fp, params)
    _remember_on_entry(session, job, article)
    return article, False


def _own_article_id(session: Session, job: models.Job) -> int | None:
    return session.execute(
        select(models.Article.id).where(models.Article.job_id == job.id)
    ).scalar_one_or_none()


def _entry_article_id(session: Session, job: models.Job) -> int | None:
    return session.execute(
        select(models.FeedEntry.article_id).where(models.FeedEntry.job_id == job.id)
    ).scalar_one_or_none()


def _article(session: Session, article_id: int | None) -> models.Article | None:
    if article_id is None:
        return None
    return session.get(models.Article, article_id, with_for_update=True)


def _remember_on_entry(session: Session, job: models.Job, article: models.Article) -> None:
    """A feed job's entry keeps the article the job created (never one it only joined).

    When the entry changes, its next job rewrites that article in place.
    """
    if job.feed_id is None or article.job_id != job.id:
        return
    session.execute(
        update(models.FeedEntry)
        .where(models.FeedEntry.job_id == job.id)
        .values(article_id=article.id)
        .execution_options(synchronize_session=False)
    )


def _end(job: models.Job, article: models.Article, rewrote: bool) -> str:
    """A job is done when it wrote a canonical article, a duplicate otherwise.

    It wrote the article when it created the row (it owns it: the earliest job
    of its copies) or put its new text into it (a changed feed entry). An
    exact copy of a stored text, and a near copy, end duplicate.
    """
    wrote = rewrote or article.job_id == job.id
    job.state = JobState.DONE if wrote and article.duplicate_of is None else JobState.DUPLICATE
    job.article_id = article.id
    job.error = None
    job.finished_at = utcnow()
    return job.state


def _add_source(session: Session, article_id: int, job: models.Job) -> None:
    """Every job an article arrived from is one of its sources, once."""
    present = session.execute(
        select(models.ArticleSource.id).where(models.ArticleSource.job_id == job.id)
    ).first()
    if present:
        return
    session.add(
        models.ArticleSource(
            article_id=article_id, job_id=job.id, kind=job.source_kind, uri=job.source_uri
        )
    )

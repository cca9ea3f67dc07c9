"""The job life cycle: every change of a job's state, in one place.

A job moves ``queued → processing → done | duplicate | failed``:

- it is created ``queued`` with its stored bytes (a file from the inbox or
  ``newsmill add``, a feed entry), or ``failed`` at once when its file was
  refused; a record of a multi-record file gets a child job of its own,
  ``processing`` from the start, when its parent is split;
- ``start``: a worker claims it; the attempt is counted before any work, so a
  document that kills its worker cannot loop, and a finished job is skipped,
  so a repeated message does nothing;
- it ends ``done`` when it wrote a canonical article, ``duplicate`` when its
  text is a copy of another job's (``conclude``, ``demote``), or ``failed``
  with a one-line reason (``fail``);
- ``presumed_lost`` finds the jobs whose message the broker lost, for the
  reconciler to publish again; ``reprocess`` puts a finished job back to
  ``queued``.

Every function works inside the caller's transaction, so a state change
commits with whatever caused it, or not at all; a function given a job's row
expects the caller to hold its lock (``lock``, ``start``).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from newsmill_schema import models
from newsmill_schema.messages import FINISHED_STATES, JobState, ProcessDocument
from newsmill_schema.models import utcnow

log = logging.getLogger(__name__)

PUBLISH_GRACE_S = 10.0
"""A job recorded this recently is about to be published by whoever recorded it."""
_ERROR_CHARS = 2000


def message(job: models.Job) -> ProcessDocument:
    """The broker message asking a worker to process this job."""
    return ProcessDocument(job_id=job.id, source_kind=job.source_kind, source_uri=job.source_uri)


# --- new jobs ------------------------------------------------------------------------


def new_file_job(
    session: Session,
    *,
    source_uri: str,
    name: str,
    blob_sha256: str | None,
    refusal: str | None = None,
    claim_token: str | None = None,
    reported: bool = False,
) -> models.Job:
    """A job for a file: ``queued`` with its stored bytes, or ``failed`` with why it was refused.

    ``reported``: the caller puts a refused file and its error report in the
    failed folder itself (the inbox does); otherwise the ingest service's
    failure reporter writes them. The job is added to the session; its id
    comes with the next flush, so many jobs can go in with one insert.
    """
    job = models.Job(
        source_kind="file",
        source_uri=source_uri,
        name=name,
        claim_token=claim_token,
        attempts=0,
        failure_reported=False,
    )
    if refusal is not None:
        _failed(job, refusal)
        job.failure_reported = reported
    elif blob_sha256 is None:
        raise ValueError("a queued job needs its stored bytes")
    else:
        job.state = JobState.QUEUED
        job.blob_sha256 = blob_sha256
    session.add(job)
    return job


def new_feed_entry_job(
    session: Session, *, feed_id: int, source_uri: str, name: str, blob_sha256: str | None
) -> models.Job:
    """A ``queued`` job for a new or changed feed entry (its id comes with the next flush).

    An entry refused at intake has no bytes to store: the caller fails the job at once.
    """
    job = models.Job(
        state=JobState.QUEUED,
        source_kind="feed",
        source_uri=source_uri,
        name=name,
        blob_sha256=blob_sha256,
        feed_id=feed_id,
        attempts=0,
        failure_reported=False,
    )
    session.add(job)
    return job


def new_record_job(
    session: Session, parent: models.Job, part: int, ref: str, blob_sha256: str | None
) -> models.Job:
    """The ``processing`` job of one record of a file being split (flushed: it has its id).

    When the parent runs again, its records keep their jobs (and their
    articles): the existing child is claimed again instead.
    """
    again = session.execute(
        select(models.Job).where(models.Job.parent_id == parent.id, models.Job.part == part)
    ).scalar_one_or_none()
    if again is not None:
        again.blob_sha256 = blob_sha256
        again.attempts += 1
        again.error = None
        again.finished_at = None
        _processing(again)
        return again
    child = models.Job(
        source_kind="record",
        source_uri=f"{parent.source_uri}{ref}",
        name=f"{parent.name}{ref}",
        blob_sha256=blob_sha256,
        parent_id=parent.id,
        part=part,
        feed_id=parent.feed_id,
        attempts=1,
        created_at=parent.created_at,
        failure_reported=False,
    )
    _processing(child)
    session.add(child)
    session.flush()
    return child


# --- publishing ----------------------------------------------------------------------


def mark_enqueued(session: Session, job_ids: Collection[int]) -> None:
    """Stamp jobs whose message the broker accepted."""
    if not job_ids:
        return
    # Lock in id order, as workers do, so stamping never deadlocks with them.
    session.execute(
        select(models.Job.id)
        .where(models.Job.id.in_(job_ids))
        .order_by(models.Job.id)
        .with_for_update()
    ).all()
    session.execute(
        update(models.Job).where(models.Job.id.in_(job_ids)).values(enqueued_at=utcnow())
    )


def presumed_lost(
    session: Session,
    now: datetime,
    *,
    queued_timeout_s: float,
    processing_timeout_s: float,
    queue_empty: bool,
    limit: int,
) -> list[ProcessDocument]:
    """Jobs whose message is presumed lost, oldest first: publishing them again is safe.

    ``queued`` jobs never published (after a short grace), or published longer
    ago than ``queued_timeout_s`` while the broker queue is empty (a queue that
    is not empty is a backlog being worked through, not a loss); ``processing``
    jobs started longer ago than ``processing_timeout_s`` (their worker is gone).
    """
    recorded_before = now - timedelta(seconds=min(PUBLISH_GRACE_S, queued_timeout_s))
    never_sent = and_(models.Job.enqueued_at.is_(None), models.Job.created_at < recorded_before)
    queued_before = now - timedelta(seconds=queued_timeout_s)
    lost_queued = (
        or_(never_sent, models.Job.enqueued_at < queued_before) if queue_empty else never_sent
    )
    lost_processing = and_(
        models.Job.state == JobState.PROCESSING,
        models.Job.started_at < now - timedelta(seconds=processing_timeout_s),
    )
    rows = session.execute(
        select(models.Job)
        .where(or_(and_(models.Job.state == JobState.QUEUED, lost_queued), lost_processing))
        .order_by(models.Job.id)
        .limit(limit)
    ).scalars()
    return [message(job) for job in rows]


# --- processing ----------------------------------------------------------------------


def lock(session: Session, job_id: int) -> models.Job | None:
    """The job's row, locked until the transaction ends."""
    return session.execute(
        select(models.Job).where(models.Job.id == job_id).with_for_update()
    ).scalar_one_or_none()


def finished(job: models.Job) -> bool:
    """True when the job has ended: done, duplicate or failed."""
    return job.state in FINISHED_STATES


def start(session: Session, job_id: int, max_attempts: int) -> models.Job | None:
    """Claim a job for processing; None when there is nothing to do.

    A job already finished (a redelivered or re-published message) is skipped,
    which makes processing idempotent. The attempt is counted before any work:
    past ``max_attempts`` the job fails with the last error it noted.
    """
    job = lock(session, job_id)
    if job is None or finished(job):
        return None
    job.attempts += 1
    if job.attempts > max_attempts:
        reason = job.error or "worker process died or was killed while processing"
        _failed(job, f"gave up after {max_attempts} attempts: {reason}")
        log.warning("job failed: %s", job.error, extra={"job_id": job.id})
        return None
    _processing(job)
    return job


def note_error(job: models.Job, reason: str) -> None:
    """Remember why an attempt failed (a locked row), for the final reason if attempts run out."""
    if not finished(job):
        job.error = reason[:_ERROR_CHARS]


def fail(job: models.Job, reason: str) -> str:
    """End a job (a locked row) as ``failed`` with a one-line reason; a finished job stays as it was."""
    if not finished(job):
        _failed(job, reason)
    return job.state


def conclude(job: models.Job, article: models.Article, *, rewrote: bool = False) -> str:
    """End a job with its article: ``done`` when it wrote a canonical article, else ``duplicate``.

    The job wrote the article when it created the row (it owns it: the earliest
    job of its copies) or put its new text into it (``rewrote``: a changed feed
    entry). An exact copy of a stored text, and a near copy, are duplicates.
    """
    wrote = rewrote or article.job_id == job.id
    job.state = JobState.DONE if wrote and article.duplicate_of is None else JobState.DUPLICATE
    job.article_id = article.id
    job.error = None
    job.finished_at = utcnow()
    return job.state


def conclude_split(job: models.Job) -> str:
    """End a job whose file was split into records: ``done``, its records end on their own."""
    job.state = JobState.DONE
    job.error = None
    job.finished_at = utcnow()
    return job.state


def demote(session: Session, article_ids: Collection[int]) -> None:
    """Jobs done with these articles become duplicates: an earlier job took their story over."""
    session.execute(
        update(models.Job)
        .where(models.Job.article_id.in_(article_ids), models.Job.state == JobState.DONE)
        .values(state=JobState.DUPLICATE)
    )


# --- after the end -------------------------------------------------------------------


def reprocess(job: models.Job) -> ProcessDocument:
    """Put a finished job back to ``queued``, as if new; returns its message to publish.

    Its article link stays: a job run again rewrites the article it made.
    """
    job.state = JobState.QUEUED
    job.attempts = 0
    job.error = None
    job.started_at = None
    job.finished_at = None
    job.enqueued_at = None
    job.failure_reported = False
    return message(job)


def unreported_failures(session: Session, limit: int) -> list[models.Job]:
    """Failed jobs whose failed-folder copy and error report are not written yet, oldest first."""
    return list(
        session.execute(
            select(models.Job)
            .where(models.Job.state == JobState.FAILED, models.Job.failure_reported.is_(False))
            .order_by(models.Job.id)
            .limit(limit)
        ).scalars()
    )


def mark_reported(job: models.Job) -> None:
    """The failed folder holds this job's copy and error report."""
    job.failure_reported = True


def _processing(job: models.Job) -> None:
    job.state = JobState.PROCESSING
    job.started_at = utcnow()


def _failed(job: models.Job, reason: str) -> None:
    job.state = JobState.FAILED
    job.error = reason[:_ERROR_CHARS]
    job.finished_at = utcnow()

"""``newsmill reprocess``: run jobs again from the raw bytes stored with them.

Failed jobs get another chance; with ``--all`` every finished job runs again
(after a parser upgrade, say) and rewrites the articles it made in place:
same ids, sources and duplicate links, new text and fields.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select

from newsmill_schema import jobs, models
from newsmill_schema.db import Database
from newsmill_schema.messages import FINISHED_STATES, JobState, ProcessDocument


@dataclass
class Reprocessed:
    """What ``reprocess`` queued again, and what it left alone and why."""

    queued: list[ProcessDocument] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)


def requeue_failed(db: Database, job_ids: Sequence[int] | None = None) -> Reprocessed:
    """Put failed jobs (all of them, or those named) back to ``queued`` in one transaction."""
    result = Reprocessed()
    query = select(models.Job).where(models.Job.state == JobState.FAILED)
    if job_ids is not None:
        query = select(models.Job).where(models.Job.id.in_(job_ids))
    with db.session() as session:
        found = {job.id: job for job in session.execute(query.with_for_update()).scalars()}
        for job_id in job_ids or sorted(found):
            reason = _refusal(found.get(job_id))
            if reason:
                result.refused[job_id] = reason
                continue
            result.queued.append(jobs.reprocess(found[job_id]))
    return result


def requeue_all(db: Database, batch: int = 1000) -> Iterator[list[ProcessDocument]]:
    """Put every finished top-level job with stored bytes back to ``queued``, a batch at a time.

    Each batch is one transaction, yielded for publishing before the next is
    taken, so a large store is never locked at once. Jobs still queued or
    processing are left alone; records of a multi-record file run again with
    their parent, which reuses their jobs.
    """
    after = 0
    while True:
        with db.session() as session:
            finished = (
                session.execute(
                    select(models.Job)
                    .where(
                        models.Job.id > after,
                        models.Job.parent_id.is_(None),
                        models.Job.state.in_(FINISHED_STATES),
                        models.Job.blob_sha256.is_not(None),
                    )
                    .order_by(models.Job.id)
                    .limit(batch)
                    .with_for_update()
                )
                .scalars()
                .all()
            )
            messages = [jobs.reprocess(job) for job in finished]
        if not finished:
            return
        yield messages
        after = finished[-1].id


def _refusal(job: models.Job | None) -> str | None:
    if job is None:
        return "no such job"
    if job.state != JobState.FAILED:
        return f"job is {job.state}, not failed"
    if job.blob_sha256 is None:
        return f"no stored bytes (refused at intake: {job.error})"
    return None

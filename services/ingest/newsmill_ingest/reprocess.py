"""``newsmill reprocess``: run failed jobs again from the raw bytes stored with them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select

from newsmill_schema import models
from newsmill_schema.db import Database
from newsmill_schema.messages import JobState, ProcessDocument


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
        jobs = {job.id: job for job in session.execute(query.with_for_update()).scalars()}
        for job_id in job_ids or sorted(jobs):
            reason = _refusal(jobs.get(job_id))
            if reason:
                result.refused[job_id] = reason
                continue
            _reset(jobs[job_id])
            result.queued.append(
                ProcessDocument(
                    job_id=job_id,
                    source_kind=jobs[job_id].source_kind,
                    source_uri=jobs[job_id].source_uri,
                )
            )
    return result


def _refusal(job: models.Job | None) -> str | None:
    if job is None:
        return "no such job"
    if job.state != JobState.FAILED:
        return f"job is {job.state}, not failed"
    if job.blob_sha256 is None:
        return f"no stored bytes (refused at intake: {job.error})"
    return None


def _reset(job: models.Job) -> None:
    job.state = JobState.QUEUED
    job.attempts = 0
    job.error = None
    job.started_at = None
    job.finished_at = None
    job.enqueued_at = None
    job.failure_reported = False

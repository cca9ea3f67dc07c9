"""The reconciler: the database says what should be in flight; make it so.

A broker message can be lost (Redis restarted without persistence, the
filesystem broker's weak acks, a publish that failed). The job row survives, so
on a timer the reconciler re-publishes jobs that are stuck:

- ``queued`` jobs never published (after a short grace), or published longer ago than
  ``queued_timeout_s`` while the broker queue is empty (a non-empty queue means
  the backlog is still being worked through, not lost);
- ``processing`` jobs started longer ago than ``processing_timeout_s`` (longer
  than the hard time limit, so their worker is gone).

Re-publishing is always safe: a worker skips a job that already finished.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select

from newsmill_ingest.publisher import Publisher
from newsmill_schema import models
from newsmill_schema.db import Database
from newsmill_schema.messages import JobState, ProcessDocument
from newsmill_schema.models import utcnow
from newsmill_schema.settings import Settings

log = logging.getLogger(__name__)

BATCH = 1000
PUBLISH_GRACE_S = 10.0


def stuck_jobs(
    db: Database, settings: Settings, now: datetime, queue_empty: bool, limit: int = BATCH
) -> list[ProcessDocument]:
    """Jobs whose message is presumed lost, oldest first."""
    queued_before = now - timedelta(seconds=settings.queued_timeout_s)
    started_before = now - timedelta(seconds=settings.processing_timeout_s)
    queued = models.Job.state == JobState.QUEUED
    # A job recorded a moment ago is about to be published by whoever recorded it.
    recorded_before = now - timedelta(seconds=min(PUBLISH_GRACE_S, settings.queued_timeout_s))
    never_sent = and_(models.Job.enqueued_at.is_(None), models.Job.created_at < recorded_before)
    lost_queued = (
        or_(never_sent, models.Job.enqueued_at < queued_before) if queue_empty else never_sent
    )
    lost_processing = and_(
        models.Job.state == JobState.PROCESSING, models.Job.started_at < started_before
    )
    query = (
        select(models.Job.id, models.Job.source_kind, models.Job.source_uri)
        .where(or_(and_(queued, lost_queued), lost_processing))
        .order_by(models.Job.id)
        .limit(limit)
    )
    with db.session() as session:
        rows = session.execute(query).all()
    return [
        ProcessDocument(job_id=r.id, source_kind=r.source_kind, source_uri=r.source_uri)
        for r in rows
    ]


def reconcile(db: Database, publisher: Publisher, settings: Settings) -> int:
    """Re-publish stuck jobs; returns how many were sent."""
    depth = publisher.queue_depth()
    jobs = stuck_jobs(db, settings, utcnow(), queue_empty=depth == 0)
    if not jobs:
        return 0
    sent = publisher.publish(jobs)
    log.info("reconciler re-published %d job(s)", sent)
    return sent

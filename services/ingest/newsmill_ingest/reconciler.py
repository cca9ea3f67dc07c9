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
from datetime import datetime

from newsmill_ingest.publisher import Publisher
from newsmill_schema import broker, jobs
from newsmill_schema.db import Database
from newsmill_schema.messages import ProcessDocument
from newsmill_schema.models import utcnow
from newsmill_schema.settings import Settings

log = logging.getLogger(__name__)

BATCH = 1000


def stuck_jobs(
    db: Database, settings: Settings, now: datetime, queue_empty: bool, limit: int = BATCH
) -> list[ProcessDocument]:
    """Jobs whose message is presumed lost, oldest first (``jobs.presumed_lost``)."""
    with db.session() as session:
        return jobs.presumed_lost(
            session,
            now,
            queued_timeout_s=settings.queued_timeout_s,
            processing_timeout_s=settings.processing_timeout_s,
            queue_empty=queue_empty,
            limit=limit,
        )


def reconcile(db: Database, publisher: Publisher, settings: Settings) -> int:
    """Re-publish stuck jobs; returns how many were sent."""
    depth = broker.queue_depth(publisher.app)
    lost = stuck_jobs(db, settings, utcnow(), queue_empty=depth == 0)
    if not lost:
        return 0
    sent = publisher.publish(lost)
    log.info("reconciler re-published %d job(s)", sent)
    return sent

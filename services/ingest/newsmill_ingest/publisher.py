"""The ingest service's publisher: send job ids to the workers, stamp them enqueued.

Its Celery app comes from ``newsmill_schema.broker`` and it sends tasks by
name, so the ingest service never imports worker code.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from newsmill_schema import broker, jobs
from newsmill_schema.db import Database
from newsmill_schema.messages import PROCESS_DOCUMENT, QUEUE, ProcessDocument
from newsmill_schema.settings import Settings

log = logging.getLogger(__name__)

# Fail fast when the broker is down: the job stays queued in the database and
# the reconciler publishes it once the broker is back.
_RETRY_POLICY = {"max_retries": 1, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 1}


class Publisher:
    """Publishes ``newsmill.process_document`` messages for committed jobs."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.db = db
        self.app = broker.make_app(settings, "newsmill-ingest")

    def publish(self, messages: Iterable[ProcessDocument]) -> int:
        """Send the messages and stamp their jobs' enqueued_at; returns how many went out."""
        sent: list[int] = []
        try:
            with self.app.producer_or_acquire() as producer:
                for message in messages:
                    args, kwargs = message.task_args()
                    self.app.send_task(
                        PROCESS_DOCUMENT,
                        args=args,
                        kwargs=kwargs,
                        queue=QUEUE,
                        producer=producer,
                        retry=True,
                        retry_policy=_RETRY_POLICY,
                    )
                    sent.append(message.job_id)
        except Exception as exc:
            log.warning(
                "broker unavailable, %d job(s) left for the reconciler: %s",
                len(sent),
                exc.__class__.__name__,
            )
        self._stamp(sent)
        return len(sent)

    def _stamp(self, job_ids: list[int]) -> None:
        if not job_ids:
            return
        with self.db.session() as session:
            jobs.mark_enqueued(session, job_ids)

    def close(self) -> None:
        self.app.close()

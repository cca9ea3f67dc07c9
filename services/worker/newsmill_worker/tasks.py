"""Celery tasks: thin shells that hand a job id to the Processor."""

from __future__ import annotations

import logging
import os
import random
import resource

from celery import Task
from celery.signals import worker_init, worker_process_init
from sqlalchemy.exc import DBAPIError

from newsmill_schema.db import Database
from newsmill_schema.messages import PROCESS_DOCUMENT
from newsmill_worker import metrics  # noqa: F401 - connects its task signal handlers
from newsmill_worker.celery_app import app, settings
from newsmill_worker.deadline import FetchTimeout
from newsmill_worker.processor import Processor, limits_from, warm_up

log = logging.getLogger(__name__)

_processor: tuple[int, Processor] | None = None


def processor() -> Processor:
    """This process's Processor; made after fork so no connection crosses processes."""
    global _processor
    if _processor is None or _processor[0] != os.getpid():
        current = settings()
        _processor = (os.getpid(), Processor(current, Database.from_settings(current)))
    return _processor[1]


@worker_init.connect
def _warm_up(**_: object) -> None:
    warm_up(limits_from(settings()))


@worker_process_init.connect
def _limit_memory(**_: object) -> None:
    # A hard address-space cap per pool process: a document that would take
    # more fails with MemoryError instead of taking the machine down.
    limit_mb = settings().worker_memory_limit_mb
    if limit_mb > 0:
        limit = limit_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def backoff(retries: int, base: float = 1.0, cap: float = 60.0) -> float:
    """Exponential backoff with full jitter, in seconds."""
    return random.uniform(0, min(cap, base * 2**retries))


@app.task(name=PROCESS_DOCUMENT, bind=True, max_retries=8)
def process_document(self: Task, job_id: int, source_kind: str = "", source_uri: str = "") -> str:
    """Run the pipeline on a stored job. Arguments name the job, never carry its bytes."""
    try:
        return processor().process(job_id)
    except FetchTimeout as exc:
        return _retry_or_fail(self, job_id, f"fetching the full text {exc.reason}")
    except DBAPIError as exc:
        # The database is unreachable or restarting: nothing was committed, so
        # the same job can simply run again later.
        log.warning(
            "database error, retrying: %s", exc.__class__.__name__, extra={"job_id": job_id}
        )
        raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from exc


def _retry_or_fail(task: Task, job_id: int, reason: str) -> str:
    if task.request.retries >= settings().max_attempts - 1:
        return processor().fail(
            job_id, f"gave up after {settings().max_attempts} attempts: {reason}"
        )
    processor().note_error(job_id, reason)
    raise task.retry(countdown=backoff(task.request.retries))

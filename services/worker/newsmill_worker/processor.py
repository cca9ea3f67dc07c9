"""Run one job: read its bytes, run the pipeline, store the outcome.

The Celery task is a thin shell around ``Processor.process``; everything a job
goes through is here, testable with a database and no broker.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from newsmill_schema import jobs, models
from newsmill_schema.db import Database
from newsmill_schema.messages import JobState
from newsmill_schema.settings import Settings
from newsmill_worker import pipeline, store
from newsmill_worker.deadline import DocumentTimeout, FetchTimeout, deadline
from newsmill_worker.dedup.fingerprint import DedupParams, Fingerprint, fingerprint
from newsmill_worker.fulltext import FullText
from newsmill_worker.host_slots import HostSlots
from newsmill_worker.pipeline import DocumentError, Limits, Parsed

log = logging.getLogger(__name__)

SKIPPED = "skipped"
"""Returned when the job had already finished (a repeated message)."""

# Two workers storing the same new content race on the unique content hash,
# and two re-pointing the same cluster can deadlock; the loser retries.
_STORE_ATTEMPTS = 3
# Postgres: serialization failure, deadlock detected.
_RETRYABLE_SQLSTATES = {"40001", "40P01"}


@dataclass(frozen=True)
class Work:
    """What a worker needs to process a job, read inside the claiming transaction."""

    job_id: int
    name: str
    data: bytes
    from_feed: bool
    """A registered feed's entry: the only kind of job whose record may ask for its page."""


def claim(session: Session, job_id: int, max_attempts: int) -> Work | None:
    """Start a job (``jobs.start``) and read its bytes; None when there is nothing to do."""
    job = jobs.start(session, job_id, max_attempts)
    if job is None:
        return None
    blob = session.get(models.Blob, job.blob_sha256) if job.blob_sha256 else None
    return Work(
        job_id=job.id,
        name=job.name,
        data=blob.data if blob else b"",
        from_feed=job.source_kind == "feed",
    )


def limits_from(settings: Settings) -> Limits:
    return Limits(
        max_bytes=settings.max_document_bytes,
        max_decompressed_bytes=settings.max_decompressed_bytes,
        max_records=settings.max_records_per_file,
        max_depth=settings.max_nesting_depth,
        max_html_elements=settings.max_html_elements,
    )


def dedup_params_from(settings: Settings) -> DedupParams:
    return DedupParams(
        threshold=settings.dedup_threshold,
        shingle_size=settings.dedup_shingle_size,
        num_perm=settings.dedup_num_perm,
        max_candidates=settings.dedup_max_candidates,
    )


def _retryable(exc: DBAPIError) -> bool:
    return (
        isinstance(exc, IntegrityError)
        or getattr(exc.orig, "sqlstate", None) in _RETRYABLE_SQLSTATES
    )


def warm_up(limits: Limits) -> None:
    """Load parsers and models now, so the first real document is not slowed by it.

    Called in the worker's main process before the pool forks: the children
    then share the loaded models instead of each loading its own copy.
    """
    samples = (
        (b"Warm up\n\nA first paragraph of text.", "warmup.txt"),
        (
            # No declared date: htmldate searches the text, which loads dateparser's tables.
            b"<html><body><article><h1>Warm up</h1><p>Published on 3 March 2024.</p>"
            b"<p>Text.</p></article></body></html>",
            "warmup.html",
        ),
    )
    for data, name in samples:
        try:
            pipeline.run(data, name, limits)
        except DocumentError:
            continue


def relax_commit(session: Session) -> None:
    """Commit a job's outcome without waiting for the WAL flush (Postgres only).

    Safe here and nowhere else: if a crash loses this commit, the job is still
    ``processing`` in the database, the reconciler re-publishes it and the
    idempotent pipeline stores the same outcome again. Intake never does this.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL synchronous_commit = off"))


class Processor:
    """Processes jobs against one database with one set of limits."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.limits = limits_from(settings)
        self.dedup = dedup_params_from(settings)
        self.full_text = FullText(settings, HostSlots(db, settings.fulltext_host_interval_s))

    def process(self, job_id: int) -> str:
        """Process a job to its final state; safe to call any number of times."""
        with self.db.session() as session:
            work = claim(session, job_id, self.settings.max_attempts)
        if work is None:
            return SKIPPED
        try:
            with deadline(self.settings.document_time_limit_s):
                outcomes = self.full_text.run(
                    work.data, work.name, self.limits, from_feed=work.from_feed
                )
        except DocumentError as exc:
            return self.fail(job_id, exc.reason)
        except RecursionError:
            return self.fail(job_id, "document nested too deeply to parse")
        except MemoryError:
            return self.fail(job_id, "document exceeded the worker's memory limit")
        except FetchTimeout:
            raise  # the network was slow, not the document: the task retries it
        except DocumentTimeout as exc:
            return self.fail(
                job_id,
                f"parsing {exc.reason}; not retried (the same bytes would take as long again)",
            )
        except Exception as exc:
            # A parser bug on this one document: record it (reprocess once fixed), keep serving.
            log.exception("pipeline error", extra={"job_id": job_id})
            return self.fail(
                job_id, f"internal error while parsing: {exc.__class__.__name__}: {exc}"
            )
        prints: list[str | Fingerprint] = [
            fingerprint(o, self.dedup) if isinstance(o, Parsed) else "" for o in outcomes
        ]
        return self._finish(work, outcomes, prints)

    def _finish(
        self, work: Work, outcomes: list[pipeline.Outcome], prints: list[str | Fingerprint]
    ) -> str:
        for attempt in range(1, _STORE_ATTEMPTS + 1):
            try:
                with self.db.session() as session:
                    relax_commit(session)
                    state = store.finish(session, work.job_id, outcomes, prints, self.dedup)
                log.info("job %s", state, extra={"job_id": work.job_id})
                return state
            except DBAPIError as exc:
                if attempt == _STORE_ATTEMPTS or not _retryable(exc):
                    raise
                log.info(
                    "concurrent store of a related article; retrying", extra={"job_id": work.job_id}
                )
        raise AssertionError("unreachable")

    def fail(self, job_id: int, reason: str) -> str:
        """End a job as failed for a reason that retrying cannot fix."""
        with self.db.session() as session:
            job = jobs.lock(session, job_id)
            if job is not None:
                jobs.fail(job, reason)
        log.warning("job failed: %s", reason, extra={"job_id": job_id})
        return JobState.FAILED

    def note_error(self, job_id: int, reason: str) -> None:
        """Record a transient error on a job that will be retried."""
        with self.db.session() as session:
            job = jobs.lock(session, job_id)
            if job is not None:
                jobs.note_error(job, reason)

"""The failed folder: every failed job's original beside a ``<name>.error.json``.

Workers may run on other machines, so they only mark a job failed in the
database; the ingest service, which owns the data folders, writes the files.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from newsmill_ingest import folders
from newsmill_ingest.intake import error_report
from newsmill_schema import models
from newsmill_schema.db import Database
from newsmill_schema.messages import JobState
from newsmill_schema.settings import Settings

log = logging.getLogger(__name__)

BATCH = 200


def report_failures(db: Database, settings: Settings, limit: int = BATCH) -> int:
    """Write the failed folder's copy and error report of newly failed jobs."""
    assert settings.failed_dir
    failed_dir = settings.failed_dir
    with db.session() as session:
        jobs = (
            session.execute(
                select(models.Job)
                .where(models.Job.state == JobState.FAILED, models.Job.failure_reported.is_(False))
                .order_by(models.Job.id)
                .limit(limit)
            )
            .scalars()
            .all()
        )
        for job in jobs:
            target, tag = failed_dir / _file_name(job), f"job{job.id}"
            placed = _place_original(session, job, target, tag)
            if placed is None:
                folders.new_report(target, tag, error_report(job))
            else:
                folders.write_report(folders.report_path(placed), error_report(job))
            job.failure_reported = True
            log.info("failed: %s (%s)", job.name, job.error, extra={"job_id": job.id})
        return len(jobs)


def _file_name(job: models.Job) -> str:
    # A record of a multi-record file is named like "feed.xml#entry=3": keep it one path part.
    return job.name.replace("/", "_").replace("#", "_") or f"job{job.id}"


def _place_original(session: Session, job: models.Job, target: Path, tag: str) -> Path | None:
    """Move the archived original, or write the stored bytes, to a new name like ``target``."""
    archived = Path(job.archive_path) if job.archive_path else None
    if archived is not None and folders.regular_file(archived):
        job.archive_path = None
        return folders.move_new(archived, target, tag)
    blob = session.get(models.Blob, job.blob_sha256) if job.blob_sha256 else None
    if blob is None:
        return None
    return folders.write_new(target, tag, blob.data)

"""``newsmill add``: submit files from anywhere, with the inbox's guarantees.

The files are not moved: their bytes are stored with a job in one
transaction, then published, exactly as for a file taken from the inbox.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from newsmill_ingest.intake import ignored, read_file
from newsmill_ingest.publisher import Publisher
from newsmill_schema import models
from newsmill_schema.blobs import store_blob
from newsmill_schema.db import Database
from newsmill_schema.messages import JobState, ProcessDocument
from newsmill_schema.models import utcnow
from newsmill_schema.settings import Settings


def files_under(paths: Iterable[Path]) -> list[Path]:
    """The files named, and the files inside the folders named, in a stable order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(p for p in sorted(path.rglob("*")) if p.is_file() and not ignored(p.name))
        else:
            found.append(path)
    return found


def submit(
    settings: Settings,
    db: Database,
    files: list[Path],
    on_each: Callable[[], object] = lambda: None,
) -> list[ProcessDocument]:
    """Record a job per file, then publish the queued ones."""
    messages = []
    for path in files:
        messages.append(_record(db, path, settings.max_document_bytes))
        on_each()
    queued = [m for m, ok in messages if ok]
    publisher = Publisher(settings, db)
    try:
        publisher.publish(queued)
    finally:
        publisher.close()
    return [m for m, _ in messages]


def _record(db: Database, path: Path, limit: int) -> tuple[ProcessDocument, bool]:
    problem, data = read_file(path, limit)
    uri = path.resolve().as_uri()
    with db.session() as session:
        job = models.Job(source_kind="file", source_uri=uri, name=path.name)
        if problem is None and data is not None:
            job.state = JobState.QUEUED
            job.blob_sha256 = store_blob(session, data)
        else:
            job.state = JobState.FAILED
            job.error = problem
            job.finished_at = utcnow()
        session.add(job)
        session.flush()
        message = ProcessDocument(job_id=job.id, source_kind="file", source_uri=uri)
        return message, job.state == JobState.QUEUED

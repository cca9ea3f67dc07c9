"""``newsmill add``: submit files from anywhere, with the inbox's guarantees.

The files are not moved: their bytes are stored with a job in one
transaction, then published, exactly as for a file taken from the inbox.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from newsmill_ingest.intake import ignored, read_file
from newsmill_ingest.publisher import Publisher
from newsmill_schema import jobs
from newsmill_schema.blobs import store_blob
from newsmill_schema.db import Database
from newsmill_schema.messages import JobState, ProcessDocument
from newsmill_schema.settings import Settings

BATCH = 200
"""Files recorded before their jobs are published: well inside the reconciler's grace."""


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
    """Record a job per file, publishing the queued ones batch by batch."""
    messages: list[ProcessDocument] = []
    publisher = Publisher(settings, db)
    try:
        for start in range(0, len(files), BATCH):
            batch = [
                _record(db, path, settings.max_document_bytes)
                for path in files[start : start + BATCH]
            ]
            publisher.publish([m for m, queued in batch if queued])
            messages.extend(m for m, _ in batch)
            for _ in batch:
                on_each()
    finally:
        publisher.close()
    return messages


def _record(db: Database, path: Path, limit: int) -> tuple[ProcessDocument, bool]:
    # Named by the operator, not dropped by someone else: another name is no threat here.
    content = read_file(path, limit, refuse_hard_links=False)
    problem, data = content.problem, content.data
    if content.changing:
        problem = "file changed while it was read (still being written?)"
    uri = path.resolve().as_uri()
    with db.session() as session:
        job = jobs.new_file_job(
            session,
            source_uri=uri,
            name=path.name,
            blob_sha256=store_blob(session, data) if data is not None else None,
            refusal=problem,
        )
        session.flush()
        return jobs.message(job), job.state == JobState.QUEUED

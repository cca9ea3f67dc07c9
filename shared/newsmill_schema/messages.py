"""Messages between the ingest service and the workers, and the job life cycle.

A message carries only a job id and where the document came from: the bytes
live in the database, so a lost or repeated message never loses or doubles a
document.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel

from newsmill_schema.article import SourceKind

PROCESS_DOCUMENT = "newsmill.process_document"
"""Celery task name of the document pipeline."""

QUEUE = "newsmill"
"""The one queue documents travel on."""

FULL_TEXT_FIELD = "fetch_full_text"
"""Key of a feed-entry record asking the worker to fetch and extract the entry's page."""


class JobState(StrEnum):
    """A job moves queued → processing → done | duplicate | failed."""

    QUEUED = "queued"
    PROCESSING = "processing"
    DONE = "done"
    DUPLICATE = "duplicate"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in (JobState.DONE, JobState.DUPLICATE, JobState.FAILED)


FINISHED_STATES = tuple(s.value for s in JobState if s.finished)


class ProcessDocument(BaseModel):
    """Ask a worker to run the pipeline on one stored job."""

    job_id: int
    source_kind: SourceKind
    source_uri: str

    def task_args(self) -> tuple[list[object], dict[str, object]]:
        """Celery args: the job id positionally, the source as keywords (shown by Flower)."""
        return [self.job_id], {"source_kind": self.source_kind, "source_uri": self.source_uri}

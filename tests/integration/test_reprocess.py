"""Reprocessing puts failed jobs with stored bytes back in the queue, and nothing else."""

from __future__ import annotations

import pytest

from newsmill_ingest.reprocess import requeue_failed
from newsmill_schema import models
from newsmill_schema.blobs import store_blob
from newsmill_schema.db import Database


@pytest.fixture
def db(database_url: str) -> Database:
    database = Database(database_url)
    database.upgrade()
    return database


def _job(db: Database, state: str, data: bytes | None, error: str | None = None) -> int:
    with db.session() as session:
        job = models.Job(
            state=state,
            source_kind="file",
            source_uri="inbox/x",
            name="x",
            error=error,
            attempts=3,
            failure_reported=True,
        )
        if data is not None:
            job.blob_sha256 = store_blob(session, data)
        session.add(job)
        session.flush()
        return job.id


def test_failed_jobs_with_bytes_are_requeued_and_reset(db: Database) -> None:
    failed = _job(db, "failed", b"Title\n\nbody", error="exceeded the time limit of 30s")
    rejected = _job(db, "failed", None, error="file too large")
    done = _job(db, "done", b"Other\n\nbody")

    result = requeue_failed(db)

    assert [m.job_id for m in result.queued] == [failed]
    assert result.refused == {rejected: "no stored bytes (refused at intake: file too large)"}
    with db.session() as session:
        job = session.get(models.Job, failed)
        assert job is not None
        assert (job.state, job.attempts, job.error, job.failure_reported) == (
            "queued",
            0,
            None,
            False,
        )
        untouched = session.get(models.Job, done)
        assert untouched is not None and untouched.state == "done"


def test_named_jobs_that_are_not_failed_are_refused_with_a_reason(db: Database) -> None:
    done = _job(db, "done", b"Other\n\nbody")

    result = requeue_failed(db, [done, 999])

    assert result.queued == []
    assert result.refused == {done: "job is done, not failed", 999: "no such job"}

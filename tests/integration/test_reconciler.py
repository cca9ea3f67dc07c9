"""The reconciler finds exactly the jobs whose broker message is presumed lost."""

from __future__ import annotations

from datetime import timedelta

import pytest

from newsmill_ingest.reconciler import stuck_jobs
from newsmill_schema import models
from newsmill_schema.db import Database
from newsmill_schema.models import utcnow
from newsmill_schema.settings import Settings


@pytest.fixture
def db(database_url: str) -> Database:
    database = Database(database_url)
    database.upgrade()
    return database


def _job(db: Database, state: str, **fields: object) -> int:
    with db.session() as session:
        job = models.Job(state=state, source_kind="file", source_uri="inbox/x", name="x", **fields)
        session.add(job)
        session.flush()
        return job.id


def test_stuck_jobs(db: Database, tmp_path) -> None:
    settings = Settings(data_dir=tmp_path, queued_timeout_s=60, processing_timeout_s=180)
    now = utcnow()
    never_sent = _job(db, "queued", created_at=now - timedelta(seconds=30))
    just_recorded = _job(db, "queued")
    fresh = _job(db, "queued", enqueued_at=now - timedelta(seconds=5))
    stale = _job(db, "queued", enqueued_at=now - timedelta(seconds=120))
    running = _job(db, "processing", started_at=now - timedelta(seconds=30))
    abandoned = _job(db, "processing", started_at=now - timedelta(seconds=600))
    _job(db, "done", enqueued_at=now - timedelta(seconds=999))
    _job(db, "failed")

    busy_queue = [j.job_id for j in stuck_jobs(db, settings, now, queue_empty=False)]
    empty_queue = [j.job_id for j in stuck_jobs(db, settings, now, queue_empty=True)]

    # A backlog still in the broker is being worked through: only the never-sent
    # and the abandoned jobs are re-published.
    assert busy_queue == [never_sent, abandoned]
    # An empty broker with stale queued jobs means their messages were lost.
    assert empty_queue == [never_sent, stale, abandoned]
    assert fresh not in empty_queue and running not in empty_queue
    assert just_recorded not in empty_queue

"""SIGTERM on a busy worker: in-flight documents finish, reserved ones go back to the queue."""

from __future__ import annotations

import redis

from newsmill_ingest.views import job_counts
from newsmill_schema.db import Database
from newsmill_schema.messages import QUEUE, JobState
from tests.reliability.conftest import SCALE
from tests.reliability.harness import (
    Stack,
    assert_ledger,
    corpus,
    drop,
    published,
    wait_for,
    wait_progress,
    wait_settled,
)


def test_a_stopped_worker_finishes_or_returns_its_work(stack: Stack) -> None:
    docs = corpus(300 * SCALE, seed=17)
    stack.start()
    assert stack.worker is not None
    db = Database(stack.database_url)
    queue = redis.Redis.from_url(stack.broker_url)

    # Given a worker busy with a run whose every job has been published
    drop(stack.inbox, docs)
    wait_for(lambda: published(db) == len(docs), 60, what="every job published")
    wait_progress(db, len(docs) // 5, timeout=120)

    # When it is asked to stop (billiard can hold an exiting pool process up to 30 s; see README)
    code = stack.worker.stop(timeout=60)

    # Then it stops cleanly, no job is left half-done, and every unfinished one is back in the queue
    assert code == 0, stack.logs()
    counts = job_counts(db)
    assert counts.get(JobState.PROCESSING, 0) == 0, counts
    unfinished = counts.get(JobState.QUEUED, 0)
    assert unfinished > 0, "the run finished before the stop: use more documents"
    assert queue.llen(QUEUE) >= unfinished, (queue.llen(QUEUE), counts)

    # And a new worker finishes the run, each document once
    stack.start_worker()
    wait_settled(db, {d.name for d in docs}, timeout=180, stack=stack)
    assert_ledger(db, docs, stack.data / "work")
    queue.close()

"""Scenario 7: a document that crashes its worker is retried a bounded number of times; one
that hangs in parsing fails at its time limit at once (parsing it again would hang again)."""

from __future__ import annotations

import json
from pathlib import Path

from newsmill_schema.db import Database
from tests.reliability.harness import (
    Document,
    Stack,
    assert_ledger,
    corpus,
    drop,
    top_level_jobs,
    wait_settled,
)
from tests.support import wait_for


def test_poison_documents_fail_with_a_reason_without_blocking_others(
    tmp_path: Path, pg_url: str, redis_url: str
) -> None:
    stack = Stack(
        tmp_path,
        pg_url,
        redis_url,
        worker_module="celery",
        worker_args=(
            "-A",
            "tests.reliability.poison_worker",
            "worker",
            "--loglevel=INFO",
            "--queues=newsmill",
            "--hostname=poison@%h",
        ),
    ).start()
    db = Database(pg_url)
    try:
        good = corpus(60, seed=71)
        crash = Document("crash.txt", "", b"POISON:CRASH\n\nthis document kills its worker")
        hang = Document("hang.txt", "", b"POISON:HANG\n\nthis document never finishes")
        # Given poison documents dropped among good ones
        drop(stack.inbox, [crash, hang, *good])

        # Then the good ones all finish, and each poison document ends failed once
        wait_settled(db, {d.name for d in [crash, hang, *good]}, timeout=180, stack=stack)
        assert_ledger(
            db, [crash, hang, *good], stack.data / "work", failed={"crash.txt", "hang.txt"}
        )
        jobs = top_level_jobs(db)
        crashed, hung = jobs["crash.txt"][0], jobs["hang.txt"][0]
        assert crashed.error and "gave up after 3 attempts" in crashed.error
        assert "died" in crashed.error or "killed" in crashed.error
        assert hung.error and "time limit" in hung.error and "not retried" in hung.error
        assert hung.attempts == 1
        # with the reason written beside the file in the failed folder
        for name in ("crash.txt", "hang.txt"):
            report = stack.data / "failed" / f"{name}.error.json"
            wait_for(report.exists, 10, what=str(report))
            assert json.loads(report.read_text())["reason"] == jobs[name][0].error
        assert stack.worker is not None and stack.worker.alive
    finally:
        stack.stop()
        db.dispose()

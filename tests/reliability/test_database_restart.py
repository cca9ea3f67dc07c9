"""Scenario 4: restart Postgres mid-run; workers and ingest retry with backoff on their own."""

from __future__ import annotations

from pathlib import Path

from newsmill_schema.db import Database
from tests.reliability.conftest import SCALE
from tests.reliability.harness import (
    PostgresServer,
    Stack,
    assert_ledger,
    corpus,
    drop,
    progress,
    wait_progress,
    wait_settled,
)


def test_a_postgres_restart_delays_but_loses_nothing(
    tmp_path: Path, redis_url: str, own_postgres: PostgresServer
) -> None:
    docs = corpus(300 * SCALE, seed=41)
    stack = Stack(tmp_path, own_postgres.url, redis_url).start()
    db = Database(own_postgres.url)
    try:
        drop(stack.inbox, docs[: len(docs) // 2])
        wait_progress(db, len(docs) // 6, timeout=120)
        # When Postgres goes down while files keep landing, then comes back
        db.dispose()
        own_postgres.stop()
        drop(stack.inbox, docs[len(docs) // 2 :])
        own_postgres.start()
        assert progress(db) < len(docs)

        # Then ingest and workers reconnect by themselves and finish everything once
        wait_settled(db, {d.name for d in docs}, timeout=240, stack=stack)
        assert_ledger(db, docs, stack.data / "work")
        assert stack.ingest is not None and stack.ingest.alive
        assert stack.worker is not None and stack.worker.alive
    finally:
        stack.stop()
        db.dispose()

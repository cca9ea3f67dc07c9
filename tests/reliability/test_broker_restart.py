"""Scenario 3: restart Redis mid-run with no persistence; the reconciler recovers the lost messages."""

from __future__ import annotations

from pathlib import Path

from newsmill_schema.db import Database
from tests.reliability.conftest import SCALE
from tests.reliability.harness import (
    RedisServer,
    Stack,
    assert_ledger,
    corpus,
    drop,
    progress,
    wait_progress,
    wait_settled,
)


def test_messages_lost_with_redis_are_republished(
    tmp_path: Path, pg_url: str, own_redis: RedisServer
) -> None:
    docs = corpus(400 * SCALE, seed=31)
    stack = Stack(tmp_path, pg_url, own_redis.url).start()
    db = Database(pg_url)
    try:
        drop(stack.inbox, docs)
        # When Redis dies with the queue in it and comes back empty
        wait_progress(db, len(docs) // 5, timeout=120)
        own_redis.restart()
        lost_at = progress(db)
        assert lost_at < len(docs), "the run finished before the restart: use more documents"

        # Then the reconciler re-publishes from the database and everything finishes once
        wait_settled(db, {d.name for d in docs}, timeout=240, stack=stack)
        assert_ledger(db, docs, stack.data / "work")
        assert "re-published" in stack.logs()
    finally:
        stack.stop()
        db.dispose()

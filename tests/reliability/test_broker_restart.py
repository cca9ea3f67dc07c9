"""Scenario 3: restart Redis mid-run with no persistence; the reconciler recovers the lost messages."""

from __future__ import annotations

from pathlib import Path

import redis

from newsmill_schema.db import Database
from newsmill_schema.messages import QUEUE
from tests.reliability.conftest import SCALE
from tests.reliability.harness import (
    RedisServer,
    Stack,
    assert_ledger,
    corpus,
    drop,
    progress,
    published,
    wait_for,
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
        # Given a run under way, with every job published and messages waiting in Redis
        drop(stack.inbox, docs)
        wait_progress(db, len(docs) // 5, timeout=120)
        stack.freeze_worker()
        wait_for(lambda: published(db) == len(docs), 60, what="every job published")
        waiting = redis.Redis.from_url(own_redis.url).llen(QUEUE)
        assert waiting > 0, "nothing waited in the queue: use more documents"

        # When Redis dies with the queue in it and comes back empty
        own_redis.restart()
        stack.thaw_worker()
        assert progress(db) < len(docs)

        # Then the reconciler re-publishes from the database and everything finishes once
        wait_settled(db, {d.name for d in docs}, timeout=240, stack=stack)
        assert_ledger(db, docs, stack.data / "work")
        assert stack.logged("re-published"), stack.logs()
    finally:
        stack.stop()
        db.dispose()

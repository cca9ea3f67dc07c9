"""Scenario 5: a burst of small files created at once, beyond what inotify queues."""

from __future__ import annotations

from newsmill_schema.db import Database
from tests.reliability.conftest import SCALE
from tests.reliability.harness import Document, Stack, assert_ledger, wait_settled


def test_every_file_of_a_burst_is_ingested(stack: Stack) -> None:
    count = 2000 * SCALE
    docs = [
        Document(
            f"burst-{i:05d}.txt",
            f"Burst item {i}",
            f"Burst item {i}\n\nShort note number {i} about the burst.".encode(),
        )
        for i in range(count)
    ]
    stack.start()
    db = Database(stack.database_url)

    # When thousands of files are created in the inbox at once (not moved in)
    for doc in docs:
        (stack.inbox / doc.name).write_bytes(doc.data)

    # Then every one becomes exactly one article
    wait_settled(db, {d.name for d in docs}, timeout=120 * SCALE, stack=stack)
    assert_ledger(db, docs, stack.data / "work")

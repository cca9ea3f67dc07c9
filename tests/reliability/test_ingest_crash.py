"""Scenario 2: SIGKILL the ingest service during a burst of files, then restart it."""

from __future__ import annotations

from newsmill_schema.db import Database
from tests.reliability.conftest import SCALE
from tests.reliability.harness import (
    Stack,
    assert_ledger,
    corpus,
    drop,
    kill_tree,
    top_level_jobs,
    wait_settled,
)
from tests.support import wait_for


def test_a_killed_ingest_service_records_every_file_once_after_restart(stack: Stack) -> None:
    docs = corpus(500 * SCALE, seed=21)
    stack.start()
    db = Database(stack.database_url)
    assert stack.ingest is not None

    # Given a burst landing in the inbox
    drop(stack.inbox, docs[: len(docs) // 2])
    # When the ingest service is SIGKILLed in the middle of recording it
    wait_for(lambda: len(top_level_jobs(db)) >= len(docs) // 10, 60, what="intake under way")
    kill_tree(stack.ingest.popen.pid)
    drop(stack.inbox, docs[len(docs) // 2 :])
    # and restarted
    stack.start_ingest()

    # Then every file is recorded exactly once and becomes exactly one article
    wait_settled(db, {d.name for d in docs}, timeout=240, stack=stack)
    assert_ledger(db, docs, stack.data / "work")
    assert list(stack.inbox.iterdir()) == []
    assert len(list((stack.data / "archive").iterdir())) == len(docs)

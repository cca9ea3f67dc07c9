"""Scenario 1: SIGKILL worker processes, and the whole worker tree, during a run."""

from __future__ import annotations

import signal

from newsmill_schema.db import Database
from tests.reliability.conftest import SCALE
from tests.reliability.harness import (
    Stack,
    assert_ledger,
    corpus,
    drop,
    kill_tree,
    progress,
    wait_progress,
    wait_settled,
)


def test_killed_pool_processes_lose_and_double_nothing(stack: Stack) -> None:
    docs = corpus(300 * SCALE)
    stack.start()
    db = Database(stack.database_url)

    # Given a run under way
    drop(stack.inbox, docs)
    # When pool processes are SIGKILLed several times while they work
    for round_ in range(1, 4):
        wait_progress(db, round_ * len(docs) // 5, timeout=120)
        for child in stack.pool_processes()[:1]:
            child.send_signal(signal.SIGKILL)

    # Then every document still ends as exactly one article
    wait_settled(db, {d.name for d in docs}, timeout=180, stack=stack)
    assert_ledger(db, docs, stack.data / "work")


def test_a_killed_worker_tree_is_recovered_after_restart(stack: Stack) -> None:
    docs = corpus(300 * SCALE, seed=11)
    stack.start()
    db = Database(stack.database_url)

    drop(stack.inbox, docs)
    for _ in range(2):
        # When the whole worker (main process and pool) dies mid-run, and comes back
        wait_progress(db, progress(db) + len(docs) // 6, timeout=120)
        assert stack.worker is not None
        kill_tree(stack.worker.popen.pid)
        stack.start_worker()

    # Then its reserved and in-flight jobs are re-published and finished once
    wait_settled(db, {d.name for d in docs}, timeout=180, stack=stack)
    assert_ledger(db, docs, stack.data / "work")

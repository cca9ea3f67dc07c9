"""Scenario 1: SIGKILL worker processes, and the whole worker tree, during a run."""

from __future__ import annotations

import signal

import psutil
from sqlalchemy import func, select

from newsmill_schema import models
from newsmill_schema.db import Database
from tests.reliability.conftest import SCALE
from tests.reliability.harness import (
    FAST,
    Stack,
    assert_ledger,
    corpus,
    drop,
    kill_tree,
    progress,
    wait_progress,
    wait_settled,
)
from tests.support import wait_for


def test_killed_pool_processes_lose_and_double_nothing(stack: Stack) -> None:
    docs = corpus(300 * SCALE)
    stack.start()
    db = Database(stack.database_url)

    # Given a run under way
    drop(stack.inbox, docs)
    # When a busy pool process is SIGKILLed three times while it works
    killed: list[int] = []
    for round_ in range(1, 4):
        wait_progress(db, round_ * len(docs) // 5, timeout=120)
        victim = wait_for(lambda: _busy_pool_process(stack), 30, what="a busy pool process")
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        killed.append(victim.pid)
        # and the pool replaces it
        wait_for(
            lambda: _pool_replaced(stack, killed),
            30,
            what=f"a pool process to replace {victim.pid}",
        )

    # Then every document still ends as exactly one article
    wait_settled(db, {d.name for d in docs}, timeout=180, stack=stack)
    assert_ledger(db, docs, stack.data / "work")
    # and the kills really cost work that was then done again
    assert len(set(killed)) == 3
    assert _retried_jobs(db) >= 1


def _busy_pool_process(stack: Stack) -> psutil.Process | None:
    """A pool process using CPU right now (so it holds a document), if there is one."""
    for child in stack.pool_processes():
        if child.cpu_percent(interval=0.05) > 0:
            return child
    return None


def _pool_replaced(stack: Stack, killed: list[int]) -> bool:
    pids = {p.pid for p in stack.pool_processes()}
    return len(pids) == int(FAST["NEWSMILL_WORKER_CONCURRENCY"]) and not pids & set(killed)


def _retried_jobs(db: Database) -> int:
    with db.session() as session:
        count = session.scalar(
            select(func.count()).select_from(models.Job).where(models.Job.attempts > 1)
        )
    return int(count or 0)


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

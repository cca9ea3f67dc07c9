"""The embedded SQLite database under concurrency: many processes opening and writing at once.

The embedded stack opens connections from the ingest service, the Celery main
process and every pool process at the same moments (start-up, pool recycling,
bursts). None of them may fail with "database is locked" for a lock another
holds briefly, and a read-check-write (``with_for_update``) may not lose an update.
"""

from __future__ import annotations

import multiprocessing
import shutil
import sqlite3
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from newsmill_schema import models
from newsmill_schema.db import Database, upgrade, use_wal
from newsmill_schema.messages import JobState

ROUNDS = 50
# 16 writers queue for SQLite's one write lock through its busy handler's
# back-off, about a quarter of a second a round: fewer rounds keep the test short.
WRITE_ROUNDS = 10
PROCESSES = 4
CONNECTIONS = 4  # per process
OPENERS = PROCESSES * CONNECTIONS
STEP_TIMEOUT_S = 60.0


def _open_and_read(db: Database, _path: Path, job_id: int, barrier: Barrier) -> str:
    """Open a connection the instant every other one does and read; returns the job's state."""
    barrier.wait(STEP_TIMEOUT_S)
    with db.session() as session:
        job = session.get(models.Job, job_id)
        return job.state if job else "no job"


def _open_and_write(db: Database, _path: Path, job_id: int, barrier: Barrier) -> str:
    """Open a connection the instant every other one does, then write in one transaction.

    The writes are the two kinds newsmill makes: a read-check-write of one shared
    row under ``with_for_update`` (as a worker starts or finishes a job) and an
    insert (as the ingest service records a document). Returns the new job's id.
    """
    barrier.wait(STEP_TIMEOUT_S)
    with db.session() as session:
        job = session.execute(
            select(models.Job).where(models.Job.id == job_id).with_for_update()
        ).scalar_one()
        job.attempts += 1
        new = models.Job(state=JobState.QUEUED, source_kind="file", source_uri="inbox/b.txt")
        session.add(new)
        session.flush()
        return str(new.id)


def _switch_to_wal(_db: Database, path: Path, _job_id: int, barrier: Barrier) -> str:
    with closing(sqlite3.connect(path)) as connection:
        barrier.wait(STEP_TIMEOUT_S)
        use_wal(connection)
    return "ok"


Step = Callable[[Database, Path, int, Barrier], str]
STEPS: dict[str, Step] = {"read": _open_and_read, "write": _open_and_write, "wal": _switch_to_wal}


def _attempt(step: Step, db: Database, path: Path, job_id: int, barrier: Barrier) -> str:
    try:
        return step(db, path, job_id, barrier)
    except Exception:
        return "error: " + traceback.format_exc()


def _opener(path: Path, rounds: Queue[Any], results: Queue[Any], barrier: Barrier) -> None:
    """One process with one engine, as a newsmill process has: per round, CONNECTIONS
    threads run the round's step against the file at ``path`` at the barrier."""
    db = Database(f"sqlite:///{path}")
    while (task := rounds.get()) is not None:
        step, job_id = task
        outcomes: list[str] = []

        def run(step: Step = STEPS[step], job_id: int = job_id, out: list[str] = outcomes) -> None:
            out.append(_attempt(step, db, path, job_id, barrier))

        threads = [threading.Thread(target=run) for _ in range(CONNECTIONS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        db.dispose()  # the next round's file is a new one
        results.put(outcomes)


@dataclass
class Openers:
    """PROCESSES real processes (spawned: nothing inherited), kept for every round."""

    path: Path
    rounds: list[Queue[Any]]
    results: Queue[Any]

    def run(self, step: str, job_id: int = 0) -> list[str]:
        """Every process runs ``step`` on CONNECTIONS connections at once; their outcomes."""
        for queue in self.rounds:
            queue.put((step, job_id))
        outcomes: list[str] = []
        for _ in self.rounds:
            outcomes += self.results.get(timeout=STEP_TIMEOUT_S)
        return outcomes

    def fresh(self, template: Path | None = None) -> None:
        """Replace the database file (and its WAL files) with a copy of ``template``."""
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        if template is not None:
            shutil.copyfile(template, self.path)


@pytest.fixture(scope="module")
def openers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Openers]:
    context = multiprocessing.get_context("spawn")
    path = tmp_path_factory.mktemp("stress") / "newsmill.db"
    barrier = context.Barrier(OPENERS)
    results: Queue[Any] = context.Queue()
    rounds: list[Queue[Any]] = [context.Queue() for _ in range(PROCESSES)]
    processes = [
        context.Process(target=_opener, args=(path, queue, results, barrier), daemon=True)
        for queue in rounds
    ]
    for process in processes:
        process.start()
    yield Openers(path, rounds, results)
    for queue in rounds:
        queue.put(None)
    for process in processes:
        process.join(timeout=STEP_TIMEOUT_S)


@pytest.fixture(scope="module")
def created(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """An embedded database exactly as newsmill creates it, with one queued job.

    The job goes in through a plain engine, so nothing but newsmill's creation
    path (the migrations) decides the file's journal mode. Each round starts
    from a copy of this file, one that no connection has opened yet.
    """
    path = tmp_path_factory.mktemp("created") / "newsmill.db"
    upgrade(f"sqlite:///{path}")
    engine = create_engine(f"sqlite:///{path}", poolclass=NullPool)
    with Session(engine) as session, session.begin():
        job = models.Job(state=JobState.QUEUED, source_kind="file", source_uri="inbox/a.txt")
        session.add(job)
        session.flush()
        job_id = job.id
    engine.dispose()
    assert not Path(f"{path}-wal").exists()
    return path, job_id


def test_connections_opened_at_once_never_find_the_database_locked(
    openers: Openers, created: tuple[Path, int]
) -> None:
    template, job_id = created
    for round_ in range(ROUNDS):
        # Given a fresh embedded database
        openers.fresh(template)

        # When 16 connections from 4 processes open it and read at the same instant
        outcomes = openers.run("read", job_id)

        # Then every one of them got its answer
        errors = [o for o in outcomes if o != JobState.QUEUED]
        assert errors == [], f"round {round_}: {len(errors)} failed; first: {errors[:1]}"


def test_concurrent_writes_neither_fail_nor_lose_an_update(
    openers: Openers, created: tuple[Path, int]
) -> None:
    template, job_id = created
    for round_ in range(WRITE_ROUNDS):
        # Given a fresh embedded database
        openers.fresh(template)

        # When 16 connections from 4 processes open it at the same instant, and each
        # bumps the same job's attempts (a read-check-write) and records a new job
        outcomes = openers.run("write", job_id)

        # Then none failed, and every write counted exactly once
        errors = [o for o in outcomes if o.startswith("error")]
        assert errors == [], f"round {round_}: {len(errors)} failed; first: {errors[:1]}"
        with closing(sqlite3.connect(openers.path)) as connection:
            (attempts,) = connection.execute(
                "SELECT attempts FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
            (jobs,) = connection.execute("SELECT count(*) FROM jobs").fetchone()
        assert attempts == OPENERS, f"round {round_}: an update was lost"
        assert len(set(outcomes)) == jobs - 1 == OPENERS


def test_many_processes_can_switch_one_database_to_wal_at_once(openers: Openers) -> None:
    for round_ in range(ROUNDS):
        # Given a database file still in SQLite's default rollback-journal mode
        openers.fresh()
        with closing(sqlite3.connect(openers.path)) as connection:
            connection.execute("CREATE TABLE t (x INTEGER)")

        # When 16 connections from 4 processes all switch it to WAL at the same instant
        outcomes = openers.run("wal")

        # Then each of them succeeds and the file is in WAL mode
        errors = [o for o in outcomes if o != "ok"]
        assert errors == [], f"round {round_}: {len(errors)} failed; first: {errors[:1]}"
        with closing(sqlite3.connect(openers.path)) as connection:
            assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)

"""``newsmill up`` as a process: what it leaves behind when it is killed."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import psutil

from tests.support import Process, wait_for


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    return [p for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def test_a_killed_up_leaves_no_process_behind(tmp_path: Path) -> None:
    data = tmp_path / "data"
    up = Process(
        ["up", "--data-dir", str(data)], {"NEWSMILL_LOG_FORMAT": "text"}, tmp_path / "up.log"
    )
    try:
        # Given a running embedded stack: ingest, the worker supervisor, Celery and its pool
        wait_for(lambda: "ready" in up.output(), 60, what="the embedded worker")
        family = wait_for(
            lambda: (
                [p for p in _descendants(up.popen.pid) if p.is_running()]
                if len(_descendants(up.popen.pid)) >= 3
                else None
            ),
            30,
            what="the worker's processes",
        )
        # When `newsmill up` is killed outright
        up.popen.send_signal(signal.SIGKILL)
        up.popen.wait(timeout=10)
        assert up.popen.returncode == -signal.SIGKILL
        # Then every process it started is gone within 10 seconds
        wait_for(lambda: not _alive(family), 10, interval=0.2, what="no process left")
    finally:
        for leftover in _alive(_descendants(up.popen.pid)):
            leftover.kill()
        up.stop()


def _article_titles(db_path: Path) -> list[str]:
    if not db_path.exists():
        return []
    with closing(sqlite3.connect(db_path)) as connection:
        try:
            return [row[0] for row in connection.execute("SELECT title FROM articles")]
        except sqlite3.OperationalError:  # not migrated yet
            return []


def _start_up(tmp_path: Path, data: Path) -> Process:
    # Default rescan interval (30 s) and settle time (2 s): only a timely second look at
    # the inbox takes the file within the bound.
    return Process(
        ["up", "--data-dir", str(data)], {"NEWSMILL_LOG_FORMAT": "text"}, tmp_path / "up.log"
    )


def _keep_changing_until_watched(path: Path, up: Process) -> float:
    """Touch ``path`` until the service has made its start-up scan; returns the last touch.

    Touching (not writing) gives inotify no close event, so the file is still
    changing at the start-up scan and only a later look at the inbox can take it.
    """
    watching_since: float | None = None
    while True:
        now = time.time()
        os.utime(path, (now, now))
        if watching_since is None and "watching" in up.output():
            watching_since = time.monotonic()
        if watching_since is not None and time.monotonic() - watching_since > 0.5:
            return time.monotonic()
        assert up.alive, up.output()
        time.sleep(0.1)


def _article_within(up: Process, data: Path, since: float, seconds: float) -> None:
    """An article is stored within ``seconds`` of ``since`` (or of the worker being ready).

    A worker still starting up holds the job in the queue: its start-up time is
    not what these tests measure, so the clock starts when both are ready.
    """
    wait_for(lambda: "ready" in up.output(), 60, what="the embedded worker")
    deadline = max(since, time.monotonic()) + seconds
    wait_for(
        lambda: _article_titles(data / "newsmill.db"),
        deadline - time.monotonic(),
        what=f"an article within {seconds}s",
    )


def test_a_file_already_in_the_inbox_is_taken_at_start(tmp_path: Path, seed_path: Path) -> None:
    # Given the seed copied into the inbox, still changing when newsmill up starts
    data = tmp_path / "data"
    (data / "inbox").mkdir(parents=True)
    dropped = data / "inbox" / seed_path.name
    shutil.copy(seed_path, dropped)
    up = _start_up(tmp_path, data)
    try:
        last_change = _keep_changing_until_watched(dropped, up)
        # Then its article is stored within 5 s of its last change, not after the 30 s rescan
        _article_within(up, data, last_change, 5)
    finally:
        up.stop()


def test_a_file_moved_in_during_start_up_is_taken(tmp_path: Path, seed_path: Path) -> None:
    data = tmp_path / "data"
    (data / "inbox").mkdir(parents=True)
    staging = tmp_path / "staging.txt"
    shutil.copy(seed_path, staging)
    up = _start_up(tmp_path, data)
    try:
        # Given a stack starting up, when a file is moved into its inbox
        os.replace(staging, data / "inbox" / "moved.txt")
        last_change = _keep_changing_until_watched(data / "inbox" / "moved.txt", up)
        # Then its article is stored within 5 s
        _article_within(up, data, last_change, 5)
    finally:
        up.stop()

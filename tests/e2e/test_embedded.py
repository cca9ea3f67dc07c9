"""``newsmill up`` as a process: what it leaves behind when it is killed."""

from __future__ import annotations

import signal
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

"""Running the services: the ingest service alone, or everything embedded.

``newsmill up`` runs the ingest service in this process and a real Celery
worker as a child process, on SQLite and kombu's filesystem broker by default.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from types import FrameType

from newsmill_ingest.service import IngestService
from newsmill_schema.db import Database
from newsmill_schema.settings import Settings

log = logging.getLogger(__name__)

WORKER_STOP_TIMEOUT_S = 30


def _stop_on_signals(stop: threading.Event) -> None:
    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def run_ingest(settings: Settings, stop: threading.Event | None = None) -> None:
    """Run the ingest service until SIGINT/SIGTERM (or ``stop``)."""
    stop = stop or threading.Event()
    _stop_on_signals(stop)
    db = Database.from_settings(settings)
    if db.is_sqlite:
        db.upgrade()
    try:
        IngestService(settings, db).run(stop)
    finally:
        db.dispose()


def run_embedded(settings: Settings) -> int:
    """Migrate, start a worker process, serve the inbox; Ctrl-C stops both cleanly."""
    Database.from_settings(settings).upgrade()
    worker = _start_worker(settings)
    try:
        run_ingest(settings)
    finally:
        _stop_worker(worker)
    return 0


def _start_worker(settings: Settings) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "NEWSMILL_DATA_DIR": str(settings.data_dir.resolve()),
        "NEWSMILL_DATABASE_URL": settings.database_url,
        "NEWSMILL_BROKER_URL": settings.broker_url,
    }
    from newsmill_worker.supervisor import die_with_parent

    command = [sys.executable, "-m", "newsmill_ingest", "worker"]
    # Its own process group, so the terminal's Ctrl-C reaches it only through us;
    # and it stops when we die, however we die.
    return subprocess.Popen(command, env=env, start_new_session=True, preexec_fn=die_with_parent())


def _stop_worker(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is not None:
        return
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(timeout=WORKER_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()

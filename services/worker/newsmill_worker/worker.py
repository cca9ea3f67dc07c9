"""Starting a Celery worker with newsmill's settings."""

from __future__ import annotations

from celery import Celery

from newsmill_schema.messages import QUEUE
from newsmill_schema.settings import Settings


def start_worker(app: Celery, settings: Settings, extra_args: list[str]) -> None:
    """Run ``celery worker`` in this process until it is told to stop."""
    argv = [
        "worker",
        f"--loglevel={settings.log_level}",
        f"--queues={QUEUE}",
        f"--concurrency={settings.worker_concurrency}",
        "--hostname=newsmill@%h",
        *extra_args,
    ]
    app.worker_main(argv)

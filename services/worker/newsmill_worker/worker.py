"""Starting a Celery worker with newsmill's settings."""

from __future__ import annotations

from celery import Celery

from newsmill_schema.messages import QUEUE
from newsmill_schema.settings import Settings

NODE_NAME = "newsmill@%h"
"""The worker's Celery node name (``%h`` is the host name)."""


def start_worker(app: Celery, settings: Settings, extra_args: list[str]) -> None:
    """Run ``celery worker`` in this process until it is told to stop."""
    argv = [
        "worker",
        f"--loglevel={settings.log_level}",
        f"--queues={QUEUE}",
        f"--concurrency={settings.worker_concurrency}",
        f"--hostname={NODE_NAME}",
        *extra_args,
    ]
    app.worker_main(argv)

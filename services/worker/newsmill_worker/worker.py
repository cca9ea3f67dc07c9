"""Starting a Celery worker with newsmill's settings."""

from __future__ import annotations

from celery import Celery
from celery.bin.celery import celery as celery_command

from newsmill_schema.messages import QUEUE
from newsmill_schema.settings import Settings

NODE_NAME = "newsmill@%h"
"""The worker's Celery node name (``%h`` is the host name)."""


def worker_argv(settings: Settings, extra_args: list[str]) -> list[str]:
    """The ``celery worker`` command line for these settings (extra arguments last, so they win)."""
    return [
        "worker",
        f"--loglevel={settings.log_level}",
        f"--queues={QUEUE}",
        f"--concurrency={settings.worker_concurrency}",
        f"--hostname={NODE_NAME}",
        *extra_args,
    ]


def start_worker(app: Celery, settings: Settings, extra_args: list[str]) -> int:
    """Run ``celery worker`` in this process until it stops; returns its exit code.

    ``Celery.worker_main`` drops the exit code, so a worker that gave up on an
    unrecoverable error would look like one that was told to stop, and its
    supervisor would not restart it. This runs the same command and keeps it.
    """
    argv = worker_argv(settings, extra_args)
    # What Celery.start does: the command's --app option defaults to this app.
    celery_command.params[0].default = app
    try:
        code = celery_command.main(args=argv, standalone_mode=False)
    finally:
        celery_command.params[0].default = None
    return code if isinstance(code, int) else 0

"""Pinging this host's worker node through the broker, for the supervisor."""

from __future__ import annotations

import socket

from celery import Celery

from newsmill_schema.celeryconfig import celery_config
from newsmill_schema.settings import Settings
from newsmill_worker.supervisor import Liveness
from newsmill_worker.worker import NODE_NAME


def liveness_of(settings: Settings) -> Liveness | None:
    """A probe of ``newsmill@<this host>``; None when liveness checks are off."""
    if settings.worker_liveness_interval_s <= 0:
        return None
    app = Celery("newsmill-supervisor", set_as_current=False)
    app.conf.update(celery_config(settings))
    node = NODE_NAME.replace("%h", socket.gethostname())

    def probe() -> bool | None:
        try:
            replies = app.control.ping(destination=[node], timeout=2.0)
        except Exception:
            return None
        return any(node in reply for reply in replies)

    return Liveness(
        probe=probe,
        interval_s=settings.worker_liveness_interval_s,
        grace_s=max(20.0, settings.worker_liveness_interval_s * 4),
        failures=settings.worker_liveness_failures,
    )

"""Flower as newsmill runs it (``newsmill flower``): /metrics behind the same auth as its pages.

Flower serves its Prometheus ``/metrics`` to anyone who can reach the port,
credentials or not: task names and counts, worker names, queue activity. Here
that page asks for the same basic auth (``FLOWER_BASIC_AUTH``) or OAuth as
every other page. Flower needs only the broker: give it ``NEWSMILL_BROKER_URL``
and no database URL (compose does), so its environment holds no database
password.
"""

from __future__ import annotations

import tornado.web
from celery import Celery
from celery.bin.celery import celery as celery_command
from flower import urls
from flower.views.monitor import Metrics


class AuthenticatedMetrics(Metrics):
    """Flower's /metrics for an authenticated client only."""

    @tornado.web.authenticated
    async def get(self) -> None:
        await super().get()


def protect_metrics() -> None:
    """Route /metrics to :class:`AuthenticatedMetrics` (Flower reads the routes when it starts)."""
    urls.handlers[:] = [
        (route[0], AuthenticatedMetrics)
        if isinstance(route, tuple) and route[1] is Metrics
        else route
        for route in urls.handlers
    ]


def start_flower(app: Celery, flower_args: list[str]) -> int:
    """Run ``celery flower`` for ``app`` in this process, /metrics protected; its exit code."""
    protect_metrics()
    celery_command.params[0].default = app
    try:
        code = celery_command.main(args=["flower", *flower_args], standalone_mode=False)
    finally:
        celery_command.params[0].default = None
    return code if isinstance(code, int) else 0

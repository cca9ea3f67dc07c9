"""Is this host's worker node alive and consuming? Asked through the broker, for the supervisor.

Answering is not enough: after a broker restart a Celery worker has been seen
to keep answering remote-control commands while its task consumer takes
nothing more from the queue. So the probe also watches progress: a worker that
starts no new task for a whole window while messages wait in its queue counts
as silent, and the supervisor restarts it like a hung one.
"""

from __future__ import annotations

import logging
import socket
import time
from dataclasses import dataclass, field

from newsmill_schema import broker
from newsmill_schema.settings import Settings
from newsmill_worker.supervisor import Liveness
from newsmill_worker.worker import NODE_NAME

log = logging.getLogger(__name__)


@dataclass
class StallDetector:
    """Tells a stuck consumer from a busy one: a backlog waits and no task starts for ``window_s``."""

    window_s: float
    _accepted: int | None = field(default=None, init=False)
    _since: float = field(default=0.0, init=False)

    def stalled(self, accepted: int, depth: int, now: float) -> bool:
        """``accepted``: tasks the worker has started so far; ``depth``: messages waiting."""
        if depth == 0 or accepted != self._accepted:
            self._accepted = accepted
            self._since = now
            return False
        return now - self._since >= self.window_s


def liveness_of(settings: Settings) -> Liveness | None:
    """A probe of ``newsmill@<this host>``; None when liveness checks are off."""
    if settings.worker_liveness_interval_s <= 0:
        return None
    app = broker.make_app(settings, "newsmill-supervisor")
    node = NODE_NAME.replace("%h", socket.gethostname())
    # A healthy worker with a backlog starts a task at least once per hard time limit.
    detector = StallDetector(
        window_s=2 * settings.task_time_limit_s + settings.worker_liveness_interval_s
    )

    def probe() -> bool | None:
        try:
            replies = app.control.inspect(destination=[node], timeout=2.0).stats() or {}
        except Exception:  # the broker cannot be asked: say nothing about the worker
            return None
        depth = broker.queue_depth(app)
        if depth is None:
            return None
        if node not in replies:
            return False
        accepted = sum(replies[node].get("total", {}).values())
        if detector.stalled(accepted, depth, time.monotonic()):
            log.error(
                "%d message(s) wait but the worker has started no task for %.0fs",
                depth,
                detector.window_s,
            )
            return False
        return True

    return Liveness(
        probe=probe,
        interval_s=settings.worker_liveness_interval_s,
        grace_s=max(20.0, settings.worker_liveness_interval_s * 4),
        failures=settings.worker_liveness_failures,
    )

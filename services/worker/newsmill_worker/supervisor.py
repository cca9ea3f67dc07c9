"""Keep a Celery worker running: restart it when it dies, stop it cleanly when asked.

The Celery worker can exit on errors it considers unrecoverable (kombu has
been seen to give up this way when Redis drops mid-reconnect). Compose would
restart the container, but ``newsmill up`` and bare-metal deployments have no
such supervisor, so ``newsmill worker`` is its own: the worker runs as a child
process, is restarted with backoff when it exits abnormally, and receives
exactly one SIGTERM (a warm shutdown) when the supervisor is told to stop.
"""

from __future__ import annotations

import ctypes
import logging
import signal
import subprocess
import threading
import time
from types import FrameType

log = logging.getLogger(__name__)

MIN_UPTIME_S = 30.0
"""A worker that ran at least this long before dying restarts at once."""
MAX_BACKOFF_S = 30.0

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # Linux only: the worker gets SIGTERM if the supervisor is killed outright.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        return


def supervise(command: list[str]) -> int:
    """Run ``command`` until it exits cleanly or we are signalled; returns its exit code."""
    stopping = threading.Event()
    current: list[subprocess.Popen[bytes]] = []

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, stopping the worker", signal.Signals(signum).name)
        stopping.set()
        for child in current:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    backoff = 1.0
    while True:
        started = time.monotonic()
        # Its own session: a terminal's Ctrl-C reaches it once, through us, not twice.
        child = subprocess.Popen(command, start_new_session=True, preexec_fn=_die_with_parent)
        current[:] = [child]
        code = child.wait()
        if stopping.is_set() or code == 0:
            return code
        if time.monotonic() - started >= MIN_UPTIME_S:
            backoff = 1.0
        log.error("worker exited with code %s; restarting in %.0fs", code, backoff)
        if stopping.wait(backoff):
            return code
        backoff = min(MAX_BACKOFF_S, backoff * 2)

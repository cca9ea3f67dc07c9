"""Keep a Celery worker running: restart it when it dies or stops answering.

The Celery worker can give up on errors it considers unrecoverable (kombu has
been seen to do so when Redis drops in the middle of a reconnect) and then
either exit or hang while shutting down. Compose restarts a dead container but
not a hung one, and ``newsmill up`` or a bare-metal deployment restart neither,
so ``newsmill worker`` is its own supervisor: the worker runs as a child
process, is restarted with backoff when it exits abnormally or when it stops
answering pings while the broker answers, and receives exactly one SIGTERM (a
warm shutdown) when the supervisor is told to stop.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

log = logging.getLogger(__name__)

MIN_UPTIME_S = 30.0
"""A worker that ran at least this long before dying restarts at once."""
MAX_BACKOFF_S = 30.0

_PR_SET_PDEATHSIG = 1

Probe = Callable[[], bool | None]
"""True: the worker answered; False: the broker answered but the worker did not; None: no broker."""


@dataclass(frozen=True)
class Liveness:
    """How often to ping the worker, and how many silent pings mean it is hung."""

    probe: Probe
    interval_s: float
    grace_s: float
    failures: int


def die_with_parent() -> Callable[[], None]:
    """A ``preexec_fn`` after which the child gets SIGTERM when this process dies.

    Even a SIGKILLed parent then takes its children along (Linux's
    ``PR_SET_PDEATHSIG``), so a killed ``newsmill up`` or supervisor leaves no
    worker consuming a broker nobody serves. A parent that died before the
    child could ask is caught by comparing the parent pid afterwards.
    """
    parent = os.getpid()

    def preexec() -> None:
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        except OSError:
            return
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


def supervise(command: list[str], liveness: Liveness | None = None) -> int:
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
        child = subprocess.Popen(command, start_new_session=True, preexec_fn=die_with_parent())
        current[:] = [child]
        code = _watch(child, liveness, stopping)
        if stopping.is_set() or code == 0:
            return code
        if time.monotonic() - started >= MIN_UPTIME_S:
            backoff = 1.0
        log.error("worker exited with code %s; restarting in %.0fs", code, backoff)
        if stopping.wait(backoff):
            return code
        backoff = min(MAX_BACKOFF_S, backoff * 2)


def _watch(
    child: subprocess.Popen[bytes], liveness: Liveness | None, stopping: threading.Event
) -> int:
    """Wait for the child to exit; kill it if it fails its probes while the broker answers."""
    if liveness is None:
        return child.wait()
    started = time.monotonic()
    silent = 0
    while True:
        try:
            return child.wait(timeout=liveness.interval_s)
        except subprocess.TimeoutExpired:
            pass
        if stopping.is_set() or time.monotonic() - started < liveness.grace_s:
            continue
        answered = liveness.probe()
        silent = silent + 1 if answered is False else 0
        if silent >= liveness.failures:
            log.error(
                "worker failed %d liveness probes in a row (silent or stalled); killing it", silent
            )
            child.kill()
            return child.wait()

"""A per-document time limit on the pipeline's CPU work.

Celery's soft time limit raises wherever the task happens to be, including in
the middle of a database round trip, which leaves the connection unusable. The
deadline here covers only decode → parse → clean, where an interruption is
harmless; Celery's hard limit stays as the backstop that kills a stuck process.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class DocumentTimeout(Exception):
    """The pipeline took longer than the document time limit.

    Parsing is deterministic: the same bytes would run out of time again, so
    a job that raises this is failed at once, not retried.
    """

    def __init__(self, seconds: float) -> None:
        super().__init__(f"exceeded the time limit of {seconds:g}s")
        self.seconds = seconds
        self.reason = str(self)


class FetchTimeout(DocumentTimeout):
    """The time limit ran out while fetching a page over the network: a retry may be faster."""


REPEAT_S = 0.25
"""After the deadline, the alarm repeats this often until the block has ended."""


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise DocumentTimeout in the block after ``seconds`` (main thread only; 0 = no limit).

    An exception raised by a signal handler is lost when the handler happens to
    run inside a finaliser or weakref callback ("Exception ignored in ..."), so
    the alarm repeats until the block ends, and a block that still completes
    after its deadline raises on the way out: the limit always holds.
    """
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return
    expired = False

    def expire(_signum: int, _frame: FrameType | None) -> None:
        nonlocal expired
        expired = True
        raise DocumentTimeout(seconds)

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds, REPEAT_S)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    if expired:
        raise DocumentTimeout(seconds)

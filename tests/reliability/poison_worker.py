"""A real newsmill worker whose pipeline crashes or hangs on marked documents.

Fault injection for the poison scenario, kept out of the product: start it with
``celery -A tests.reliability.poison_worker worker``. Documents starting with
``POISON:CRASH`` SIGKILL the pool process running them; ``POISON:HANG`` never
finish on their own.
"""

from __future__ import annotations

import os
import signal
import time

from newsmill_worker import app, pipeline
from newsmill_worker.pipeline import Limits, Outcome

__all__ = ["app"]

_real_run = pipeline.run


def _poisoned_run(data: bytes, name: str, limits: Limits) -> list[Outcome]:
    if data.startswith(b"POISON:CRASH"):
        os.kill(os.getpid(), signal.SIGKILL)
    if data.startswith(b"POISON:HANG"):
        time.sleep(3600)
    return _real_run(data, name, limits)


pipeline.run = _poisoned_run

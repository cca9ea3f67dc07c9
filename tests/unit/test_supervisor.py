"""The supervisor restarts a worker that dies or stops answering, and stops when told."""

from __future__ import annotations

import subprocess
import sys
import threading

from newsmill_worker.supervisor import Liveness, _watch


def _child(seconds: float) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({seconds})"])


def test_a_worker_silent_while_the_broker_answers_is_killed() -> None:
    child = _child(60)
    liveness = Liveness(probe=lambda: False, interval_s=0.05, grace_s=0, failures=3)

    code = _watch(child, liveness, threading.Event())

    assert code == -9


def test_an_unreachable_broker_is_no_reason_to_kill() -> None:
    # Given a broker that does not answer, the worker is left to finish on its own
    child = _child(0.5)
    liveness = Liveness(probe=lambda: None, interval_s=0.05, grace_s=0, failures=1)

    assert _watch(child, liveness, threading.Event()) == 0


def test_a_worker_that_answers_is_left_alone() -> None:
    child = _child(0.5)
    probes: list[bool] = []

    def probe() -> bool:
        probes.append(True)
        return True

    assert _watch(child, Liveness(probe, 0.05, 0, 1), threading.Event()) == 0
    assert probes, "the worker was never probed"

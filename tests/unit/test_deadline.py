"""The pipeline deadline interrupts slow work and leaves fast work alone."""

from __future__ import annotations

import threading
import time

import pytest

from newsmill_worker.deadline import DocumentTimeout, deadline


def test_slow_work_is_interrupted_with_the_limit_in_the_reason() -> None:
    started = time.monotonic()
    with pytest.raises(DocumentTimeout, match=r"time limit of 0\.2s"), deadline(0.2):
        time.sleep(5)
    assert time.monotonic() - started < 2


def test_fast_work_finishes_and_the_alarm_is_cleared() -> None:
    with deadline(0.5):
        total = sum(range(1000))
    time.sleep(0.7)  # the alarm would have fired here had it not been cleared
    assert total == 499500


def test_zero_means_no_limit_and_other_threads_are_left_alone() -> None:
    with deadline(0):
        time.sleep(0.05)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with deadline(0.01):
                time.sleep(0.05)
        except BaseException as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert errors == []

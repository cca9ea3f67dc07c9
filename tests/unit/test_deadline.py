"""The pipeline deadline interrupts slow work and leaves fast work alone."""

from __future__ import annotations

import contextlib
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


def test_a_timeout_lost_in_a_finaliser_is_raised_again() -> None:
    # Given a block that swallows the first timeout, as a weakref callback or __del__ does
    started = time.monotonic()
    with pytest.raises(DocumentTimeout), deadline(0.1):
        with contextlib.suppress(DocumentTimeout):
            time.sleep(5)
        # Then the alarm comes again while the block still runs
        time.sleep(5)
    assert time.monotonic() - started < 2


def test_a_block_that_ends_after_losing_its_timeout_raises_on_the_way_out() -> None:
    with pytest.raises(DocumentTimeout), deadline(0.1), contextlib.suppress(DocumentTimeout):
        time.sleep(5)

"""A worker that starts no task while a backlog waits is stalled; a busy or idle one is not."""

from __future__ import annotations

from newsmill_worker.liveness import StallDetector


def test_a_backlog_with_no_new_task_for_the_window_is_a_stall() -> None:
    detector = StallDetector(window_s=10)

    assert not detector.stalled(accepted=5, depth=40, now=0)
    assert not detector.stalled(accepted=5, depth=40, now=9)
    assert detector.stalled(accepted=5, depth=40, now=10)


def test_a_worker_starting_tasks_is_not_stalled() -> None:
    detector = StallDetector(window_s=10)

    for second, accepted in enumerate(range(5, 50, 3)):
        assert not detector.stalled(accepted=accepted, depth=40, now=second * 6)


def test_an_idle_worker_with_an_empty_queue_is_not_stalled() -> None:
    detector = StallDetector(window_s=10)

    assert not detector.stalled(accepted=5, depth=0, now=0)
    assert not detector.stalled(accepted=5, depth=0, now=100)


def test_the_window_restarts_when_the_queue_drains() -> None:
    # Given a backlog that waited a while, then drained, then came back
    detector = StallDetector(window_s=10)
    detector.stalled(accepted=5, depth=40, now=0)
    detector.stalled(accepted=5, depth=0, now=8)

    # Then the new backlog gets a whole window of its own
    assert not detector.stalled(accepted=5, depth=3, now=12)
    assert detector.stalled(accepted=5, depth=3, now=18)

"""The task retry delay: exponential backoff with full jitter."""

from __future__ import annotations

from newsmill_worker.tasks import backoff


def test_backoff_grows_exponentially_within_its_cap_and_is_jittered() -> None:
    for retries in range(12):
        ceiling = min(60.0, 2.0**retries)
        delays = [backoff(retries) for _ in range(200)]
        # Full jitter: anywhere from 0 to the exponential ceiling, never above the cap
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > 0.8 * ceiling
        assert len(set(delays)) == len(delays)


def test_backoff_honours_its_base_and_cap() -> None:
    assert all(backoff(10, base=0.5, cap=5.0) <= 5.0 for _ in range(100))
    assert all(backoff(0, base=0.5) <= 0.5 for _ in range(100))

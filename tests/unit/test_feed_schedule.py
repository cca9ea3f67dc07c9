"""When to poll: intervals, server hints, backoff, jitter."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from newsmill_ingest.feed_schedule import (
    Schedule,
    cache_seconds,
    error_delay,
    jittered,
    parse_interval,
    retry_after_seconds,
    success_delay,
    ttl_seconds,
)

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
SCHEDULE = Schedule(
    min_interval_s=60, max_interval_s=86_400, jitter=0.1, backoff_base_s=60, backoff_cap_s=86_400
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("15m", 900),
        ("90s", 90),
        ("2h", 7200),
        ("1d", 86400),
        ("600", 600),
        ("1.5h", 5400),
    ],
)
def test_parse_interval_reads_units(text: str, seconds: int) -> None:
    assert parse_interval(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "-5m", "0", "10x"])
def test_parse_interval_refuses_nonsense(text: str) -> None:
    with pytest.raises(ValueError):
        parse_interval(text)


def test_success_delay_honours_the_longest_server_hint_within_bounds() -> None:
    assert success_delay(900, [None, None], SCHEDULE) == 900
    # RSS ttl of 60 minutes beats a 15-minute interval
    assert success_delay(900, [None, 3600], SCHEDULE) == 3600
    # Cache-Control max-age shorter than the interval does not make us poll sooner
    assert success_delay(900, [30, None], SCHEDULE) == 900
    # a week-long ttl is capped, a 5-second interval is floored
    assert success_delay(900, [7 * 86400], SCHEDULE) == 86_400
    assert success_delay(5, [], SCHEDULE) == 60


def test_error_delay_doubles_up_to_the_cap_and_never_stops() -> None:
    delays = [error_delay(n, None, SCHEDULE) for n in range(1, 14)]
    assert delays[:4] == [60, 120, 240, 480]
    assert all(b >= a for a, b in pairwise(delays))
    assert delays[-1] == 86_400
    assert error_delay(10_000, None, SCHEDULE) == 86_400


def test_error_delay_waits_at_least_retry_after_but_not_past_the_cap() -> None:
    assert error_delay(1, 600, SCHEDULE) == 600
    assert error_delay(5, 10, SCHEDULE) == 960
    assert error_delay(1, 10 * 86_400, SCHEDULE) == 86_400


def test_jitter_stays_within_its_fraction_and_varies() -> None:
    rng = random.Random(7)
    values = [jittered(1000, 0.1, rng) for _ in range(200)]
    assert all(900 <= v <= 1100 for v in values)
    assert len({round(v) for v in values}) > 50


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert retry_after_seconds("120", NOW) == 120
    later = (NOW + timedelta(minutes=5)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert retry_after_seconds(later, NOW) == pytest.approx(300)
    assert retry_after_seconds("whenever", NOW) is None
    assert retry_after_seconds(None, NOW) is None


def test_cache_seconds_reads_max_age_then_expires() -> None:
    assert cache_seconds({"cache-control": "public, max-age=1800"}, NOW) == 1800
    assert cache_seconds({"cache-control": "s-maxage=600, max-age=60"}, NOW) == 600
    date = NOW.strftime("%a, %d %b %Y %H:%M:%S GMT")
    expires = (NOW + timedelta(hours=1)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert cache_seconds({"expires": expires, "date": date}, NOW) == 3600
    assert cache_seconds({"expires": "0"}, NOW) is None
    assert cache_seconds({}, NOW) is None


def test_ttl_is_minutes() -> None:
    assert ttl_seconds("60") == 3600
    assert ttl_seconds(" 5 ") == 300
    assert ttl_seconds("") is None
    assert ttl_seconds("-1") is None
    assert ttl_seconds(None) is None

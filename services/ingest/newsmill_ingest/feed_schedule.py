"""When to poll a feed next: pure functions on plain data.

A good poll waits the feed's interval, or longer when the server asks for it
(RSS ``ttl``, ``Cache-Control: max-age``, ``Expires``); a failed one backs off
exponentially up to a cap, and ``Retry-After`` is honoured. Every delay is
jittered so feeds do not poll in lockstep. Nothing here ever gives up on a feed.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from newsmill_schema.settings import Settings

_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-maxage|max-age)\s*=\s*\"?(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class Schedule:
    """The bounds on poll delays; taken from settings."""

    min_interval_s: float = 60
    max_interval_s: float = 86_400
    jitter: float = 0.1
    backoff_base_s: float = 60
    backoff_cap_s: float = 86_400

    @classmethod
    def from_settings(cls, settings: Settings) -> Schedule:
        return cls(
            min_interval_s=settings.feed_min_interval_s,
            max_interval_s=settings.feed_max_interval_s,
            jitter=settings.feed_jitter,
            backoff_base_s=settings.feed_backoff_base_s,
            backoff_cap_s=settings.feed_backoff_cap_s,
        )


def parse_interval(text: str) -> int:
    """``"15m"`` → 900 seconds; accepts s, m, h, d or bare seconds."""
    match = _INTERVAL.match(text)
    if not match:
        raise ValueError(f"not an interval: {text!r} (use e.g. 90s, 15m, 2h, 1d)")
    seconds = int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    if seconds <= 0:
        raise ValueError(f"interval must be positive: {text!r}")
    return seconds


def jittered(delay: float, fraction: float, rng: random.Random) -> float:
    """``delay`` stretched or shrunk by up to ``fraction``, so feeds do not poll in lockstep."""
    return delay * rng.uniform(1 - fraction, 1 + fraction)


def success_delay(interval_s: float, hints: list[float | None], schedule: Schedule) -> float:
    """Delay after a good poll: the feed's interval, or longer when the server asks for it."""
    wanted = max([interval_s, *(h for h in hints if h is not None)])
    return min(schedule.max_interval_s, max(schedule.min_interval_s, wanted))


def error_delay(consecutive_errors: int, retry_after: float | None, schedule: Schedule) -> float:
    """Delay after the n-th failure in a row: doubling from the base, capped; Retry-After wins."""
    exponent = min(max(consecutive_errors - 1, 0), 32)
    backoff = min(schedule.backoff_cap_s, schedule.backoff_base_s * 2**exponent)
    if retry_after is not None:
        backoff = min(schedule.backoff_cap_s, max(backoff, retry_after))
    return backoff


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """A Retry-After header (seconds or an HTTP date) as seconds from ``now``."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    when = _http_date(text)
    return max(0.0, (when - now).total_seconds()) if when else None


def cache_seconds(headers: Mapping[str, str], now: datetime) -> float | None:
    """How long the response may be cached: ``max-age``/``s-maxage``, else ``Expires``."""
    match = _MAX_AGE.search(headers.get("cache-control", ""))
    if match:
        return float(match.group(1))
    expires = _http_date(headers.get("expires", ""))
    if expires is None:
        return None
    origin = _http_date(headers.get("date", "")) or now
    return max(0.0, (expires - origin).total_seconds())


def ttl_seconds(value: object) -> float | None:
    """An RSS ``<ttl>`` (minutes) in seconds, or None when absent or nonsense."""
    try:
        minutes = float(str(value).strip())
    except ValueError:
        return None
    return minutes * 60 if minutes > 0 else None


def _http_date(text: str) -> datetime | None:
    if not text:
        return None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)

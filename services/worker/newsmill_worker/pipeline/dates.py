"""Publication dates from the many ways documents write them."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from dateutil import parser as dateutil_parser


def parse_date(value: object) -> datetime | None:
    """Return an aware datetime (UTC when no zone is given) for ``value``, or None.

    Accepts ISO 8601 and RFC 822 strings, epoch seconds, ``time.struct_time``
    (as feedparser gives) and datetimes; anything unreadable is None, never an error.
    """
    parsed = _parse(value)
    if parsed is None:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _parse(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, time.struct_time):
        return datetime(*value[:6], tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _from_epoch(float(value))
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        pass
    try:
        return dateutil_parser.parse(text)
    except (ValueError, OverflowError):
        return None


def _from_epoch(seconds: float) -> datetime | None:
    if seconds > 1e11:  # milliseconds, as JavaScript writes them
        seconds /= 1000
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None

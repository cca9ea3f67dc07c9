"""One poll's outcome: conditional requests and HTTP responses read as results."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from newsmill_ingest.feeds import FeedTarget, conditional_headers, interpret
from newsmill_ingest.fetch import Fetched
from tests.support import quadratic_bomb

FEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
TARGET = FeedTarget(
    id=1, url="https://example.com/feed", etag=None, last_modified=None, full_text=False
)


def test_conditional_headers_come_from_the_stored_validators() -> None:
    assert "If-None-Match" not in conditional_headers(TARGET)
    target = FeedTarget(1, TARGET.url, '"v1"', "Wed, 31 Jan 2018 20:15:15 GMT", False)
    headers = conditional_headers(target)
    assert headers["If-None-Match"] == '"v1"'
    assert headers["If-Modified-Since"] == "Wed, 31 Jan 2018 20:15:15 GMT"


def _response(status: int, body: bytes = b"", **headers: str) -> Fetched:
    return Fetched(
        TARGET.url, status, {k.replace("_", "-"): v for k, v in headers.items()}, body, 0.1
    )


def test_interpret_maps_statuses_to_outcomes() -> None:
    ok = interpret(
        _response(200, (FEEDS / "heise.atom").read_bytes(), etag='"e"'), TARGET, NOW, 100
    )
    assert ok.kind == "ok" and ok.etag == '"e"' and ok.feed and len(ok.feed.entries) == 15
    assert interpret(_response(304), TARGET, NOW, 100).kind == "not_modified"
    limited = interpret(_response(429, retry_after="300"), TARGET, NOW, 100)
    assert (
        limited.kind == "error" and limited.retry_after_s == 300 and "429" in (limited.error or "")
    )
    broken = interpret(_response(500), TARGET, NOW, 100)
    assert broken.kind == "error" and broken.error == "HTTP 500" and broken.retry_after_s is None
    bomb = interpret(_response(200, quadratic_bomb(100)), TARGET, NOW, 100)
    assert bomb.kind == "error" and "ENTITY" in (bomb.error or "")


def test_interpret_caps_entries() -> None:
    result = interpret(_response(200, (FEEDS / "guardian.rss").read_bytes()), TARGET, NOW, 10)
    assert result.feed is not None and len(result.feed.entries) == 10

"""Feeds' pure logic: scheduling, backoff, entry identity, records, parsing real feeds."""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from newsmill_ingest.feeds import (
    FULL_TEXT_FIELD,
    FeedError,
    FeedSpec,
    FeedTarget,
    Schedule,
    cache_seconds,
    conditional_headers,
    entry_identity,
    entry_record,
    error_delay,
    feed_specs,
    interpret,
    jittered,
    parse_feed,
    parse_interval,
    read_feeds_file,
    record_hash,
    retry_after_seconds,
    success_delay,
    ttl_seconds,
)
from newsmill_ingest.fetch import Fetched
from newsmill_worker.pipeline import Limits, Parsed, run

FEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
SCHEDULE = Schedule(
    min_interval_s=60, max_interval_s=86_400, jitter=0.1, backoff_base_s=60, backoff_cap_s=86_400
)
TARGET = FeedTarget(
    id=1, url="https://example.com/feed", etag=None, last_modified=None, full_text=False
)


def quadratic_bomb(repeats: int = 10_000) -> bytes:
    """The classic quadratic blowup: one large entity referenced many times."""
    entity = "A" * 10_000
    refs = "&big;" * repeats
    return (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY big "{entity}">]>'
        f'<rss version="2.0"><channel><title>t</title><item><title>x</title>'
        f"<description>{refs}</description></item></channel></rss>"
    ).encode()


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


def test_identity_prefers_guid_then_link_then_text() -> None:
    with_guid = {"id": "urn:1", "link": "https://a/1", "title": "T"}
    # Given the same GUID, a changed link or title is the same entry
    assert entry_identity(with_guid) == entry_identity({**with_guid, "link": "https://a/2"})
    assert entry_identity(with_guid) != entry_identity({**with_guid, "id": "urn:2"})
    by_link = {"link": "https://a/1", "title": "T"}
    assert entry_identity(by_link) == entry_identity({**by_link, "title": "Changed"})
    by_text = {"title": "T", "summary": "body"}
    assert entry_identity(by_text) != entry_identity({"title": "T", "summary": "other"})


def test_record_hash_changes_with_content_not_with_dates() -> None:
    record = {"title": "T", "link": "https://a/1", "content": "<p>one</p>", "published": "x"}
    assert record_hash(record) == record_hash({**record, "published": "y"})
    assert record_hash(record) != record_hash({**record, "content": "<p>two</p>"})


def test_entry_record_resanitises_html_and_flags_full_text() -> None:
    entry = {
        "id": "1",
        "title": "A <b>bold</b> &amp; brave title",
        "link": "https://a/1",
        "content": [
            {
                "value": '<p onclick="x()">Hi<script>alert(1)</script>'
                '<a href="javascript:evil()">l</a></p>'
            }
        ],
        "summary": "A different teaser.",
        "authors": [{"name": "Ann"}, {"name": "Bo"}],
        "published_parsed": time.struct_time((2026, 1, 2, 3, 4, 5, 0, 0, 0)),
    }
    record = entry_record(entry, {"title": "Paper", "language": "en"}, full_text=True)
    assert record["title"] == "A bold & brave title"
    assert "script" not in record["content"] and "onclick" not in record["content"]
    assert "javascript" not in record["content"]
    assert record["summary"] == "A different teaser."
    assert record["author"] == ["Ann", "Bo"]
    assert record["published"] == "2026-01-02T03:04:05+00:00"
    assert record["publisher"] == "Paper" and record["language"] == "en"
    assert record[FULL_TEXT_FIELD] is True


def test_guardian_gives_55_entries_that_the_worker_turns_into_55_articles() -> None:
    feed = parse_feed(
        (FEEDS / "guardian.rss").read_bytes(),
        "https://www.theguardian.com/us/rss",
        "application/rss+xml; charset=utf-8",
    )
    assert feed.title == "The Guardian" and feed.warning is None
    assert len(feed.entries) == 55
    articles = [run(e.raw, "entry.json", Limits())[0] for e in feed.entries]
    assert all(isinstance(a, Parsed) for a in articles)
    assert {a.title for a in articles if isinstance(a, Parsed)} == {
        " ".join(e.record["title"].split()) for e in feed.entries
    }
    first = articles[0]
    assert isinstance(first, Parsed)
    assert first.url and first.url.startswith("https://www.theguardian.com/")
    assert first.published_at is not None and first.word_count > 20


@pytest.mark.parametrize(
    ("name", "count", "word"),
    [
        ("heise.atom", 15, "Java-Anwendungsserver"),
        ("encoding.rss", 40, "Mãe"),
        ("uolNoticias.rss", 15, "Bolsonaro"),
        ("reddit.rss", 24, ""),
    ],
)
def test_real_feeds_parse_with_their_encodings(name: str, count: int, word: str) -> None:
    feed = parse_feed((FEEDS / name).read_bytes(), "https://example.com/feed", "text/xml")
    assert len(feed.entries) == count
    assert word in feed.entries[0].record["title"]
    assert "\ufffd" not in json.dumps([e.record for e in feed.entries], ensure_ascii=False)


def test_ill_formed_feed_with_usable_entries_is_kept_with_a_warning() -> None:
    body = (FEEDS / "guardian.rss").read_bytes().replace(b"</channel>", b"<broken></channel>")
    feed = parse_feed(body, "https://example.com/feed", "application/rss+xml")
    assert feed.warning and len(feed.entries) == 55


def test_quadratic_entity_bomb_is_refused_before_parsing() -> None:
    bomb = quadratic_bomb()
    started = time.monotonic()
    with pytest.raises(FeedError, match="ENTITY"):
        parse_feed(bomb, "https://example.com/feed")
    assert time.monotonic() - started < 0.5
    # even when the declaration hides in UTF-16
    with pytest.raises(FeedError, match="ENTITY"):
        parse_feed(bomb.decode().encode("utf-16"), "https://example.com/feed")


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body>Not a feed</body></html>",
        b"\x00\x01garbage",
        b"<rss version='2.0'><channel><title>x",
    ],
)
def test_a_response_that_is_no_feed_is_an_error(body: bytes) -> None:
    with pytest.raises(FeedError):
        parse_feed(body, "https://example.com/feed", "text/html")


def test_an_empty_but_valid_feed_is_not_an_error() -> None:
    feed = parse_feed(
        b'<rss version="2.0"><channel><title>Quiet</title><ttl>30</ttl></channel></rss>',
        "https://example.com/feed",
        "application/rss+xml",
    )
    assert feed.entries == [] and feed.title == "Quiet" and feed.ttl_s == 1800


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


def test_feeds_file_accepts_urls_and_tables(tmp_path: Path) -> None:
    toml = tmp_path / "feeds.toml"
    toml.write_text(
        '[[feeds]]\nurl = "https://a.example/rss"\ninterval = "30m"\nfull_text = true\n'
        '[[feeds]]\nurl = "https://b.example/atom"\n'
    )
    assert read_feeds_file(toml) == [
        FeedSpec("https://a.example/rss", 1800, True),
        FeedSpec("https://b.example/atom", None, False),
    ]
    yaml = tmp_path / "feeds.yaml"
    yaml.write_text(
        "feeds:\n  - https://c.example/rss\n  - url: https://d.example/rss\n    interval: 1h\n"
    )
    assert read_feeds_file(yaml) == [
        FeedSpec("https://c.example/rss"),
        FeedSpec("https://d.example/rss", 3600),
    ]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"feeds": "https://a"}, "list"),
        ([{"interval": "5m"}], "#1"),
        (["ftp://a.example/feed"], "only http and https"),
        ([{"url": "https://a.example", "interval": "often"}], "not an interval"),
    ],
)
def test_feeds_file_errors_say_which_feed_and_why(data: object, problem: str) -> None:
    with pytest.raises(FeedError, match=problem):
        feed_specs(data)

"""Feed bytes to entries: identity, records, real feeds, refused feeds."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from newsmill_ingest.feed_entries import (
    FeedError,
    entry_identity,
    entry_record,
    parse_feed,
    record_hash,
)
from newsmill_schema.messages import FULL_TEXT_FIELD
from newsmill_worker.pipeline import Limits, Parsed, run
from tests.support import ebcdic_bomb, quadratic_bomb

FEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"


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


@pytest.mark.parametrize("content_type", ["", "application/rss+xml", "text/xml; charset=cp037"])
def test_an_entity_bomb_in_ebcdic_is_refused(content_type: str) -> None:
    # feedparser reads EBCDIC itself: the bytes hold no "<!ENTITY" a byte search could find
    bomb = ebcdic_bomb()
    assert b"<!ENTITY" not in bomb.upper()
    with pytest.raises(FeedError, match="ENTITY"):
        parse_feed(bomb, "https://example.com/feed", content_type)


def test_an_entry_larger_than_a_document_may_be_is_refused_alone() -> None:
    items = "".join(
        f"<item><guid>{i}</guid><title>T{i}</title><description>{'x' * size}</description></item>"
        for i, size in enumerate([100, 5000, 100])
    )
    body = f'<rss version="2.0"><channel><title>F</title>{items}</channel></rss>'.encode()

    feed = parse_feed(body, "https://example.com/feed", "application/rss+xml", max_entry_bytes=2000)

    assert [e.problem is None for e in feed.entries] == [True, False, True]
    refused = feed.entries[1]
    assert refused.problem and refused.problem.startswith("feed entry too large: ")
    assert refused.problem.endswith("bytes > limit 2000") and refused.raw == b""


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


def test_an_entry_link_that_is_not_http_is_not_kept() -> None:
    body = (
        b'<rss version="2.0"><channel><title>F</title><item><guid isPermaLink="false">g1</guid>'
        b"<title>T</title><link>javascript:alert(1)</link><description>Body.</description>"
        b"</item></channel></rss>"
    )
    [entry] = parse_feed(body, "https://example.com/feed", "application/rss+xml").entries
    assert "link" not in entry.record

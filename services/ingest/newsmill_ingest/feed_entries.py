"""Feed bytes to entries: what an entry is, and the record it is stored as.

feedparser reads the bytes (never a URL: its own fetcher has no limits) after
entity declarations are refused, looked for in the text feedparser will read
(it decodes EBCDIC, UTF-16 and the rest itself). Each entry gets a stable
identity (GUID, else link, else title and content) and a content hash; it is
stored as the JSON record the worker's JSON path reads, its HTML sanitised
again, and refused when that record is larger than a document may be.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import feedparser
import nh3
from feedparser.encodings import convert_to_utf8
from feedparser.exceptions import ThingsNobodyCaresAboutButMe

from newsmill_ingest.feed_schedule import ttl_seconds
from newsmill_schema.links import web_url
from newsmill_schema.messages import FULL_TEXT_FIELD

ERROR_LENGTH = 500
"""Longest error reason kept for a feed."""

_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)


class FeedError(Exception):
    """A feed, or a feeds file, that cannot be used: ``reason`` says why in one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def entry_identity(entry: Mapping[str, Any]) -> str:
    """A stable id for an entry: its GUID, else its link, else its title and content."""
    guid = str(entry.get("id") or "").strip()
    link = str(entry.get("link") or "").strip()
    if guid:
        key = f"guid\0{guid}"
    elif link:
        key = f"link\0{link}"
    else:
        key = f"text\0{entry.get('title') or ''}\0{_content(entry)}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def record_hash(record: Mapping[str, Any]) -> str:
    """Hash of what a reader sees of an entry; a change means it is processed again."""
    seen = {k: record.get(k) for k in ("title", "link", "author", "summary", "content")}
    return hashlib.sha256(json.dumps(seen, sort_keys=True).encode("utf-8")).hexdigest()


def entry_record(
    entry: Mapping[str, Any], channel: Mapping[str, Any], full_text: bool
) -> dict[str, Any]:
    """The JSON record an entry is stored as: the fields the worker's JSON path maps.

    HTML is sanitised again here (feedparser's sanitiser is the first pass), so
    what is stored is safe to show whatever reads it later.
    """
    content = _sanitise(_content(entry))
    summary = _sanitise(str(entry.get("summary") or ""))
    record: dict[str, Any] = {
        "id": entry.get("id"),
        "title": _plain(str(entry.get("title") or "")),
        "link": web_url(entry.get("link")),
        "author": _authors(entry),
        "published": _iso(_date_of(entry)),
        "content": content or summary,
        "summary": summary if content and _plain(summary) not in _plain(content) else None,
        "publisher": channel.get("title") or None,
        "language": channel.get("language") or None,
    }
    if full_text:
        record[FULL_TEXT_FIELD] = True
    return {k: v for k, v in record.items() if v not in (None, "", [])}


def _date_of(entry: Mapping[str, Any]) -> Any:
    # Plain dict lookups: feedparser's own mapping of updated to published warns.
    fields = dict(entry)
    return fields.get("published_parsed") or fields.get("updated_parsed")


def _content(entry: Mapping[str, Any]) -> str:
    values = [str(c.get("value") or "") for c in entry.get("content") or [] if c.get("value")]
    return max(values, key=len) if values else str(entry.get("summary") or "")


def _authors(entry: Mapping[str, Any]) -> list[str]:
    names = [str(a.get("name") or "") for a in entry.get("authors") or [] if isinstance(a, dict)]
    names = [n.strip() for n in names if n.strip()]
    if not names and entry.get("author"):
        names = [str(entry["author"]).strip()]
    return names


def _sanitise(markup: str) -> str:
    return nh3.clean(markup).strip() if markup else ""


def _plain(text: str) -> str:
    if "<" not in text and "&" not in text:
        return text.strip()
    return html.unescape(nh3.clean(text, tags=set())).strip()


def _iso(parsed: Any) -> str | None:
    if not parsed:
        return None
    try:
        year, month, day, hour, minute, second = parsed[:6]
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC).isoformat()
    except (TypeError, ValueError):
        return None


# --- Feed bytes to entries ------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One entry of a parsed feed, ready to be recorded (or refused, with ``problem`` saying why)."""

    identity: str
    content_hash: str
    record: dict[str, Any]
    raw: bytes
    """The record as stored: JSON, UTF-8."""
    problem: str | None = None

    @classmethod
    def of(cls, identity: str, record: dict[str, Any], max_bytes: int) -> Entry:
        raw = json.dumps(record, ensure_ascii=False, sort_keys=True).encode("utf-8")
        if len(raw) <= max_bytes:
            return cls(identity, record_hash(record), record, raw)
        problem = f"feed entry too large: {len(raw)} bytes > limit {max_bytes}"
        return cls(identity, record_hash(record), {}, b"", problem)


@dataclass(frozen=True)
class ParsedFeed:
    title: str | None
    ttl_s: float | None
    entries: list[Entry]
    warning: str | None = None
    """Set when feedparser flagged the feed (bozo) but its entries were usable."""


def refuse_entities(body: bytes, headers: Mapping[str, str]) -> None:
    """Refuse XML declaring entities: a 100 KB feed can expand to hundreds of MB.

    Looked for in the text feedparser will parse, decoded by feedparser's own
    rules from these bytes and headers: raw bytes hide the declaration from a
    byte search when the feed says it is EBCDIC (cp037) or UTF-16.
    """
    text = convert_to_utf8(dict(headers), body, feedparser.FeedParserDict())
    # UTF-16 that no header or mark announces is read as UTF-8, NULs between the letters.
    if _ENTITY_DECL.search(text) or (
        b"\0" in text and _ENTITY_DECL.search(text.replace(b"\0", b""))
    ):
        raise FeedError("XML entity declarations (<!ENTITY) are refused: possible expansion bomb")


def feedparser_result(body: bytes, url: str, content_type: str = "") -> Any:
    """feedparser's view of feed bytes, entity declarations refused first."""
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    refuse_entities(body, headers)
    return feedparser.parse(io.BytesIO(body), response_headers=headers, sanitize_html=True)


def parse_feed(
    body: bytes,
    url: str,
    content_type: str = "",
    full_text: bool = False,
    max_entries: int = 10_000,
    max_entry_bytes: int = 20 * 1024 * 1024,
) -> ParsedFeed:
    """Parse feed bytes (never a URL: feedparser's own fetcher has no limits) into entries."""
    parsed = feedparser_result(body, url, content_type)
    exception = parsed.get("bozo_exception") if parsed.get("bozo") else None
    problem = str(exception) if exception is not None else None
    # A wrong content type or charset label is a warning; broken XML with nothing in it is not.
    if not parsed.entries and problem and not isinstance(exception, ThingsNobodyCaresAboutButMe):
        raise FeedError(f"not a usable feed: {problem}"[:ERROR_LENGTH])
    if not parsed.entries and not parsed.get("version"):
        raise FeedError("not an RSS or Atom feed: no channel and no entries")
    channel = parsed.feed
    entries: dict[str, Entry] = {}
    for item in parsed.entries[:max_entries]:
        identity = entry_identity(item)
        if identity not in entries:
            record = entry_record(item, channel, full_text)
            entries[identity] = Entry.of(identity, record, max_entry_bytes)
    return ParsedFeed(
        title=_plain(str(channel.get("title") or "")) or None,
        ttl_s=ttl_seconds(channel.get("ttl")),
        entries=list(entries.values()),
        warning=problem,
    )

"""RSS 0.9x/1.0/2.0 and Atom feeds: one article per entry, through feedparser.

feedparser gets the document as a stream (never a string it could take for a
URL or a path) and is told the text is UTF-8, because decode already turned it
into text whatever its XML declaration said. Each entry's ``raw`` is its own
XML element when a strict XML parse agrees with feedparser on the entries,
else the entry's fields as JSON (feedparser also reads broken feeds).
"""

from __future__ import annotations

import io
import json
import re
from datetime import datetime
from typing import Any

import feedparser
from lxml import etree

from newsmill_worker.pipeline.dates import parse_date
from newsmill_worker.pipeline.document import Decoded, Outcome, Parsed, RecordError
from newsmill_worker.pipeline.errors import DocumentError
from newsmill_worker.pipeline.formats.html import fragment_paragraphs, looks_like_html
from newsmill_worker.pipeline.formats.text import text_paragraphs

_STANDFIRST_MAX_CHARS = 300
_NAMESPACES = {"atom": "http://www.w3.org/2005/Atom", "rss1": "http://purl.org/rss/1.0/"}
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_ENTRY_XPATH = "//item | //atom:entry | //rss1:item"
_UTF8_XML = {"content-type": "application/xml; charset=utf-8"}


def parse_feed(doc: Decoded) -> list[Outcome]:
    """Parse a feed into one article per entry (``ref`` = ``#entry=N``, from 1)."""
    parsed = feedparser.parse(io.BytesIO(doc.text.encode("utf-8")), response_headers=_UTF8_XML)
    entries = parsed.entries
    if not entries:
        problem = f": {parsed.bozo_exception}" if parsed.get("bozo") else ""
        raise DocumentError(f"feed holds no entries{problem}")
    if len(entries) > doc.limits.max_records:
        raise DocumentError(
            f"too many records: {len(entries)} entries > limit {doc.limits.max_records}"
        )
    channel = parsed.feed
    publisher = channel.get("title") or None
    language = channel.get("language") or None
    raws = _entry_bytes(doc.text, len(entries))
    return [
        _outcome(entry, f"#entry={n}", publisher, language, raw)
        for n, (entry, raw) in enumerate(zip(entries, raws, strict=True), 1)
    ]


def _entry_bytes(text: str, count: int) -> list[bytes | None]:
    """Each entry's own XML, when a strict parse finds exactly the entries feedparser found."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        # The text is decoded already: its declaration's encoding no longer applies.
        root = etree.fromstring(_XML_DECLARATION.sub("", text, count=1), parser)
    except (etree.XMLSyntaxError, ValueError):
        return [None] * count
    elements = root.xpath(_ENTRY_XPATH, namespaces=_NAMESPACES)
    if len(elements) != count:
        return [None] * count
    return [etree.tostring(element, encoding="utf-8") for element in elements]


def _outcome(
    entry: Any, ref: str, publisher: str | None, language: str | None, raw: bytes | None
) -> Outcome:
    raw = raw or json.dumps(_record(entry), ensure_ascii=False, default=str).encode("utf-8")
    title = _plain(entry.get("title", ""))
    paragraphs = _paragraphs(_content(entry))
    if not title:
        return RecordError(reason="feed entry has no title", ref=ref, raw=raw)
    if not paragraphs:
        return RecordError(reason="feed entry has no content or summary", ref=ref, raw=raw)
    subtitle = _standfirst(entry, paragraphs)
    return Parsed(
        title=title,
        paragraphs=paragraphs,
        subtitle=subtitle,
        authors=_authors(entry),
        published_at=_published(entry),
        language=language,
        publisher=publisher,
        url=entry.get("link") or None,
        ref=ref,
        raw=raw,
    )


def _published(entry: Any) -> datetime | None:
    """The entry's date with its own UTC offset; feedparser's parsed form is UTC."""
    for key in ("published", "updated"):
        parsed = parse_date(entry.get(key)) if entry.get(key) else None
        if parsed is not None:
            return parsed
    return parse_date(entry.get("published_parsed") or entry.get("updated_parsed"))


def _standfirst(entry: Any, paragraphs: list[str]) -> str | None:
    """The summary, when the entry also has full content that is more than that summary."""
    summary = _plain(entry.get("summary", ""))
    if not summary or not entry.get("content") or len(summary) > _STANDFIRST_MAX_CHARS:
        return None
    return None if " ".join(paragraphs) == summary else summary


def _content(entry: Any) -> str:
    contents = entry.get("content") or []
    values = [c.get("value", "") for c in contents if c.get("value")]
    return max(values, key=len) if values else entry.get("summary", "")


def _paragraphs(text: str) -> list[str]:
    return fragment_paragraphs(text) if looks_like_html(text) else text_paragraphs(text)


def _plain(text: str) -> str:
    return " ".join(_paragraphs(text)) if text else ""


def _authors(entry: Any) -> list[str]:
    names = [a.get("name", "") for a in entry.get("authors", []) if isinstance(a, dict)]
    names = [n for n in names if n] or [entry.get("author", "")]
    return [n.strip() for n in names if n and n.strip()]


def _record(entry: Any) -> dict[str, Any]:
    """The entry's fields as JSON: the record kept when its XML could not be cut out."""
    keys = ("id", "title", "link", "author", "published", "updated", "summary", "content")
    return {key: entry[key] for key in keys if key in entry}

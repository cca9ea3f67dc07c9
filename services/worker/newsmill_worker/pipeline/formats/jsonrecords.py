"""JSON and JSON Lines: one article object, a list of them, or one per line.

Field names vary by producer, so each article field is read from the first
key present among its usual spellings (case-insensitive). A field holding
markup goes through the HTML path. Records are numbered from 1 in ``ref``
(``#record=2``, ``#line=3``); one bad record becomes a RecordError and its
neighbours are still ingested. Each record keeps its own source text as
``raw``; records inside a container object are serialised again instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from newsmill_worker.pipeline.dates import parse_date
from newsmill_worker.pipeline.document import Decoded, Limits, Outcome, Parsed, RecordError
from newsmill_worker.pipeline.errors import DocumentError
from newsmill_worker.pipeline.formats.html import fragment_paragraphs, looks_like_html
from newsmill_worker.pipeline.formats.text import text_paragraphs

FIELD_NAMES: dict[str, tuple[str, ...]] = {
    "title": ("title", "headline", "heading", "name"),
    "body": (
        "body",
        "text",
        "content",
        "articlebody",
        "article_body",
        "body_html",
        "content_html",
        "html",
        "story",
        "full_text",
        "fulltext",
    ),
    "url": ("url", "link", "canonical_url", "canonicalurl", "permalink", "uri"),
    "authors": ("authors", "author", "byline", "creator", "creators", "writers", "writer"),
    "published": (
        "published",
        "date",
        "datepublished",
        "published_at",
        "publishedat",
        "pubdate",
        "pub_date",
        "publication_date",
        "created_at",
        "timestamp",
    ),
    "subtitle": ("subtitle", "standfirst", "description", "dek", "summary", "lede", "teaser"),
    "publisher": ("publisher", "source", "site_name", "sitename", "site", "outlet"),
    "language": ("language", "lang", "inlanguage", "locale"),
}
"""Accepted spellings of each field, most specific first."""

_DECODER = json.JSONDecoder()
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_CONTAINER_KEYS = ("articles", "items", "records", "entries", "stories", "documents", "data")
_AUTHOR_SPLIT = ("; ", " and ", " & ")


def parse_json(doc: Decoded) -> list[Outcome]:
    """Parse a JSON document: one article, a list of articles, or ``{"articles": [...]}``."""
    value = _load(doc.text, doc.limits, where="")
    records = _records_of(value)
    if records is None:
        return [_article(_require_object(value))]
    if len(records) > doc.limits.max_records:
        raise DocumentError(f"too many records: {len(records)} > limit {doc.limits.max_records}")
    if not records:
        raise DocumentError("JSON list holds no records")
    sources = _element_sources(doc.text) if isinstance(value, list) else [None] * len(records)
    return [
        _outcome(record, f"#record={n}", source)
        for n, (record, source) in enumerate(zip(records, sources, strict=True), start=1)
    ]


def parse_jsonl(doc: Decoded) -> list[Outcome]:
    """Parse JSON Lines: one article object per non-blank line."""
    lines = [(n, line) for n, line in enumerate(doc.text.splitlines(), start=1) if line.strip()]
    if len(lines) > doc.limits.max_records:
        raise DocumentError(
            f"too many records: {len(lines)} lines > limit {doc.limits.max_records}"
        )
    outcomes: list[Outcome] = []
    syntax_errors: list[str] = []
    for number, line in lines:
        ref, raw = f"#line={number}", line.encode("utf-8")
        try:
            record = _load(line, doc.limits, where=f" on line {number}")
        except DocumentError as err:
            syntax_errors.append(err.reason)
            outcomes.append(RecordError(reason=err.reason, ref=ref, raw=raw))
            continue
        outcome = _outcome(record, ref)
        outcome.raw = raw
        outcomes.append(outcome)
    if len(syntax_errors) == len(outcomes):
        raise DocumentError(f"not JSON Lines: no line is valid JSON ({syntax_errors[0]})")
    return outcomes


def _load(text: str, limits: Limits, where: str) -> Any:
    try:
        value = json.loads(text)
    except RecursionError:
        raise DocumentError(f"JSON nested deeper than {limits.max_depth} levels{where}") from None
    except json.JSONDecodeError as err:
        position = f"column {err.colno}" if where else f"line {err.lineno}, column {err.colno}"
        raise DocumentError(f"invalid JSON{where}: {err.msg} ({position})") from None
    if _depth(value) > limits.max_depth:
        raise DocumentError(f"JSON nested deeper than {limits.max_depth} levels{where}")
    return value


def _depth(value: Any) -> int:
    """Nesting depth, measured without recursion so a deep document cannot overflow the stack."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if isinstance(item, dict):
            stack.extend((child, level + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, level + 1) for child in item)
    return deepest


def _records_of(value: Any) -> list[Any] | None:
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and _field(value, "body") is None:
        for key in _CONTAINER_KEYS:
            if isinstance(value.get(key), list):
                return list(value[key])
    return None


def _require_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise DocumentError(f"JSON {type(value).__name__} is not an article object or a list")
    return value


def _element_sources(text: str) -> list[str | None]:
    """The source text of each element of a top-level JSON array already known to be valid."""
    position = _skip_space(text, text.index("[") + 1)
    sources: list[str | None] = []
    while text[position] != "]":
        _, end = _DECODER.raw_decode(text, position)
        sources.append(text[position:end])
        position = _skip_space(text, end)
        if text[position] == ",":
            position = _skip_space(text, position + 1)
    return sources


def _skip_space(text: str, position: int) -> int:
    match = _WHITESPACE.match(text, position)
    return match.end() if match else position


def _outcome(record: Any, ref: str, source: str | None = None) -> Outcome:
    """``source`` is the record's own text when known; otherwise it is serialised again."""
    raw = (source or json.dumps(record, ensure_ascii=False)).encode("utf-8")
    if not isinstance(record, dict):
        reason = f"record is a JSON {type(record).__name__}, not an object"
        return RecordError(reason=reason, ref=ref, raw=raw)
    try:
        article = _article(record)
    except DocumentError as err:
        return RecordError(reason=err.reason, ref=ref, raw=raw)
    article.ref, article.raw = ref, raw
    return article


def _article(record: dict[str, Any]) -> Parsed:
    body = _field(record, "body")
    title = _text(_field(record, "title"))
    if body is None:
        raise DocumentError(f"no article body: expected one of {', '.join(FIELD_NAMES['body'])}")
    if not title:
        raise DocumentError(f"no title: expected one of {', '.join(FIELD_NAMES['title'])}")
    paragraphs = _paragraphs(body)
    if not paragraphs:
        raise DocumentError("article body is empty")
    subtitle = _text(_field(record, "subtitle"))
    return Parsed(
        title=title,
        paragraphs=paragraphs,
        subtitle=_plain(subtitle) if subtitle else None,
        authors=list(_authors(_field(record, "authors"))),
        published_at=parse_date(_field(record, "published")),
        language=_text(_field(record, "language")) or None,
        publisher=_text(_field(record, "publisher")) or None,
        url=_text(_field(record, "url")) or None,
    )


def _field(record: dict[str, Any], name: str) -> Any:
    lowered = {key.lower(): value for key, value in record.items() if isinstance(key, str)}
    for key in FIELD_NAMES[name]:
        value = lowered.get(key)
        if value not in (None, "", []):
            return value
    return None


def _text(value: Any) -> str:
    """A scalar field as a string; objects give their ``name``, as schema.org nests them."""
    if isinstance(value, dict):
        value = value.get("name") or value.get("@value") or value.get("value")
    if isinstance(value, bool) or value is None or isinstance(value, list | dict):
        return ""
    return str(value).strip()


def _plain(text: str) -> str:
    return " ".join(fragment_paragraphs(text)) if looks_like_html(text) else text


def _paragraphs(body: Any) -> list[str]:
    if isinstance(body, list):
        return [p for item in body for p in _paragraphs(item)]
    text = _text(body)
    return fragment_paragraphs(text) if looks_like_html(text) else text_paragraphs(text)


def _authors(value: Any) -> Iterator[str]:
    if isinstance(value, list):
        for item in value:
            yield from _authors(item)
        return
    text = _text(value)
    if text.lower().startswith("by "):
        text = text[3:]
    for separator in _AUTHOR_SPLIT:
        text = text.replace(separator, ";")
    yield from (name.strip() for name in text.split(";") if name.strip())

"""Plain data passed between the pipeline steps."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Limits:
    """Bounds on what one document may cost; taken from settings."""

    max_bytes: int = 20 * 1024 * 1024
    max_decompressed_bytes: int = 50 * 1024 * 1024
    max_records: int = 10_000
    max_depth: int = 200
    max_html_elements: int = 50_000
    """Past this, a page takes seconds to extract (50,000 elements: about 5 s)."""


@dataclass
class Decoded:
    """A document's text, with what decoding learnt about it."""

    text: str
    name: str
    encoding: str
    format: str = "text"
    """``text``, ``markdown``, ``html``, ``json``, ``jsonl`` or ``feed``."""
    limits: Limits = field(default_factory=Limits)
    """The bounds parsing must respect too (record count, nesting depth)."""


@dataclass
class Parsed:
    """One article as parsed from a document, before or after cleaning."""

    title: str
    paragraphs: list[str]
    subtitle: str | None = None
    authors: list[str] = field(default_factory=list)
    published_at: datetime | None = None
    language: str | None = None
    publisher: str | None = None
    url: str | None = None
    credits: list[str] = field(default_factory=list)
    ref: str | None = None
    """Where in a multi-record file this article came from (``#line=3``, ``#entry=2``)."""
    raw: bytes | None = None
    """The record's own bytes, kept for reprocessing, when the file holds many."""

    @property
    def body(self) -> str:
        return "\n\n".join(self.paragraphs)

    def article_fields(self) -> dict[str, Any]:
        """The fields an Article (and an ``articles`` row) takes from this parse."""
        return {
            "title": self.title,
            "subtitle": self.subtitle,
            "body": self.body,
            "authors": self.authors,
            "published_at": self.published_at,
            "language": self.language,
            "publisher": self.publisher,
            "url": self.url,
            "credits": self.credits,
            "word_count": self.word_count,
        }

    @property
    def word_count(self) -> int:
        return sum(len(p.split()) for p in self.paragraphs) if self.paragraphs else 0


@dataclass
class RecordError:
    """A record of a multi-record file that could not be parsed."""

    reason: str
    ref: str
    raw: bytes | None = None


Outcome = Parsed | RecordError

"""The Article: what newsmill keeps of a news document, as users read it back."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

SourceKind = Literal["file", "feed", "record"]


class Source(BaseModel):
    """Where a document came from: a dropped file, a feed entry, or one record of a file."""

    kind: SourceKind
    uri: str


class Article(BaseModel):
    """A parsed, cleaned news article.

    ``body`` holds paragraphs separated by one blank line. ``duplicate_of`` and
    ``similarity`` are set on near-duplicates; exact copies never get a row of
    their own (their sources are listed in ``sources``).
    """

    id: int | None = None
    title: str = ""
    subtitle: str | None = None
    body: str = ""
    authors: list[str] = Field(default_factory=list)
    published_at: datetime | None = None
    language: str | None = None
    publisher: str | None = None
    url: str | None = None
    credits: list[str] = Field(default_factory=list)
    word_count: int = 0
    content_hash: str = ""
    duplicate_of: int | None = None
    similarity: float | None = None
    source: Source
    sources: list[Source] = Field(default_factory=list)
    ingested_at: datetime | None = None
    processed_at: datetime | None = None

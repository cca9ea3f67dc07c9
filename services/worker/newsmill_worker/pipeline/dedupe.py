"""Duplicate detection on plain data: the exact-content fingerprint."""

from __future__ import annotations

import hashlib
import re

from newsmill_worker.pipeline.document import Parsed

_NON_WORD = re.compile(r"\W+")


def normalise(text: str) -> str:
    """Lower-case words only: the form two copies of one story share."""
    return _NON_WORD.sub(" ", text.casefold()).strip()


def content_hash(article: Parsed) -> str:
    """sha256 of the normalised title and body: equal for exact copies."""
    text = normalise(article.title) + "\n" + normalise(article.body)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()

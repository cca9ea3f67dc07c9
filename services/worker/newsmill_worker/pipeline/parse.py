"""Decoded text to articles, by the parser of the format decode detected."""

from __future__ import annotations

from newsmill_schema.links import web_url
from newsmill_worker.pipeline.document import Decoded, Outcome, Parsed
from newsmill_worker.pipeline.errors import DocumentError
from newsmill_worker.pipeline.formats import PARSERS


def parse(doc: Decoded) -> list[Outcome]:
    """Parse a decoded document into one or more articles (or record errors).

    Whatever the format, an article's ``url`` is kept only when it is an
    http(s) URL (a ``javascript:`` link is dropped, not stored).
    """
    parser = PARSERS.get(doc.format)
    if parser is None:
        raise DocumentError(f"unsupported document format: {doc.format}")
    outcomes = parser(doc)
    for outcome in outcomes:
        if isinstance(outcome, Parsed):
            outcome.url = web_url(outcome.url)
    return outcomes

"""Decoded text to articles, by the parser of the format decode detected."""

from __future__ import annotations

from newsmill_worker.pipeline.document import Decoded, Outcome
from newsmill_worker.pipeline.errors import DocumentError
from newsmill_worker.pipeline.formats import PARSERS


def parse(doc: Decoded) -> list[Outcome]:
    """Parse a decoded document into one or more articles (or record errors)."""
    parser = PARSERS.get(doc.format)
    if parser is None:
        raise DocumentError(f"unsupported document format: {doc.format}")
    return parser(doc)

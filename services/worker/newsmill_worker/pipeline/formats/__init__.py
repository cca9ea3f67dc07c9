"""One parser per document format, looked up by the format decode detected."""

from __future__ import annotations

from newsmill_worker.pipeline.format import FormatParser
from newsmill_worker.pipeline.formats.feed import parse_feed
from newsmill_worker.pipeline.formats.html import parse_html
from newsmill_worker.pipeline.formats.jsonrecords import parse_json, parse_jsonl
from newsmill_worker.pipeline.formats.text import parse_text

PARSERS: dict[str, FormatParser] = {
    "text": parse_text,
    "markdown": parse_text,
    "html": parse_html,
    "json": parse_json,
    "jsonl": parse_jsonl,
    "feed": parse_feed,
}
"""Parser for each value of ``Decoded.format``."""

__all__ = ["PARSERS"]

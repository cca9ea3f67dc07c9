"""HTML: a whole web page through trafilatura, or an HTML fragment from a record.

Pages go through trafilatura's main-content extraction in its precision mode
and with its metadata (title, authors, date via htmldate, site name, canonical
URL). Its slower fallback extractors (readability, jusText) only run when the
fast path finds less text than trafilatura's own minimum; the shared cleaner
then removes the debris precision mode lets through. A page trafilatura finds
no article in falls back to the text of its ``<body>`` blocks.
"""

from __future__ import annotations

import re

import lxml.html
import trafilatura
from lxml import etree
from trafilatura.settings import DEFAULT_CONFIG, Document

from newsmill_worker.pipeline.dates import parse_date
from newsmill_worker.pipeline.document import Decoded, Outcome, Parsed
from newsmill_worker.pipeline.errors import DocumentError

_HTML_LANG = re.compile(r"<html\b[^>]*?\blang\s*=\s*[\"']?([A-Za-z]{2,3})\b", re.IGNORECASE)
_LOOKS_LIKE_HTML = re.compile(
    r"<(?:p|br|div|span|a|em|strong|b|i|ul|ol|li|h[1-6]|img|figure|blockquote)\b[^>]*>", re.I
)
_BLOCK_TAGS = frozenset(
    [
        "p",
        "div",
        "li",
        "ul",
        "ol",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "figure",
        "figcaption",
        "pre",
        "table",
        "tr",
        "section",
        "article",
        "header",
        "footer",
        "aside",
        "dd",
        "dt",
    ]
)
_DROPPED_TAGS = ("script", "style", "noscript", "template", "iframe", "form", "button", "nav")
_DEPTH_ERROR = "Excessive depth"
_AUTHOR_SEPARATORS = re.compile(r"\s*;\s*")
_SHORT_EXTRACTION_CHARS = DEFAULT_CONFIG.getint("DEFAULT", "min_extracted_size")
"""Below trafilatura's own minimum extraction size, its fallback extractors are worth their time."""


def parse_html(doc: Decoded) -> list[Outcome]:
    """Extract the one article a web page holds."""
    return [article_from_page(doc.text)]


def article_from_page(html: str) -> Parsed:
    """Main text and metadata of a whole page, or DocumentError when it has no article text."""
    result = _extract(html, fast=True)
    if result is None or len(result.text or "") < _SHORT_EXTRACTION_CHARS:
        # Little text from the fast path: let trafilatura compare its fallback extractors.
        result = _extract(html, fast=False) or result
    paragraphs = _lines(result.text) if result is not None and result.text else []
    if not paragraphs:
        paragraphs = _body_paragraphs(html)
    if not paragraphs:
        raise DocumentError(_why_no_text(html))
    if result is None:
        return Parsed(title="", paragraphs=paragraphs, language=_page_language(html))
    return Parsed(
        title=result.title or "",
        paragraphs=paragraphs,
        authors=[a for a in _AUTHOR_SEPARATORS.split(result.author or "") if a],
        published_at=parse_date(result.date),
        language=_page_language(html),
        publisher=result.sitename or None,
        url=result.url or None,
    )


def _extract(html: str, *, fast: bool) -> Document | None:
    result = trafilatura.bare_extraction(
        html, fast=fast, favor_precision=True, include_comments=False, with_metadata=True
    )
    return result if isinstance(result, Document) else None


def looks_like_html(text: str) -> bool:
    """True when a record's field holds markup rather than plain text."""
    return bool(_LOOKS_LIKE_HTML.search(text[:4096]))


def fragment_paragraphs(html: str) -> list[str]:
    """The text of an HTML fragment (a feed entry, a JSON field), one string per block."""
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (etree.ParserError, ValueError):
        return []
    return _block_text(root)


def _body_paragraphs(html: str) -> list[str]:
    """All text of a page too short or too plain for trafilatura to call it an article."""
    try:
        root = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return []
    body = root.find("body")
    return _block_text(body) if body is not None else []


def _block_text(root: lxml.html.HtmlElement) -> list[str]:
    for element in list(root.iter(*_DROPPED_TAGS)):
        element.drop_tree()
    for element in root.iter():
        if element.tag == "br":
            element.tail = "\n" + (element.tail or "")
        elif element.tag in _BLOCK_TAGS:
            element.tail = "\n" + (element.tail or "")
            element.text = "\n" + (element.text or "")
    return _lines(root.text_content())


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _page_language(html: str) -> str | None:
    match = _HTML_LANG.search(html[:8192])
    return match.group(1).lower() if match else None


def _why_no_text(html: str) -> str:
    parser = lxml.html.HTMLParser(collect_ids=False)
    try:
        lxml.html.document_fromstring(html, parser=parser)
    except (etree.ParserError, ValueError):
        return "HTML without a parsable document"
    if any(_DEPTH_ERROR in entry.message for entry in parser.error_log):
        return "HTML nested too deeply: past the parser's 256-level limit, no text left"
    return "no article text found in the HTML page"

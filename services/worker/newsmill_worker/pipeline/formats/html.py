"""HTML: a whole web page through trafilatura, or an HTML fragment from a record.

A page is parsed once. Its metadata (title, authors, date, site, canonical
URL) comes from ``page_metadata``; its main text from trafilatura in its
default balanced mode with its fallback extractors (reader comments kept
apart from the body), elements the page hides from readers (``hidden``,
``aria-hidden``, ``display:none``, ``visibility:hidden``) pruned first.
Precision mode and merges of a precision and a recall run were measured
against it: they gain precision on news pages and lose more recall elsewhere
(see ``bench/extraction.py``). The shared cleaner then removes the debris
balanced mode lets through. A page trafilatura finds no article in falls back
to the text of its ``<body>`` blocks. A page with more elements than
``Limits.max_html_elements`` is refused: extraction time grows faster than a
page's size.
"""

from __future__ import annotations

import re

import lxml.html
import trafilatura
from lxml import etree
from trafilatura.settings import Document
from trafilatura.utils import load_html

from newsmill_worker.pipeline.document import Decoded, Limits, Outcome, Parsed
from newsmill_worker.pipeline.errors import DocumentError
from newsmill_worker.pipeline.formats.page_metadata import page_metadata

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
HIDDEN_ELEMENTS = (
    "//*[@hidden or @aria-hidden='true'"
    " or contains(translate(@style, ' ', ''), 'display:none')"
    " or contains(translate(@style, ' ', ''), 'visibility:hidden')]"
)
"""Elements a browser does not show a reader."""


def parse_html(doc: Decoded) -> list[Outcome]:
    """Extract the one article a web page holds."""
    return [article_from_page(doc.text, doc.limits)]


def article_from_page(html: str, limits: Limits | None = None) -> Parsed:
    """Main text and metadata of a whole page, or DocumentError when it has no article text."""
    tree = load_html(html)
    if tree is None:
        return _plain_page(html)
    _check_size(tree, limits or Limits())
    meta = page_metadata(tree)
    result = _extract(tree)
    paragraphs = _lines(result.text) if result is not None and result.text else []
    if not paragraphs:
        paragraphs = _body_paragraphs(html)
    if not paragraphs:
        raise DocumentError(_why_no_text(html))
    return Parsed(
        title=meta.title,
        paragraphs=paragraphs,
        authors=meta.authors,
        published_at=meta.published_at,
        language=_page_language(html),
        publisher=meta.publisher,
        url=meta.url,
    )


def _plain_page(html: str) -> Parsed:
    """A page trafilatura will not load (too little markup): the text of its blocks."""
    paragraphs = _body_paragraphs(html)
    if not paragraphs:
        raise DocumentError(_why_no_text(html))
    return Parsed(title="", paragraphs=paragraphs, language=_page_language(html))


def _check_size(tree: lxml.html.HtmlElement, limits: Limits) -> None:
    elements = int(tree.xpath("count(//*)"))
    if elements > limits.max_html_elements:
        raise DocumentError(
            f"HTML page too large to extract: {elements} elements"
            f" (limit {limits.max_html_elements})"
        )


def _extract(tree: lxml.html.HtmlElement) -> Document | None:
    # Comments are extracted apart from the body and left unused: keeping them on is
    # trafilatura's default and faster than its pruning of comment sections.
    result = trafilatura.bare_extraction(tree, prune_xpath=HIDDEN_ELEMENTS)
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

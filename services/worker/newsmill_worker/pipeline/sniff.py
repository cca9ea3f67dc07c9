"""Format detection: what a document is, judged by its content before its name.

A newsroom drop is often misnamed (HTML saved as ``.txt``, a feed as ``.xml``),
so the content decides; the extension only breaks ties between formats the
content cannot tell apart (JSON vs JSON Lines, text vs Markdown).
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from newsmill_worker.pipeline.errors import DocumentError

_HEAD = 4096
_FEED_ROOT = re.compile(r"<(?:rss|feed|rdf:RDF)\b", re.IGNORECASE)
_HTML_START = re.compile(r"\A(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b", re.I | re.S)
_HTML_TAG = re.compile(
    r"<(?:p|div|br|span|a|h[1-6]|article|section|ul|ol|li|table|img|meta|title|script|em|strong)"
    r"\b[^>]*>",
    re.IGNORECASE,
)
_ENTITY_DECL = re.compile(r"<!ENTITY", re.IGNORECASE)
_MARKDOWN_LINE = re.compile(r"^(?:#{1,6}\s+\S|={3,}\s*$|-{3,}\s*$|\*\*\S)", re.MULTILINE)
_JSON_EXTENSIONS = {".json"}
_JSONL_EXTENSIONS = {".jsonl", ".ndjson"}
_MARKDOWN_EXTENSIONS = {".md", ".markdown"}
_HTML_TAG_MIN = 3
"""Tags in the first 4 KB that make a text HTML whatever its name: one ``<b>`` is not a page."""


def detect_format(text: str, name: str) -> str:
    """Return ``html``, ``feed``, ``json``, ``jsonl``, ``markdown`` or ``text`` for ``text``.

    Raises DocumentError for markup declaring entities (expansion bombs) and
    for XML that is neither a feed nor a web page; a text merely quoting
    ``<!ENTITY`` is still a text.
    """
    head = text[:_HEAD].lstrip("\ufeff \t\r\n")
    suffix = PurePosixPath(name.lower()).suffix
    if head.startswith("<") and _ENTITY_DECL.search(text):
        raise DocumentError(
            "XML entity declarations (<!ENTITY) are refused: possible expansion bomb"
        )
    if head.startswith(("{", "[")):
        return _json_kind(head, suffix)
    if head.startswith("<?xml") or _FEED_ROOT.match(head):
        return _xml_kind(head)
    if _HTML_START.match(head) or len(_HTML_TAG.findall(head)) >= _HTML_TAG_MIN:
        return "html"
    if suffix in _JSON_EXTENSIONS | _JSONL_EXTENSIONS:
        raise DocumentError(f"not JSON: {name} does not start with '{{' or '['")
    if suffix in _MARKDOWN_EXTENSIONS or _MARKDOWN_LINE.search(head):
        return "markdown"
    return "text"


def _json_kind(head: str, suffix: str) -> str:
    if suffix in _JSONL_EXTENSIONS:
        return "jsonl"
    if suffix in _JSON_EXTENSIONS or head.startswith("["):
        return "json"
    lines = [line for line in head.splitlines() if line.strip()]
    # Two lines that each open an object is JSON Lines; a pretty-printed object
    # has its second line indented or holding a key.
    if len(lines) > 1 and lines[0].rstrip().endswith("}") and lines[1].lstrip().startswith("{"):
        return "jsonl"
    return "json"


def _xml_kind(head: str) -> str:
    if _FEED_ROOT.search(head):
        return "feed"
    if re.search(r"<(?:!doctype\s+html|html)\b", head, re.IGNORECASE):
        return "html"
    raise DocumentError("XML document that is neither an RSS/Atom feed nor XHTML")

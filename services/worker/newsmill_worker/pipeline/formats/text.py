"""Plain text and Markdown: first line the title, then paragraphs.

Paragraphs are blank-line separated blocks (a block's hard-wrapped lines are
joined) or, in a file with no blank line after its heading, one per line. A
short single-sentence line straight under the title is the standfirst
(``subtitle``); a blank line after the title means there is none.
"""

from __future__ import annotations

import re

from newsmill_worker.pipeline.document import Decoded, Outcome, Parsed
from newsmill_worker.pipeline.errors import DocumentError

_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")
_HEADING_MARK = re.compile(r"^\s{0,3}#{1,6}\s+|\s+#+\s*$")
_SUBHEADING = re.compile(r"^\s{0,3}#{2,6}\s+\S")
_SETEXT_RULE = re.compile(r"^\s{0,3}(?:=+|-+)\s*$")
_EMPHASIS = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)\s]*(?:\s+\"[^\"]*\")?\)")
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)]*(?=\s|$)")
_SUBTITLE_MAX_WORDS = 35


def parse_text(doc: Decoded) -> list[Outcome]:
    """Parse a plain-text or Markdown document into one article."""
    return [article_from_text(doc.text, markdown=doc.format == "markdown")]


def article_from_text(text: str, *, markdown: bool = False) -> Parsed:
    """Split ``text`` into title, optional subtitle and paragraphs."""
    pairs = [(raw, _lines(raw, markdown)) for raw in _BLANK_LINE.split(text.replace("\r\n", "\n"))]
    raw_blocks = [raw for raw, lines in pairs if lines]
    blocks = [lines for _, lines in pairs if lines]
    if not blocks:
        raise DocumentError("no text: the document holds no printable line")
    if markdown and len(blocks) > 1 and _is_subheading(raw_blocks[1]):
        # "# Title", blank line, "## Standfirst": the heading block carries on.
        blocks = [blocks[0] + blocks[1], *blocks[2:]]
    title, *under_title = blocks[0]
    subtitle = None
    if under_title and is_standfirst(under_title[0]):
        subtitle, *under_title = under_title
    if len(blocks) > 1:
        paragraphs = ([" ".join(under_title)] if under_title else []) + [
            " ".join(block) for block in blocks[1:]
        ]
    else:
        paragraphs = under_title
    return Parsed(title=title, subtitle=subtitle, paragraphs=paragraphs)


def is_standfirst(line: str) -> bool:
    """True for a short line of at most one sentence: what a standfirst looks like."""
    words = len(line.split())
    sentences = len(_SENTENCE_END.findall(line.rstrip()[:-1]))
    return 0 < words <= _SUBTITLE_MAX_WORDS and sentences == 0 and not line.endswith(":")


def _is_subheading(block: str) -> bool:
    lines = block.strip().splitlines()
    return len(lines) == 1 and bool(_SUBHEADING.match(lines[0]))


def _lines(block: str, markdown: bool) -> list[str]:
    lines = [line.strip() for line in block.splitlines()]
    if markdown:
        lines = [_unmark(line) for line in lines if not _SETEXT_RULE.match(line)]
    return [line for line in lines if line]


def _unmark(line: str) -> str:
    line = _HEADING_MARK.sub("", line)
    line = _LINK.sub(r"\1", line)
    return _EMPHASIS.sub(r"\2", line)


def text_paragraphs(text: str) -> list[str]:
    """Paragraphs of a body held as plain text: blank-line blocks, else one per line."""
    blocks = [_lines(block, False) for block in _BLANK_LINE.split(text.replace("\r\n", "\n"))]
    blocks = [block for block in blocks if block]
    if len(blocks) == 1:
        return blocks[0]
    return [" ".join(block) for block in blocks]

"""Credit lines ("(With inputs from ABC News and CNN.)") turned into a list of sources."""

from __future__ import annotations

import re

_CREDIT_LINE = re.compile(
    r"^\(?\s*(?:with\s+)?(?:additional\s+)?(?:inputs?|reporting|contributions?|information)"
    r"\s+(?:from|by)\s+(?P<sources>[^()]+?)\s*[.;]?\s*\)?\s*\.?$",
    re.IGNORECASE,
)
_ROLE = re.compile(
    r"^(?:and\s+)?(?:additional\s+)?(?:inputs?|reporting|editing|writing|contributions?)"
    r"\s+(?:from|by)\s+",
    re.IGNORECASE,
)
_SOURCE_SPLIT = re.compile(r"\s*(?:;|,|\band\b|&)\s*", re.IGNORECASE)
_MAX_WORDS = 30
_NAME_MAX_WORDS = 5


def extract_credits(paragraphs: list[str]) -> tuple[list[str], list[str]]:
    """Split credit lines off ``paragraphs``: returns (remaining paragraphs, sources in order)."""
    kept: list[str] = []
    sources: list[str] = []
    for paragraph in paragraphs:
        found = credit_sources(paragraph)
        if found:
            sources.extend(s for s in found if s not in sources)
        else:
            kept.append(paragraph)
    return kept, sources


def credit_sources(paragraph: str) -> list[str]:
    """The sources a credit line names, or an empty list when it is not a credit line."""
    if len(paragraph.split()) > _MAX_WORDS:
        return []
    match = _CREDIT_LINE.match(paragraph.strip())
    if not match:
        return []
    parts = [_ROLE.sub("", part.strip()) for part in match.group("sources").split(";")]
    sources = [s for part in parts for s in _SOURCE_SPLIT.split(part) if s]
    return sources if all(_is_name(s) for s in sources) else []


def _is_name(source: str) -> bool:
    """A newsroom or a person: capitalised and short, unlike "residents, the council drew up"."""
    return source[:1].isupper() and len(source.split()) <= _NAME_MAX_WORDS

"""Article cleaning: one place, applied to every format's output.

In order: repair mojibake and normalise to NFC with single spaces; split a
quote glued to its attribution (``…both sides."Vladimir Medinsky``: the
attribution becomes its own paragraph when it ends the paragraph, otherwise a
space is inserted); move credit lines into ``credits``; drop boilerplate,
paragraphs repeating the title, exact duplicate paragraphs and a standfirst
repeated at the start of the body; detect the language when none is known.
"""

from __future__ import annotations

import re
from dataclasses import replace

import ftfy

from newsmill_worker.pipeline.boilerplate import drop_boilerplate
from newsmill_worker.pipeline.credits import extract_credits
from newsmill_worker.pipeline.document import Parsed
from newsmill_worker.pipeline.language import detect_language, normalise_language

_FTFY = ftfy.TextFixerConfig(uncurl_quotes=False, fix_character_width=False, explain=False)
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_GLUED_QUOTE = re.compile(r"(?<=[.!?,…])([\"”])(?=[A-Z])")
_ATTRIBUTION_MAX_WORDS = 6
_TITLE_SUFFIX = re.compile(r"\s+[|–—-]\s+[^|–—-]+$")


def clean(article: Parsed) -> Parsed:
    """Return ``article`` with normalised text, debris removed and language filled in."""
    title, subtitle, *paragraphs = _normalise(
        [article.title, article.subtitle or "", *article.paragraphs]
    )
    paragraphs = [part for p in paragraphs for part in split_glued_quote(p)]
    paragraphs, credits = extract_credits(paragraphs)
    paragraphs = drop_boilerplate(paragraphs)
    paragraphs = _drop_repeats(paragraphs, title)
    paragraphs = _drop_standfirst(paragraphs, subtitle)
    language = normalise_language(article.language) or detect_language(
        "\n".join([title, *paragraphs])
    )
    return replace(
        article,
        title=title,
        subtitle=subtitle or None,
        paragraphs=paragraphs,
        authors=[a for a in _normalise(article.authors) if a],
        publisher=normalise_text(article.publisher) or None if article.publisher else None,
        credits=[*article.credits, *(c for c in credits if c not in article.credits)],
        language=language,
    )


def normalise_text(text: str) -> str:
    """Mojibake repaired, NFC, invisible characters removed, whitespace runs as one space."""
    return _normalise([text])[0]


def split_glued_quote(paragraph: str) -> list[str]:
    """Separate a closing quote from the words glued after it (see the module docstring)."""
    for match in _GLUED_QUOTE.finditer(paragraph):
        if match.group(1) == '"' and paragraph.count('"', 0, match.end()) % 2:
            continue  # an opening quote: the glue is on its other side
        quote, rest = paragraph[: match.end()], paragraph[match.end() :]
        if len(rest.split()) <= _ATTRIBUTION_MAX_WORDS and not rest.rstrip().endswith(
            (".", "!", "?")
        ):
            return [quote, rest]
        first, *others = split_glued_quote(rest)
        return [f"{quote} {first}", *others]
    return [paragraph]


def _normalise(texts: list[str]) -> list[str]:
    """Normalise many strings in one ftfy call (ftfy's per-call cost dominates short strings)."""
    flat = [" ".join(_INVISIBLE.sub("", t).split()) for t in texts]
    fixed = ftfy.fix_text("\n".join(flat), _FTFY).split("\n")
    if len(fixed) != len(flat):
        fixed = [ftfy.fix_text(t, _FTFY) for t in flat]
    return [" ".join(t.split()) for t in fixed]


def _drop_repeats(paragraphs: list[str], title: str) -> list[str]:
    """Drop exact duplicates and paragraphs that only repeat the title (with or without site)."""
    seen = {title.casefold(), _TITLE_SUFFIX.sub("", title).casefold()} - {""}
    kept = []
    for paragraph in paragraphs:
        key = paragraph.casefold()
        if key in seen:
            continue
        seen.add(key)
        kept.append(paragraph)
    return kept


def _drop_standfirst(paragraphs: list[str], subtitle: str) -> list[str]:
    """A body opening with the standfirst loses that copy; the rest of its paragraph stays."""
    if not subtitle or not paragraphs or not paragraphs[0].startswith(subtitle):
        return paragraphs
    rest = paragraphs[0][len(subtitle) :].strip()
    return [rest, *paragraphs[1:]] if rest else paragraphs[1:]

"""Article cleaning: one place, applied to every format's output.

In order: repair mojibake and normalise to NFC with single spaces; split a
quote glued to its attribution (``…both sides."Vladimir Medinsky``: the
attribution becomes its own paragraph when it ends the paragraph, otherwise a
space is inserted); move credit lines into ``credits``; drop boilerplate,
paragraphs repeating the title and a standfirst repeated at the start of the
body; detect the language when none is known. Cleaning never leaves a body
empty, and never drops a paragraph for being said twice: measured on pages no
rule was written for, that cost more real text than it removed debris.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import replace

import ftfy

from newsmill_worker.pipeline.boilerplate import drop_boilerplate
from newsmill_worker.pipeline.credits import extract_credits
from newsmill_worker.pipeline.document import Parsed
from newsmill_worker.pipeline.language import detect_language, normalise_language

_FTFY = ftfy.TextFixerConfig(uncurl_quotes=False, fix_character_width=False, explain=False)
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_CP1252_CONTINUATION = bytes(range(0x80, 0xA0)).decode("cp1252", errors="ignore")
_NEEDS_FTFY = re.compile(
    # UTF-8 read as Latin-1/Windows-1252: a lead byte's letter (Â…ï) then a continuation byte's
    f"[\u00c2-\u00ef][\u0080-\u00bf{_CP1252_CONTINUATION}]"
    r"|&(?:#\d{2,6}|#x[0-9a-fA-F]{2,5}|[a-zA-Z]{2,8});"  # character references left in text
    "|[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufb00-\ufb06\ud800-\udfff]"
)
_GLUED_QUOTE = re.compile(r"(?<=[.!?,…])([\"”])(?=[A-Z])")
_ATTRIBUTION_MAX_WORDS = 6
_ATTRIBUTION_MAX_CHARS = 200
"""Six words of any real name fit; a longer rest is not looked at word by word."""
_WORD = re.compile(r"\w+")
_HEADLINE_SIMILARITY = 0.6
"""Share of words (Jaccard) a first paragraph has in common with the title to be its headline."""
_TITLE_SUFFIX = re.compile(r"\s+[|–—-]\s+[^|–—-]+$")


def clean(article: Parsed, rules: Iterable[DebrisRule] | None = None) -> Parsed:
    """Return ``article`` with normalised text, debris removed and language filled in.

    ``rules`` replaces ``DEBRIS_RULES`` (the benchmark measures each rule so).
    """
    title, subtitle, *paragraphs = _normalise(
        [article.title, article.subtitle or "", *article.paragraphs]
    )
    paragraphs = [part for p in paragraphs for part in split_glued_quote(p)]
    paragraphs, credits = extract_credits(paragraphs)
    paragraphs = _drop_debris(paragraphs, title, subtitle, DEBRIS_RULES if rules is None else rules)
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
    text = " ".join(_INVISIBLE.sub("", text).split())
    if _NEEDS_FTFY.search(text):
        text = ftfy.fix_text(text, _FTFY)
    return " ".join(unicodedata.normalize("NFC", text).split())


def split_glued_quote(paragraph: str) -> list[str]:
    """Separate a closing quote from the words glued after it (see the module docstring).

    One pass over the paragraph: every glued closing quote gets a space after
    it, except one followed only by a short attribution, which becomes its own
    paragraph. A straight quote counts as closing when it closes an odd run
    of straight quotes since the previous split.
    """
    pieces: list[str] = []
    start = counted = quotes = 0
    for match in _GLUED_QUOTE.finditer(paragraph):
        if match.group(1) == '"':
            quotes += paragraph.count('"', counted, match.end())
            counted = match.end()
            if quotes % 2:
                continue  # an opening quote: the glue is on its other side
        pieces.append(paragraph[start : match.end()])
        start = counted = match.end()
        quotes = 0
        if _is_attribution(paragraph, start):
            return [" ".join(pieces), paragraph[start:]]
    return [" ".join([*pieces, paragraph[start:]])]


def _is_attribution(paragraph: str, start: int) -> bool:
    """The rest of ``paragraph`` from ``start`` is a few words naming a speaker, not a sentence."""
    if len(paragraph) - start > _ATTRIBUTION_MAX_CHARS:
        return False
    rest = paragraph[start:]
    return len(rest.split()) <= _ATTRIBUTION_MAX_WORDS and not rest.rstrip().endswith(
        (".", "!", "?")
    )


def _normalise(texts: list[str]) -> list[str]:
    """Normalise many strings at once; ftfy (slow) only runs when there is debris to fix."""
    joined = "\n".join(" ".join(_INVISIBLE.sub("", t).split()) for t in texts)
    if _NEEDS_FTFY.search(joined):
        joined = ftfy.fix_text(joined, _FTFY)
    fixed = unicodedata.normalize("NFC", joined).split("\n")
    if len(fixed) != len(texts):  # ftfy turned a character reference into a line break
        return [normalise_text(t) for t in texts]
    return [" ".join(t.split()) for t in fixed]


def drop_footers(paragraphs: list[str], title: str, subtitle: str) -> list[str]:
    """Boilerplate by shape (see ``boilerplate``): calls to action, labels, notices."""
    return drop_boilerplate(paragraphs, title)


def drop_title_copies(paragraphs: list[str], title: str, subtitle: str) -> list[str]:
    """Drop the title repeated in the body, with or without its site suffix.

    Other repeated paragraphs stay: a pull quote printed twice costs a little
    precision, while a text that really says something twice (a chorus, a
    repeated instruction, a table of identical rows) would lose content.
    """
    titles = {title.casefold(), _TITLE_SUFFIX.sub("", title).casefold()} - {""}
    return [p for p in paragraphs if p.casefold() not in titles]


def drop_headline(
    paragraphs: list[str], title: str, subtitle: str, similarity: float = _HEADLINE_SIMILARITY
) -> list[str]:
    """Drop a reworded headline opening the body ("HS Roundup: …" over "High School Roundup: …").

    A headline is a first paragraph no longer than twice the title with at least
    ``similarity`` of its words (Jaccard) in common with the title.
    """
    if not paragraphs or not _is_headline(paragraphs[0], title, similarity):
        return paragraphs
    return paragraphs[1:]


def drop_standfirst(paragraphs: list[str], title: str, subtitle: str) -> list[str]:
    """A body opening with the standfirst loses that copy; the rest of its paragraph stays."""
    if not subtitle or not paragraphs or not paragraphs[0].startswith(subtitle):
        return paragraphs
    rest = paragraphs[0][len(subtitle) :].strip()
    return [rest, *paragraphs[1:]] if rest else paragraphs[1:]


DebrisRule = Callable[[list[str], str, str], list[str]]
"""A step taking (paragraphs, title, standfirst) to the paragraphs it keeps."""
DEBRIS_RULES: tuple[DebrisRule, ...] = (
    drop_footers,
    drop_title_copies,
    drop_headline,
    drop_standfirst,
)
"""The debris rules in the order ``clean`` applies them (``bench/extraction.py`` measures each)."""


def _drop_debris(
    paragraphs: list[str], title: str, subtitle: str, rules: Iterable[DebrisRule]
) -> list[str]:
    """Every rule in turn; never every paragraph out.

    A body that would be left empty is kept whole: an article that is only a
    sign-up line is better stored as it is than stored with no text.
    """
    kept = paragraphs
    for rule in rules:
        kept = rule(kept, title, subtitle)
    return kept or paragraphs


def _is_headline(paragraph: str, title: str, similarity: float) -> bool:
    title_words = set(_WORD.findall(title.casefold()))
    if not title_words or len(paragraph.split()) > 2 * len(title.split()):
        return False
    words = set(_WORD.findall(paragraph.casefold()))
    return len(words & title_words) / len(words | title_words) >= similarity

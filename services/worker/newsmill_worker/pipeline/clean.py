"""Article cleaning: one place, applied to every format's output.

In order: repair mojibake and normalise to NFC with single spaces; split a
quote glued to its attribution (``…both sides."Vladimir Medinsky``: the
attribution becomes its own paragraph when it ends the paragraph, otherwise a
space is inserted); move credit lines into ``credits``; drop boilerplate,
paragraphs repeating the title, exact copies of a prose paragraph (short
repeated lines are structure and stay) and a standfirst repeated at the start
of the body; detect the language when none is known. Cleaning never leaves a
body empty.
"""

from __future__ import annotations

import re
import unicodedata
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
_PROSE_MIN_WORDS = 12
"""A repeated paragraph this long is a copy (a pull quote, a doubled block) and is dropped."""
_TITLE_SUFFIX = re.compile(r"\s+[|–—-]\s+[^|–—-]+$")


def clean(article: Parsed) -> Parsed:
    """Return ``article`` with normalised text, debris removed and language filled in."""
    title, subtitle, *paragraphs = _normalise(
        [article.title, article.subtitle or "", *article.paragraphs]
    )
    paragraphs = [part for p in paragraphs for part in split_glued_quote(p)]
    paragraphs, credits = extract_credits(paragraphs)
    paragraphs = _drop_debris(paragraphs, title, subtitle)
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
    """Normalise many strings at once; ftfy (slow) only runs when there is debris to fix."""
    joined = "\n".join(" ".join(_INVISIBLE.sub("", t).split()) for t in texts)
    if _NEEDS_FTFY.search(joined):
        joined = ftfy.fix_text(joined, _FTFY)
    fixed = unicodedata.normalize("NFC", joined).split("\n")
    if len(fixed) != len(texts):  # ftfy turned a character reference into a line break
        return [normalise_text(t) for t in texts]
    return [" ".join(t.split()) for t in fixed]


def _drop_debris(paragraphs: list[str], title: str, subtitle: str) -> list[str]:
    """Boilerplate, repeats and the repeated standfirst out; never every paragraph out.

    A body that would be left empty is kept whole: an article that is only a
    sign-up line is better stored as it is than stored with no text.
    """
    kept = drop_boilerplate(paragraphs, title)
    kept = _drop_repeats(kept, title)
    kept = _drop_standfirst(kept, subtitle)
    return kept or paragraphs


def _drop_repeats(paragraphs: list[str], title: str) -> list[str]:
    """Drop the title repeated (with or without its site suffix) and copied prose paragraphs.

    A copy is a prose paragraph printed again on its own (a pull quote, a
    doubled standfirst). Short lines that repeat ("Winners meet in final
    match") and runs of repeated lines (a meal plan's menu for each day) are
    the article's structure and stay.
    """
    titles = {title.casefold(), _TITLE_SUFFIX.sub("", title).casefold()} - {""}
    keys = [p.casefold() for p in paragraphs]
    first_seen: dict[str, int] = {}
    for index, key in enumerate(keys):
        first_seen.setdefault(key, index)
    repeated = [first_seen[key] != index for index, key in enumerate(keys)]
    kept = []
    for index, paragraph in enumerate(paragraphs):
        if keys[index] in titles:
            continue
        in_run = any(repeated[i] for i in (index - 1, index + 1) if 0 <= i < len(keys))
        if repeated[index] and not in_run and len(paragraph.split()) >= _PROSE_MIN_WORDS:
            continue
        kept.append(paragraph)
    return kept


def _drop_standfirst(paragraphs: list[str], subtitle: str) -> list[str]:
    """A body opening with the standfirst loses that copy; the rest of its paragraph stays."""
    if not subtitle or not paragraphs or not paragraphs[0].startswith(subtitle):
        return paragraphs
    rest = paragraphs[0][len(subtitle) :].strip()
    return [rest, *paragraphs[1:]] if rest else paragraphs[1:]

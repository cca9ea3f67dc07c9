"""Boilerplate: the page furniture that rides along with article text.

Rules look at a paragraph's *shape*, never at one site's sentences: calls to
action (subscribe, follow, sign up…) in the publisher's voice or the
imperative, navigation labels standing alone, copyright notices, "Related:"
link lines, update stamps. A real paragraph lost is worse than a footer kept:

* inside the article a call to action needs two such phrases and the
  publisher's voice ("our newsletter", "we…") or an imperative opening;
* in the run of paragraphs that ends the article, one phrase is enough;
* reported speech (a quotation) is never a call to action, and an article
  whose title itself calls to action (a piece about newsletters) keeps them all.
"""

from __future__ import annotations

import re
from itertools import islice, pairwise

_CALL_TO_ACTION = re.compile(
    # Matched against lower-cased text: twice as fast as re.IGNORECASE on every paragraph.
    r"""\b(?:
        subscrib\w*|subscriptions?|newsletters?|sign(?:ing)?[\s-]up|inbox|paywalls?
        |(?:become|becoming|join)\s+(?:a\s+)?(?:member|subscriber|supporter)s?|membership|members\s+get
        |(?:support|shaping|fund)\s+(?:our|independent|quality)\s+journalism|our\s+journalism
        |(?:we|this\s+(?:site|website))\s+uses?\s+cookies|cookies?\s+(?:policy|settings|preferences)
        |accept\s+(?:all\s+)?cookies
        |follow\s+(?:us|him|her|them|@?[\w.]+)\s+on|(?:on|via)\s+(?:twitter|facebook|instagram|youtube)
        |share\s+(?:this|on|via)|click\s+here|read\s+more|see\s+more|read\s+the\s+full
        |download\s+(?:our|the)\s+app|listen\s+(?:live|back)|listen\s+to\s+the\s+podcast
        |tell\s+us\s+what\s+you\s+think|if\s+you\s+(?:enjoyed|liked|value)\s+(?:this|our)
        |all\s+rights\s+reserved|get\s+access|free\s+trial|have\s+a\s+(?:news\s+)?tip
        |delivered\s+(?:straight\s+)?to\s+your|advertisement|sponsored\s+content
    )\b|https?://\S+|\bwww\.\S+""",
    re.VERBOSE,
)
_PUBLISHER_VOICE = re.compile(r"\b(?:our|us|we)\b", re.IGNORECASE)
_QUOTE_MARK = re.compile('["“”]')
_OPENING_QUOTES = '"“'
_CLOSING_QUOTES = '"”'
_QUOTATION_MIN_SPACES = 2
"""A quotation is at least three words between quotes: two spaces inside them."""
_IMPERATIVE_WORD = re.compile(
    r"\b(?:get|subscribe|sign|join|follow|download|click|listen|watch|read|share"
    r"|support|become|register|log|tell|don't|do\s+not|play|want)\b",
    re.IGNORECASE,
)
_SENTENCE_BREAK = re.compile(r"[.!?]\s")
_COPYRIGHT = re.compile(
    # "© 2024 …", "Copyright 2024 …", "copyright Inexhibit 2019": a holder's capitalised
    # name may stand before the year, a sentence ("Copyright law changed in 2004") may not.
    r"^\W*(?:©|\([cC]\)|(?i:copyright)\s*(?:©|\([cC]\))?\s*(?:[A-Z][\w&.,'-]*\s+){0,6}\d{4})"
    r"|(?i:all\s+rights\s+reserved)"
)
_LINK_LINE = re.compile(
    r"^\W*(?:related|see\s+more|read\s+more|also\s+read|read\s+also|more\s+from|more\s+on\s+this"
    r"|recommended|you\s+may\s+also\s+like|don'?t\s+miss|most\s+read)"
    r"(?:\s*[:|»›>–—-]|\s*(?:\.\.\.|…)?\s*$)",
    re.IGNORECASE,
)
_STAMP = re.compile(
    r"^\W*(?:last\s+)?(?:updated|published|posted|first\s+published)\b", re.IGNORECASE
)
_DATE_WORDS = frozenset(
    """on at of the am pm a m p gmt utc bst cet cest est edt pst pdt ist et pt jan january feb
    february mar march apr april may jun june jul july aug august sep sept september oct october
    nov november dec december mon monday tue tuesday wed wednesday thu thursday fri friday sat
    saturday sun sunday""".split()  # noqa: SIM905 - a word list reads better as prose
)
_WORD = re.compile(r"[\w']+")
_LIST_ITEM = re.compile(r"^[-•*–]\s+\S")
_SENTENCE_END = re.compile(r"[.!?][\"'”’)]*$")
_NAVIGATION_WORDS = frozenset(
    [
        "premium",
        "more",
        "advertisement",
        "advert",
        "ads",
        "sponsored",
        "share",
        "tweet",
        "email",
        "print",
        "comments",
        "comment",
        "subscribe",
        "login",
        "logout",
        "signin",
        "menu",
        "home",
        "next",
        "previous",
        "prev",
        "back",
        "top",
        "related",
        "trending",
        "popular",
        "recommended",
        "continue",
        "reading",
        "click",
        "here",
        "see",
        "also",
        "watch",
        "video",
        "videos",
        "listen",
        "follow",
        "facebook",
        "twitter",
        "whatsapp",
        "linkedin",
        "instagram",
        "youtube",
        "pinterest",
        "reddit",
        "telegram",
        "newsletter",
        "newsletters",
        "miss",
        "latest",
        "exclusive",
        "close",
        "skip",
        "search",
        "loading",
        "gallery",
        "view",
        "show",
        "hide",
        "expand",
        "download",
        "app",
        "feedback",
        "tags",
        "topics",
        "advertising",
        "promoted",
    ]
)
_FILLER_WORDS = frozenset(
    [
        "or",
        "and",
        "to",
        "the",
        "a",
        "an",
        "on",
        "in",
        "of",
        "for",
        "our",
        "this",
        "us",
        "you",
        "your",
        "with",
        "by",
        "now",
        "all",
        "don't",
        "dont",
        "article",
        "story",
    ]
)
_NAVIGATION_MAX_WORDS = 5
_SHORT_NOTICE_WORDS = 25
_STAMP_MAX_WORDS = 12
_LABEL_MAX_WORDS = 8
_INNER_MAX_WORDS = 60
_TAIL_MAX_WORDS = 80
_HEADLINE_MAX_WORDS = 15
_HEADLINE_CAPITALS = 0.6
"""Share of capitalised words that makes a line Title Case, as headlines are written."""
_MAX_CHARS = 1000
"""Longer than any footer line (80 words of ordinary length): prose or junk, never boilerplate.

Checked before any rule runs, so no rule ever scans a huge paragraph."""


def drop_boilerplate(paragraphs: list[str], title: str = "") -> list[str]:
    """``paragraphs`` without boilerplate: the lenient tail rules first, then the strict ones."""
    calls_allowed = not _CALL_TO_ACTION.search(title.lower())
    end = len(paragraphs)
    while end and is_tail_boilerplate(paragraphs[end - 1], calls=calls_allowed):
        end -= 1
    return [p for p in paragraphs[:end] if not is_boilerplate(p, calls=calls_allowed)]


def is_boilerplate(paragraph: str, *, calls: bool = True) -> bool:
    """Boilerplate wherever it stands; ``calls=False`` keeps calls to action."""
    # No rule here applies past _INNER_MAX_WORDS words: prose is not read to its end.
    words = [m.group() for m in islice(_WORD.finditer(paragraph), _INNER_MAX_WORDS + 1)]
    if not words:
        return True
    if len(paragraph) > _MAX_CHARS or len(words) > _INNER_MAX_WORDS:
        return False
    if _is_navigation(paragraph, words) or _is_notice(paragraph, words):
        return True
    if not calls:
        return False
    calls_to_action = set(_CALL_TO_ACTION.findall(paragraph.lower()))
    return len(calls_to_action) >= 2 and _speaks_to_reader(paragraph)


def is_tail_boilerplate(paragraph: str, *, calls: bool = True) -> bool:
    """Boilerplate in the run of paragraphs that ends an article, where footers sit."""
    if is_boilerplate(paragraph, calls=calls):
        return True
    if len(paragraph) > _MAX_CHARS:
        return False
    if _is_headline_link(paragraph):
        return True
    if not calls or not _CALL_TO_ACTION.search(paragraph.lower()):
        return False
    words = len(_WORD.findall(paragraph))
    if words <= _LABEL_MAX_WORDS and not _SENTENCE_END.search(paragraph):
        return True  # a label such as "Pick Six Newsletter"; a sentence needs more evidence
    return words <= _TAIL_MAX_WORDS and _speaks_to_reader(paragraph)


def _is_headline_link(paragraph: str) -> bool:
    """A list item that is another story's headline: "- 15 Amazing Images of Stars"."""
    if not _LIST_ITEM.match(paragraph) or _SENTENCE_END.search(paragraph):
        return False
    words = [w for w in _WORD.findall(paragraph) if not w.isdigit()]
    capitalised = sum(w[0].isupper() for w in words)
    return 0 < len(words) <= _HEADLINE_MAX_WORDS and capitalised >= _HEADLINE_CAPITALS * len(words)


def _speaks_to_reader(paragraph: str) -> bool:
    """Imperative or in the publisher's voice, and not a quotation of someone."""
    if has_quotation(paragraph):
        return False
    return opens_sentence_with_imperative(paragraph) or bool(_PUBLISHER_VOICE.search(paragraph))


def has_quotation(paragraph: str) -> bool:
    """True when a quote mark opens at least three words that the next quote mark closes.

    Linear in the paragraph's length: the text between two consecutive quote
    marks is looked at once (a regular expression with lazy gaps between the
    marks backtracks in cubic time over an unclosed quote).
    """
    marks = [m.start() for m in _QUOTE_MARK.finditer(paragraph)]
    for start, end in pairwise(marks):
        if paragraph[start] not in _OPENING_QUOTES or paragraph[end] not in _CLOSING_QUOTES:
            continue
        spaces = sum(1 for c in paragraph[start + 1 : end] if c.isspace())
        if spaces >= _QUOTATION_MIN_SPACES:
            return True
    return False


def opens_sentence_with_imperative(paragraph: str) -> bool:
    """True when a sentence starts with a call such as "Follow", "Sign", "Don't" (quotes aside).

    "Have a tip? ... Follow her on Twitter." counts. Each candidate verb looks
    back over the punctuation run in front of it only (linear time: a pattern
    such as ``[.!?]\\s+\\W*`` backtracks quadratically over ". . . ." runs).
    """
    for match in _IMPERATIVE_WORD.finditer(paragraph):
        lead = match.start()
        while lead and not _is_word_character(paragraph[lead - 1]):
            lead -= 1
        if lead == 0 or _SENTENCE_BREAK.search(paragraph, lead, match.start()):
            return True
    return False


def _is_word_character(character: str) -> bool:
    return character.isalnum() or character == "_"


def _is_navigation(paragraph: str, words: list[str]) -> bool:
    """A lone menu label: ``PREMIUM``, ``or more``, ``Share this``, ``Comments``."""
    if len(words) > _NAVIGATION_MAX_WORDS or _SENTENCE_END.search(paragraph):
        return False
    lowered = [w.lower() for w in words]
    if any(w not in _NAVIGATION_WORDS and w not in _FILLER_WORDS for w in lowered):
        return False
    return any(w in _NAVIGATION_WORDS for w in lowered)


def _is_notice(paragraph: str, words: list[str]) -> bool:
    """Copyright notices, "Related:" link lines and update stamps."""
    if len(words) <= _STAMP_MAX_WORDS and _is_stamp(paragraph):
        return True
    if len(words) > _SHORT_NOTICE_WORDS:
        return False
    return bool(_COPYRIGHT.search(paragraph) or _LINK_LINE.search(paragraph))


def _is_stamp(paragraph: str) -> bool:
    """ "Updated at 1:23 p.m.", "Published: 3 May 2024": a verb, then only a date or time."""
    match = _STAMP.match(paragraph)
    if not match:
        return False
    rest = [w.lower() for w in _WORD.findall(paragraph[match.end() :])]
    has_number = any(w[0].isdigit() for w in rest)
    return has_number and all(w[0].isdigit() or w in _DATE_WORDS for w in rest)

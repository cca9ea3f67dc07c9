"""Language of an article: the declared one normalised, else CLD2's guess.

CLD2 (Chromium's compact language detector) ships its tables compiled in: it
costs about a megabyte per process, where a Python n-gram model costs 75.
"""

from __future__ import annotations

import re

import pycld2

_PRIMARY_SUBTAG = re.compile(r"^[A-Za-z]{2,3}(?=$|[-_])")
_LETTER = re.compile(r"[^\W\d_]")
_SAMPLE_CHARS = 2000
_MIN_LETTERS = 20
_UNKNOWN = "un"


def normalise_language(code: str | None) -> str | None:
    """``en-GB``, ``EN_us`` and ``en`` all become ``en``; anything else None."""
    match = _PRIMARY_SUBTAG.match(code.strip()) if code else None
    return match.group(0).lower() if match else None


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of ``text``'s language, or None when there is too little text to tell."""
    sample = text[:_SAMPLE_CHARS]
    if len(_LETTER.findall(sample)) < _MIN_LETTERS:
        return None
    try:
        _reliable, _size, guesses = pycld2.detect(sample, isPlainText=True, bestEffort=True)
    except (pycld2.error, UnicodeError):
        # CLD2 refuses text it cannot read as UTF-8 (lone surrogates, some control characters).
        return None
    code = guesses[0][1]
    return None if code == _UNKNOWN else normalise_language(code)

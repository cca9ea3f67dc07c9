"""Language of an article: the declared one normalised, else py3langid's guess."""

from __future__ import annotations

import re
from functools import cache

from py3langid.langid import MODEL_FILE, LanguageIdentifier

_PRIMARY_SUBTAG = re.compile(r"^[A-Za-z]{2,3}(?=$|[-_])")
_LETTER = re.compile(r"[^\W\d_]")
_SAMPLE_CHARS = 2000
_MIN_LETTERS = 20


def normalise_language(code: str | None) -> str | None:
    """``en-GB``, ``EN_us`` and ``en`` all become ``en``; anything else None."""
    match = _PRIMARY_SUBTAG.match(code.strip()) if code else None
    return match.group(0).lower() if match else None


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of ``text``'s language, or None when there is too little text."""
    sample = text[:_SAMPLE_CHARS]
    if len(_LETTER.findall(sample)) < _MIN_LETTERS:
        return None
    language, _score = _identifier().classify(sample)
    return str(language)


@cache
def _identifier() -> LanguageIdentifier:
    """The model, loaded once per process on first use (it ships inside the wheel)."""
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=False)

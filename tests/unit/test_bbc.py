"""The whole BBC corpus through ``run()``: titles right, no paragraph lost.

The corpus is research-licensed, so it is read where it lies (``../shared``
next to the repository) and never copied in; without it these tests skip,
except under CI=true, where the corpus is always there and its absence fails.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from newsmill_worker.pipeline import Limits, Parsed, run
from tests.support import shared_dataset

_BLANK_LINE = re.compile(r"\n\s*\n")
_SPACE = re.compile(r"\s+")


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252")


def _squash(text: str) -> str:
    return _SPACE.sub("", text)


def _as_read(line: str) -> str:
    """A line as the cleaner renders it: character references (``&#163;``) decoded, one space."""
    return " ".join(html.unescape(line).split())


@pytest.fixture(scope="module")
def corpus() -> list[tuple[Path, str, Parsed]]:
    """Every BBC file with its text and the one article ``run()`` made of it."""
    results = []
    for path in sorted(shared_dataset("bbc").glob("*/*.txt")):
        data = path.read_bytes()
        outcomes = run(data, path.name, Limits())
        assert len(outcomes) == 1 and isinstance(outcomes[0], Parsed), path
        results.append((path, _text(data), outcomes[0]))
    return results


def test_corpus_is_complete(corpus: list[tuple[Path, str, Parsed]]) -> None:
    assert len(corpus) == 2225


def test_title_is_first_line_of_every_file(corpus: list[tuple[Path, str, Parsed]]) -> None:
    wrong = [
        (path.name, article.title)
        for path, text, article in corpus
        if article.title != _as_read(text.strip().splitlines()[0])
    ]
    assert wrong == []


def test_no_paragraph_is_dropped(corpus: list[tuple[Path, str, Parsed]]) -> None:
    # Given each file's paragraphs (blank-line blocks after the title line)
    # When the article body is compared with them, whitespace aside
    # Then every paragraph is still there, except a second copy of a repeated one
    dropped = []
    for path, text, article in corpus:
        body = _squash(article.body)
        paragraphs = [_squash(_as_read(p)) for p in _BLANK_LINE.split(text.strip())[1:]]
        dropped += [(path.parent.name, path.name, p[:60]) for p in paragraphs if p not in body]
    assert dropped == []


def test_short_repeated_lines_are_kept(corpus: list[tuple[Path, str, Parsed]]) -> None:
    # Given sport/190.txt, whose fixture list prints "Winners meet in final match" three times
    article = next(a for p, _, a in corpus if p.parent.name == "sport" and p.name == "190.txt")
    # Then all three stay: a short repeated line is structure, not a copied paragraph
    assert article.paragraphs.count("Winners meet in final match") == 3


def test_no_credit_or_subtitle_is_taken_from_the_body(
    corpus: list[tuple[Path, str, Parsed]],
) -> None:
    assert [p.name for p, _, a in corpus if a.credits or a.subtitle] == []


def test_pound_sign_in_latin1_file_is_read(corpus: list[tuple[Path, str, Parsed]]) -> None:
    article = next(a for p, _, a in corpus if p.parent.name == "sport" and p.name == "199.txt")
    assert "£15.8m" in article.body
    assert "\ufffd" not in article.body


def test_language_is_english(corpus: list[tuple[Path, str, Parsed]]) -> None:
    assert [p.name for p, _, a in corpus if a.language != "en"] == []

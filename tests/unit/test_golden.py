"""Golden documents: every format and every kind of debris, with the fields expected of each.

Each ``tests/fixtures/golden/<name>.expected.json`` describes the outcomes of
``run()`` on the input file with the same stem (or the one named by
``"input"``), in order. An outcome is either an article, whose listed fields
must match, or ``{"ref", "error_contains"}`` for a record error. Body checks:
``body_starts_with``, ``body_ends_with``, ``body_contains``, ``body_excludes``,
``paragraphs_include`` (whole paragraphs) and ``paragraph_count``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from newsmill_worker.pipeline import Limits, Parsed, RecordError, run

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"
_FIELDS = ("title", "subtitle", "authors", "publisher", "url", "language", "credits", "ref")


def _cases() -> list[Any]:
    cases = []
    for expected_path in sorted(GOLDEN.glob("*.expected.json")):
        expected = json.loads(expected_path.read_text(encoding="utf-8"))
        stem = expected_path.name.removesuffix(".expected.json")
        if "input" in expected:
            source = (GOLDEN / expected["input"]).resolve()
        else:
            (source,) = [p for p in GOLDEN.glob(f"{stem}.*") if p != expected_path]
        cases.append(pytest.param(source, expected["outcomes"], id=stem))
    return cases


@pytest.mark.parametrize(("source", "expected"), _cases())
def test_golden(source: Path, expected: list[dict[str, Any]]) -> None:
    # Given a document as a newsroom would drop it
    # When it runs through decode, parse and clean
    outcomes = run(source.read_bytes(), source.name, Limits())
    # Then each outcome has the expected fields, in file order
    assert len(outcomes) == len(expected)
    for outcome, want in zip(outcomes, expected, strict=True):
        if "error_contains" in want:
            assert isinstance(outcome, RecordError), outcome
            assert outcome.ref == want["ref"]
            assert want["error_contains"] in outcome.reason
            assert outcome.raw
            continue
        assert isinstance(outcome, Parsed), outcome
        _check_article(outcome, want)


def _check_article(article: Parsed, want: dict[str, Any]) -> None:
    for field in _FIELDS:
        if field in want:
            assert getattr(article, field) == want[field], field
    if "published_at" in want:
        assert article.published_at is not None
        assert article.published_at.isoformat() == want["published_at"]
    if "published_date" in want:
        assert article.published_at is not None
        assert article.published_at.date().isoformat() == want["published_date"]
    if "has_raw" in want:
        assert bool(article.raw) == want["has_raw"]
    _check_body(article, want)


def _check_body(article: Parsed, want: dict[str, Any]) -> None:
    body = article.body
    assert body.startswith(want.get("body_starts_with", "")), body[:200]
    assert body.endswith(want.get("body_ends_with", "")), body[-200:]
    for text in want.get("body_contains", []):
        assert text in body
    for text in want.get("body_excludes", []):
        assert text not in body
    for paragraph in want.get("paragraphs_include", []):
        assert paragraph in article.paragraphs
    if "paragraph_count" in want:
        assert len(article.paragraphs) == want["paragraph_count"], article.paragraphs


def test_every_format_is_covered() -> None:
    suffixes = {p.suffix for p in GOLDEN.iterdir() if not p.name.endswith(".expected.json")}
    assert {".txt", ".md", ".html", ".json", ".jsonl", ".rss", ".atom"} <= suffixes

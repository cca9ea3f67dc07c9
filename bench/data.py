"""Where the benchmarks find their data by default: the team's data beside the checkout."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
"""The checkout the benchmarks run from (``python -m bench.<name>`` in it)."""
SHARED_DATA = REPO.parent / "shared" / "data"
"""``../shared/data``: the BBC corpus, the extraction pages, feedparser's suite (never copied in)."""
BBC = SHARED_DATA / "bbc"
FEEDPARSER_SUITE = SHARED_DATA / "feeds" / "feedparser-tests"

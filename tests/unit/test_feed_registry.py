"""The feeds file: declarations read, and errors that say which feed and why."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsmill_ingest.feed_entries import FeedError
from newsmill_ingest.feed_registry import FeedSpec, feed_specs, read_feeds_file


def test_feeds_file_accepts_urls_and_tables(tmp_path: Path) -> None:
    toml = tmp_path / "feeds.toml"
    toml.write_text(
        '[[feeds]]\nurl = "https://a.example/rss"\ninterval = "30m"\nfull_text = true\n'
        '[[feeds]]\nurl = "https://b.example/atom"\n'
    )
    assert read_feeds_file(toml) == [
        FeedSpec("https://a.example/rss", 1800, True),
        FeedSpec("https://b.example/atom", None, False),
    ]
    yaml = tmp_path / "feeds.yaml"
    yaml.write_text(
        "feeds:\n  - https://c.example/rss\n  - url: https://d.example/rss\n    interval: 1h\n"
    )
    assert read_feeds_file(yaml) == [
        FeedSpec("https://c.example/rss"),
        FeedSpec("https://d.example/rss", 3600),
    ]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"feeds": "https://a"}, "list"),
        ([{"interval": "5m"}], "#1"),
        (["ftp://a.example/feed"], "only http and https"),
        ([{"url": "https://a.example", "interval": "often"}], "not an interval"),
    ],
)
def test_feeds_file_errors_say_which_feed_and_why(data: object, problem: str) -> None:
    with pytest.raises(FeedError, match=problem):
        feed_specs(data)

"""The benchmark's pure parts: corpus editions, percentiles and the issue's targets."""

from __future__ import annotations

from pathlib import Path

from bench.throughput import meets, percentile, variant, write_corpus

STORY = "A title\n\nFirst paragraph.\n\nSecond paragraph.\n"


def test_edition_zero_is_the_story_and_others_differ_only_by_an_added_line() -> None:
    editions = [variant(STORY, copy) for copy in range(3)]

    assert editions[0] == STORY
    assert len(set(editions)) == 3
    for edition in editions[1:]:
        assert edition.startswith(STORY.rstrip())
        assert edition.splitlines()[0] == "A title"


def test_a_corpus_cycles_through_the_stories_as_distinct_files(tmp_path: Path) -> None:
    # Given two stories, when five documents are written
    paths = write_corpus([("a", STORY), ("b", STORY.replace("A title", "B title"))], tmp_path, 5)

    # then every file is new, and the third round starts a new edition
    assert len({p.name for p in paths}) == 5
    assert len({p.read_text() for p in paths}) == 5
    assert paths[4].name == "a-e00002.txt"


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(100, 0, -1)]

    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 1.0) == 100.0
    assert percentile([7.0], 0.99) == 7.0


def test_targets_are_judged_in_their_direction() -> None:
    assert meets("stack_vs_bare", 1.2).startswith("yes")
    assert meets("stack_vs_bare", 0.8).startswith("NO")
    assert meets("latency_p99_ms", 499).startswith("yes")
    assert meets("latency_p99_ms", 501).startswith("NO")
    assert meets("docs_per_s_stack", 10) == ""

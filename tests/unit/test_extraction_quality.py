"""Quality gate: body extraction may not fall below the figures committed with the benchmark.

``bench/extraction_baseline.json`` holds newsmill's precision, recall and F1 on
each extraction set as ``python bench/extraction.py --write-baseline`` last
measured them. A change to parsing or cleaning that costs more than 0.005 of
F1 or recall on either set fails here, before it reaches the benchmark. The
sets live in ``../shared/data``; without them the gate skips, except under
``CI=true``, where that is a failure.
"""

from __future__ import annotations

import json
import os

import pytest

from bench.extraction import BASELINE, DATA, SETS, load_set, newsmill_score

TOLERANCE = 0.005


@pytest.mark.parametrize("name", SETS)
def test_extraction_keeps_its_committed_quality(name: str) -> None:
    folder = DATA / name
    if not (folder / "ground-truth.json").exists():
        message = f"extraction set not found at {folder}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    committed = json.loads(BASELINE.read_text(encoding="utf-8"))["sets"][name]
    page_set = load_set(folder)
    assert len(page_set.pages) == committed["pages"]

    score = newsmill_score(page_set)

    assert score.f1 >= committed["f1"] - TOLERANCE, (score, committed)
    assert score.recall >= committed["recall"] - TOLERANCE, (score, committed)

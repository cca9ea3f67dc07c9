"""Fingerprints on plain data: normalisation, shingles, MinHash signatures, LSH bands."""

from __future__ import annotations

import os
import random
import subprocess
import sys

import pytest

from newsmill_schema.minhash import pack, unpack
from newsmill_worker.dedup.fingerprint import (
    DedupParams,
    band_hashes,
    content_hash,
    fingerprint,
    normalise,
    shingles,
    signature,
    similarity,
)
from newsmill_worker.pipeline.document import Parsed

INT64 = (-(2**63), 2**63 - 1)
WORDS = [f"w{i}" for i in range(5000)]


def story(seed: int, words: int = 400) -> list[str]:
    rng = random.Random(seed)
    return [rng.choice(WORDS) for _ in range(words)]


def paragraphs(words: list[str], size: int = 50) -> list[str]:
    return [" ".join(words[i : i + size]) for i in range(0, len(words), size)]


def test_normalise_keeps_lower_case_words_only() -> None:
    assert normalise("  The Bank's  RATE—rose,\n2.5%! ") == "the bank s rate rose 2 5"


def test_content_hash_ignores_case_punctuation_and_layout() -> None:
    a = Parsed("Rates Rise", ["The bank raised rates.", "Markets fell."])
    b = Parsed("rates rise", ["The bank raised   rates", "markets fell!"])
    assert content_hash(a) == content_hash(b)
    assert content_hash(a) != content_hash(Parsed("Rates Rise", ["The bank cut rates."]))


def test_shingles_are_overlapping_word_runs() -> None:
    assert shingles("a b c d", 3) == {"a b c", "b c d"}
    assert shingles("Short text", 5) == {"short text"}
    assert shingles(" ... ", 5) == set()


def test_signature_estimates_jaccard_similarity() -> None:
    params = DedupParams(num_perm=256)
    words = story(1)
    # Replacing the last 100 of 400 words leaves ~296 of ~496 shingles shared
    edited = words[:300] + story(2, 100)
    true = len(shingles(" ".join(words), 5) & shingles(" ".join(edited), 5)) / len(
        shingles(" ".join(words), 5) | shingles(" ".join(edited), 5)
    )
    estimate = similarity(signature(" ".join(words), params), signature(" ".join(edited), params))
    assert abs(estimate - true) < 0.1, (estimate, true)
    assert (
        similarity(signature(" ".join(words), params), signature(" ".join(story(3)), params)) < 0.05
    )


def test_band_hashes_fit_a_signed_64_bit_column_and_differ_per_band() -> None:
    params = DedupParams()
    bands = band_hashes(signature(" ".join(story(4)), params), params)
    assert len(bands) == params.bands
    assert all(INT64[0] <= b <= INT64[1] for b in bands)
    assert len(set(bands)) == len(bands)


def test_banding_covers_the_signature_and_follows_the_threshold() -> None:
    strict, loose = DedupParams(threshold=0.8), DedupParams(threshold=0.3)
    for params in (strict, loose):
        assert params.bands * params.rows <= params.num_perm
    # A lower threshold needs more, shorter bands to catch less similar pairs
    assert loose.bands > strict.bands and loose.rows < strict.rows


def test_near_copies_share_a_band_and_unrelated_articles_do_not() -> None:
    params = DedupParams()
    words = story(5)
    original = fingerprint(Parsed("Title", paragraphs(words)), params)
    # A syndicated copy: another site's header and footer, one paragraph rewritten
    copy_words = [
        "site",
        "header",
        "news",
        *words[:200],
        *story(6, 50),
        *words[250:],
        "copyright",
        "site",
    ]
    copy = fingerprint(Parsed("Other title", paragraphs(copy_words)), params)
    other = fingerprint(Parsed("Title", paragraphs(story(7))), params)

    assert set(enumerate(original.bands)) & set(enumerate(copy.bands))
    assert not set(enumerate(original.bands)) & set(enumerate(other.bands))
    assert similarity(original.signature, copy.signature) >= params.threshold
    assert original.content_hash != copy.content_hash


def test_fingerprints_are_stable_across_processes() -> None:
    # Stored band hashes must match the ones another worker computes, later
    code = (
        "from newsmill_worker.dedup.fingerprint import DedupParams, fingerprint;"
        "from newsmill_worker.pipeline.document import Parsed;"
        "text = ['one two three four five six seven'];"
        "print(fingerprint(Parsed('Stable', text), DedupParams()).bands)"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    other = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    fp = fingerprint(Parsed("Stable", ["one two three four five six seven"]), DedupParams())
    assert other.stdout.strip() == str(fp.bands)


def test_an_article_without_words_gets_no_bands() -> None:
    assert fingerprint(Parsed("", ["..."]), DedupParams()).bands == ()


@pytest.mark.parametrize("bad", [{"threshold": 0.0}, {"threshold": 1.5}, {"shingle_size": 0}])
def test_nonsense_parameters_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        DedupParams(**bad)


def test_a_signature_is_stored_as_four_bytes_per_value_and_read_back_unchanged() -> None:
    sig = signature(" ".join(story(8)), DedupParams())
    stored = pack(sig)
    assert len(stored) == 4 * DedupParams().num_perm
    assert unpack(stored) == sig
    with pytest.raises(ValueError):
        unpack(stored[:-1])

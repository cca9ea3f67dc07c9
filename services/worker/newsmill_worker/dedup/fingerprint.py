"""Duplicate detection on plain data: exact fingerprints and MinHash LSH bands.

An article is reduced to a ``Fingerprint``: the sha256 of its normalised text
(equal for exact copies), a MinHash signature over its word shingles (whose
agreement estimates the Jaccard similarity of two articles; computed and
stored as ``newsmill_schema.minhash`` defines) and one hash per LSH band (two
articles sharing any band hash are candidates to compare). ``dedup.index``
stores them; nothing here touches the database.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

from newsmill_schema.minhash import Signature, minhash, normalise, shingles, text_of
from newsmill_worker.pipeline.document import Parsed

__all__ = [
    "DedupParams",
    "Fingerprint",
    "Signature",
    "band_hashes",
    "content_hash",
    "fingerprint",
    "normalise",
    "shingles",
    "signature",
    "similarity",
    "text_of",
]

# Band hashes are stored in a signed 64-bit column.
_BAND_HASH_BYTES = 8
# Candidates are cheap to verify, a missed band is a missed duplicate: weight
# false negatives over false positives when choosing the banding.
_FALSE_POSITIVE_WEIGHT = 0.1
_FALSE_NEGATIVE_WEIGHT = 0.9


def content_hash(article: Parsed) -> str:
    """sha256 of the normalised title and body: equal for exact copies."""
    text = normalise(article.title) + "\n" + normalise(article.body)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class DedupParams:
    """How near-duplicates are found: shingle size, signature length, banding, threshold."""

    threshold: float = 0.5
    shingle_size: int = 5
    num_perm: int = 128
    max_candidates: int = 20
    """Candidates verified per article, those sharing the most bands first."""
    bands: int = field(init=False)
    rows: int = field(init=False)

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"dedup threshold must be in (0, 1], got {self.threshold}")
        if self.shingle_size < 1 or self.num_perm < 2:
            raise ValueError("dedup shingle size must be ≥ 1 and num_perm ≥ 2")
        bands, rows = _banding(self.threshold, self.num_perm)
        object.__setattr__(self, "bands", bands)
        object.__setattr__(self, "rows", rows)


@cache
def _banding(threshold: float, num_perm: int) -> tuple[int, int]:
    """The (bands, rows) minimising the weighted false positive and negative areas.

    Two articles of Jaccard similarity s become candidates with probability
    1 - (1 - s^rows)^bands; the areas under that curve below the threshold
    (false positives) and above it (false negatives) are what a banding costs,
    the criterion of Leskovec et al., Mining of Massive Datasets, 3.4.
    """
    scored = (
        (_banding_error(threshold, bands, rows), bands, rows)
        for bands in range(1, num_perm + 1)
        for rows in range(1, num_perm // bands + 1)
    )
    _error, bands, rows = min(scored)
    return bands, rows


def _banding_error(threshold: float, bands: int, rows: int) -> float:
    def candidate(s: float) -> float:
        return 1.0 - (1.0 - s**rows) ** bands

    false_pos = _area(candidate, 0.0, threshold)
    false_neg = _area(lambda s: 1.0 - candidate(s), threshold, 1.0)
    return _FALSE_POSITIVE_WEIGHT * false_pos + _FALSE_NEGATIVE_WEIGHT * false_neg


def _area(f: Callable[[float], float], lo: float, hi: float, steps: int = 64) -> float:
    """Midpoint-rule integral: the curves are smooth and only compared with each other."""
    width = (hi - lo) / steps
    return sum(f(lo + (i + 0.5) * width) for i in range(steps)) * width


@dataclass(frozen=True)
class Fingerprint:
    """What deduplication needs to know about one article."""

    content_hash: str
    signature: Signature
    bands: tuple[int, ...]
    """One signed 64-bit hash per LSH band, in band order."""


def signature(text: str, params: DedupParams) -> Signature:
    """MinHash signature of the text's shingles; an empty text gets the empty-set signature."""
    return minhash(shingles(text, params.shingle_size), params.num_perm)


def band_hashes(sig: Signature, params: DedupParams) -> tuple[int, ...]:
    """One signed 64-bit hash per band of ``rows`` signature values, salted with the band number."""
    result = []
    for band in range(params.bands):
        chunk = sig[band * params.rows : (band + 1) * params.rows]
        digest = hashlib.blake2b(
            struct.pack(f"<{len(chunk)}Q", *chunk),
            digest_size=_BAND_HASH_BYTES,
            salt=band.to_bytes(16, "big"),
        )
        result.append(int.from_bytes(digest.digest(), "big", signed=True))
    return tuple(result)


def similarity(a: Signature, b: Signature) -> float:
    """Estimated Jaccard similarity: the share of signature positions that agree."""
    if len(a) != len(b):
        raise ValueError("signatures of different lengths cannot be compared")
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a)


def fingerprint(article: Parsed, params: DedupParams) -> Fingerprint:
    """Exact hash, MinHash signature and band hashes of one article.

    A text without words gets no bands: every empty set has the same signature,
    and "nothing" is not a story two articles can share.
    """
    items = shingles(text_of(article.title, article.body), params.shingle_size)
    sig = minhash(items, params.num_perm)
    bands = band_hashes(sig, params) if items else ()
    return Fingerprint(content_hash(article), sig, bands)

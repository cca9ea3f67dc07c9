"""MinHash signatures as newsmill stores them: a text's shingles, hashed, packed.

Each article's signature is stored with it (the ``dedup_signatures`` table),
so a near-copy candidate is compared without being shingled and hashed again.
The stored bytes are part of the schema: the worker writes them and a
migration, which any image may run, computed them for articles stored before
the table existed. So the one definition lives here, beside the models.
"""

from __future__ import annotations

import re
import struct

from rensa import RMinHash

Signature = tuple[int, ...]
"""A MinHash signature: ``num_perm`` minimum hash values, each below 2**32."""

_NON_WORD = re.compile(r"\W+")
_SEED = 1
# Stored signatures and band hashes depend on rensa's hashing: a new algorithm means re-indexing.
if RMinHash.ALGORITHM_VERSION != 2:
    raise ImportError(
        f"rensa MinHash algorithm {RMinHash.ALGORITHM_VERSION} is not the indexed one (2)"
    )
# rensa's values are 32-bit: four bytes each, little-endian, 512 bytes for 128 of them.
_VALUE = "I"
_VALUE_BYTES = struct.calcsize(f"<{_VALUE}")


def normalise(text: str) -> str:
    """Lower-case words only: the form two copies of one story share."""
    return _NON_WORD.sub(" ", text.casefold()).strip()


def text_of(title: str, body: str) -> str:
    """The text shingled for near-duplicate detection: title and body."""
    return f"{title}\n{body}"


def shingles(text: str, size: int) -> set[str]:
    """The set of ``size``-word shingles of the normalised text (one shingle if shorter)."""
    words = normalise(text).split()
    if len(words) <= size:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}


def minhash(items: set[str], num_perm: int) -> Signature:
    """MinHash signature of a set of shingles; the empty set gets the empty-set signature."""
    hasher = RMinHash(num_perm=num_perm, seed=_SEED)
    hasher.update(sorted(items))
    return tuple(hasher.digest())


def signature(text: str, shingle_size: int, num_perm: int) -> Signature:
    """MinHash signature of the text's ``shingle_size``-word shingles."""
    return minhash(shingles(text, shingle_size), num_perm)


def pack(sig: Signature) -> bytes:
    """The stored form of a signature: its values as little-endian unsigned 32-bit integers."""
    return struct.pack(f"<{len(sig)}{_VALUE}", *sig)


def unpack(data: bytes) -> Signature:
    """A stored signature back as values; refuses bytes that are not whole values."""
    count, rest = divmod(len(data), _VALUE_BYTES)
    if rest:
        raise ValueError(f"a stored signature of {len(data)} bytes is not whole 32-bit values")
    return struct.unpack(f"<{count}{_VALUE}", data)

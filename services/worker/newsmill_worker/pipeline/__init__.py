"""The document pipeline as plain functions: decode → parse → clean (then dedup and store).

Nothing here touches Celery, the database or the network, so ``newsmill parse``
and the unit tests run it directly.
"""

from __future__ import annotations

from newsmill_worker.pipeline.clean import clean
from newsmill_worker.pipeline.decode import decode
from newsmill_worker.pipeline.document import Decoded, Limits, Outcome, Parsed, RecordError
from newsmill_worker.pipeline.errors import DocumentError
from newsmill_worker.pipeline.parse import parse

__all__ = [
    "Decoded",
    "DocumentError",
    "Limits",
    "Outcome",
    "Parsed",
    "RecordError",
    "clean",
    "decode",
    "parse",
    "run",
]


def run(data: bytes, name: str, limits: Limits) -> list[Outcome]:
    """Decode, parse and clean one document's bytes into articles (or record errors)."""
    decoded = decode(data, name, limits)
    return [clean(o) if isinstance(o, Parsed) else o for o in parse(decoded)]

"""What every document format provides: a parser from decoded text to outcomes."""

from __future__ import annotations

from typing import Protocol

from newsmill_worker.pipeline.document import Decoded, Outcome


class FormatParser(Protocol):
    """Turns one decoded document into articles, or record errors for bad records.

    A parser raises DocumentError when the whole document is unusable, and
    returns a RecordError in place of a single bad record of a multi-record file.
    Its articles are raw: the cleaner runs after it, the same for every format.
    """

    def __call__(self, doc: Decoded) -> list[Outcome]: ...

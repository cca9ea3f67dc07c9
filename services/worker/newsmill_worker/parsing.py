"""``newsmill parse``: the pipeline on one file, with no database and no broker."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.text import Text

from newsmill_schema.article import Article, Source
from newsmill_schema.display import printable
from newsmill_schema.settings import Settings
from newsmill_worker import pipeline
from newsmill_worker.dedup.fingerprint import content_hash
from newsmill_worker.pipeline import DocumentError, Parsed
from newsmill_worker.processor import limits_from


def to_article(parsed: Parsed, source: Source) -> Article:
    """The Article a parsed document would be stored as."""
    return Article(**parsed.article_fields(), content_hash=content_hash(parsed), source=source)


def parse_file(path: Path, settings: Settings, out: TextIO, err: Console) -> int:
    """Print each article of ``path`` as one JSON line; returns the exit code."""
    limit = settings.max_document_bytes
    if path.stat().st_size > limit:
        err.print(_literal(f"{path}: file too large: {path.stat().st_size} bytes > limit {limit}"))
        return 2
    data = path.read_bytes()
    try:
        outcomes = pipeline.run(data, path.name, limits_from(settings))
    except DocumentError as exc:
        err.print(_literal(f"{path}: {exc.reason}"))
        return 2
    code = 0
    uri = path.resolve().as_uri()
    for outcome in outcomes:
        if isinstance(outcome, pipeline.RecordError):
            err.print(_literal(f"{path}{outcome.ref}: {outcome.reason}"))
            code = 1
            continue
        kind = "record" if outcome.ref else "file"
        article = to_article(outcome, Source(kind=kind, uri=f"{uri}{outcome.ref or ''}"))
        out.write(article.model_dump_json(exclude={"id", "sources"}) + "\n")
    return code


def _literal(message: str) -> Text:
    """A message about a document: its reasons quote the document, never markup or controls."""
    return Text(printable(message))

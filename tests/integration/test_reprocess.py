"""Reprocessing puts failed jobs with stored bytes back in the queue, and nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from newsmill_ingest.cli import app
from newsmill_ingest.reprocess import requeue_all, requeue_failed
from newsmill_schema import models
from newsmill_schema.blobs import store_blob
from newsmill_schema.db import Database
from newsmill_schema.messages import JobState
from newsmill_schema.settings import Settings
from newsmill_worker.processor import Processor
from tests.support import queue_document, queue_feed_entry


@pytest.fixture
def db(database_url: str) -> Database:
    database = Database(database_url)
    database.upgrade()
    return database


def _job(db: Database, state: str, data: bytes | None, error: str | None = None) -> int:
    with db.session() as session:
        job = models.Job(
            state=state,
            source_kind="file",
            source_uri="inbox/x",
            name="x",
            error=error,
            attempts=3,
            failure_reported=True,
        )
        if data is not None:
            job.blob_sha256 = store_blob(session, data)
        session.add(job)
        session.flush()
        return job.id


def test_failed_jobs_with_bytes_are_requeued_and_reset(db: Database) -> None:
    failed = _job(db, "failed", b"Title\n\nbody", error="exceeded the time limit of 30s")
    rejected = _job(db, "failed", None, error="file too large")
    done = _job(db, "done", b"Other\n\nbody")

    result = requeue_failed(db)

    assert [m.job_id for m in result.queued] == [failed]
    assert result.refused == {rejected: "no stored bytes (refused at intake: file too large)"}
    with db.session() as session:
        job = session.get(models.Job, failed)
        assert job is not None
        assert (job.state, job.attempts, job.error, job.failure_reported) == (
            "queued",
            0,
            None,
            False,
        )
        untouched = session.get(models.Job, done)
        assert untouched is not None and untouched.state == "done"


def test_named_jobs_that_are_not_failed_are_refused_with_a_reason(db: Database) -> None:
    done = _job(db, "done", b"Other\n\nbody")

    result = requeue_failed(db, [done, 999])

    assert result.queued == []
    assert result.refused == {done: "job is done, not failed", 999: "no such job"}


# --- --all: every finished job again, articles rewritten in place ------------------


JSONL = (
    b'{"title": "Harbour reopens", "body": "The harbour reopened on Monday after a week of storms kept the fishing fleet ashore."}\n'
    b'{"title": "Library extends hours", "body": "The town library will open on Sunday afternoons from next month, the council said."}\n'
)


def _ledger(db: Database) -> tuple[int, int, int]:
    with db.session() as session:
        return (
            session.scalar(select(func.count()).select_from(models.Job)) or 0,
            session.scalar(select(func.count()).select_from(models.Article)) or 0,
            session.scalar(select(func.count()).select_from(models.ArticleSource)) or 0,
        )


def _run_all(db: Database, processor: Processor) -> list[int]:
    requeued = [m.job_id for batch in requeue_all(db, batch=2) for m in batch]
    for job_id in requeued:
        processor.process(job_id)
    return requeued


def test_all_rewrites_every_article_in_place_and_adds_no_row(
    db: Database, tmp_path: Path, seed_path: Path
) -> None:
    processor = Processor(Settings(data_dir=tmp_path, database_url=db.url), db)
    seed = seed_path.read_bytes()
    # Given a text article, an exact copy of it, a JSON Lines file of two records and a failure
    original = queue_document(db, "seed.txt", seed.decode("utf-8"))
    copy = queue_document(db, "copy.txt", seed.decode("utf-8"))
    records = queue_document(db, "records.jsonl", JSONL.decode("utf-8"))
    broken = _job(db, "failed", b"", error="empty document")
    for job_id in (original, copy, records):
        processor.process(job_id)
    with db.session() as session:
        article_id = session.get(models.Job, original).article_id
        article = session.get(models.Article, article_id)
        # ...whose stored text an older parser got wrong
        expected_body, article.body = article.body, "stale text from an older parser"
        bands_before = session.scalars(
            select(models.DedupBand.hash).where(models.DedupBand.article_id == article_id)
        ).all()
    before = _ledger(db)

    # When every finished job runs again
    requeued = _run_all(db, processor)

    # Then the top-level jobs ran (not the records, whose jobs their parent reuses)
    assert sorted(requeued) == sorted([original, copy, records, broken])
    # And the article has its text back under the same id, with the same bands and sources
    with db.session() as session:
        article = session.get(models.Article, article_id)
        assert article is not None and article.body == expected_body
        assert session.get(models.Job, original).state == JobState.DONE
        assert session.get(models.Job, copy).state == JobState.DUPLICATE
        assert session.get(models.Job, copy).article_id == article_id
        children = session.scalars(
            select(models.Job).where(models.Job.parent_id == records).order_by(models.Job.part)
        ).all()
        assert [c.state for c in children] == [JobState.DONE, JobState.DONE]
        assert sorted(
            session.scalars(
                select(models.DedupBand.hash).where(models.DedupBand.article_id == article_id)
            ).all()
        ) == sorted(bands_before)
    # And no job, article or source row was added
    assert _ledger(db) == before


def test_all_reruns_a_changed_feed_entry_without_adding_a_source(
    db: Database, tmp_path: Path
) -> None:
    processor = Processor(Settings(data_dir=tmp_path, database_url=db.url), db)
    feed = "https://example.org/rss"
    old = {"title": "Harbour reopens", "body": "The harbour reopened on Monday after storms."}
    new = {**old, "body": "The harbour reopened on Monday after a week of storms."}
    # Given an entry whose text changed once: two jobs, one article
    first = queue_feed_entry(db, feed, "entry-1", old)
    processor.process(first)
    second = queue_feed_entry(db, feed, "entry-1", new)
    processor.process(second)
    before = _ledger(db)

    # When every finished job runs again, in id order
    assert sorted(_run_all(db, processor)) == [first, second]

    # Then both end as before, the article holds the newest text, and no row was added
    with db.session() as session:
        jobs = [session.get(models.Job, j) for j in (first, second)]
        assert [j.state for j in jobs if j] == [JobState.DONE, JobState.DONE]
        article = session.get(models.Article, jobs[0].article_id if jobs[0] else None)
        assert article is not None and "a week of storms" in article.body
    assert _ledger(db) == before


@pytest.mark.parametrize("args", [[], ["--all", "--failed"], ["--all", "7"]])
def test_reprocess_wants_exactly_one_selection(args: list[str]) -> None:
    result = CliRunner().invoke(app, ["reprocess", *args])

    assert result.exit_code == 2
    assert "name job ids, or pass --failed or --all" in result.output

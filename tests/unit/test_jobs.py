"""The job life cycle, transition by transition, on a real SQLite database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from newsmill_schema import jobs, models
from newsmill_schema.blobs import store_blob
from newsmill_schema.db import Database
from newsmill_schema.messages import JobState
from newsmill_schema.models import Base, utcnow


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    db = Database(f"sqlite:///{tmp_path / 'jobs.db'}")
    Base.metadata.create_all(db.engine)
    with db.session() as session:
        yield session
    db.dispose()


def queued(session: Session, name: str = "a.txt", data: bytes = b"Title\n\nBody") -> models.Job:
    job = jobs.new_file_job(
        session, source_uri=f"inbox/{name}", name=name, blob_sha256=store_blob(session, data)
    )
    session.flush()
    return job


def stored_article(
    session: Session, job: models.Job, duplicate_of: int | None = None
) -> models.Article:
    article = models.Article(
        job_id=job.id,
        title="t",
        body="b",
        content_hash=f"{job.id:064}",
        source_kind="file",
        source_uri=job.source_uri,
        duplicate_of=duplicate_of,
    )
    session.add(article)
    session.flush()
    return article


# --- new jobs ----------------------------------------------------------------------


def test_a_new_file_job_is_queued_with_its_bytes(session: Session) -> None:
    job = queued(session)

    assert (job.state, job.source_kind, job.attempts, job.failure_reported) == (
        JobState.QUEUED,
        "file",
        0,
        False,
    )
    assert job.blob_sha256 is not None and job.error is None and job.finished_at is None
    assert jobs.message(job).task_args() == (
        [job.id],
        {"source_kind": "file", "source_uri": "inbox/a.txt"},
    )


@pytest.mark.parametrize("reported", [True, False])
def test_a_refused_file_job_fails_at_once_with_its_reason(session: Session, reported: bool) -> None:
    job = jobs.new_file_job(
        session,
        source_uri="inbox/big.bin",
        name="big.bin",
        blob_sha256=None,
        refusal="file too large: 30 bytes > limit 20",
        claim_token="token-1",
        reported=reported,
    )
    session.flush()

    assert (job.state, job.error, job.blob_sha256) == (
        JobState.FAILED,
        "file too large: 30 bytes > limit 20",
        None,
    )
    assert job.finished_at is not None and job.claim_token == "token-1"
    # The inbox writes the failed folder's copy itself; `newsmill add` leaves it to the reporter
    assert job.failure_reported is reported
    assert [j.id for j in jobs.unreported_failures(session, 10)] == ([] if reported else [job.id])


def test_a_queued_job_needs_its_bytes(session: Session) -> None:
    with pytest.raises(ValueError, match="stored bytes"):
        jobs.new_file_job(session, source_uri="inbox/a", name="a", blob_sha256=None)


def test_a_feed_entry_job_is_queued_for_its_feed(session: Session) -> None:
    feed = models.Feed(url="https://example.org/rss")
    session.add(feed)
    session.flush()

    job = jobs.new_feed_entry_job(
        session,
        feed_id=feed.id,
        source_uri="https://example.org/a",
        name=f"feed{feed.id}-abc.json",
        blob_sha256=store_blob(session, b'{"title": "a"}'),
    )
    session.flush()

    assert (job.state, job.source_kind, job.feed_id) == (JobState.QUEUED, "feed", feed.id)


def test_a_record_job_is_processing_and_is_reused_when_its_parent_runs_again(
    session: Session,
) -> None:
    parent = queued(session, "records.jsonl")
    parent.feed_id = None

    child = jobs.new_record_job(session, parent, 1, "#line=2", parent.blob_sha256)

    assert child.id is not None
    assert (child.state, child.attempts, child.parent_id, child.part) == (
        JobState.PROCESSING,
        1,
        parent.id,
        1,
    )
    assert (child.source_kind, child.source_uri, child.name) == (
        "record",
        "inbox/records.jsonl#line=2",
        "records.jsonl#line=2",
    )
    assert child.created_at == parent.created_at and child.started_at is not None
    # When the parent runs again, the record keeps its job
    jobs.fail(child, "bad record")
    again = jobs.new_record_job(session, parent, 1, "#line=2", parent.blob_sha256)
    assert again.id == child.id
    assert (again.state, again.attempts, again.error, again.finished_at) == (
        JobState.PROCESSING,
        2,
        None,
        None,
    )


# --- publishing --------------------------------------------------------------------


def test_mark_enqueued_stamps_the_jobs_sent(session: Session) -> None:
    sent, unsent = queued(session, "a"), queued(session, "b", b"other")

    jobs.mark_enqueued(session, [sent.id])
    session.expire_all()

    assert sent.enqueued_at is not None and unsent.enqueued_at is None


def test_presumed_lost_waits_out_the_publish_grace(session: Session) -> None:
    now = utcnow()
    recent = queued(session, "recent")
    old = queued(session, "old", b"old")
    old.created_at = now - timedelta(seconds=jobs.PUBLISH_GRACE_S + 1)
    session.flush()

    lost = jobs.presumed_lost(
        session,
        now,
        queued_timeout_s=60,
        processing_timeout_s=180,
        queue_empty=True,
        limit=10,
    )

    assert [m.job_id for m in lost] == [old.id]
    assert recent.id not in [m.job_id for m in lost]


# --- processing --------------------------------------------------------------------


def test_start_claims_a_queued_job_and_counts_the_attempt(session: Session) -> None:
    job = queued(session)

    started = jobs.start(session, job.id, max_attempts=3)

    assert started is job
    assert (job.state, job.attempts) == (JobState.PROCESSING, 1)
    assert job.started_at is not None


def test_start_skips_a_finished_or_unknown_job(session: Session) -> None:
    job = queued(session)
    jobs.fail(job, "broken")

    assert jobs.start(session, job.id, max_attempts=3) is None
    assert jobs.start(session, 999, max_attempts=3) is None
    assert (job.state, job.attempts) == (JobState.FAILED, 0)


def test_start_gives_up_after_max_attempts_with_the_last_noted_error(session: Session) -> None:
    noted, silent = queued(session, "a"), queued(session, "b", b"other")
    for job in (noted, silent):
        for _ in range(2):
            assert jobs.start(session, job.id, max_attempts=2) is not None
    jobs.note_error(noted, "exceeded the time limit of 30s")

    assert jobs.start(session, noted.id, max_attempts=2) is None
    assert jobs.start(session, silent.id, max_attempts=2) is None

    assert noted.state == JobState.FAILED and noted.finished_at is not None
    assert noted.error == "gave up after 2 attempts: exceeded the time limit of 30s"
    assert silent.error == (
        "gave up after 2 attempts: worker process died or was killed while processing"
    )


def test_fail_ends_a_job_with_a_bounded_reason_once(session: Session) -> None:
    job = queued(session)

    assert jobs.fail(job, "x" * 5000) == JobState.FAILED
    assert job.error == "x" * 2000 and job.finished_at is not None
    # A finished job keeps its outcome
    assert jobs.fail(job, "again") == JobState.FAILED and job.error == "x" * 2000
    jobs.note_error(job, "late")
    assert job.error == "x" * 2000


# --- the end: done or duplicate ----------------------------------------------------


def test_the_job_that_created_a_canonical_article_is_done(session: Session) -> None:
    job = queued(session)
    article = stored_article(session, job)

    assert jobs.conclude(job, article) == JobState.DONE
    assert (job.article_id, job.error) == (article.id, None) and job.finished_at is not None


def test_an_exact_copy_of_another_jobs_article_is_a_duplicate(session: Session) -> None:
    first, copy = queued(session, "a"), queued(session, "b", b"copy")
    article = stored_article(session, first)

    assert jobs.conclude(copy, article) == JobState.DUPLICATE
    assert copy.article_id == article.id


def test_a_near_copy_is_a_duplicate_even_of_its_own_row(session: Session) -> None:
    first, near = queued(session, "a"), queued(session, "b", b"near")
    canonical = stored_article(session, first)
    member = stored_article(session, near, duplicate_of=canonical.id)

    assert jobs.conclude(near, member) == JobState.DUPLICATE
    assert jobs.conclude(near, member, rewrote=True) == JobState.DUPLICATE


def test_a_job_that_rewrote_a_canonical_article_is_done(session: Session) -> None:
    # A changed feed entry writes its new text into the article its first job created
    first, changed = queued(session, "a"), queued(session, "b", b"changed")
    article = stored_article(session, first)

    assert jobs.conclude(changed, article, rewrote=True) == JobState.DONE


def test_a_split_file_is_done_and_its_records_end_on_their_own(session: Session) -> None:
    parent = queued(session, "records.jsonl")
    jobs.start(session, parent.id, max_attempts=3)
    child = jobs.new_record_job(session, parent, 0, "#line=1", parent.blob_sha256)
    jobs.fail(child, "record 1: no text")

    assert jobs.conclude_split(parent) == JobState.DONE
    assert child.state == JobState.FAILED and parent.finished_at is not None


def test_demote_turns_done_jobs_of_the_articles_into_duplicates(session: Session) -> None:
    owner, rewriter, other, failed = (queued(session, n, n.encode()) for n in "abcd")
    article = stored_article(session, owner)
    kept = stored_article(session, other)
    jobs.conclude(owner, article)
    jobs.conclude(rewriter, article, rewrote=True)
    jobs.conclude(other, kept)
    jobs.fail(failed, "broken")
    failed.article_id = article.id
    session.flush()

    jobs.demote(session, [article.id])
    session.expire_all()

    assert [j.state for j in (owner, rewriter, other, failed)] == [
        JobState.DUPLICATE,
        JobState.DUPLICATE,
        JobState.DONE,
        JobState.FAILED,
    ]


# --- after the end -----------------------------------------------------------------


def test_reprocess_puts_a_finished_job_back_to_queued_as_new(session: Session) -> None:
    job = queued(session)
    jobs.start(session, job.id, max_attempts=3)
    article = stored_article(session, job)
    jobs.conclude(job, article)
    jobs.mark_enqueued(session, [job.id])
    jobs.mark_reported(job)

    message = jobs.reprocess(job)

    assert message.job_id == job.id
    assert (job.state, job.attempts, job.error, job.failure_reported) == (
        JobState.QUEUED,
        0,
        None,
        False,
    )
    assert job.started_at is None and job.finished_at is None and job.enqueued_at is None
    # It still names its article: run again, it rewrites that article in place
    assert job.article_id == article.id


def test_failures_are_reported_once(session: Session) -> None:
    first, second = queued(session, "a"), queued(session, "b", b"other")
    for job in (first, second):
        jobs.fail(job, "broken")

    assert [j.id for j in jobs.unreported_failures(session, 1)] == [first.id]
    jobs.mark_reported(first)
    session.flush()
    assert [j.id for j in jobs.unreported_failures(session, 10)] == [second.id]

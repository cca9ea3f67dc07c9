"""Storing articles with deduplication, on SQLite and Postgres: exact copies,
near-copies, clusters, late earlier jobs, re-runs and the read side."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select
from typer.testing import CliRunner

from newsmill_ingest import views
from newsmill_ingest.cli import app
from newsmill_schema import models
from newsmill_schema.db import Database
from newsmill_schema.messages import JobState
from newsmill_schema.minhash import unpack
from newsmill_schema.settings import Settings
from newsmill_worker.dedup import clusters
from newsmill_worker.dedup.fingerprint import DedupParams, signature, similarity, text_of
from newsmill_worker.processor import SKIPPED, Processor
from tests.support import queue_document, queue_feed_entry

OTHER_SITE_HEADER = "Wire Desk Daily | World | Europe"
OTHER_SITE_FOOTER = (
    "Copyright 2022 Wire Desk Daily. All rights reserved. This material may not be "
    "published, broadcast, rewritten or redistributed. Follow us for more updates."
)
SAME_TOPIC = "\n".join(
    [
        "Ukraine and Russia end first round of talks without agreement",
        "Delegations from Kyiv and Moscow left the Belarusian venue on Monday evening "
        "after five hours of negotiations, with both sides saying they would consult "
        "their capitals before meeting again.",
        "Ukrainian officials said their priority had been an immediate ceasefire and the "
        "withdrawal of troops, while Russian negotiators spoke of finding common ground "
        "on several points.",
        "Western governments meanwhile announced new sanctions on the Russian central "
        "bank and closed their airspace to Russian aircraft, as the rouble fell sharply "
        "against the dollar.",
        "Humanitarian groups warned that supplies of food and medicine were running low "
        "in several cities, and called for safe corridors to let civilians leave the "
        "areas under bombardment.",
        "A second round of talks is expected in the coming days near the Polish border, "
        "according to an adviser to the Ukrainian president.",
    ]
)


@pytest.fixture
def db(database_url: str) -> Database:
    database = Database(database_url)
    database.upgrade()
    yield database
    database.dispose()


@pytest.fixture
def processor(db: Database, tmp_path: Path) -> Processor:
    return Processor(Settings(data_dir=tmp_path, database_url=db.url), db)


@pytest.fixture
def seed(seed_path: Path) -> str:
    return seed_path.read_text(encoding="utf-8")


def stored_signature(db: Database, article_id: int | None) -> tuple[int, ...]:
    with db.session() as session:
        row = session.get(models.DedupSignature, article_id)
        assert row is not None
        return unpack(row.signature)


def job(db: Database, job_id: int) -> models.Job:
    with db.session() as session:
        row = session.get(models.Job, job_id)
        assert row is not None
        return row


def article(db: Database, article_id: int | None) -> models.Article:
    with db.session() as session:
        row = session.get(models.Article, article_id)
        assert row is not None
        return row


def without_footer(text: str) -> str:
    lines = text.splitlines()
    return "\n".join(lines[: lines.index("(With inputs from ABC News and CNN.)")])


def with_paragraph_rewritten(text: str) -> str:
    lines = text.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith("Addressing journalists"))
    lines[index] = (
        "Speaking to reporters in the capital, the Belarusian leader said he might ask "
        "the Kremlin to station nuclear arms in his country again."
    )
    return "\n".join(lines)


def with_other_site_boilerplate(text: str) -> str:
    lines = text.splitlines()
    return "\n".join([OTHER_SITE_HEADER, lines[0], *lines[1:-4], OTHER_SITE_FOOTER])


def test_the_same_file_twice_is_one_article_with_both_sources(
    db: Database, processor: Processor, seed: str
) -> None:
    # Given the same document submitted twice
    first, second = queue_document(db, "a.txt", seed), queue_document(db, "b.txt", seed)

    # When both are processed
    assert processor.process(first) == JobState.DONE
    assert processor.process(second) == JobState.DUPLICATE

    # Then one row, the copy's job points at it, and the article lists both sources
    assert job(db, second).article_id == job(db, first).article_id
    assert views.article_count(db)["articles"] == 1
    shown = views.article(db, job(db, first).article_id)
    assert shown is not None
    assert [s.uri for s in shown.sources] == ["/inbox/a.txt", "/inbox/b.txt"]


def test_near_copies_link_to_the_first_and_a_same_topic_article_does_not(
    db: Database, processor: Processor, seed: str
) -> None:
    original = queue_document(db, "seed.txt", seed)
    copies = {
        "no-footer.txt": without_footer(seed),
        "rewritten.txt": with_paragraph_rewritten(seed),
        "syndicated.txt": with_other_site_boilerplate(with_paragraph_rewritten(seed)),
    }
    copy_jobs = {name: queue_document(db, name, text) for name, text in copies.items()}
    other = queue_document(db, "other.txt", SAME_TOPIC)

    assert processor.process(original) == JobState.DONE
    canonical = job(db, original).article_id
    for name, job_id in copy_jobs.items():
        assert processor.process(job_id) == JobState.DUPLICATE, name
        stored = article(db, job(db, job_id).article_id)
        # An exact copy (the cleaner already drops the seed's footer) shares the row.
        assert stored.id == canonical or stored.duplicate_of == canonical, name
        if stored.id != canonical:
            assert processor.settings.dedup_threshold <= (stored.similarity or 0) < 1, name
    assert processor.process(other) == JobState.DONE
    assert article(db, job(db, other).article_id).duplicate_of is None

    # The index holds every stored row's bands and signature, for every worker and after restarts
    with db.session() as session:
        rows = session.scalar(select(func.count()).select_from(models.DedupBand))
        signed = session.scalar(select(func.count()).select_from(models.DedupSignature))
    assert rows == processor.dedup.bands * views.article_count(db)["articles"]
    assert signed == views.article_count(db)["articles"]


def test_a_copy_of_a_duplicate_points_at_the_cluster_canonical(
    db: Database, processor: Processor, seed: str
) -> None:
    rewritten = with_paragraph_rewritten(seed)
    # The third matches the second best (same rewritten paragraph), but joins the first's cluster
    ids = [
        queue_document(db, "a.txt", seed),
        queue_document(db, "b.txt", rewritten),
        queue_document(db, "c.txt", with_other_site_boilerplate(rewritten)),
    ]
    for job_id in ids:
        processor.process(job_id)

    rows = [article(db, job(db, job_id).article_id) for job_id in ids]
    assert [r.duplicate_of for r in rows] == [None, rows[0].id, rows[0].id]
    counts = views.article_count(db)
    assert (counts["canonical"], counts["near_duplicates"]) == (1, 2)


def test_an_earlier_job_processed_late_becomes_the_canonical(
    db: Database, processor: Processor, seed: str
) -> None:
    # Given a near-copy and an exact copy whose jobs come after the original's
    original = queue_document(db, "seed.txt", seed)
    near = queue_document(db, "rewritten.txt", with_paragraph_rewritten(seed))
    exact = queue_document(db, "again.txt", seed)

    # When the original's job is processed last
    processor.process(near)
    processor.process(exact)
    assert processor.process(original) == JobState.DONE

    # Then the outcome is the one of processing in job order
    canonical = article(db, job(db, original).article_id)
    assert canonical.duplicate_of is None and canonical.job_id == original
    assert canonical.source_uri == "/inbox/seed.txt"
    assert article(db, job(db, near).article_id).duplicate_of == canonical.id
    assert job(db, exact).article_id == canonical.id
    assert [job(db, j).state for j in (original, near, exact)] == ["done", "duplicate", "duplicate"]
    shown = views.article(db, canonical.id)
    assert shown is not None and {s.uri for s in shown.sources} == {
        "/inbox/seed.txt",
        "/inbox/again.txt",
    }


def test_reprocessing_a_finished_job_changes_nothing(
    db: Database, processor: Processor, seed: str
) -> None:
    first, second = (
        queue_document(db, "a.txt", seed),
        queue_document(db, "b.txt", with_paragraph_rewritten(seed)),
    )
    processor.process(first)
    processor.process(second)
    before = (views.job_counts(db), views.article_count(db))

    # A repeated message, or a second worker picking up the same job
    assert processor.process(first) == SKIPPED
    assert processor.process(second) == SKIPPED
    assert (views.job_counts(db), views.article_count(db)) == before


def test_docs_list_shows_duplicate_of_and_similarity(
    db: Database, processor: Processor, seed: str, tmp_path: Path
) -> None:
    for job_id in (
        queue_document(db, "a.txt", seed),
        queue_document(db, "b.txt", with_paragraph_rewritten(seed)),
    ):
        processor.process(job_id)
    env = {"NEWSMILL_DATABASE_URL": db.url, "NEWSMILL_LOG_FORMAT": "text"}
    runner = CliRunner()

    listed = runner.invoke(app, ["docs", "list", "--json", "--data-dir", str(tmp_path)], env=env)
    canonical = runner.invoke(
        app, ["docs", "list", "--json", "--canonical", "--data-dir", str(tmp_path)], env=env
    )

    assert listed.exit_code == 0, listed.output
    rows = [json.loads(line) for line in listed.output.splitlines() if line.startswith("{")]
    assert rows[0]["duplicate_of"] is None and rows[1]["duplicate_of"] == rows[0]["id"]
    assert 0 < rows[1]["similarity"] < 1
    assert [
        json.loads(line)["id"] for line in canonical.output.splitlines() if line.startswith("{")
    ] == [rows[0]["id"]]


def test_a_changed_feed_entry_rewrites_its_article_and_its_job_is_done(
    db: Database, processor: Processor, seed: str
) -> None:
    title, _, body = seed.partition("\n")
    first = queue_feed_entry(
        db, "https://example.org/rss", "entry-1", {"title": title, "body": body}
    )
    assert processor.process(first) == JobState.DONE
    article_id = job(db, first).article_id

    # When the feed changes the entry's text
    changed = body.replace("nuclear", "atomic")
    second = queue_feed_entry(
        db, "https://example.org/rss", "entry-1", {"title": title, "body": changed}
    )

    # Then its job wrote the same canonical article: done, not a duplicate of its own story
    assert processor.process(second) == JobState.DONE
    assert job(db, second).article_id == article_id
    stored = article(db, article_id)
    assert "atomic" in stored.body and stored.job_id == first and stored.duplicate_of is None
    shown = views.article(db, article_id)
    assert shown is not None and len(shown.sources) == 2
    assert views.article_count(db)["articles"] == 1


def test_stored_articles_are_compared_by_their_stored_signatures(
    db: Database, processor: Processor, seed: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = queue_document(db, "seed.txt", seed)
    near = queue_document(db, "rewritten.txt", with_paragraph_rewritten(seed))
    syndicated = queue_document(db, "syndicated.txt", with_other_site_boilerplate(seed))

    # Given no stored article may be shingled and hashed again
    def signed_again(*_: object) -> tuple[int, ...]:
        raise AssertionError("a stored article's signature was computed again")

    monkeypatch.setattr(clusters, "signature", signed_again)

    # When a near copy is stored, then the earlier original (a takeover), then another copy
    for job_id in (near, original, syndicated):
        processor.process(job_id)

    # Then the cluster is the one of job order, scored with the stored signatures
    canonical = job(db, original).article_id
    for copy in (near, syndicated):
        row = article(db, job(db, copy).article_id)
        assert row.duplicate_of == canonical
        expected = similarity(stored_signature(db, canonical), stored_signature(db, row.id))
        assert row.similarity == expected


def test_an_article_stored_without_a_signature_is_signed_from_its_text(
    db: Database, processor: Processor, seed: str
) -> None:
    original = queue_document(db, "seed.txt", seed)
    processor.process(original)
    canonical = article(db, job(db, original).article_id)
    with db.session() as session:
        session.execute(
            delete(models.DedupSignature).where(models.DedupSignature.article_id == canonical.id)
        )

    near = queue_document(db, "rewritten.txt", with_paragraph_rewritten(seed))
    assert processor.process(near) == JobState.DUPLICATE

    row = article(db, job(db, near).article_id)
    from_text = signature(text_of(canonical.title, canonical.body), DedupParams())
    assert row.duplicate_of == canonical.id
    assert row.similarity == similarity(from_text, stored_signature(db, row.id))

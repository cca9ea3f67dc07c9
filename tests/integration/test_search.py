"""Full-text search on SQLite (FTS5 kept in sync by triggers) and Postgres (GIN tsvector)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text, update

from newsmill_ingest.search import SearchError, fts5_query, search
from newsmill_schema import models
from newsmill_schema.db import Database
from tests.support import Process, store_article

ARTICLES = {
    "Chancellor plans budget": "The chancellor said the budget would cut taxes for families.",
    "Striker scores twice": "The striker scored two goals as the club won the derby.",
    "Elections called": "Voters will head to the polls after elections were called early.",
}


def _add(db: Database, title: str, body: str) -> int:
    return store_article(db, title, title, body)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    database.upgrade()
    yield database
    database.dispose()


@pytest.fixture
def ids(db: Database) -> dict[str, int]:
    return {title: _add(db, title, body) for title, body in ARTICLES.items()}


def test_a_word_in_the_body_finds_its_article(db: Database, ids: dict[str, int]) -> None:
    hits = search(db, "derby")
    assert [h.id for h in hits] == [ids["Striker scores twice"]]
    assert "derby" in hits[0].snippet


def test_english_stemming_matches_other_forms(db: Database, ids: dict[str, int]) -> None:
    # Given "elections" in a body and "goals" in another, when searching singular forms
    assert [h.id for h in search(db, "election")] == [ids["Elections called"]]
    assert [h.id for h in search(db, "goal")] == [ids["Striker scores twice"]]


def test_every_word_must_match(db: Database, ids: dict[str, int]) -> None:
    assert [h.id for h in search(db, "budget taxes")] == [ids["Chancellor plans budget"]]
    assert search(db, "budget derby") == []


def test_title_words_are_searched_too(db: Database, ids: dict[str, int]) -> None:
    assert [h.id for h in search(db, "chancellor plans")] == [ids["Chancellor plans budget"]]


def test_the_index_follows_updates_and_new_rows(db: Database, ids: dict[str, int]) -> None:
    # When a body is rewritten, the old words no longer find it and the new ones do
    target = ids["Chancellor plans budget"]
    with db.session() as session:
        session.execute(
            update(models.Article)
            .where(models.Article.id == target)
            .values(body="The minister announced new railway investment.")
        )
    assert search(db, "taxes") == []
    assert [h.id for h in search(db, "railway")] == [target]
    # and a row inserted afterwards is found at once
    new = _add(db, "Harvest", "Farmers expect a record wheat harvest this summer.")
    assert [h.id for h in search(db, "wheat")] == [new]


def test_punctuation_and_quotes_are_not_query_syntax(db: Database, ids: dict[str, int]) -> None:
    assert [h.id for h in search(db, 'derby" (')] == [ids["Striker scores twice"]]
    with pytest.raises(SearchError):
        search(db, '"  *')


def test_limit_caps_the_hits(db: Database, ids: dict[str, int]) -> None:
    assert len(search(db, "the", limit=1)) <= 1


def test_migration_filled_the_index_from_existing_rows(tmp_path: Path) -> None:
    # Given articles stored before 0002, when upgrading, they are searchable (SQLite rebuild)
    from newsmill_schema.db import upgrade

    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0001")
    db = Database(url)
    article = _add(db, "Old news", "An archive of the lighthouse keeper's diaries.")
    db.upgrade()
    assert [h.id for h in search(db, "lighthouse")] == [article]
    with db.session() as session:
        assert session.execute(text("SELECT count(*) FROM articles_fts")).scalar() == 1
    db.dispose()


def test_fts5_query_quotes_every_word() -> None:
    assert fts5_query('budget "taxes" OR x*') == '"budget" "taxes" "OR" "x"'


def test_docs_search_command_prints_hits(db: Database, ids: dict[str, int], tmp_path: Path) -> None:
    # A real `newsmill docs search` against the same database
    process = Process(
        ["docs", "search", "voters", "--json"],
        {"NEWSMILL_DATABASE_URL": db.url, "NEWSMILL_DATA_DIR": str(tmp_path)},
        tmp_path / "search.log",
    )
    assert process.popen.wait(timeout=60) == 0, process.output()
    process.stop()
    assert f'"id": {ids["Elections called"]}' in process.output()

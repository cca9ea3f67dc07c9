"""``newsmill docs search``: full-text search of article titles and bodies.

Postgres ranks with ``ts_rank`` over the GIN-indexed English ``tsvector``
(migration 0002) and reads the query with ``websearch_to_tsquery`` (words,
"quoted phrases", ``or``, ``-not``). SQLite uses the FTS5 table of the same
migration, ranked by bm25; there every word of the query must appear. Both stem
English words, so "elections" finds "election".
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from sqlalchemy import text

from newsmill_schema.db import Database

PG_DOCUMENT = "to_tsvector('english'::regconfig, title || ' ' || body)"
"""Must equal the indexed expression of migration 0002, or the index is not used."""

_WORD = re.compile(r"\w+", re.UNICODE)

_PG_SEARCH = text(f"""
    SELECT id, title, ts_headline('english', body, query,
                                  'MaxWords=20, MinWords=8, StartSel=[, StopSel=]') AS snippet,
           rank
    FROM (
        SELECT id, title, body, query, ts_rank({PG_DOCUMENT}, query) AS rank
        FROM articles, websearch_to_tsquery('english', :query) AS query
        WHERE {PG_DOCUMENT} @@ query
        ORDER BY rank DESC, id
        LIMIT :limit
    ) AS hits
    ORDER BY rank DESC, id
""")

_SQLITE_SEARCH = text("""
    SELECT a.id, a.title, snippet(articles_fts, 1, '[', ']', '…', 16) AS snippet,
           -bm25(articles_fts) AS rank
    FROM articles_fts JOIN articles AS a ON a.id = articles_fts.rowid
    WHERE articles_fts MATCH :query
    ORDER BY bm25(articles_fts), a.id
    LIMIT :limit
""")


@dataclass(frozen=True)
class Hit:
    """One matching article: its id, title, a snippet with matches in [brackets], its rank."""

    id: int
    title: str
    snippet: str
    rank: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class SearchError(ValueError):
    """The query cannot be searched for (it has no words)."""


def fts5_query(query: str) -> str:
    """Every word of ``query``, quoted so FTS5 reads none of it as syntax, all required."""
    words = _WORD.findall(query)
    if not words:
        raise SearchError(f"nothing to search for in {query!r}: give at least one word")
    return " ".join(f'"{word}"' for word in words)


def search(db: Database, query: str, limit: int = 20) -> list[Hit]:
    """Articles matching ``query``, best first."""
    if db.is_sqlite:
        statement, params = _SQLITE_SEARCH, {"query": fts5_query(query), "limit": limit}
    else:
        if not _WORD.search(query):
            raise SearchError(f"nothing to search for in {query!r}: give at least one word")
        statement, params = _PG_SEARCH, {"query": query, "limit": limit}
    with db.session() as session:
        rows = session.execute(statement, params).all()
    return [
        Hit(id=r.id, title=r.title, snippet=_one_line(r.snippet), rank=float(r.rank)) for r in rows
    ]


def _one_line(snippet: str) -> str:
    return " ".join(snippet.split())

"""Near-duplicate cost as the store grows: 10k, 100k and 1M articles already indexed.

The stored set is synthetic and bulk-inserted by Postgres itself (jobs,
articles and one random band hash per band), so 1M articles take minutes, not
hours. At each size, real BBC articles (three originals for each near-copy)
are stored through ``store.finish`` as a worker does, and the script reports
per document: the fingerprint (pure), the candidate lookup alone, and the
whole deduplicating store transaction, plus the size of the band index.

    python -m bench.dedup_scale [--sizes 10000,100000,1000000] [--docs 200]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

import psycopg
from rich.console import Console
from rich.table import Table
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bench.data import BBC
from bench.dedup_quality import boilerplate, read_corpus, split
from newsmill_schema import jobs
from newsmill_schema.blobs import store_blob
from newsmill_schema.db import Database
from newsmill_schema.messages import JobState
from newsmill_schema.settings import Settings
from newsmill_worker import store
from newsmill_worker.dedup import index as dedup_index
from newsmill_worker.dedup.fingerprint import DedupParams, fingerprint
from newsmill_worker.pipeline import Limits, Parsed, run
from newsmill_worker.processor import dedup_params_from, relax_commit

_DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/newsmill_bench_scale"
# Measured jobs and articles get ids far above the synthetic ones.
_MEASURED_IDS = 50_000_000

_SYNTHETIC = [
    "INSERT INTO jobs (id, state, source_kind, source_uri, name, attempts, created_at, "
    "failure_reported) SELECT g, 'done', 'file', 'synthetic', 'synthetic', 1, now(), false "
    "FROM generate_series(CAST(:lo AS integer), CAST(:hi AS integer)) AS g",
    "INSERT INTO articles (id, job_id, title, body, authors, credits, word_count, content_hash, "
    "source_kind, source_uri, ingested_at, processed_at) SELECT g, g, 'synthetic', '', '[]', '[]', "
    "0, md5(g::text) || md5((-g)::text), 'file', 'synthetic', now(), now() "
    "FROM generate_series(CAST(:lo AS integer), CAST(:hi AS integer)) AS g",
    "INSERT INTO dedup_bands (article_id, band, hash) "
    "SELECT g, b, ((random() - 0.5) * 1.8e19)::bigint "
    "FROM generate_series(CAST(:lo AS integer), CAST(:hi AS integer)) AS g, "
    "generate_series(0, CAST(:bands AS integer) - 1) AS b",
    # A stored signature of the real size: num_perm 32-bit values.
    "INSERT INTO dedup_signatures (article_id, signature) "
    "SELECT g, decode(repeat(md5(g::text), CAST(:num_perm AS integer) / 4), 'hex') "
    "FROM generate_series(CAST(:lo AS integer), CAST(:hi AS integer)) AS g",
]
_INDEXES_OFF = [
    "ALTER TABLE dedup_bands DROP CONSTRAINT pk_dedup_bands",
    "DROP INDEX ix_dedup_bands_hash",
]
_INDEXES_ON = [
    "ALTER TABLE dedup_bands ADD CONSTRAINT pk_dedup_bands PRIMARY KEY (article_id, band)",
    "CREATE INDEX ix_dedup_bands_hash ON dedup_bands (hash)",
]


def fresh_database(url: str) -> Database:
    """Drop and recreate the benchmark database, then migrate it."""
    parsed = make_url(url)
    admin = (
        parsed.set(database="postgres")
        .render_as_string(hide_password=False)
        .replace("+psycopg", "")
    )
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{parsed.database}"')
    db = Database(url)
    db.upgrade()
    return db


def grow(db: Database, current: int, target: int, params: DedupParams) -> float:
    """Bulk-insert synthetic articles current+1..target with bands and signatures; returns seconds."""
    started = time.perf_counter()
    with db.engine.begin() as conn:
        for statement in _INDEXES_OFF:
            conn.execute(text(statement))
        for statement in _SYNTHETIC:
            conn.execute(
                text(statement),
                {
                    "lo": current + 1,
                    "hi": target,
                    "bands": params.bands,
                    "num_perm": params.num_perm,
                },
            )
        for statement in _INDEXES_ON:
            conn.execute(text(statement))
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE jobs, articles, dedup_bands, dedup_signatures"))
    return time.perf_counter() - started


def documents(corpus_dir: Path, count: int, rng: random.Random) -> list[Parsed]:
    """Real articles, every fourth one a near-copy (other site's boilerplate) of an earlier one."""
    corpus = read_corpus(corpus_dir)
    picked = rng.sample(corpus, count)
    texts: list[str] = []
    for index, (_, _, body) in enumerate(picked):
        if index % 4 == 3:
            title, paras = split(texts[index - 1])
            texts.append(boilerplate(title, paras, rng, []))
        else:
            texts.append(body)
    parsed = []
    for body in texts:
        outcome = run(body.encode("utf-8"), "bench.txt", Limits())[0]
        assert isinstance(outcome, Parsed)
        parsed.append(outcome)
    return parsed


def measure(
    db: Database, docs: list[Parsed], params: DedupParams, first_id: int
) -> dict[str, float]:
    """Store each document as a worker would; median and p95 milliseconds per phase."""
    with db.engine.begin() as conn:
        for table in ("jobs", "articles"):
            conn.execute(
                text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {first_id})")
            )
    timings: dict[str, list[float]] = {"fingerprint": [], "candidates": [], "store": []}
    outcomes = []
    for doc in docs:
        with db.session() as session:
            job = jobs.new_file_job(
                session,
                source_uri="bench",
                name="bench.txt",
                blob_sha256=store_blob(session, doc.body.encode("utf-8")),
            )
            session.flush()
            job_id = job.id
        with db.session() as session:
            assert jobs.start(session, job_id, max_attempts=3) is not None
        started = time.perf_counter()
        fp = fingerprint(doc, params)
        timings["fingerprint"].append(time.perf_counter() - started)
        with db.session() as session:
            started = time.perf_counter()
            dedup_index.candidates(session, fp.bands, exclude=0, limit=params.max_candidates)
            timings["candidates"].append(time.perf_counter() - started)
        started = time.perf_counter()
        with db.session() as session:
            relax_commit(session)  # as a worker commits a job's outcome
            outcomes.append(store.finish(session, job_id, [doc], [fp], params))
        timings["store"].append(time.perf_counter() - started)
    result = {}
    for phase, values in timings.items():
        ms = sorted(v * 1000 for v in values)
        result[f"{phase}_ms"] = statistics.median(ms)
        result[f"{phase}_p95_ms"] = ms[int(len(ms) * 0.95) - 1]
    result["duplicates_found"] = sum(state == JobState.DUPLICATE for state in outcomes)
    return result


def sizes(db: Database) -> dict[str, int]:
    with db.engine.connect() as conn:
        return {
            "dedup_bands_bytes": int(
                conn.scalar(text("SELECT pg_total_relation_size('dedup_bands')")) or 0
            ),
            "dedup_signatures_bytes": int(
                conn.scalar(text("SELECT pg_total_relation_size('dedup_signatures')")) or 0
            ),
            "articles_bytes": int(
                conn.scalar(text("SELECT pg_total_relation_size('articles')")) or 0
            ),
            "database_bytes": int(
                conn.scalar(text("SELECT pg_database_size(current_database())")) or 0
            ),
        }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url", default=_DEFAULT_URL, help="a Postgres database it may drop"
    )
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--docs", type=int, default=200, help="documents measured per size")
    parser.add_argument("--data", type=Path, default=BBC, help="BBC corpus folder")
    parser.add_argument(
        "--out", type=Path, default=Path(tempfile.gettempdir()) / "newsmill-dedup-scale.json"
    )
    args = parser.parse_args()
    console = Console()
    params = dedup_params_from(Settings())
    rng = random.Random(11)
    targets = [int(s) for s in args.sizes.split(",")]
    docs = documents(args.data, args.docs * len(targets), rng)

    db = fresh_database(args.database_url)
    rows, current = [], 0
    for step, target in enumerate(targets):
        seconds = grow(db, current, target, params)
        current = target
        batch = docs[step * args.docs : (step + 1) * args.docs]
        row = {"stored": target, "bulk_insert_s": seconds}
        row |= measure(db, batch, params, _MEASURED_IDS + step * 10 * args.docs)
        row |= sizes(db)
        rows.append(row)
        console.print(
            f"{target:,} stored: {row['store_ms']:.2f} ms/doc (bulk insert {seconds:.0f}s)"
        )
    db.dispose()

    table = Table(
        title=f"Dedup cost per document on Postgres ({params.bands} bands × {params.rows} rows)"
    )
    for column in (
        "stored articles",
        "fingerprint ms",
        "candidate lookup ms",
        "store+dedup ms (p95)",
        "dups found",
        "dedup_bands size",
        "per 1M articles",
        "dedup_signatures size",
    ):
        table.add_column(column)
    for row in rows:
        per_million = row["dedup_bands_bytes"] / row["stored"] * 1_000_000
        table.add_row(
            f"{row['stored']:,}",
            f"{row['fingerprint_ms']:.2f}",
            f"{row['candidates_ms']:.2f}",
            f"{row['store_ms']:.2f} ({row['store_p95_ms']:.2f})",
            str(row["duplicates_found"]),
            f"{row['dedup_bands_bytes'] / 2**20:,.0f} MiB",
            f"{per_million / 2**30:.2f} GiB",
            f"{row['dedup_signatures_bytes'] / 2**20:,.0f} MiB",
        )
    console.print(table)
    growth = rows[-1]["store_ms"] / rows[0]["store_ms"]
    first, last = rows[0]["stored"], rows[-1]["stored"]
    console.print(f"growth of store+dedup ms/doc from {first:,} to {last:,}: {growth:.2f}×")
    args.out.write_text(
        json.dumps(
            {
                "params": {"bands": params.bands, "rows": params.rows},
                "rows": rows,
                "growth": growth,
            },
            indent=2,
        )
    )
    console.print(str(args.out))


if __name__ == "__main__":
    main()

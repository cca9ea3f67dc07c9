"""``newsmill status`` and ``newsmill health`` against real databases, brokers and workers."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from rich.console import Console

from newsmill_ingest.publisher import Publisher
from newsmill_ingest.status import collect, render, watch
from newsmill_schema import models
from newsmill_schema.db import Database
from newsmill_schema.messages import ProcessDocument
from newsmill_schema.models import utcnow
from newsmill_schema.settings import Settings
from tests.support import Process, wait_for


def _job(
    db: Database,
    state: str,
    kind: str = "file",
    error: str | None = None,
    finished_ago_s: float | None = None,
) -> int:
    finished = utcnow() - timedelta(seconds=finished_ago_s) if finished_ago_s is not None else None
    with db.session() as session:
        job = models.Job(
            state=state,
            source_kind=kind,
            source_uri=f"inbox/{state}-{kind}",
            name=state,
            error=error,
            finished_at=finished,
        )
        session.add(job)
        session.flush()
        return job.id


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[tuple[Settings, Database]]:
    settings = Settings(data_dir=tmp_path / "data")
    db = Database(settings.database_url)
    db.upgrade()
    yield settings, db
    db.dispose()


def test_status_counts_jobs_by_state_and_source_throughput_and_failures(
    embedded: tuple[Settings, Database],
) -> None:
    settings, db = embedded
    # Given jobs of two sources, two finished within the last minute, one long ago
    _job(db, "queued")
    _job(db, "done", finished_ago_s=5)
    _job(db, "done", kind="record", finished_ago_s=10)
    failed = _job(db, "failed", error="binary file: not text", finished_ago_s=600)
    with db.session() as session:
        session.add(
            models.Feed(url="https://example.org/rss", consecutive_errors=3, last_error="HTTP 503")
        )
    # When status is collected
    report = collect(settings, db)
    # Then it shows the ledger per state and per source
    assert report["jobs"] == {"queued": 1, "done": 2, "failed": 1}
    assert report["jobs_by_source"] == {
        "file": {"queued": 1, "done": 1, "failed": 1},
        "record": {"done": 1},
    }
    assert report["finished_last_minute"] == 2
    assert report["latest_failures"] == [
        {"job_id": failed, "source_uri": "inbox/failed-file", "error": "binary file: not text"}
    ]
    assert report["feeds"][0]["healthy"] is False
    assert report["feeds"][0]["last_error"] == "HTTP 503"
    # and the embedded broker answers: nothing queued there, no worker, nothing unacked
    assert report["queue_depth"] == 0
    assert report["workers"] == []
    assert report["unacked"] == 0
    # and the rendering names the failure's reason and the failing feed
    console = Console(file=io.StringIO(), width=200)
    console.print(render(report))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "binary file: not text" in text
    assert "failing" in text


def test_watch_redraws_the_given_number_of_times(embedded: tuple[Settings, Database]) -> None:
    settings, db = embedded
    _job(db, "queued")
    out = io.StringIO()
    watch(settings, db, Console(file=out, width=160, force_terminal=True), interval=0.01, count=2)
    assert out.getvalue().count("jobs") >= 2


@pytest.mark.redis
@pytest.mark.postgres
def test_redis_queue_depth_and_unacked(pg_url: str, redis_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=pg_url, broker_url=redis_url)
    db = Database(pg_url)
    db.upgrade()
    jobs = [_job(db, "queued") for _ in range(3)]
    publisher = Publisher(settings, db)
    publisher.publish(ProcessDocument(job_id=j, source_kind="file", source_uri="x") for j in jobs)
    report = collect(settings, db, publisher)
    publisher.close()
    db.dispose()
    assert report["queue_depth"] == 3
    assert report["unacked"] == 0
    assert report["workers"] == []


def _health(env: dict[str, str], tmp_path: Path, *args: str) -> tuple[int, str]:
    log = tmp_path / f"health-{len(list(tmp_path.iterdir()))}.log"
    process = Process(["health", *args], env, log)
    code = process.popen.wait(timeout=60)
    process.stop()
    return code, process.output()


@pytest.mark.redis
@pytest.mark.postgres
def test_health_follows_the_database_the_broker_and_the_workers(
    pg_url: str, redis_url: str, tmp_path: Path
) -> None:
    env = {
        "NEWSMILL_DATABASE_URL": pg_url,
        "NEWSMILL_BROKER_URL": redis_url,
        "NEWSMILL_DATA_DIR": str(tmp_path / "data"),
        "NEWSMILL_LOG_FORMAT": "text",
    }
    Database(pg_url).upgrade()
    # Given a running worker, health is 0
    worker = Process(["worker"], env, tmp_path / "worker.log")
    try:
        wait_for(lambda: "ready" in worker.output(), 60, what="the worker")
        code, output = _health(env, tmp_path)
        assert code == 0, output
        # With a wrong database URL, health is non-zero and says why
        code, output = _health(
            {**env, "NEWSMILL_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"},
            tmp_path,
        )
        assert code != 0
        assert "database" in output
    finally:
        worker.stop()
    # Once the worker is stopped, health is non-zero, unless workers are not required
    code, output = _health(env, tmp_path)
    assert code != 0
    assert "workers" in output
    code, output = _health(env, tmp_path, "--no-workers")
    assert code == 0, output
    # With the broker unreachable, health is non-zero
    code, output = _health(
        {**env, "NEWSMILL_BROKER_URL": "redis://127.0.0.1:1/0"}, tmp_path, "--no-workers"
    )
    assert code != 0
    assert "broker" in output

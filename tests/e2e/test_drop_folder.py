"""Drop a file, get an article: the whole path with real processes, both ways to run."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from newsmill_schema.db import Database
from newsmill_schema.settings import Settings
from tests.support import (
    Process,
    article_count,
    jobs_by_name,
    slow_parse_texts,
    unclosed_paragraphs_page,
    wait_for,
)

DEADLINE_S = 20
WORKER_SECONDS = 2
"""Worker time (job started → finished) allowed to each document that once took minutes."""


@dataclass
class Stack:
    settings: Settings
    db: Database
    processes: list[Process]

    @property
    def inbox(self) -> Path:
        assert self.settings.inbox_dir
        return self.settings.inbox_dir

    @property
    def failed(self) -> Path:
        assert self.settings.failed_dir
        return self.settings.failed_dir

    def all_alive(self) -> bool:
        return all(p.alive for p in self.processes)

    def logs(self) -> str:
        return "\n".join(p.output()[-3000:] for p in self.processes)


def _env(data_dir: Path, extra: dict[str, str]) -> dict[str, str]:
    return {
        "NEWSMILL_DATA_DIR": str(data_dir),
        "NEWSMILL_LOG_FORMAT": "text",
        "NEWSMILL_RESCAN_INTERVAL_S": "2",
        "NEWSMILL_SETTLE_SECONDS": "0.5",
        **extra,
    }


def _start(args: list[str], env: dict[str, str], tmp_path: Path, name: str) -> Process:
    return Process(args, env, tmp_path / f"{name}.log")


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Stack]:
    """``newsmill up``: SQLite and the filesystem broker, one process tree."""
    data = tmp_path / "data"
    env = _env(data, {})
    process = _start(["up", "--data-dir", str(data)], env, tmp_path, "up")
    settings = Settings(data_dir=data)
    wait_for(lambda: settings.inbox_dir and settings.inbox_dir.is_dir(), 30, what="the inbox")
    # Running means its worker too: the 5 s budget below is for a document, not for a boot.
    wait_for(lambda: " ready." in process.output(), 60, what="the worker")
    yield Stack(settings, Database(settings.database_url), [process])
    assert process.stop() == 0, process.output()[-3000:]


@pytest.fixture
def distributed(tmp_path: Path, pg_url: str, redis_url: str) -> Iterator[Stack]:
    """``newsmill ingest`` and ``newsmill worker`` on Redis and Postgres, as in compose."""
    data = tmp_path / "data"
    env = _env(data, {"NEWSMILL_DATABASE_URL": pg_url, "NEWSMILL_BROKER_URL": redis_url})
    migrate = _start(["db", "upgrade"], env, tmp_path, "migrate")
    assert migrate.popen.wait(timeout=60) == 0, migrate.output()
    worker = _start(["worker"], env, tmp_path, "worker")
    ingest = _start(["ingest"], env, tmp_path, "ingest")
    settings = Settings(data_dir=data, database_url=pg_url, broker_url=redis_url)
    wait_for(lambda: settings.inbox_dir and settings.inbox_dir.is_dir(), 30, what="the inbox")
    wait_for(lambda: "ready" in worker.output(), 60, what="the worker")
    yield Stack(settings, Database(pg_url), [ingest, worker])
    for process in (ingest, worker):
        process.stop()
    Database(pg_url).dispose()


def _drop(source: Path, inbox: Path, name: str | None = None) -> None:
    """Write the file beside the inbox, then move it in, as a careful producer does."""
    staging = inbox.parent / f".staging-{name or source.name}"
    shutil.copyfile(source, staging)
    os.replace(staging, inbox / (name or source.name))


def _exercise(stack: Stack, seed_path: Path, tmp_path: Path) -> None:
    title = seed_path.read_text(encoding="utf-8").splitlines()[0]

    # Given a running stack, when the seed lands in the inbox
    started = time.monotonic()
    _drop(seed_path, stack.inbox)
    job = wait_for(
        lambda: (j := jobs_by_name(stack.db).get(seed_path.name)) and j.state == "done" and j,
        DEADLINE_S,
        what="the seed's job to finish",
    )
    elapsed = time.monotonic() - started
    # then one article with the seed's first line as title exists, within 5 seconds
    assert elapsed < 5, f"seed took {elapsed:.1f}s"
    from newsmill_ingest import views

    articles = views.articles(stack.db)
    assert [a.title for a in articles] == [title]
    assert articles[0].id == job.article_id

    # When the same file is dropped again, it ends as a duplicate and no second row
    _drop(seed_path, stack.inbox)
    wait_for(
        lambda: sum(1 for j in _all_jobs(stack) if j.state == "duplicate") == 1,
        DEADLINE_S,
        what="the duplicate job",
    )
    assert article_count(stack.db) == 1

    # When a zero-byte file and a binary file are dropped
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "image.txt").write_bytes(bytes(range(256)) * 40)
    _drop(tmp_path / "empty.txt", stack.inbox)
    _drop(tmp_path / "image.txt", stack.inbox)
    # then each lands in the failed folder with an .error.json saying why
    for name, reason in (("empty.txt", "empty"), ("image.txt", "binary")):
        report = wait_for(
            lambda n=name: _report(stack.failed, n), DEADLINE_S, what=f"{name}.error.json"
        )
        assert reason in report["reason"], report
        assert (stack.failed / name).exists()
    # and the services keep running
    assert stack.all_alive(), stack.logs()
    assert article_count(stack.db) == 1


def _all_jobs(stack: Stack) -> list:
    from newsmill_ingest import views

    return views.jobs(stack.db)


def _report(failed: Path, name: str) -> dict | None:
    path = failed / f"{name}.error.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())


def test_embedded_mode_turns_a_dropped_file_into_one_article(
    embedded: Stack, seed_path: Path, tmp_path: Path
) -> None:
    _exercise(embedded, seed_path, tmp_path)


@pytest.mark.redis
@pytest.mark.postgres
def test_redis_and_postgres_mode_turns_a_dropped_file_into_one_article(
    distributed: Stack, seed_path: Path, tmp_path: Path
) -> None:
    _exercise(distributed, seed_path, tmp_path)


def test_documents_that_once_took_minutes_finish_in_seconds_of_worker_time(
    embedded: Stack, seed_path: Path, tmp_path: Path
) -> None:
    # Given a running stack, text files whose paragraphs once made the cleaner backtrack for
    # minutes, and a 2.4 MB page of 300,000 unclosed <p>, dropped beside a good document
    texts = slow_parse_texts()
    for name, (_, data) in texts.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "unclosed.html").write_bytes(unclosed_paragraphs_page())
    for name in [*texts, "unclosed.html"]:
        _drop(tmp_path / name, embedded.inbox)
    _drop(seed_path, embedded.inbox)

    # When the worker has finished them all
    names = {*texts, "unclosed.html", seed_path.name}
    jobs = wait_for(
        lambda: (
            (found := jobs_by_name(embedded.db))
            and names <= set(found)
            and all(found[n].finished_at for n in names)
            and found
        ),
        60,
        what="every job to finish",
    )

    # Then each took the worker under 2 seconds, on its first and only attempt
    for name in names:
        job = jobs[name]
        assert job.started_at is not None and job.finished_at is not None
        seconds = (job.finished_at - job.started_at).total_seconds()
        assert seconds < WORKER_SECONDS, f"{name} took the worker {seconds:.1f}s"
        assert job.attempts == 1, name
    # the texts are articles and the page failed for its size, with a report saying so
    assert {jobs[n].state for n in [*texts, seed_path.name]} <= {"done", "duplicate"}
    assert jobs["unclosed.html"].state == "failed"
    report = wait_for(
        lambda: _report(embedded.failed, "unclosed.html"), DEADLINE_S, what="the page's report"
    )
    assert "too large to extract: 300002 elements" in report["reason"], report
    from newsmill_ingest import views

    titles = {a.title for a in views.articles(embedded.db)}
    assert {title for title, _ in texts.values()} <= titles
    assert embedded.all_alive(), embedded.logs()

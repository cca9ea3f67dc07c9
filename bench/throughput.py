"""How fast, how quick, how big: the whole stack measured with real processes.

Starts newsmill as users do (``newsmill db upgrade``, ``newsmill ingest``,
``newsmill worker`` on Redis and a throwaway Postgres database;
``newsmill up --data-dir`` for the embedded mode), drops a replicated BBC
corpus into the inbox and measures:

- throughput: documents/s from the first file landing to the last job settled,
  for the stack, the embedded mode and the bare loop (the same intake and
  ``Processor`` code called one file after another in a single process);
- latency: one file dropped into an idle stack until its job is committed;
- memory: peak RSS of the ingest service and of every worker process, and of
  the ingest service starting with a large backlog in its inbox;
- cost growth: documents/s with a small and a large number of articles stored.

    python -m bench.throughput [--files N] [--quick] [--json PATH] [--data DIR]

It prints a table and, last, the path of a JSON file with every figure. The
corpus is generated in a temporary folder and deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, insert, select, text

from bench.data import BBC
from bench.memory import RssSampler
from newsmill_ingest.intake import Intake
from newsmill_ingest.service import BATCH
from newsmill_schema import models
from newsmill_schema.db import Database
from newsmill_schema.messages import FINISHED_STATES, JobState
from newsmill_schema.settings import Settings

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"
# Keys Celery and kombu leave in the broker database; anything else is someone else's.
_BROKER_KEYS = ("newsmill", "_kombu.", "unacked")
SPACED_GAP_S = 1.0
"""Gap of the second latency series: drops a second apart, as from an occasional producer."""

console = Console(stderr=True)


@dataclass(frozen=True)
class Sizes:
    """How much work each measurement does."""

    files: int
    embedded_files: int
    latency_drops: int
    spaced_drops: int
    waiting_files: int
    waiting_window_s: float
    growth_files: int
    growth_small: int
    growth_large: int


# Sized so that `make bench` ends within 15 minutes on two busy cores (~25 documents/s).
FULL = Sizes(
    files=5_000,
    embedded_files=2_500,
    latency_drops=200,
    spaced_drops=30,
    waiting_files=100_000,
    waiting_window_s=15.0,
    # Half the BBC corpus: each growth measurement has stories of its own.
    growth_files=1_100,
    growth_small=10_000,
    growth_large=100_000,
)
QUICK = Sizes(
    files=600,
    embedded_files=300,
    latency_drops=20,
    spaced_drops=5,
    waiting_files=5_000,
    waiting_window_s=5.0,
    growth_files=300,
    growth_small=1_000,
    growth_large=5_000,
)


# --- the corpus --------------------------------------------------------------------------


def variant(text_: str, copy: int) -> str:
    """Edition ``copy`` of a story: the same text with one added line, so a new article.

    Edition 0 is the story itself; every other edition differs in its last
    line, so its content hash differs and it is stored, not deduplicated.
    """
    if copy == 0:
        return text_
    return f"{text_.rstrip()}\n\nEdition {copy}: this report was updated {copy} times.\n"


def bbc_stories(source: Path = BBC) -> list[tuple[str, str]]:
    """(name stem, text) of every story in the BBC corpus, in a stable order."""
    stories = []
    for path in sorted(source.glob("*/*.txt")):
        story = path.read_text(encoding="utf-8", errors="replace")
        stories.append((f"{path.parent.name}-{path.stem}", story))
    if not stories:
        raise SystemExit(f"no BBC stories under {source}")
    return stories


def write_corpus(
    stories: list[tuple[str, str]], folder: Path, count: int, first_copy: int = 0
) -> list[Path]:
    """Write ``count`` distinct documents (editions of the stories) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        stem, story = stories[index % len(stories)]
        copy = first_copy + index // len(stories)
        path = folder / f"{stem}-e{copy:05d}.txt"
        path.write_text(variant(story, copy), encoding="utf-8")
        paths.append(path)
    return paths


def link_copies(paths: list[Path], folder: Path) -> list[Path]:
    """Hard links of ``paths`` in ``folder`` (cheap copies that intake may move away)."""
    folder.mkdir(parents=True, exist_ok=True)
    copies = []
    for path in paths:
        target = folder / path.name
        os.link(path, target)
        copies.append(target)
    return copies


def drop_all(paths: list[Path], inbox: Path) -> float:
    """Move the files into the inbox at once; returns the wall time the first one landed."""
    landed = time.time()
    for path in paths:
        os.replace(path, inbox / path.name)
    return landed


# --- servers: Postgres databases, the Redis broker ----------------------------------------


@contextmanager
def pg_database(prefix: str) -> Iterator[str]:
    """A fresh Postgres database for one measurement, dropped afterwards."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def clear_broker(url: str = REDIS_URL) -> None:
    """Empty the broker database, refusing if it holds keys that are not newsmill's."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = client.scan_iter(count=1000)
        foreign = [k for k in keys if not k.decode().startswith(_BROKER_KEYS)]
        if foreign:
            raise SystemExit(f"{url} holds keys newsmill did not write ({foreign[0]!r}); refusing")
        client.flushdb()
    finally:
        client.close()


def server_versions() -> dict[str, str]:
    """Versions of Redis, Postgres and Python the figures were measured with."""
    import psycopg
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        redis_version = str(client.info("server")["redis_version"])
    finally:
        client.close()
    with psycopg.connect(PG_ADMIN_URL) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return {
        "redis_version": redis_version,
        "postgres_version": str(row[0]) if row else "?",
        "python_version": platform.python_version(),
    }


# --- processes and their memory -------------------------------------------------------------


class Service:
    """One ``newsmill`` command running as a child process, its output in a log file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args = args
        self.log = log
        self._handle = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            [*newsmill_command(), *args],
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            stdout=self._handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_output(self, needle: str, timeout: float) -> None:
        wait_until(
            lambda: needle in self.output(),
            timeout,
            f"'{needle}' from newsmill {self.args[0]}",
            alive=lambda: self.alive,
        )

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM, then SIGKILL for the whole process group; no child outlives it."""
        if self.alive:
            self.popen.send_signal(signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=timeout)
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait()
        self._handle.close()


def newsmill_command() -> list[str]:
    """The ``newsmill`` console script beside this interpreter, as a user runs it."""
    script = Path(sys.executable).with_name("newsmill")
    return [str(script)] if script.exists() else [sys.executable, "-m", "newsmill_ingest"]


def run_command(args: list[str], env: dict[str, str], log: Path) -> None:
    """Run a one-shot ``newsmill`` command to completion, failing loudly."""
    service = Service(args, env, log)
    if service.popen.wait(timeout=120) != 0:
        raise SystemExit(f"newsmill {' '.join(args)} failed:\n{service.output()[-2000:]}")
    service.stop()


def wait_until(
    condition: Callable[[], Any],
    timeout: float,
    what: str,
    alive: Callable[[], bool] = lambda: True,
    interval: float = 0.05,
) -> Any:
    """Poll ``condition`` until truthy; fail after ``timeout`` or when ``alive`` turns false."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if not alive():
            raise SystemExit(f"a process died while waiting for {what}")
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


# --- the job ledger ----------------------------------------------------------------------------


def last_job_id(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.max(models.Job.id))) or 0)


def settled(db: Database, after: int) -> int:
    """Top-level jobs above id ``after`` in a final state.

    Only the measured jobs are counted (a range of the primary key): counting
    every job, four times a second, would itself cost more as the store grows.
    """
    with db.session() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(models.Job)
                .where(
                    models.Job.id > after,
                    models.Job.state.in_(FINISHED_STATES),
                    models.Job.parent_id.is_(None),
                )
            )
            or 0
        )


def states(db: Database) -> dict[str, int]:
    with db.session() as session:
        query = select(models.Job.state, func.count()).group_by(models.Job.state)
        rows = session.execute(query).all()
    return {state: count for state, count in rows}


def last_finished(db: Database) -> float:
    """Wall time the last job finished, from the ledger."""
    with db.session() as session:
        value = session.scalar(select(func.max(models.Job.finished_at)))
    assert value is not None
    return value.replace(tzinfo=value.tzinfo or UTC).timestamp()


def wait_settled(
    db: Database, after: int, expected: int, timeout: float, alive: Callable[[], bool]
) -> float:
    """Wait until ``expected`` jobs above id ``after`` have settled; returns when the last one finished."""
    wait_until(
        lambda: settled(db, after) >= expected,
        timeout,
        f"{expected} jobs to settle",
        alive=alive,
        interval=0.25,
    )
    return last_finished(db)


# --- the stacks -------------------------------------------------------------------------------


@dataclass
class Stack:
    """A running newsmill deployment in ``root``: its services, settings and database."""

    root: Path
    settings: Settings
    env: dict[str, str]
    services: dict[str, Service] = field(default_factory=dict)

    @property
    def inbox(self) -> Path:
        assert self.settings.inbox_dir
        return self.settings.inbox_dir

    @property
    def db(self) -> Database:
        return Database(self.settings.database_url)

    def alive(self) -> bool:
        return all(s.alive for s in self.services.values())

    def start(self, name: str, args: list[str], ready: str) -> Service:
        service = Service(args, self.env, self.root / f"{name}.log")
        self.services[name] = service
        service.wait_for_output(ready, 90)
        return service

    def pids(self) -> dict[str, int]:
        return {name: s.popen.pid for name, s in self.services.items()}

    def stop(self) -> None:
        for service in self.services.values():
            service.stop()

    def show_logs(self, chars: int = 3000) -> None:
        """The end of every service's log, to see why a measurement failed."""
        for name, service in self.services.items():
            console.print(f"--- end of newsmill {name}'s log ({service.log}) ---")
            console.print(service.output()[-chars:], markup=False, highlight=False)


def stack_env(root: Path, pg_url: str | None) -> dict[str, str]:
    """The environment a user would set: a data dir, and Redis + Postgres for the stack."""
    env = {"NEWSMILL_DATA_DIR": str(root / "data"), "NEWSMILL_WORKER_CONCURRENCY": "2"}
    if pg_url:
        env |= {"NEWSMILL_DATABASE_URL": pg_url, "NEWSMILL_BROKER_URL": REDIS_URL}
    return env


def stack_settings(env: dict[str, str]) -> Settings:
    return Settings.model_validate(
        {
            "data_dir": Path(env["NEWSMILL_DATA_DIR"]),
            "database_url": env.get("NEWSMILL_DATABASE_URL", ""),
            "broker_url": env.get("NEWSMILL_BROKER_URL", ""),
        }
    )


@contextmanager
def distributed_stack(
    root: Path, pg_url: str, services: tuple[str, ...] = ("worker", "ingest")
) -> Iterator[Stack]:
    """``newsmill db upgrade``, ``newsmill worker`` and ``newsmill ingest`` on Redis + Postgres."""
    root.mkdir(parents=True, exist_ok=True)
    clear_broker()
    env = stack_env(root, pg_url)
    run_command(["db", "upgrade"], env, root / "migrate.log")
    stack = Stack(root, stack_settings(env), env)
    try:
        if "worker" in services:
            stack.start("worker", ["worker"], ready="ready")
        if "ingest" in services:
            stack.start("ingest", ["ingest"], ready="watching")
        yield stack
    except BaseException:
        stack.show_logs()
        raise
    finally:
        stack.stop()
        stack.db.dispose()
        clear_broker()


@contextmanager
def embedded_stack(root: Path) -> Iterator[Stack]:
    """``newsmill up --data-dir``: SQLite and the filesystem broker."""
    root.mkdir(parents=True, exist_ok=True)
    env = stack_env(root, None)
    stack = Stack(root, stack_settings(env), env)
    try:
        up = stack.start("up", ["up", "--data-dir", env["NEWSMILL_DATA_DIR"]], ready="watching")
        wait_until(lambda: "ready" in up.output(), 90, "the embedded worker", lambda: up.alive)
        yield stack
    except BaseException:
        stack.show_logs()
        raise
    finally:
        stack.stop()


# --- the measurements -----------------------------------------------------------------------


@dataclass
class Throughput:
    docs: int
    seconds: float
    states: dict[str, int]
    rss_mb: dict[str, list[float]]
    uss_mb: dict[str, list[float]]

    @property
    def docs_per_s(self) -> float:
        return round(self.docs / self.seconds, 1) if self.seconds > 0 else 0.0


def measure_throughput(stack: Stack, corpus: list[Path]) -> Throughput:
    """Drop the corpus at once; time from the first landing to the last job settled."""
    db = stack.db
    before = last_job_id(db)
    staging = link_copies(corpus, stack.root / f"staging-{before}")
    with RssSampler(stack.pids()) as sampler:
        landed = drop_all(staging, stack.inbox)
        timeout = 120 + len(corpus) / 20
        finished = wait_settled(db, before, len(corpus), timeout, stack.alive)
    rss = {name: sampler.each_mb(name) for name in stack.services}
    uss = {name: sampler.uss_each_mb(name) for name in stack.services}
    return Throughput(len(corpus), finished - landed, states(db), rss, uss)


def measure_latency(stack: Stack, corpus: list[Path], gap_s: float = 0.0) -> list[float]:
    """Drop files one at a time into the idle stack; ms until each job is committed finished.

    Each file lands as soon as the previous one is committed, or ``gap_s``
    seconds later: a gap lets the ingest service's own last claim age out.
    """
    staging = link_copies(corpus, stack.root / f"staging-latency-{gap_s:g}")
    db = stack.db
    with db.session() as session:
        last_id = int(session.scalar(select(func.max(models.Job.id))) or 0)
    latencies = []
    for path in staging:
        time.sleep(gap_s)  # the drop pattern under test, not a wait for a condition
        started = time.perf_counter()
        os.replace(path, stack.inbox / path.name)
        last_id = wait_until(
            partial(_finished_after, db, last_id),
            30,
            f"{path.name} to be committed",
            alive=stack.alive,
            interval=0.002,
        )
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def _finished_after(db: Database, after: int) -> int | None:
    with db.session() as session:
        query = select(models.Job.id, models.Job.state).where(models.Job.id > after)
        row = session.execute(query.order_by(models.Job.id).limit(1)).first()
    return row.id if row and row.state in FINISHED_STATES else None


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` in 0..1) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, round(fraction * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class Bare:
    docs: int
    record_s: float
    process_s: float

    @property
    def docs_per_s(self) -> float:
        total = self.record_s + self.process_s
        return round(self.docs / total, 1) if total > 0 else 0.0


def measure_bare(root: Path, pg_url: str, corpus: list[Path]) -> Bare:
    """The same intake and Processor code in a plain loop, one process, the same database."""
    from newsmill_worker.processor import Processor

    settings = Settings.model_validate(
        {"data_dir": root / "data", "database_url": pg_url, "broker_url": "memory://"}
    )
    db = Database(pg_url)
    try:
        db.upgrade()
        intake = Intake(settings, db)
        intake.make_folders()
        staging = link_copies(corpus, root / "staging")
        assert settings.inbox_dir
        drop_all(staging, settings.inbox_dir)
        started = time.perf_counter()
        inbox = [settings.inbox_dir / p.name for p in staging]
        # The same batches the ingest service takes from its watcher.
        batches = [inbox[i : i + BATCH] for i in range(0, len(inbox), BATCH)]
        recorded = [r for batch in batches for r in intake.take(batch)]
        queued = [r.job_id for r in recorded if r.state == JobState.QUEUED]
        taken = time.perf_counter()
        processor = Processor(settings, db)
        for job_id in queued:
            processor.process(job_id)
        return Bare(len(corpus), taken - started, time.perf_counter() - taken)
    finally:
        db.dispose()


@dataclass
class Waiting:
    files: int
    peak_mb: float
    taken: int
    window_s: float


def measure_waiting(
    root: Path, pg_url: str, corpus: list[Path], count: int, window_s: float
) -> Waiting:
    """Start the ingest service with ``count`` files already waiting; its peak RSS over a window."""
    env = stack_env(root, pg_url)
    settings = stack_settings(env)
    assert settings.inbox_dir
    backlog = [corpus[i % len(corpus)] for i in range(count)]
    _link_numbered(backlog, settings.inbox_dir)
    with distributed_stack(root, pg_url, services=()) as stack:
        ingest = Service(["ingest"], stack.env, root / "ingest.log")
        stack.services["ingest"] = ingest
        with RssSampler({"ingest": ingest.popen.pid}) as sampler:
            time.sleep(window_s)  # a fixed observation window, not a wait for a condition
        # A start-up rescan of a large backlog does not look at the stop flag; do not wait it out.
        ingest.stop(timeout=2)
        taken = sum(states(stack.db).values())
        return Waiting(count, sampler.peak_mb("ingest"), taken, window_s)


def _link_numbered(paths: list[Path], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for number, path in enumerate(paths):
        os.link(path, folder / f"w{number:06d}-{path.name}")


@dataclass
class Growth:
    small: int
    large: int
    small_docs_per_s: float
    large_docs_per_s: float

    @property
    def ratio(self) -> float:
        return (
            round(self.large_docs_per_s / self.small_docs_per_s, 3)
            if self.small_docs_per_s
            else 0.0
        )


def measure_growth(root: Path, pg_url: str, stories: list[tuple[str, str]], sizes: Sizes) -> Growth:
    """Documents/s through the stack with ``growth_small``, then ``growth_large``, stored.

    The two measurements take alternate stories: an edition of a story the
    first one stored would make the second one's documents near-copies, which
    take the (costlier) joining path, and the comparison would be unfair.
    """
    count = min(sizes.growth_files, len(stories) // 2)
    first = write_corpus(stories[0::2], root / "corpus-a", count, first_copy=5000)
    second = write_corpus(stories[1::2], root / "corpus-b", count, first_copy=5000)
    with distributed_stack(root / "stack", pg_url) as stack:
        seed_articles(stack.db, stories, sizes.growth_small, first_id=0)
        settle(stack.db)
        small = measure_throughput(stack, first)
        seed_articles(
            stack.db, stories, sizes.growth_large - sizes.growth_small, first_id=sizes.growth_small
        )
        settle(stack.db)
        large = measure_throughput(stack, second)
    return Growth(sizes.growth_small, sizes.growth_large, small.docs_per_s, large.docs_per_s)


def settle(db: Database) -> None:
    """Let Postgres digest a bulk load before measuring, as a long-running store has.

    Without it the measurement after a seed of 90,000 articles also pays for
    their statistics, the full-text index's pending list and the checkpoint of
    the dirty pages: the cost of the bulk load, not of the stored set's size.
    """
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
        conn.execute(text("CHECKPOINT"))


def seed_articles(db: Database, stories: list[tuple[str, str]], count: int, first_id: int) -> None:
    """Bulk-insert ``count`` articles (job, article, source, LSH bands, signature) as if processed before.

    Their band hashes and signatures are random, as for an archive of unrelated
    stories: the index grows without handing every new document a crowd of
    candidates.
    """
    from newsmill_worker.processor import dedup_params_from

    params = dedup_params_from(Settings.model_validate({}))
    rng = random.Random(first_id)
    now = datetime.now(UTC)
    for start in range(0, count, 5000):
        batch = range(first_id + start, first_id + min(count, start + 5000))
        with db.session() as session:
            job_ids = _seed_jobs(session, batch, now)
            article_ids = _seed_rows(session, stories, batch, job_ids, now)
            _seed_index(session, article_ids, params.bands, params.num_perm, rng)


def _seed_jobs(session: Any, batch: range, now: datetime) -> list[int]:
    rows = [
        {
            "state": JobState.DONE,
            "source_kind": "file",
            "source_uri": f"inbox/seed-{n}.txt",
            "name": f"seed-{n}.txt",
            "attempts": 1,
            "created_at": now,
            "finished_at": now,
        }
        for n in batch
    ]
    result = session.execute(
        insert(models.Job).returning(models.Job.id, sort_by_parameter_order=True), rows
    )
    return [row[0] for row in result]


def _seed_rows(
    session: Any, stories: list[tuple[str, str]], batch: range, job_ids: list[int], now: datetime
) -> list[int]:
    articles = []
    for n, job_id in zip(batch, job_ids, strict=True):
        _, story = stories[n % len(stories)]
        title, _, body = story.partition("\n")
        articles.append(
            {
                "job_id": job_id,
                "title": title,
                "body": f"{body.strip()}\n\nArchive copy {n}.",
                "word_count": len(body.split()),
                "content_hash": uuid.uuid4().hex * 2,
                "source_kind": "file",
                "source_uri": f"inbox/seed-{n}.txt",
                "ingested_at": now,
                "processed_at": now,
                "language": "en",
            }
        )
    result = session.execute(
        insert(models.Article).returning(models.Article.id, sort_by_parameter_order=True), articles
    )
    article_ids = [row[0] for row in result]
    session.execute(
        insert(models.ArticleSource),
        [
            {"article_id": a, "job_id": j, "kind": "file", "uri": "seed", "seen_at": now}
            for a, j in zip(article_ids, job_ids, strict=True)
        ],
    )
    session.execute(
        text(
            "UPDATE jobs SET article_id = articles.id FROM articles "
            "WHERE articles.job_id = jobs.id AND jobs.article_id IS NULL"
        )
    )
    return article_ids


def _seed_index(
    session: Any, article_ids: list[int], bands: int, num_perm: int, rng: random.Random
) -> None:
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cursor:
        with cursor.copy("COPY dedup_bands (article_id, band, hash) FROM STDIN") as copy:
            for article_id in article_ids:
                for band in range(bands):
                    copy.write_row((article_id, band, rng.getrandbits(64) - 2**63))
        with cursor.copy("COPY dedup_signatures (article_id, signature) FROM STDIN") as copy:
            for article_id in article_ids:
                copy.write_row((article_id, rng.randbytes(4 * num_perm)))


# --- the whole run -------------------------------------------------------------------------------


def run(sizes: Sizes, workdir: Path, data: Path = BBC) -> dict[str, Any]:
    """Every measurement, in order, on the BBC stories under ``data``; returns the figures."""
    stories = bbc_stories(data)
    corpus = write_corpus(stories, workdir / "corpus", sizes.files)
    probes = write_corpus(stories, workdir / "corpus-latency", sizes.latency_drops, first_copy=9000)
    spaced = write_corpus(stories, workdir / "corpus-spaced", sizes.spaced_drops, first_copy=9500)
    figures: dict[str, Any] = {
        "cores": os.cpu_count(),
        **server_versions(),
        "files": sizes.files,
        "load_before": list(os.getloadavg()),
    }

    loads: dict[str, float] = {}
    # The bare loop runs right before the stack, so both meet the same background load.
    loads["bare"] = step("bare loop: intake + Processor in one process, same files, Postgres")
    with pg_database("newsmill_bench_bare") as url:
        bare = measure_bare(workdir / "bare", url, corpus)
    loads["stack"] = step("stack: ingest + worker (concurrency 2) on Redis + Postgres")
    with (
        pg_database("newsmill_bench_stack") as url,
        distributed_stack(workdir / "stack", url) as stack,
    ):
        stack_run = measure_throughput(stack, corpus)
        loads["latency"] = step("latency: single drops into the idle stack")
        latencies = measure_latency(stack, probes)
        spaced_latencies = measure_latency(stack, spaced, gap_s=SPACED_GAP_S)
    loads["embedded"] = step(f"embedded: newsmill up on SQLite ({sizes.embedded_files} files)")
    with embedded_stack(workdir / "embedded") as stack:
        embedded = measure_throughput(stack, corpus[: sizes.embedded_files])
    loads["waiting"] = step(f"memory: ingest starting with {sizes.waiting_files} files waiting")
    with pg_database("newsmill_bench_waiting") as url:
        waiting = measure_waiting(
            workdir / "waiting", url, corpus, sizes.waiting_files, sizes.waiting_window_s
        )
    loads["growth"] = step(
        f"growth: {sizes.growth_files} files, {sizes.growth_small} vs {sizes.growth_large} stored"
    )
    with pg_database("newsmill_bench_growth") as url:
        growth = measure_growth(workdir / "growth", url, stories, sizes)

    figures["load_at_phase_start"] = loads
    figures |= report_figures(stack_run, bare, embedded, latencies, waiting, growth)
    figures["latency_spaced_p50_ms"] = round(statistics.median(spaced_latencies), 1)
    figures["latency_spaced_p99_ms"] = round(percentile(spaced_latencies, 0.99), 1)
    figures["load_after"] = list(os.getloadavg())
    return figures


def report_figures(
    stack: Throughput,
    bare: Bare,
    embedded: Throughput,
    latencies: list[float],
    waiting: Waiting,
    growth: Growth,
) -> dict[str, Any]:
    """The figures as the JSON report names them."""
    worker_rss = stack.rss_mb.get("worker", [])
    return {
        "docs_per_s_stack": stack.docs_per_s,
        "docs_per_s_bare": bare.docs_per_s,
        "stack_vs_bare": round(stack.docs_per_s / bare.docs_per_s, 3) if bare.docs_per_s else 0.0,
        "docs_per_s_embedded": embedded.docs_per_s,
        "embedded_files": embedded.docs,
        "latency_p50_ms": round(statistics.median(latencies), 1),
        "latency_p99_ms": round(percentile(latencies, 0.99), 1),
        "latency_drops": len(latencies),
        "worker_rss_mb": max(worker_rss, default=0.0),
        "worker_rss_mb_each": worker_rss,
        "worker_uss_mb_each": stack.uss_mb.get("worker", []),
        "ingest_rss_mb": max(stack.rss_mb.get("ingest", []), default=0.0),
        "embedded_rss_mb_each": embedded.rss_mb.get("up", []),
        "ingest_rss_mb_100k_waiting": waiting.peak_mb,
        "waiting_files": waiting.files,
        "waiting_taken_in_window": waiting.taken,
        "growth_100k_vs_10k": growth.ratio,
        "growth_stored": [growth.small, growth.large],
        "docs_per_s_small_stored": growth.small_docs_per_s,
        "docs_per_s_large_stored": growth.large_docs_per_s,
        "stack_seconds": round(stack.seconds, 2),
        "bare_record_s": round(bare.record_s, 2),
        "bare_process_s": round(bare.process_s, 2),
        "stack_states": stack.states,
    }


TARGETS: dict[str, tuple[str, float]] = {
    "stack_vs_bare": (">=", 1.0),
    "latency_p50_ms": ("<=", 150),
    "latency_p99_ms": ("<=", 500),
    "worker_rss_mb": ("<=", 200),
    "ingest_rss_mb": ("<=", 150),
    "ingest_rss_mb_100k_waiting": ("<=", 150),
    "growth_100k_vs_10k": (">=", 0.9),
}


def meets(key: str, value: float) -> str:
    """'yes'/'NO' against the issue's target for ``key``, '' when it has none."""
    if key not in TARGETS:
        return ""
    op, limit = TARGETS[key]
    ok = value >= limit if op == ">=" else value <= limit
    return f"{'yes' if ok else 'NO'} ({op} {limit:g})"


def render(figures: dict[str, Any]) -> Table:
    table = Table("figure", "value", "target met")
    for key, value in figures.items():
        shown = json.dumps(value) if isinstance(value, list | dict) else str(value)
        table.add_row(key, shown, meets(key, value) if isinstance(value, int | float) else "")
    return table


def step(message: str) -> float:
    """Announce a phase; returns the 1-minute load average it starts under."""
    load = round(os.getloadavg()[0], 2)
    console.print(f"[bold]» {message}[/]  (load {load:.2f})")
    return load


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.throughput",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    parser.add_argument("--files", type=int, help="Documents in the throughput corpus.")
    parser.add_argument("--quick", action="store_true", help="Small sizes, for a smoke run.")
    parser.add_argument(
        "--json", type=Path, help="Where to write the figures (default: a temp file)."
    )
    parser.add_argument("--keep", action="store_true", help="Keep the work folder (logs, corpus).")
    parser.add_argument("--data", type=Path, default=BBC, help="BBC corpus folder.")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.files:
        sizes = replace(
            sizes, files=args.files, embedded_files=min(sizes.embedded_files, args.files)
        )
    workdir = Path(tempfile.mkdtemp(prefix="newsmill-bench-"))
    started = time.monotonic()
    try:
        figures = run(sizes, workdir, args.data)
    except BaseException:
        console.print(f"benchmark failed; its logs and corpus are kept in {workdir}")
        raise
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    figures["bench_seconds"] = round(time.monotonic() - started, 1)
    Console().print(render(figures))
    out = (
        args.json
        or Path(tempfile.gettempdir()) / f"newsmill-bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    )
    out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

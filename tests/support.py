"""Helpers for tests that run real newsmill processes against real servers."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select

from newsmill_schema import models
from newsmill_schema.blobs import store_blob
from newsmill_schema.db import Database

REDIS_HOST = "127.0.0.1"
REDIS_PORT = 6379
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
IN_CI = os.environ.get("CI", "").lower() == "true"
"""Under CI=true a missing server or dataset fails the run instead of skipping tests."""
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
"""The team's datasets, read where they lie beside the repository (never copied in)."""

T = TypeVar("T")


def service_answers(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def shared_dataset(name: str) -> Path:
    """``../shared/data/<name>``: a test without it skips, or fails under CI=true."""
    path = SHARED_DATA / name
    if path.is_dir() and any(path.iterdir()):
        return path
    reason = f"dataset not found at {path} (read from beside the repository, never copied in)"
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


def free_port() -> int:
    """A TCP port nothing listens on at the moment."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


REDIS_LEASE = "newsmill-tests:redis-db:{}"
"""Key in Redis db 0 that holds a test's lease on database number ``{}``."""


@contextlib.contextmanager
def leased_redis_db(lease_s: int = 3600) -> Iterator[str]:
    """The URL of a Redis database number no other test (in this run or another) holds.

    Every test that needs a Redis database of its own leases it here, so two
    pytest runs sharing one Redis server never consume each other's messages.
    The database is flushed before and after use.
    """
    import redis

    registry = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=0)
    token = uuid.uuid4().hex
    db = _lease(registry, token, lease_s)
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db)
    client.flushdb()
    try:
        yield f"redis://{REDIS_HOST}:{REDIS_PORT}/{db}"
    finally:
        client.flushdb()
        client.close()
        if registry.get(REDIS_LEASE.format(db)) == token.encode():
            registry.delete(REDIS_LEASE.format(db))
        registry.close()


def _lease(registry: Any, token: str, lease_s: int, timeout_s: float = 300) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for db in random.sample(range(1, 16), 15):
            if registry.set(REDIS_LEASE.format(db), token, nx=True, ex=lease_s):
                return db
        time.sleep(0.5)
    raise RuntimeError("no free Redis database number for this test")


def wait_for(
    condition: Callable[[], T], timeout: float, interval: float = 0.05, what: str = ""
) -> T:
    """Poll ``condition`` until it returns something truthy, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
        time.sleep(interval)


class Process:
    """A newsmill command running as a real child process, with its output in a log file."""

    def __init__(
        self, args: list[str], env: dict[str, str], log: Path, module: str = "newsmill_ingest"
    ) -> None:
        self.args = args
        self.log = log
        self._log_handle = open(log, "ab")  # noqa: SIM115 - closed in stop()
        full_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        self.popen = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            env=full_env,
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM, then SIGKILL for the whole process group if it does not stop."""
        if self.alive:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill_group()
        self._kill_leftovers()
        self._log_handle.close()
        return self.popen.returncode if self.popen.returncode is not None else -9

    def kill_group(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait()

    def _kill_leftovers(self) -> None:
        # Worker children must never outlive a test.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)


def jobs_by_name(db: Database) -> dict[str, models.Job]:
    with db.session() as session:
        return {job.name: job for job in session.execute(select(models.Job)).scalars()}


def article_count(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(models.Article)) or 0)


def queue_document(db: Database, name: str, text: str) -> int:
    """Record a queued job for a document, as the ingest service does; returns its id."""
    with db.session() as session:
        sha = store_blob(session, text.encode("utf-8"))
        job = models.Job(
            state="queued",
            source_kind="file",
            source_uri=f"/inbox/{name}",
            name=name,
            blob_sha256=sha,
        )
        session.add(job)
        session.flush()
        return job.id


def queue_feed_entry(db: Database, feed_url: str, identity: str, record: dict[str, Any]) -> int:
    """Record a queued job for a feed entry, new or changed, as the feed poller does."""
    data = json.dumps(record).encode("utf-8")
    with db.session() as session:
        feed = session.execute(
            select(models.Feed).where(models.Feed.url == feed_url)
        ).scalar_one_or_none()
        if feed is None:
            feed = models.Feed(url=feed_url)
            session.add(feed)
            session.flush()
        job = models.Job(
            state="queued",
            source_kind="feed",
            source_uri=f"{feed_url}#{identity}",
            name=f"feed{feed.id}-{identity}.json",
            blob_sha256=store_blob(session, data),
            feed_id=feed.id,
        )
        session.add(job)
        session.flush()
        entry = session.execute(
            select(models.FeedEntry).where(
                models.FeedEntry.feed_id == feed.id, models.FeedEntry.identity == identity
            )
        ).scalar_one_or_none()
        if entry is None:
            entry = models.FeedEntry(feed_id=feed.id, identity=identity, content_hash="")
            session.add(entry)
        entry.content_hash, entry.job_id = hashlib.sha256(data).hexdigest(), job.id
        return job.id


def store_article(db: Database, name: str, title: str, body: str, **fields: Any) -> int:
    """An article stored as if a finished job had produced it; returns its id."""
    with db.session() as session:
        job = models.Job(state="done", source_kind="file", source_uri=f"inbox/{name}", name=name)
        session.add(job)
        session.flush()
        article = models.Article(
            job_id=job.id,
            title=title,
            body=body,
            content_hash=fields.pop("content_hash", name.ljust(64, "x")[:64]),
            source_kind="file",
            source_uri=job.source_uri,
            **fields,
        )
        session.add(article)
        session.flush()
        return article.id


def quadratic_bomb(repeats: int = 10_000) -> bytes:
    """The classic quadratic blowup: one large entity referenced many times."""
    entity = "A" * 10_000
    refs = "&big;" * repeats
    return (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY big "{entity}">]>'
        f'<rss version="2.0"><channel><title>t</title><item><title>x</title>'
        f"<description>{refs}</description></item></channel></rss>"
    ).encode()


def gzip_of_zeros(size: int) -> bytes:
    """gzip of ``size`` zero bytes, compressed as a stream (never held whole)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(2**20)
    parts = [packer.compress(block) for _ in range(size // len(block))]
    return b"".join([*parts, packer.flush()])


class TrickleServer:
    """A raw HTTP server on 127.0.0.1 sending a status line, then one header line every
    ``every`` seconds, never ending the headers. It notes how long each client stayed.
    """

    def __init__(self, every: float = 1.5) -> None:
        self.every = every
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.stays: list[float] = []
        """Seconds from accepting each connection to the client hanging up."""
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/feed.rss"

    def close(self) -> None:
        self._stop.set()
        self.listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._trickle, args=(connection,), daemon=True).start()

    def _trickle(self, connection: socket.socket) -> None:
        accepted = time.monotonic()
        with connection:
            connection.recv(65536)  # the request
            connection.settimeout(self.every)
            line = 0
            try:
                connection.sendall(b"HTTP/1.1 200 OK\r\n")
                while not self._stop.is_set():
                    try:
                        if not connection.recv(65536):
                            break  # the client hung up
                    except TimeoutError:
                        line += 1
                        connection.sendall(f"X-Trickle-{line}: still coming\r\n".encode())
            except OSError:
                pass
        self.stays.append(time.monotonic() - accepted)


def ebcdic_bomb(repeats: int = 10_000) -> bytes:
    """The quadratic bomb in EBCDIC (cp037), which feedparser decodes by itself.

    A 10 KB entity referenced ``repeats`` times: 100 MB once expanded. expat
    stops amplification past 100 times the input, so a 1 MB comment pads the
    input to let all of it through (1.06 MB in all).
    """
    text = quadratic_bomb(repeats).decode()
    text = text.replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="cp037"?>')
    text = text.replace("<title>x</title>", "<title>x</title><!--" + " " * 1_000_000 + "-->")
    return text.encode("cp037")


def slow_parse_texts() -> dict[str, tuple[str, bytes]]:
    """Texts whose paragraphs once made the cleaner backtrack for seconds: name → (title, bytes)."""
    shapes = {
        # An unclosed quote before spaced dots: the quotation check backtracked in cubic time
        # (a 6 KB file ran into the 30 s document limit on each of its three attempts).
        "unclosed-quote.txt": (
            "Newsletter news",
            'Subscribe to our newsletter and sign up today "' + ". " * 3000,
        ),
        # The same within the 1,000 characters the footer rules still read.
        "short-unclosed-quote.txt": (
            "Short newsletter news",
            'Subscribe to our newsletter and sign up today "' + ". " * 470,
        ),
        # Runs of ". ": the imperative check backtracked in quadratic time (16 KB took 21 s).
        "dot-runs.txt": (
            "Dotted news",
            "Sign up for our newsletter. " + ". " * 8000 + "Follow us on Twitter",
        ),
    }
    return {
        name: (title, f"{title}\n\n{body}\n".encode()) for name, (title, body) in shapes.items()
    }


def unclosed_paragraphs_page() -> bytes:
    """2.4 MB of ``<p>`` never closed: 300,000 paragraphs for an extractor (once 100 s+)."""
    return ("<html><body>" + "<p>word " * 300_000 + "</body></html>").encode()

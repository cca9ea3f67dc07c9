"""Helpers for tests that run real newsmill processes against real servers."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import func, select

from newsmill_schema import models
from newsmill_schema.blobs import store_blob
from newsmill_schema.db import Database

REDIS_HOST = "127.0.0.1"
REDIS_PORT = 6379
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

T = TypeVar("T")


def service_answers(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    """A TCP port nothing listens on at the moment."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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

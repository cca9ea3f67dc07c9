"""Attacks against the running embedded stack (``newsmill up``): each is refused with a reason.

An inbox writer plants links and odd names; a feed author serves bombs and
trickles; the services stay up, within their memory and time bounds, and the
good documents beside the hostile ones are stored.
"""

from __future__ import annotations

import gzip
import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import select

from bench.memory import RssSampler
from newsmill_ingest.feed_registry import FeedSpec, add_feed
from newsmill_schema import models
from newsmill_schema.db import Database
from newsmill_schema.settings import Settings
from tests.support import Process, TrickleServer, ebcdic_bomb, gzip_of_zeros, wait_for

DEADLINE_S = 30
INGEST_RSS_LIMIT_MB = 150


@dataclass
class Stack:
    """``newsmill up`` on a fresh data folder, with its settings and database."""

    settings: Settings
    db: Database
    process: Process
    env: dict[str, str]

    @property
    def data(self) -> Path:
        return self.settings.data_dir

    @property
    def inbox(self) -> Path:
        assert self.settings.inbox_dir
        return self.settings.inbox_dir

    @property
    def failed(self) -> Path:
        assert self.settings.failed_dir
        return self.settings.failed_dir

    def jobs(self) -> list[models.Job]:
        with self.db.session() as session:
            return list(session.execute(select(models.Job).order_by(models.Job.id)).scalars())

    def job(self, name: str) -> models.Job | None:
        return next((j for j in self.jobs() if j.name == name), None)

    def finished(self, name: str) -> models.Job | None:
        job = self.job(name)
        return job if job is not None and job.state in ("done", "duplicate", "failed") else None


Start = Callable[..., Stack]


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Start]:
    """Start ``newsmill up`` with extra ``NEWSMILL_*`` settings; stopped after the test."""
    started: list[Process] = []

    def _start(**settings: str) -> Stack:
        data = tmp_path / "data"
        env = {
            "NEWSMILL_DATA_DIR": str(data),
            "NEWSMILL_LOG_FORMAT": "text",
            "NEWSMILL_RESCAN_INTERVAL_S": "1",
            "NEWSMILL_SETTLE_SECONDS": "0.5",
            **{f"NEWSMILL_{k.upper()}": v for k, v in settings.items()},
        }
        process = Process(["up", "--data-dir", str(data)], env, tmp_path / "up.log")
        started.append(process)
        config = Settings(data_dir=data)
        wait_for(lambda: config.failed_dir and config.failed_dir.is_dir(), 30, what="the folders")
        wait_for(lambda: "ready" in process.output(), 60, what="the worker")
        return Stack(config, Database(config.database_url), process, env)

    yield _start
    for process in started:
        assert process.stop() == 0, process.output()[-3000:]


def _feed_error(stack: Stack, url: str) -> str | None:
    with stack.db.session() as session:
        feed = session.execute(select(models.Feed).where(models.Feed.url == url)).scalar_one()
        return feed.last_error


def _poll_hostile_feed(stack: Stack, url: str) -> tuple[str, float]:
    """Register ``url``, wait for the service's first poll to fail: its error, ingest's peak RSS."""
    pid = stack.process.popen.pid
    with RssSampler({"ingest": pid}, interval=0.02) as memory:
        add_feed(stack.db, FeedSpec(url, 3600, False), 3600)
        error = wait_for(lambda: _feed_error(stack, url), DEADLINE_S, what="the feed's error")
    # The ingest service is the `up` process itself; its worker children are not counted.
    return error, memory.peaks["ingest"][pid] / 2**20


def _drop(stack: Stack, name: str, data: bytes) -> None:
    """Write beside the inbox, then move in, as a careful producer does."""
    staging = stack.data / "staging"
    staging.mkdir(exist_ok=True)
    (staging / name).write_bytes(data)
    os.replace(staging / name, stack.inbox / name)


def _symlinks_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_symlink()]


def test_links_planted_in_the_inbox_cannot_make_newsmill_write_outside(
    start: Start, tmp_path: Path
) -> None:
    stack = start()
    outside = tmp_path / "outside.txt"
    outside.write_text("the operator's file")
    # Given links named as the failed copy of a JSON Lines record would be, pointing outside
    planted = ["evil.jsonl_line=2", *(f"evil.job{n}.jsonl_line=2" for n in range(10, 70))]
    for name in planted:
        (stack.inbox / name).symlink_to(outside)
    for name in planted:
        job = wait_for(lambda n=name: stack.finished(n), DEADLINE_S, what=f"the link {name}")
        assert job.state == "failed" and "symbolic link" in (job.error or ""), job.error

    # When a JSON Lines file whose second record fails is dropped
    good = {"title": "Harbour reopens", "body": "The harbour reopened on Monday after repairs."}
    _drop(stack, "evil.jsonl", (json.dumps(good) + '\n{"title": "no body here"}\n').encode())
    record = wait_for(
        lambda: (j := stack.job("evil.jsonl#line=2")) and j.failure_reported and j,
        DEADLINE_S,
        what="the failing record's report",
    )

    # Then the outside file is untouched, no link is kept anywhere, and the record's
    # bytes sit in a regular file of the failed folder beside its report
    assert outside.read_text() == "the operator's file"
    assert _symlinks_under(stack.data) == []
    reports = [json.loads(p.read_text()) for p in stack.failed.glob("*.error.json")]
    assert sum("symbolic link" in (r["reason"] or "") for r in reports) == len(planted)
    [copy] = [p for p in stack.failed.glob("evil*line=2") if p.is_file()]
    assert copy.read_bytes() == b'{"title": "no body here"}'
    assert record.error and "body" in record.error
    assert stack.process.alive


def test_a_name_too_long_to_claim_fails_alone_while_the_others_are_ingested(
    start: Start,
) -> None:
    stack = start()
    # Given twenty good files moved in at once with a 240-byte name and a name that is not UTF-8
    long_name = "l" * 236 + ".txt"
    staging = stack.data / "staging"
    staging.mkdir()
    goods = {
        f"good-{i:02d}.txt": f"Story {i} of the batch\n\nIt has a body, {i}." for i in range(20)
    }
    for name, text in goods.items():
        (staging / name).write_text(text)
    (staging / long_name).write_text("Long\n\nA good text under a name too long to claim.")
    odd = os.fsencode(staging) + b"/odd-\xff.txt"
    with open(odd, "wb") as handle:
        handle.write(b"Odd name\n\nA good text under a name that is not UTF-8.")
    for name in sorted(os.listdir(os.fsencode(staging))):
        os.replace(os.fsencode(staging) + b"/" + name, os.fsencode(stack.inbox) + b"/" + name)

    # Then the long name fails with its reason, kept in the failed folder with its report
    job = wait_for(lambda: stack.finished(long_name), DEADLINE_S, what="the long name's job")
    assert job.state == "failed" and "file name too long: 240 bytes" in (job.error or "")
    report = wait_for(lambda: next(stack.failed.glob("*.error.json"), None), 10, what="report")
    assert json.loads(report.read_text())["file"] == long_name
    copy = report.with_name(report.name.removesuffix(".error.json"))
    assert copy.read_text().startswith("Long")
    # and every other file is ingested
    for name in [*goods, "odd-\ufffd.txt"]:
        other = wait_for(lambda n=name: stack.finished(n), DEADLINE_S, what=name)
        assert other.state == "done", (name, other.error)
    assert os.listdir(stack.inbox) == [] and os.listdir(stack.data / "work") == []
    assert "Traceback" not in stack.process.output()


def test_a_stacked_gzip_response_is_refused_with_ingest_memory_bounded(
    start: Start, httpserver: HTTPServer
) -> None:
    stack = start(allow_private_addresses="true")
    # Given a feed server answering with 800 MB of zeros gzipped twice, under 2 KB on the wire
    bomb = gzip.compress(gzip_of_zeros(800 * 2**20))
    httpserver.expect_request("/bomb.rss").respond_with_data(
        bomb, content_type="application/rss+xml", headers={"Content-Encoding": "gzip, gzip"}
    )

    error, peak_mb = _poll_hostile_feed(stack, httpserver.url_for("/bomb.rss"))

    assert "stacked Content-Encoding 'gzip, gzip' refused" in error
    assert peak_mb < INGEST_RSS_LIMIT_MB, f"ingest peaked at {peak_mb:.0f} MB"
    assert stack.process.alive


def test_an_entity_bomb_in_ebcdic_is_refused_with_ingest_memory_bounded(
    start: Start, httpserver: HTTPServer
) -> None:
    stack = start(allow_private_addresses="true")
    # Given a 1 MB feed in EBCDIC whose entities expand to a 100 MB entry
    httpserver.expect_request("/ebcdic.rss").respond_with_data(
        ebcdic_bomb(), content_type="application/rss+xml"
    )

    error, peak_mb = _poll_hostile_feed(stack, httpserver.url_for("/ebcdic.rss"))

    assert "XML entity declarations (<!ENTITY) are refused" in error
    assert peak_mb < INGEST_RSS_LIMIT_MB, f"ingest peaked at {peak_mb:.0f} MB"
    assert stack.jobs() == [] and stack.process.alive


def test_a_feed_trickling_its_headers_is_cut_at_the_whole_fetch_deadline(start: Start) -> None:
    stack = start(allow_private_addresses="true", feed_total_timeout_s="5")
    # Given a feed server sending one header line every 1.5 s (each well within the read timeout)
    server = TrickleServer(every=1.5)
    try:
        error, _ = _poll_hostile_feed(stack, server.url)
        wait_for(lambda: server.stays, 5, what="the server to see the poller go")
    finally:
        server.close()

    # Then the poll failed at feed_total_timeout_s, and the connection lasted no longer than that + 1 s
    assert error == "too slow: no complete response after 5s"
    assert server.stays[0] < 6, f"connection held {server.stays[0]:.1f}s"


def _cli(stack: Stack, *args: str) -> str:
    """A ``newsmill`` command run as a user would, its output as the terminal would get it."""
    done = subprocess.run(
        [sys.executable, "-m", "newsmill_ingest", *args, "--data-dir", str(stack.data)],
        env={**os.environ, **stack.env, "COLUMNS": "400"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_markup_and_control_characters_render_literally_in_every_table(
    start: Start, httpserver: HTTPServer
) -> None:
    stack = start(allow_private_addresses="true")
    # Given a feed titled with rich markup, whose entry title is markup too
    httpserver.expect_request("/evil.rss").respond_with_data(
        b'<rss version="2.0"><channel><title>Evil [/x] feed</title>'
        b"<item><guid>1</guid><title>[/x] [bold]Entry</title>"
        b"<description>A body for the entry with markup in its title.</description></item>"
        b"</channel></rss>",
        content_type="application/rss+xml",
    )
    add_feed(stack.db, FeedSpec(httpserver.url_for("/evil.rss"), 3600, False), 3600)
    # and files named with a newline, ANSI escapes and markup, one of them empty
    painted = "evil\n12:00:00 INFO forged \x1b[31mred\x1b[0m.txt"
    _drop(stack, painted, b"Painted name\n\nA body under a name that paints the terminal.")
    _drop(stack, "empty [red]oops.txt", b"")
    for name in (painted, "empty [red]oops.txt"):
        wait_for(lambda n=name: stack.finished(n), DEADLINE_S, what=name)
    wait_for(
        lambda: any(j.source_kind == "feed" and j.state == "done" for j in stack.jobs()),
        DEADLINE_S,
        what="the feed entry's article",
    )
    entry_article = next(j.article_id for j in stack.jobs() if j.source_kind == "feed")
    escaped_name = "evil\\n12:00:00 INFO forged \\x1b[31mred\\x1b[0m.txt"

    outputs = {
        "status": _cli(stack, "status"),
        "feeds list": _cli(stack, "feeds", "list"),
        "docs list": _cli(stack, "docs", "list"),
        "docs show": _cli(stack, "docs", "show", str(entry_article)),
        "jobs list": _cli(stack, "jobs", "list"),
    }

    # Then every command ran, and nothing reached the terminal as markup or as a control code
    for command, out in outputs.items():
        assert "\x1b" not in out, command
    assert "Evil [/x] feed" in outputs["status"] and "empty [red]oops.txt" in outputs["status"]
    assert "Evil [/x] feed" in outputs["feeds list"]
    assert "[/x] [bold]Entry" in outputs["docs list"] and escaped_name in outputs["docs list"]
    assert json.loads(outputs["docs show"])["title"] == "[/x] [bold]Entry"
    assert escaped_name in outputs["jobs list"] and "empty [red]oops.txt" in outputs["jobs list"]
    # and the service's own log shows the name on one line, escaped
    log = stack.process.output()
    assert "\x1b" not in log and "forged" not in log.replace(escaped_name, "")


def test_what_newsmill_creates_is_its_users_alone(start: Start) -> None:
    stack = start()
    _drop(stack, "empty.txt", b"")
    report = wait_for(
        lambda: next(stack.failed.glob("empty*.error.json"), None), DEADLINE_S, what="a report"
    )

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    folders = [stack.data, *(stack.data / f for f in ("inbox", "archive", "failed", "work"))]
    assert {f.name: mode(f) for f in folders} == {f.name: 0o700 for f in folders}
    assert mode(stack.data / "broker") == 0o700
    database = [p for p in stack.data.iterdir() if p.name.startswith("newsmill.db")]
    assert database and {p.name: mode(p) for p in database} == {p.name: 0o600 for p in database}
    # (the failed copy is the dropped file itself, moved: it keeps its own mode, in a 0700 folder)
    assert mode(report) == 0o600


def test_metrics_listen_on_loopback_by_default(start: Start, free_port: int) -> None:
    stack = start(metrics_port=str(free_port))

    def listening() -> list[str]:
        connections = psutil.Process(stack.process.popen.pid).net_connections(kind="tcp")
        return [
            c.laddr.ip
            for c in connections
            if c.status == psutil.CONN_LISTEN and c.laddr.port == free_port
        ]

    assert wait_for(listening, 10, what="the metrics endpoint") == ["127.0.0.1"]


def test_an_inbox_writer_cannot_plant_links_or_make_workers_fetch(
    start: Start, httpserver: HTTPServer, tmp_path: Path
) -> None:
    stack = start(allow_private_addresses="true")
    httpserver.expect_request("/internal").respond_with_data("<html><p>internal</p></html>")
    # Given a record asking, as a feed entry would, for its page to be fetched, with a script link
    record = {
        "title": "Dropped record",
        "body": "A paragraph the record carries itself, long enough to be an article.",
        "url": "javascript:alert(document.cookie)",
        "link": httpserver.url_for("/internal"),
        "fetch_full_text": True,
    }
    _drop(stack, "record.json", json.dumps(record).encode())
    # and a hard link to a file the writer could not otherwise hand over
    private = tmp_path / "private.txt"
    private.write_text("Private\n\nThe operator's own notes.")
    os.link(private, stack.inbox / "linked.txt")

    job = wait_for(lambda: stack.finished("record.json"), DEADLINE_S, what="the record")
    linked = wait_for(lambda: stack.finished("linked.txt"), DEADLINE_S, what="the hard link")

    # Then nothing was fetched and the script link was not kept
    assert job.state == "done" and httpserver.log == []
    with stack.db.session() as session:
        article = session.get(models.Article, job.article_id)
        assert article is not None and article.url is None
        assert "carries itself" in article.body
    # and the hard link was refused, its inbox name deleted, the file itself untouched
    assert linked.state == "failed" and "hard-linked" in (linked.error or "")
    assert private.stat().st_nlink == 1 and private.read_text().startswith("Private")
    assert not (stack.failed / "linked.txt").exists()

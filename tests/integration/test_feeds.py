"""Feeds over real HTTP (a local server) into a real database, and end to end with a worker."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from werkzeug import Request, Response

from newsmill_ingest.feed_registry import FeedSpec, add_feed, list_feeds
from newsmill_ingest.feeds import FeedPoller
from newsmill_ingest.fetch import Fetcher, FetchError, FetchPolicy
from newsmill_ingest.publisher import Publisher
from newsmill_schema import models
from newsmill_schema.db import Database
from newsmill_schema.messages import FULL_TEXT_FIELD
from newsmill_schema.settings import Settings
from newsmill_worker.processor import Processor
from tests.support import Process, article_count, quadratic_bomb, queue_document, wait_for

FEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
GUARDIAN = (FEEDS / "guardian.rss").read_bytes()
ETAG = '"guardian-v1"'


@dataclass
class FeedServer:
    """Serves one feed path whose behaviour a test switches: ok, fail, slow, limit, bomb."""

    server: HTTPServer
    body: bytes = GUARDIAN
    mode: str = "ok"
    etag: str | None = ETAG
    requests: list[dict[str, str]] = field(default_factory=list)
    slow_done: int = 0

    def url(self, path: str = "/feed.rss") -> str:
        return self.server.url_for(path)

    def handle(self, request: Request) -> Response:
        self.requests.append(dict(request.headers))
        if self.mode == "fail":
            return Response("boom", status=500)
        if self.mode == "limit":
            return Response("slow down", status=429, headers={"Retry-After": "120"})
        if self.mode == "slow":
            time.sleep(2)
            self.slow_done += 1
        if self.mode == "bomb":
            return Response(quadratic_bomb(), content_type="application/rss+xml")
        if self.etag and request.headers.get("If-None-Match") == self.etag:
            return Response(status=304, headers={"ETag": self.etag})
        headers = {"ETag": self.etag} if self.etag else {}
        return Response(
            self.body, content_type="application/rss+xml; charset=utf-8", headers=headers
        )


@pytest.fixture
def feed_server(httpserver: HTTPServer) -> FeedServer:
    served = FeedServer(httpserver)
    httpserver.expect_request("/feed.rss").respond_with_handler(served.handle)
    return served


def _settings(data: Path, database_url: str, **extra: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": data,
        "database_url": database_url,
        "allow_private_addresses": True,
        "feed_min_interval_s": 1,
        "feed_jitter": 0.0,
        "feed_backoff_base_s": 60,
        "feed_read_timeout_s": 0.5,
        "feed_total_timeout_s": 3,
        **extra,
    }
    return Settings(**values)


@dataclass
class Stack:
    settings: Settings
    db: Database
    poller: FeedPoller


@pytest.fixture
def stack(tmp_path: Path, database_url: str) -> Iterator[Stack]:
    settings = _settings(tmp_path / "data", database_url)
    db = Database(database_url)
    db.upgrade()
    publisher = Publisher(settings, db)
    poller = FeedPoller(settings, db, publisher)
    yield Stack(settings, db, poller)
    poller.close()
    publisher.close()
    db.dispose()


def _count(db: Database, model: type[models.Base], **where: object) -> int:
    query = select(func.count()).select_from(model)
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    with db.session() as session:
        return int(session.scalar(query) or 0)


def _feed(db: Database, url: str) -> models.Feed:
    with db.session() as session:
        feed = session.execute(select(models.Feed).where(models.Feed.url == url)).scalar_one()
        session.expunge(feed)
        return feed


def test_guardian_yields_55_queued_jobs_then_304_enqueues_nothing(
    stack: Stack, feed_server: FeedServer
) -> None:
    # Given the Guardian feed registered
    url = feed_server.url()
    add_feed(stack.db, FeedSpec(url), 900)
    # When it is polled
    [first] = stack.poller.poll_now(url)
    # Then its 55 entries are 55 queued feed jobs, each with its stored raw record
    assert (first.kind, first.new_entries) == ("ok", 55)
    assert _count(stack.db, models.Job, source_kind="feed", state="queued") == 55
    assert _count(stack.db, models.FeedEntry) == 55
    with stack.db.session() as session:
        job = session.execute(select(models.Job).limit(1)).scalar_one()
        record = json.loads(session.get(models.Blob, job.blob_sha256).data)
        assert job.feed_id is not None and job.enqueued_at is not None
        assert job.source_uri == record["link"]
    assert feed_server.requests[0]["User-Agent"].startswith("newsmill/")
    # When it is polled again, the stored ETag is sent and the server answers 304
    [second] = stack.poller.poll_now(url)
    assert feed_server.requests[-1].get("If-None-Match") == ETAG
    assert (second.kind, second.status, second.new_entries) == ("not_modified", 304, 0)
    assert _count(stack.db, models.Job) == 55
    # And without validators, the same entries are recognised and not enqueued again
    feed_server.etag = None
    [third] = stack.poller.poll_now(url)
    assert (third.kind, third.new_entries, third.changed_entries) == ("ok", 0, 0)
    assert _count(stack.db, models.Job) == 55
    assert _feed(stack.db, url).entries_seen == 55


def test_an_entry_larger_than_a_document_may_be_fails_alone(
    tmp_path: Path, database_url: str, feed_server: FeedServer
) -> None:
    settings = _settings(tmp_path / "data", database_url, max_document_bytes=4000)
    db = Database(database_url)
    db.upgrade()
    publisher = Publisher(settings, db)
    poller = FeedPoller(settings, db, publisher)
    items = "".join(
        f"<item><guid>g{i}</guid><title>Entry {i}</title><description>{'word ' * n}</description>"
        "</item>"
        for i, n in enumerate([50, 2000, 50])
    )
    feed_server.body = (
        f'<rss version="2.0"><channel><title>F</title>{items}</channel></rss>'.encode()
    )
    url = feed_server.url()
    add_feed(db, FeedSpec(url), 900)
    try:
        [report] = poller.poll_now(url)
    finally:
        poller.close()
        publisher.close()

    assert (report.kind, report.new_entries) == ("ok", 3)
    with db.session() as session:
        jobs = session.execute(select(models.Job).order_by(models.Job.id)).scalars().all()
        assert [j.state for j in jobs] == ["queued", "failed", "queued"]
        assert jobs[1].blob_sha256 is None and jobs[1].enqueued_at is None
        assert (jobs[1].error or "").startswith("feed entry too large: ")
        assert (jobs[1].error or "").endswith(" bytes > limit 4000")
    db.dispose()


def test_failures_back_off_exponentially_and_recovery_resets(
    stack: Stack, feed_server: FeedServer
) -> None:
    url = feed_server.url()
    add_feed(stack.db, FeedSpec(url), 900)
    # Given a server answering 500
    feed_server.mode = "fail"
    delays = [stack.poller.poll_now(url)[0].next_poll_in_s for _ in range(4)]
    # Then each failure doubles the wait, and the feed shows why
    assert delays == pytest.approx([60, 120, 240, 480], abs=1)
    view = next(v for v in list_feeds(stack.db) if v.url == url)
    assert view.consecutive_errors == 4 and view.last_error == "HTTP 500"
    assert view.last_success_at is None and not view.healthy
    # When the server answers 429 with Retry-After, the wait is at least that long
    feed_server.mode = "limit"
    [limited] = stack.poller.poll_now(url)
    assert "429" in (limited.error or "") and limited.next_poll_in_s >= 960
    # When it recovers, the next poll succeeds and the backoff is forgotten
    feed_server.mode = "ok"
    [recovered] = stack.poller.poll_now(url)
    assert (recovered.kind, recovered.new_entries) == ("ok", 55)
    assert _feed(stack.db, url).consecutive_errors == 0


def test_entity_bomb_is_refused_quickly_and_recorded(stack: Stack, feed_server: FeedServer) -> None:
    url = feed_server.url()
    add_feed(stack.db, FeedSpec(url), 900)
    feed_server.mode = "bomb"
    started = time.monotonic()
    [report] = stack.poller.poll_now(url)
    assert time.monotonic() - started < 2
    assert report.kind == "error" and "ENTITY" in (report.error or "")
    assert _count(stack.db, models.Job) == 0


def test_slow_server_times_out(stack: Stack, feed_server: FeedServer) -> None:
    url = feed_server.url()
    add_feed(stack.db, FeedSpec(url), 900)
    feed_server.mode = "slow"
    started = time.monotonic()
    [report] = stack.poller.poll_now(url)
    assert time.monotonic() - started < 1.9
    assert report.kind == "error" and "timed out" in (report.error or "")
    # the test server answers one request at a time: let the slow one finish
    wait_for(lambda: feed_server.slow_done == 1, 5)


def test_changed_entry_updates_its_article_in_place(
    stack: Stack, feed_server: FeedServer, tmp_path: Path
) -> None:
    url = feed_server.url()
    feed_server.etag = None
    feed_server.body = (FEEDS / "heise.atom").read_bytes()
    add_feed(stack.db, FeedSpec(url), 900)
    processor = Processor(stack.settings, stack.db)

    def process_queued() -> None:
        with stack.db.session() as session:
            ids = session.scalars(select(models.Job.id).where(models.Job.state == "queued")).all()
        for job_id in ids:
            processor.process(job_id)

    stack.poller.poll_now(url)
    process_queued()
    articles = article_count(stack.db)
    assert articles == 15
    with stack.db.session() as session:
        entry = session.execute(select(models.FeedEntry).limit(1)).scalar_one()
        article_id = entry.article_id
        assert article_id is not None
        old = session.get(models.Article, article_id)
        assert old is not None
        old_title = old.title
    # When the feed changes one entry's text
    feed_server.body = feed_server.body.replace(
        b"Die nun verf\xc3\xbcgbare Version 10", b"Die seit heute verf\xc3\xbcgbare Version 10", 2
    )
    [report] = stack.poller.poll_now(url)
    assert (report.new_entries, report.changed_entries) == (0, 1)
    process_queued()
    # Then the same article row carries the new text, and no article was added
    assert article_count(stack.db) == articles
    with stack.db.session() as session:
        updated = session.get(models.Article, article_id)
        assert updated is not None and "seit heute" in updated.body
        assert updated.title == old_title
        sources = session.scalar(
            select(func.count()).where(models.ArticleSource.article_id == article_id)
        )
        assert sources == 2


def test_full_text_fetches_the_page_and_falls_back_to_the_feed(
    stack: Stack, httpserver: HTTPServer
) -> None:
    paragraph = "The full story continues with many more details about the event. " * 6
    page = (
        "<html><head><title>Full</title></head><body><article><h1>Full story</h1>"
        + "".join(f"<p>{paragraph} Part {n}.</p>" for n in range(8))
        + "</article></body></html>"
    )
    httpserver.expect_request("/story/1").respond_with_data(page, content_type="text/html")
    httpserver.expect_request("/story/2").respond_with_data("gone", status=500)
    items = "".join(
        f"<item><title>Story {n}</title><link>{httpserver.url_for(f'/story/{n}')}</link>"
        f"<guid>story-{n}</guid>"
        f"<description>Only a short teaser for story {n}.</description></item>"
        for n in (1, 2)
    )
    feed = f'<rss version="2.0"><channel><title>Teasers</title>{items}</channel></rss>'
    httpserver.expect_request("/teasers.rss").respond_with_data(
        feed, content_type="application/rss+xml"
    )
    url = httpserver.url_for("/teasers.rss")
    add_feed(stack.db, FeedSpec(url, full_text=True), 900)
    stack.poller.poll_now(url)
    processor = Processor(stack.settings, stack.db)
    with stack.db.session() as session:
        ids = session.scalars(select(models.Job.id).order_by(models.Job.id)).all()
    assert [processor.process(i) for i in ids] == ["done", "done"]
    with stack.db.session() as session:
        rows = {a.title: a for a in session.scalars(select(models.Article))}
    assert "Part 7" in rows["Story 1"].body and rows["Story 1"].word_count > 300
    assert rows["Story 2"].body == "Only a short teaser for story 2."


def test_a_dropped_file_asking_for_full_text_is_not_fetched(
    stack: Stack, httpserver: HTTPServer
) -> None:
    # Given a JSON file from the inbox (not a feed entry) flagged as a feed entry would be
    page = httpserver.url_for("/internal-page")
    httpserver.expect_request("/internal-page").respond_with_data("<html>secret</html>")
    record = {
        "title": "Dropped",
        "content": "A paragraph that the dropped file carries itself, long enough to keep.",
        "link": page,
        FULL_TEXT_FIELD: True,
    }
    job_id = queue_document(stack.db, "dropped.json", json.dumps(record))

    # When a worker processes it, Then nothing is fetched and its own text is the article
    assert Processor(stack.settings, stack.db).process(job_id) == "done"
    assert httpserver.log == []
    with stack.db.session() as session:
        article = session.execute(select(models.Article)).scalar_one()
        assert "carries itself" in article.body and article.url == page


def test_fetcher_caps_redirects_sizes_and_refuses_private_addresses(httpserver: HTTPServer) -> None:
    for n in range(4):
        httpserver.expect_request(f"/hop{n}").respond_with_data(
            "", status=302, headers={"Location": f"/hop{n + 1}"}
        )
    httpserver.expect_request("/hop4").respond_with_data("arrived")
    httpserver.expect_request("/ftp").respond_with_data(
        "", status=301, headers={"Location": "ftp://example.com/feed"}
    )
    httpserver.expect_request("/big").respond_with_data(b"x" * 5000)
    policy = FetchPolicy(user_agent="test", max_redirects=4, max_bytes=4000, allow_private=True)
    fetcher = Fetcher(policy)
    try:
        assert fetcher.get(httpserver.url_for("/hop0")).body == b"arrived"
        with pytest.raises(FetchError, match="more than 3 redirects"):
            Fetcher(FetchPolicy("test", max_redirects=3, allow_private=True)).get(
                httpserver.url_for("/hop0")
            )
        with pytest.raises(FetchError, match="only http and https"):
            fetcher.get(httpserver.url_for("/ftp"))
        with pytest.raises(FetchError, match="too large"):
            fetcher.get(httpserver.url_for("/big"))
    finally:
        fetcher.close()
    strict = Fetcher(FetchPolicy(user_agent="test"))
    with pytest.raises(FetchError, match="loopback"):
        strict.get(httpserver.url_for("/hop4"))


# --- End to end: `newsmill up` with a feeds file, a real worker, a server that fails --------


def _articles(db: Database) -> int:
    try:
        return article_count(db)
    except DBAPIError:  # the service has not created the schema yet
        return -1


def _failure_delays(process: Process) -> list[int]:
    """The next-poll delays the service logged after each failed poll, in order."""
    return [int(m) for m in re.findall(r"failed: HTTP 500; next poll in (\d+)s", process.output())]


def _feeds_list(env: dict[str, str]) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-m", "newsmill_ingest", "feeds", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[0])


def test_embedded_service_polls_guardian_into_55_articles_and_survives_failures(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    import os

    data = tmp_path / "data"
    feeds_file = tmp_path / "feeds.toml"
    feeds_file.write_text(f'[[feeds]]\nurl = "{feed_server.url()}"\ninterval = "1s"\n')
    env = {
        **os.environ,
        "NEWSMILL_DATA_DIR": str(data),
        "NEWSMILL_LOG_FORMAT": "text",
        "NEWSMILL_FEEDS_FILE": str(feeds_file),
        "NEWSMILL_ALLOW_PRIVATE_ADDRESSES": "true",
        "NEWSMILL_FEED_MIN_INTERVAL_S": "1",
        "NEWSMILL_FEED_BACKOFF_BASE_S": "1",
        "NEWSMILL_FEED_BACKOFF_CAP_S": "4",
        "NEWSMILL_FEED_JITTER": "0",
        "NEWSMILL_FEED_CHECK_INTERVAL_S": "0.2",
    }
    process = Process(["up"], env, tmp_path / "up.log")
    db = Database(Settings(data_dir=data).database_url)
    try:
        # Given the Guardian in the feeds file, 55 articles arrive with no one touching anything
        wait_for(lambda: _articles(db) == 55, 90, interval=0.5, what="55 Guardian articles")
        # and later polls get 304
        wait_for(lambda: any(r.get("If-None-Match") == ETAG for r in feed_server.requests), 20)
        # When the server starts failing, the feed shows the error and waits longer each time
        feed_server.mode = "fail"
        wait_for(
            lambda: len(_failure_delays(process)) >= 4,
            60,
            interval=0.3,
            what="four failures in a row",
        )
        view = _feeds_list(env)
        assert view["last_error"] == "HTTP 500" and int(view["consecutive_errors"]) >= 4  # type: ignore[call-overload]
        delays = _failure_delays(process)
        print("backoff delays seen (s):", delays)
        assert delays[:4] == [1, 2, 4, 4]  # doubling, then the cap
        # When it recovers, the feed is polled again by itself and is healthy
        feed_server.mode = "ok"
        wait_for(
            lambda: _feeds_list(env)["consecutive_errors"] == 0,
            30,
            interval=0.5,
            what="the feed to recover",
        )
        # When it serves an entity bomb, the poll is refused and the service keeps running
        feed_server.mode = "bomb"
        wait_for(lambda: "ENTITY" in str(_feeds_list(env)["last_error"] or ""), 30, interval=0.5)
        assert process.alive, process.output()[-3000:]
        assert article_count(db) == 55
    finally:
        db.dispose()
        assert process.stop() == 0, process.output()[-3000:]

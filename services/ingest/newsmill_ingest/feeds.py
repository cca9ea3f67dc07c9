"""Feeds: poll RSS/Atom feeds politely, record what they bring, never give up on one.

``FeedPoller`` claims due feeds (a lease in the database, so two pollers never
take the same feed), fetches them with httpx on a few threads, and records each
poll in ONE transaction (raw entry bytes, ``queued`` jobs, ``feed_entries``
rows, the feed's health) before publishing.

An entry already seen is never enqueued again; an entry whose content changed
is, and the worker updates the article that entry produced in place. When to
poll is ``feed_schedule``, what an entry is ``feed_entries``, the list of feeds
``feed_registry``.
"""

from __future__ import annotations

import logging
import random
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from newsmill_ingest.feed_entries import ERROR_LENGTH, Entry, FeedError, ParsedFeed, parse_feed
from newsmill_ingest.feed_registry import load_feeds_file
from newsmill_ingest.feed_schedule import (
    Schedule,
    cache_seconds,
    error_delay,
    jittered,
    retry_after_seconds,
    success_delay,
)
from newsmill_ingest.fetch import Fetched, Fetcher, FetchError, FetchPolicy
from newsmill_ingest.publisher import Publisher
from newsmill_schema import jobs, models
from newsmill_schema.blobs import store_blob
from newsmill_schema.db import Database
from newsmill_schema.messages import JobState, ProcessDocument
from newsmill_schema.models import utcnow
from newsmill_schema.settings import Settings

log = logging.getLogger(__name__)

_RETRY_STATUSES = (429, 503)
_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)


# --- One poll's outcome ---------------------------------------------------------------------


@dataclass(frozen=True)
class FeedTarget:
    """What a poll needs to know of a feed, read when it was claimed."""

    id: int
    url: str
    etag: str | None
    last_modified: str | None
    full_text: bool


@dataclass
class PollResult:
    """What one poll found: new content, nothing new, or an error."""

    kind: Literal["ok", "not_modified", "error"]
    status: int | None = None
    error: str | None = None
    feed: ParsedFeed | None = None
    etag: str | None = None
    last_modified: str | None = None
    hints: list[float | None] = field(default_factory=list)
    retry_after_s: float | None = None


def conditional_headers(target: FeedTarget) -> dict[str, str]:
    """Accept, plus If-None-Match / If-Modified-Since from the stored validators."""
    headers = {"Accept": _ACCEPT}
    if target.etag:
        headers["If-None-Match"] = target.etag
    if target.last_modified:
        headers["If-Modified-Since"] = target.last_modified
    return headers


def interpret(
    response: Fetched,
    target: FeedTarget,
    now: datetime,
    max_entries: int,
    max_entry_bytes: int = 20 * 1024 * 1024,
) -> PollResult:
    """Turn an HTTP response into a PollResult (no I/O)."""
    headers = response.headers
    cache = cache_seconds(headers, now)
    if response.status == 304:
        return PollResult(
            "not_modified",
            status=304,
            etag=headers.get("etag") or target.etag,
            last_modified=headers.get("last-modified") or target.last_modified,
            hints=[cache],
        )
    if response.status >= 400:
        retry = retry_after_seconds(headers.get("retry-after"), now)
        reason = f"HTTP {response.status}" + (
            f" (Retry-After {retry:g}s)" if retry is not None else ""
        )
        return PollResult(
            "error",
            status=response.status,
            error=reason,
            retry_after_s=retry if response.status in _RETRY_STATUSES else None,
        )
    if response.status != 200:
        return PollResult(
            "error", status=response.status, error=f"unexpected HTTP {response.status}"
        )
    try:
        feed = parse_feed(
            response.body,
            response.url,
            headers.get("content-type", ""),
            target.full_text,
            max_entries,
            max_entry_bytes,
        )
    except FeedError as exc:
        return PollResult("error", status=200, error=exc.reason)
    return PollResult(
        "ok",
        status=200,
        feed=feed,
        etag=headers.get("etag"),
        last_modified=headers.get("last-modified"),
        hints=[cache, feed.ttl_s],
    )


def fetch_and_parse(
    fetcher: Fetcher, target: FeedTarget, max_entries: int, max_entry_bytes: int
) -> PollResult:
    """Fetch a feed and interpret the response; every failure becomes an error result."""
    try:
        response = fetcher.get(target.url, conditional_headers(target))
        return interpret(response, target, utcnow(), max_entries, max_entry_bytes)
    except FetchError as exc:
        return PollResult("error", error=exc.reason[:ERROR_LENGTH])
    except Exception as exc:  # one odd feed must never stop the poller
        log.exception("unexpected error polling %s", target.url)
        return PollResult(
            "error", error=f"internal error: {exc.__class__.__name__}: {exc}"[:ERROR_LENGTH]
        )


# --- Polling --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PollReport:
    """What one poll did, for logs and ``feeds poll``."""

    feed_id: int
    url: str
    kind: str
    status: int | None
    new_entries: int
    changed_entries: int
    error: str | None
    next_poll_in_s: float


class FeedPoller:
    """Polls due feeds for the ingest service, a few at a time, never blocking its loop.

    ``tick`` is called from the service loop: it records the polls that
    finished (database and publishing stay on the service thread), then claims
    due feeds and hands their fetches to a small thread pool.
    """

    def __init__(
        self,
        settings: Settings,
        db: Database,
        publisher: Publisher,
        fetcher: Fetcher | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.publisher = publisher
        self.fetcher = fetcher or Fetcher(FetchPolicy.from_settings(settings))
        self.schedule = Schedule.from_settings(settings)
        self.rng = rng or random.Random()
        self.lease = timedelta(seconds=settings.feed_total_timeout_s * 2 + 60)
        self._pool = ThreadPoolExecutor(settings.feed_fetch_concurrency, thread_name_prefix="feed")
        self._in_flight: dict[int, Future[PollResult]] = {}
        self._targets: dict[int, FeedTarget] = {}
        self._file_loaded = False

    def tick(self) -> list[PollReport]:
        """Record finished polls, then start polls of due feeds."""
        self._load_file_once()
        reports = self._collect()
        free = self.settings.feed_fetch_concurrency - len(self._in_flight)
        for target in self.claim_due(free):
            self._targets[target.id] = target
            self._in_flight[target.id] = self._pool.submit(self._fetch, target)
        return reports

    def poll_now(self, url: str | None = None) -> list[PollReport]:
        """Poll one feed (or all) right away, whatever their schedule; blocks until done."""
        targets = self.claim(url=url, due_only=False, limit=None)
        futures = [(t, self._pool.submit(self._fetch, t)) for t in targets]
        return [self.record(t, f.result()) for t, f in futures]

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.fetcher.close()

    def claim_due(self, limit: int) -> list[FeedTarget]:
        if limit <= 0:
            return []
        return self.claim(url=None, due_only=True, limit=limit)

    def claim(self, url: str | None, due_only: bool, limit: int | None) -> list[FeedTarget]:
        """Lease feeds for polling: push their next poll past the lease so no one else takes them.

        A poller that dies mid-poll loses nothing: the lease runs out and the
        feed is due again.
        """
        now = utcnow()
        query = select(models.Feed).order_by(models.Feed.next_poll_at)
        if due_only:
            query = query.where(models.Feed.next_poll_at <= now)
        if url is not None:
            query = query.where(models.Feed.url == url)
        if self._in_flight:
            query = query.where(models.Feed.id.not_in(list(self._in_flight)))
        if limit is not None:
            query = query.limit(limit)
        claimed = []
        with self.db.session() as session:
            for feed in session.execute(query).scalars().all():
                taken = cast(
                    CursorResult[Any],
                    session.execute(
                        update(models.Feed)
                        .where(
                            models.Feed.id == feed.id, models.Feed.next_poll_at == feed.next_poll_at
                        )
                        .values(next_poll_at=now + self.lease)
                        .execution_options(synchronize_session=False)
                    ),
                )
                if taken.rowcount == 1:
                    claimed.append(
                        FeedTarget(feed.id, feed.url, feed.etag, feed.last_modified, feed.full_text)
                    )
        return claimed

    def _fetch(self, target: FeedTarget) -> PollResult:
        # An entry's record is a document: no larger than any document may be.
        return fetch_and_parse(
            self.fetcher,
            target,
            self.settings.max_records_per_file,
            self.settings.max_document_bytes,
        )

    def _collect(self) -> list[PollReport]:
        reports = []
        for feed_id, future in list(self._in_flight.items()):
            if not future.done():
                continue
            del self._in_flight[feed_id]
            reports.append(self.record(self._targets.pop(feed_id), future.result()))
        return reports

    def _load_file_once(self) -> None:
        if self._file_loaded or self.settings.feeds_file is None:
            return
        self._file_loaded = True
        try:
            views = load_feeds_file(
                self.db, self.settings.feeds_file, self.settings.feed_default_interval_s
            )
        except FeedError as exc:
            log.error("feeds file ignored: %s", exc.reason)
            return
        log.info("feeds file %s: %d feed(s) registered", self.settings.feeds_file, len(views))

    def record(self, target: FeedTarget, result: PollResult) -> PollReport:
        """Store one poll's outcome in one transaction, then publish its new jobs."""
        with self.db.session() as session:
            report, messages = record_poll(
                session, target, result, utcnow(), self.schedule, self.rng
            )
        if messages:
            self.publisher.publish(messages)
        _log_report(report, result)
        return report


def record_poll(
    session: Session,
    target: FeedTarget,
    result: PollResult,
    now: datetime,
    schedule: Schedule,
    rng: random.Random,
) -> tuple[PollReport, list[ProcessDocument]]:
    """Apply a poll to the feed's row and record its new or changed entries as queued jobs."""
    feed = session.get(models.Feed, target.id, with_for_update=True)
    if feed is None:  # removed while it was being fetched
        return PollReport(target.id, target.url, "removed", result.status, 0, 0, None, 0.0), []
    feed.last_polled_at = now
    feed.last_status = result.status
    if result.kind == "error":
        delay = _record_error(feed, result, now, schedule)
        messages: list[ProcessDocument] = []
        new = changed = 0
    else:
        new, changed, messages = _record_entries(session, feed, result.feed)
        delay = success_delay(feed.interval_s, result.hints, schedule)
        _record_success(feed, result, now)
    feed.next_poll_at = now + timedelta(seconds=jittered(delay, schedule.jitter, rng))
    report = PollReport(
        feed.id,
        feed.url,
        result.kind,
        result.status,
        new,
        changed,
        result.error,
        round((feed.next_poll_at - now).total_seconds(), 1),
    )
    return report, messages


def _record_error(
    feed: models.Feed, result: PollResult, now: datetime, schedule: Schedule
) -> float:
    feed.consecutive_errors += 1
    feed.last_error = result.error
    feed.last_error_at = now
    return error_delay(feed.consecutive_errors, result.retry_after_s, schedule)


def _record_success(feed: models.Feed, result: PollResult, now: datetime) -> None:
    feed.consecutive_errors = 0
    feed.last_success_at = now
    feed.etag = result.etag
    feed.last_modified = result.last_modified
    if result.feed is not None and result.feed.title:
        feed.title = result.feed.title


def _record_entries(
    session: Session, feed: models.Feed, parsed: ParsedFeed | None
) -> tuple[int, int, list[ProcessDocument]]:
    if parsed is None or not parsed.entries:
        return 0, 0, []
    identities = [e.identity for e in parsed.entries]
    known = {
        row.identity: row
        for row in session.execute(
            select(models.FeedEntry).where(
                models.FeedEntry.feed_id == feed.id, models.FeedEntry.identity.in_(identities)
            )
        ).scalars()
    }
    messages, new, changed = [], 0, 0
    for entry in parsed.entries:
        seen = known.get(entry.identity)
        if seen is not None and seen.content_hash == entry.content_hash:
            continue
        job = _queue_job(session, feed, entry)
        if seen is None:
            session.add(
                models.FeedEntry(
                    feed_id=feed.id,
                    identity=entry.identity,
                    content_hash=entry.content_hash,
                    job_id=job.id,
                )
            )
            new += 1
        else:
            # The worker finds this row by the job id and updates seen.article_id in place.
            seen.content_hash, seen.job_id, seen.updated_at = entry.content_hash, job.id, utcnow()
            changed += 1
        if job.state == JobState.QUEUED:
            messages.append(jobs.message(job))
    feed.entries_seen += new
    return new, changed, messages


def _queue_job(session: Session, feed: models.Feed, entry: Entry) -> models.Job:
    """A queued job holding the entry's record, or a failed one saying why it was refused."""
    link = entry.record.get("link")
    source_uri = (
        link
        if isinstance(link, str) and link
        else f"{feed.url}#{entry.record.get('id') or entry.identity}"
    )
    job = jobs.new_feed_entry_job(
        session,
        feed_id=feed.id,
        source_uri=source_uri,
        name=f"feed{feed.id}-{entry.identity[:16]}.json",
        blob_sha256=store_blob(session, entry.raw) if entry.problem is None else None,
    )
    if entry.problem is not None:
        jobs.fail(job, entry.problem)
    session.flush()
    return job


def _log_report(report: PollReport, result: PollResult) -> None:
    extra = {"feed_id": report.feed_id}
    if report.kind == "error":
        log.warning(
            "feed %s failed: %s; next poll in %.0fs",
            report.url,
            report.error,
            report.next_poll_in_s,
            extra=extra,
        )
        return
    if result.feed is not None and result.feed.warning:
        log.info(
            "feed %s is ill-formed but usable: %s", report.url, result.feed.warning, extra=extra
        )
    log.info(
        "feed %s: %s, %d new, %d changed; next poll in %.0fs",
        report.url,
        report.kind,
        report.new_entries,
        report.changed_entries,
        report.next_poll_in_s,
        extra=extra,
    )

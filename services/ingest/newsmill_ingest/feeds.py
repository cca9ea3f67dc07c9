"""Feeds: a registry of RSS/Atom feeds, polled politely, and never given up on.

Three layers, top to bottom:

- pure functions on plain data: when to poll next (interval, RSS ``ttl``,
  ``Cache-Control``/``Expires``, ``Retry-After``, exponential backoff with
  jitter), what an entry is (its identity and content hash), and the JSON
  record each entry becomes (the worker's JSON path reads it);
- ``parse_feed``: feed bytes to entry records, refusing entity declarations
  and feeds that are nothing but a parse error;
- the database side: the registry (add, remove, list, the feeds file) and
  ``FeedPoller``, which claims due feeds, fetches them on a few threads, and
  records each poll in ONE transaction (raw entry bytes, ``queued`` jobs,
  ``feed_entries`` rows, the feed's health) before publishing.

An entry already seen is never enqueued again; an entry whose content changed
is, and the worker updates the article that entry produced in place.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import logging
import random
import re
import tomllib
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Literal, cast

import feedparser
import nh3
from feedparser.exceptions import ThingsNobodyCaresAboutButMe
from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from newsmill_ingest.fetch import Fetched, Fetcher, FetchError, FetchPolicy, check_scheme
from newsmill_ingest.publisher import Publisher
from newsmill_schema import models
from newsmill_schema.blobs import store_blob
from newsmill_schema.db import Database
from newsmill_schema.messages import FULL_TEXT_FIELD, JobState, ProcessDocument
from newsmill_schema.models import utcnow
from newsmill_schema.settings import Settings

log = logging.getLogger(__name__)

_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-maxage|max-age)\s*=\s*\"?(\d+)", re.IGNORECASE)
_RETRY_STATUSES = (429, 503)
_ERROR_LENGTH = 500
_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)


class FeedError(Exception):
    """A feed that cannot be used: ``reason`` says why in one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- When to poll ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    """The bounds on poll delays; taken from settings."""

    min_interval_s: float = 60
    max_interval_s: float = 86_400
    jitter: float = 0.1
    backoff_base_s: float = 60
    backoff_cap_s: float = 86_400

    @classmethod
    def from_settings(cls, settings: Settings) -> Schedule:
        return cls(
            min_interval_s=settings.feed_min_interval_s,
            max_interval_s=settings.feed_max_interval_s,
            jitter=settings.feed_jitter,
            backoff_base_s=settings.feed_backoff_base_s,
            backoff_cap_s=settings.feed_backoff_cap_s,
        )


def parse_interval(text: str) -> int:
    """``"15m"`` → 900 seconds; accepts s, m, h, d or bare seconds."""
    match = _INTERVAL.match(text)
    if not match:
        raise ValueError(f"not an interval: {text!r} (use e.g. 90s, 15m, 2h, 1d)")
    seconds = int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    if seconds <= 0:
        raise ValueError(f"interval must be positive: {text!r}")
    return seconds


def jittered(delay: float, fraction: float, rng: random.Random) -> float:
    """``delay`` stretched or shrunk by up to ``fraction``, so feeds do not poll in lockstep."""
    return delay * rng.uniform(1 - fraction, 1 + fraction)


def success_delay(interval_s: float, hints: list[float | None], schedule: Schedule) -> float:
    """Delay after a good poll: the feed's interval, or longer when the server asks for it."""
    wanted = max([interval_s, *(h for h in hints if h is not None)])
    return min(schedule.max_interval_s, max(schedule.min_interval_s, wanted))


def error_delay(consecutive_errors: int, retry_after: float | None, schedule: Schedule) -> float:
    """Delay after the n-th failure in a row: doubling from the base, capped; Retry-After wins."""
    exponent = min(max(consecutive_errors - 1, 0), 32)
    backoff = min(schedule.backoff_cap_s, schedule.backoff_base_s * 2**exponent)
    if retry_after is not None:
        backoff = min(schedule.backoff_cap_s, max(backoff, retry_after))
    return backoff


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """A Retry-After header (seconds or an HTTP date) as seconds from ``now``."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    when = _http_date(text)
    return max(0.0, (when - now).total_seconds()) if when else None


def cache_seconds(headers: Mapping[str, str], now: datetime) -> float | None:
    """How long the response may be cached: ``max-age``/``s-maxage``, else ``Expires``."""
    match = _MAX_AGE.search(headers.get("cache-control", ""))
    if match:
        return float(match.group(1))
    expires = _http_date(headers.get("expires", ""))
    if expires is None:
        return None
    origin = _http_date(headers.get("date", "")) or now
    return max(0.0, (expires - origin).total_seconds())


def ttl_seconds(value: object) -> float | None:
    """An RSS ``<ttl>`` (minutes) in seconds, or None when absent or nonsense."""
    try:
        minutes = float(str(value).strip())
    except ValueError:
        return None
    return minutes * 60 if minutes > 0 else None


def _http_date(text: str) -> datetime | None:
    if not text:
        return None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


# --- What an entry is -----------------------------------------------------------------------


def entry_identity(entry: Mapping[str, Any]) -> str:
    """A stable id for an entry: its GUID, else its link, else its title and content."""
    guid = str(entry.get("id") or "").strip()
    link = str(entry.get("link") or "").strip()
    if guid:
        key = f"guid\0{guid}"
    elif link:
        key = f"link\0{link}"
    else:
        key = f"text\0{entry.get('title') or ''}\0{_content(entry)}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def record_hash(record: Mapping[str, Any]) -> str:
    """Hash of what a reader sees of an entry; a change means it is processed again."""
    seen = {k: record.get(k) for k in ("title", "link", "author", "summary", "content")}
    return hashlib.sha256(json.dumps(seen, sort_keys=True).encode("utf-8")).hexdigest()


def entry_record(
    entry: Mapping[str, Any], channel: Mapping[str, Any], full_text: bool
) -> dict[str, Any]:
    """The JSON record an entry is stored as: the fields the worker's JSON path maps.

    HTML is sanitised again here (feedparser's sanitiser is the first pass), so
    what is stored is safe to show whatever reads it later.
    """
    content = _sanitise(_content(entry))
    summary = _sanitise(str(entry.get("summary") or ""))
    record: dict[str, Any] = {
        "id": entry.get("id"),
        "title": _plain(str(entry.get("title") or "")),
        "link": entry.get("link"),
        "author": _authors(entry),
        "published": _iso(_date_of(entry)),
        "content": content or summary,
        "summary": summary if content and _plain(summary) not in _plain(content) else None,
        "publisher": channel.get("title") or None,
        "language": channel.get("language") or None,
    }
    if full_text:
        record[FULL_TEXT_FIELD] = True
    return {k: v for k, v in record.items() if v not in (None, "", [])}


def _date_of(entry: Mapping[str, Any]) -> Any:
    # Plain dict lookups: feedparser's own mapping of updated to published warns.
    fields = dict(entry)
    return fields.get("published_parsed") or fields.get("updated_parsed")


def _content(entry: Mapping[str, Any]) -> str:
    values = [str(c.get("value") or "") for c in entry.get("content") or [] if c.get("value")]
    return max(values, key=len) if values else str(entry.get("summary") or "")


def _authors(entry: Mapping[str, Any]) -> list[str]:
    names = [str(a.get("name") or "") for a in entry.get("authors") or [] if isinstance(a, dict)]
    names = [n.strip() for n in names if n.strip()]
    if not names and entry.get("author"):
        names = [str(entry["author"]).strip()]
    return names


def _sanitise(markup: str) -> str:
    return nh3.clean(markup).strip() if markup else ""


def _plain(text: str) -> str:
    if "<" not in text and "&" not in text:
        return text.strip()
    return html.unescape(nh3.clean(text, tags=set())).strip()


def _iso(parsed: Any) -> str | None:
    if not parsed:
        return None
    try:
        year, month, day, hour, minute, second = parsed[:6]
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC).isoformat()
    except (TypeError, ValueError):
        return None


# --- Feed bytes to entries ------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One entry of a parsed feed, ready to be recorded."""

    identity: str
    content_hash: str
    record: dict[str, Any]

    @property
    def raw(self) -> bytes:
        return json.dumps(self.record, ensure_ascii=False, sort_keys=True).encode("utf-8")


@dataclass(frozen=True)
class ParsedFeed:
    title: str | None
    ttl_s: float | None
    entries: list[Entry]
    warning: str | None = None
    """Set when feedparser flagged the feed (bozo) but its entries were usable."""


def refuse_entities(body: bytes) -> None:
    """Refuse XML declaring entities: a 100 KB feed can expand to hundreds of MB."""
    # UTF-16/32 put NULs between the letters; removing them finds the declaration anyway.
    if _ENTITY_DECL.search(body) or (
        b"\0" in body and _ENTITY_DECL.search(body.replace(b"\0", b""))
    ):
        raise FeedError("XML entity declarations (<!ENTITY) are refused: possible expansion bomb")


def feedparser_result(body: bytes, url: str, content_type: str = "") -> Any:
    """feedparser's view of feed bytes, entity declarations refused first."""
    refuse_entities(body)
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    return feedparser.parse(io.BytesIO(body), response_headers=headers, sanitize_html=True)


def parse_feed(
    body: bytes,
    url: str,
    content_type: str = "",
    full_text: bool = False,
    max_entries: int = 10_000,
) -> ParsedFeed:
    """Parse feed bytes (never a URL: feedparser's own fetcher has no limits) into entries."""
    parsed = feedparser_result(body, url, content_type)
    exception = parsed.get("bozo_exception") if parsed.get("bozo") else None
    problem = str(exception) if exception is not None else None
    # A wrong content type or charset label is a warning; broken XML with nothing in it is not.
    if not parsed.entries and problem and not isinstance(exception, ThingsNobodyCaresAboutButMe):
        raise FeedError(f"not a usable feed: {problem}"[:_ERROR_LENGTH])
    if not parsed.entries and not parsed.get("version"):
        raise FeedError("not an RSS or Atom feed: no channel and no entries")
    channel = parsed.feed
    entries: dict[str, Entry] = {}
    for item in parsed.entries[:max_entries]:
        record = entry_record(item, channel, full_text)
        identity = entry_identity(item)
        entries.setdefault(identity, Entry(identity, record_hash(record), record))
    return ParsedFeed(
        title=_plain(str(channel.get("title") or "")) or None,
        ttl_s=ttl_seconds(channel.get("ttl")),
        entries=list(entries.values()),
        warning=problem,
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


def interpret(response: Fetched, target: FeedTarget, now: datetime, max_entries: int) -> PollResult:
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


def fetch_and_parse(fetcher: Fetcher, target: FeedTarget, max_entries: int) -> PollResult:
    """Fetch a feed and interpret the response; every failure becomes an error result."""
    try:
        response = fetcher.get(target.url, conditional_headers(target))
        return interpret(response, target, utcnow(), max_entries)
    except FetchError as exc:
        return PollResult("error", error=exc.reason[:_ERROR_LENGTH])
    except Exception as exc:  # one odd feed must never stop the poller
        log.exception("unexpected error polling %s", target.url)
        return PollResult(
            "error", error=f"internal error: {exc.__class__.__name__}: {exc}"[:_ERROR_LENGTH]
        )


# --- The registry ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedView:
    """A feed and its health, as ``feeds list`` shows it."""

    id: int
    url: str
    title: str | None
    interval_s: int
    full_text: bool
    last_polled_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    last_status: int | None
    consecutive_errors: int
    next_poll_at: datetime
    entries_seen: int

    @classmethod
    def of(cls, feed: models.Feed) -> FeedView:
        return cls(**{name: getattr(feed, name) for name in cls.__dataclass_fields__})

    @property
    def healthy(self) -> bool:
        return self.consecutive_errors == 0

    def as_dict(self, now: datetime | None = None) -> dict[str, Any]:
        values = asdict(self)
        for key, value in values.items():
            if isinstance(value, datetime):
                values[key] = value.isoformat()
        values["next_poll_in_s"] = round((self.next_poll_at - (now or utcnow())).total_seconds(), 1)
        values["healthy"] = self.healthy
        return values


@dataclass(frozen=True)
class FeedSpec:
    """A feed as the user declares it (CLI or feeds file)."""

    url: str
    interval_s: int | None = None
    full_text: bool = False


def validate_url(url: str) -> str:
    """A feed URL as stored, or ValueError saying why it is not acceptable."""
    url = url.strip()
    try:
        check_scheme(url)
    except FetchError as exc:
        raise ValueError(exc.reason) from None
    return url


def add_feed(db: Database, spec: FeedSpec, default_interval_s: int) -> tuple[FeedView, bool]:
    """Register a feed, or update its interval and full-text flag; True when it is new."""
    url = validate_url(spec.url)
    with db.session() as session:
        feed = session.execute(
            select(models.Feed).where(models.Feed.url == url)
        ).scalar_one_or_none()
        created = feed is None
        if feed is None:
            feed = models.Feed(url=url, next_poll_at=utcnow(), consecutive_errors=0, entries_seen=0)
            session.add(feed)
        feed.interval_s = spec.interval_s or (
            feed.interval_s if not created else default_interval_s
        )
        feed.full_text = spec.full_text
        session.flush()
        return FeedView.of(feed), created


def remove_feed(db: Database, url_or_id: str) -> bool:
    """Forget a feed and its seen entries (its jobs and articles stay); False if unknown."""
    with db.session() as session:
        feed = _find(session, url_or_id)
        if feed is None:
            return False
        session.delete(feed)
        return True


def list_feeds(db: Database) -> list[FeedView]:
    with db.session() as session:
        feeds = session.execute(select(models.Feed).order_by(models.Feed.id)).scalars()
        return [FeedView.of(f) for f in feeds]


def _find(session: Session, url_or_id: str) -> models.Feed | None:
    if url_or_id.isdigit():
        return session.get(models.Feed, int(url_or_id))
    return session.execute(
        select(models.Feed).where(models.Feed.url == url_or_id.strip())
    ).scalar_one_or_none()


def feed_specs(data: Any) -> list[FeedSpec]:
    """Feed declarations from a loaded feeds file: a list, or ``{"feeds": [...]}``.

    Each item is a URL string or a mapping with ``url`` and optional
    ``interval`` (``"15m"`` or seconds) and ``full_text``.
    """
    items = data.get("feeds") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise FeedError("feeds file must hold a list of feeds, or a 'feeds' list")
    specs = []
    for n, item in enumerate(items, start=1):
        try:
            specs.append(_spec(item))
        except (ValueError, TypeError) as exc:
            raise FeedError(f"feed #{n} in the feeds file: {exc}") from None
    return specs


def _spec(item: Any) -> FeedSpec:
    if isinstance(item, str):
        return FeedSpec(url=validate_url(item))
    if not isinstance(item, dict) or not isinstance(item.get("url"), str):
        raise ValueError("expected a URL or a table/mapping with a 'url'")
    interval = item.get("interval")
    if interval is not None:
        interval = parse_interval(str(interval))
    return FeedSpec(
        url=validate_url(item["url"]),
        interval_s=interval,
        full_text=bool(item.get("full_text", False)),
    )


def read_feeds_file(path: Path) -> list[FeedSpec]:
    """Read a TOML (``[[feeds]]``) or YAML feeds file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FeedError(f"cannot read feeds file {path}: {exc.strerror or exc}") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        return feed_specs(_yaml(text, path))
    try:
        return feed_specs(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise FeedError(f"feeds file {path} is not valid TOML: {exc}") from None


def _yaml(text: str, path: Path) -> Any:
    try:
        import yaml
    except ImportError:
        raise FeedError("YAML feeds files need PyYAML; use TOML or install pyyaml") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise FeedError(f"feeds file {path} is not valid YAML: {exc}") from None


def load_feeds_file(db: Database, path: Path, default_interval_s: int) -> list[FeedView]:
    """Register every feed of a feeds file (existing ones take the file's settings)."""
    return [add_feed(db, spec, default_interval_s)[0] for spec in read_feeds_file(path)]


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
        return fetch_and_parse(self.fetcher, target, self.settings.max_records_per_file)

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
        messages.append(
            ProcessDocument(job_id=job.id, source_kind="feed", source_uri=job.source_uri)
        )
    feed.entries_seen += new
    return new, changed, messages


def _queue_job(session: Session, feed: models.Feed, entry: Entry) -> models.Job:
    link = entry.record.get("link")
    source_uri = (
        link
        if isinstance(link, str) and link
        else f"{feed.url}#{entry.record.get('id') or entry.identity}"
    )
    job = models.Job(
        state=JobState.QUEUED,
        source_kind="feed",
        source_uri=source_uri,
        name=f"feed{feed.id}-{entry.identity[:16]}.json",
        blob_sha256=store_blob(session, entry.raw),
        feed_id=feed.id,
    )
    session.add(job)
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

"""The feed registry: feeds users add, list and remove, and the feeds file.

A feed is a row in ``feeds`` with its schedule and health; the registry never
polls (that is ``feeds.FeedPoller``).
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from newsmill_ingest.feed_entries import FeedError
from newsmill_ingest.feed_schedule import parse_interval
from newsmill_ingest.fetch import FetchError, check_scheme
from newsmill_schema import models
from newsmill_schema.db import Database
from newsmill_schema.models import utcnow


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

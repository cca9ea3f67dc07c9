"""``newsmill status`` and ``newsmill health``: what is queued, running, failed, and why."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text
from sqlalchemy import text

from newsmill_ingest import views
from newsmill_ingest.cli_common import shown
from newsmill_ingest.publisher import Publisher
from newsmill_schema import broker
from newsmill_schema.db import Database
from newsmill_schema.messages import JobState
from newsmill_schema.models import utcnow
from newsmill_schema.settings import Settings

PING_TIMEOUT_S = 1.0
THROUGHPUT_WINDOW_S = 60
FAILURES_SHOWN = 10


def unacked(publisher: Publisher, settings: Settings, workers: list[str]) -> int | None:
    """Messages delivered to workers but not yet acknowledged; None when unknown.

    Redis keeps them in its ``unacked`` hash. The filesystem broker forgets a
    message once a worker has read it, so there the equivalent is what the
    workers report as reserved or running.
    """
    try:
        if settings.broker_url.startswith(("redis://", "rediss://")):
            return _redis_unacked(publisher)
        if settings.embedded_broker:
            return _reserved_by_workers(publisher, workers)
    except Exception:  # an unknown count is reported as None
        return None
    return None


def _redis_unacked(publisher: Publisher) -> int:
    with publisher.app.connection_for_read() as connection:
        channel: Any = connection.default_channel
        return int(channel.client.hlen(channel.unacked_key))


def _reserved_by_workers(publisher: Publisher, workers: list[str]) -> int | None:
    if not workers:
        return 0
    inspect = publisher.app.control.inspect(
        destination=workers, limit=len(workers), timeout=PING_TIMEOUT_S
    )
    total = 0
    for replies in (inspect.active(), inspect.reserved()):
        if replies is None:
            return None
        total += sum(len(tasks) for tasks in replies.values())
    return total


def collect(settings: Settings, db: Database, publisher: Publisher | None = None) -> dict[str, Any]:
    """Everything ``status`` shows, as plain data (what ``status --json`` prints)."""
    own = publisher is None
    publisher = publisher or Publisher(settings, db)
    try:
        depth = broker.queue_depth(publisher.app)
        workers = broker.ping(publisher.app, PING_TIMEOUT_S)
        pending = unacked(publisher, settings, workers) if depth is not None else None
    finally:
        if own:
            publisher.close()
    failures = views.jobs(db, state=JobState.FAILED, limit=FAILURES_SHOWN, newest_first=True)
    window = timedelta(seconds=THROUGHPUT_WINDOW_S)
    return {
        "jobs": views.job_counts(db),
        "jobs_by_source": views.job_counts_by_source(db),
        "articles": views.article_count(db),
        "queue_depth": depth,
        "unacked": pending,
        "workers": workers,
        "finished_last_minute": views.finished_since(db, utcnow() - window),
        "latest_failures": [
            {"job_id": f.id, "source_uri": f.source_uri, "error": f.error} for f in failures
        ],
        "feeds": [feed.as_dict() for feed in views.feeds(db)],
    }


def render(report: dict[str, Any]) -> RenderableType:
    """The report as rich tables: jobs per state and source, broker, workers, failures, feeds."""
    parts: list[RenderableType] = [_jobs_table(report), _summary(report)]
    if report["latest_failures"]:
        failures = Table("job", "source", "reason", title="latest failures", title_justify="left")
        for failure in report["latest_failures"]:
            failures.add_row(
                str(failure["job_id"]), shown(failure["source_uri"]), shown(failure["error"])
            )
        parts.append(failures)
    if report["feeds"]:
        parts.append(_feeds_table(report["feeds"]))
    return Group(*parts)


def _jobs_table(report: dict[str, Any]) -> Table:
    by_source: dict[str, dict[str, int]] = report["jobs_by_source"]
    states = [s.value for s in JobState]
    states += sorted(set(report["jobs"]) - set(states))
    table = Table("source", *states, "total", title="jobs", title_justify="left")
    for source in sorted(by_source):
        counts = by_source[source]
        table.add_row(
            shown(source), *(str(counts.get(s, 0)) for s in states), str(sum(counts.values()))
        )
    totals = report["jobs"]
    table.add_row(
        Text("all", style="bold"),
        *(Text(str(totals.get(s, 0)), style="bold") for s in states),
        Text(str(sum(totals.values())), style="bold"),
    )
    return table


def _summary(report: dict[str, Any]) -> Text:
    articles = report["articles"]
    workers = report["workers"]
    return shown(
        f"articles: {articles['articles']} ({articles['near_duplicates']} near-duplicates)   "
        f"queue: {_known(report['queue_depth'])} waiting, {_known(report['unacked'])} unacked   "
        f"workers online: {len(workers)} {' '.join(workers)}   "
        f"throughput: {report['finished_last_minute']}/min"
    )


def _known(value: int | None) -> str:
    return "unknown" if value is None else str(value)


def _feeds_table(feeds: list[dict[str, Any]]) -> Table:
    table = Table(
        "feed",
        "health",
        "last success",
        "errors",
        "last error",
        "entries",
        title="feeds",
        title_justify="left",
    )
    for feed in feeds:
        health = Text("ok", style="green") if feed["healthy"] else Text("failing", style="red")
        table.add_row(
            shown(feed["title"] or feed["url"]),
            health,
            feed["last_success_at"] or "never",
            str(feed["consecutive_errors"]),
            shown(feed["last_error"]),
            str(feed["entries_seen"]),
        )
    return table


def watch(
    settings: Settings, db: Database, console: Console, interval: float, count: int = 0
) -> None:
    """Redraw the status every ``interval`` seconds; ``count`` refreshes, or until Ctrl-C."""
    publisher = Publisher(settings, db)
    refreshes = 0
    try:
        with Live(console=console, auto_refresh=False) as live:
            while True:
                live.update(render(collect(settings, db, publisher)), refresh=True)
                refreshes += 1
                if count and refreshes >= count:
                    return
                time.sleep(interval)
    except KeyboardInterrupt:
        return
    finally:
        publisher.close()


def check_health(settings: Settings, db: Database, require_workers: bool) -> list[str]:
    """What is unreachable: the database, the broker, the worker pool. Empty when healthy."""
    problems = []
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # any failure is reported, not raised
        problems.append(f"database: {exc.__class__.__name__}")
    publisher = Publisher(settings, db)
    try:
        if not broker.reachable(publisher.app):
            problems.append("broker: unreachable")
        elif require_workers and not broker.ping(publisher.app, PING_TIMEOUT_S):
            problems.append("workers: none answered a ping")
    finally:
        publisher.close()
    return problems

"""``newsmill status`` and ``newsmill health``: what is queued, running, failed, and why."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import text

from newsmill_schema.db import Database
from newsmill_schema.settings import Settings
from newsmill_ingest import views
from newsmill_ingest.publisher import Publisher

PING_TIMEOUT_S = 1.0


def workers_online(publisher: Publisher) -> list[str]:
    """Names of workers answering a ping (what ``celery inspect ping`` shows)."""
    try:
        replies = publisher.app.control.ping(timeout=PING_TIMEOUT_S) or []
    except Exception:  # noqa: BLE001 - an unreachable broker means no worker is reachable
        return []
    return sorted(name for reply in replies for name in reply)


def collect(settings: Settings, db: Database) -> dict[str, Any]:
    """Everything ``status`` shows, as plain data."""
    publisher = Publisher(settings, db)
    try:
        depth = publisher.queue_depth()
        workers = workers_online(publisher)
    finally:
        publisher.close()
    failures = views.jobs(db, state="failed", limit=10, newest_first=True)
    return {
        "jobs": views.job_counts(db),
        "articles": views.article_count(db),
        "queue_depth": depth,
        "workers": workers,
        "latest_failures": [
            {"job_id": f.id, "source_uri": f.source_uri, "error": f.error} for f in failures
        ],
    }


def render(report: dict[str, Any], console: Console) -> None:
    jobs = Table("state", "jobs", title="jobs")
    for state, count in sorted(report["jobs"].items()):
        jobs.add_row(state, str(count))
    console.print(jobs)
    articles = report["articles"]
    console.print(
        f"articles: {articles['articles']} ({articles['near_duplicates']} near-duplicates)   "
        f"queue depth: {report['queue_depth'] if report['queue_depth'] is not None else 'unknown'}   "
        f"workers online: {len(report['workers'])} {' '.join(report['workers'])}"
    )
    if report["latest_failures"]:
        failures = Table("job", "source", "reason", title="latest failures")
        for failure in report["latest_failures"]:
            failures.add_row(str(failure["job_id"]), failure["source_uri"], failure["error"] or "")
        console.print(failures)


def check_health(settings: Settings, db: Database, require_workers: bool) -> list[str]:
    """What is unreachable: the database, the broker, the worker pool. Empty when healthy."""
    problems = []
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure is reported, not raised
        problems.append(f"database: {exc.__class__.__name__}")
    publisher = Publisher(settings, db)
    try:
        if publisher.queue_depth() is None:
            problems.append("broker: unreachable")
        elif require_workers and not workers_online(publisher):
            problems.append("workers: none answered a ping")
    finally:
        publisher.close()
    return problems

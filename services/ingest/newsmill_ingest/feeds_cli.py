"""``newsmill feeds``: add, list, remove and poll RSS/Atom feeds."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from newsmill_ingest.cli_common import (
    DataDir,
    command_database,
    command_settings,
    console,
    err,
    problem,
    shown,
)
from newsmill_schema.models import utcnow

feeds_app = typer.Typer(
    help="RSS and Atom feeds polled by the ingest service.", no_args_is_help=True
)


@feeds_app.command("add")
def feeds_add(
    url: str,
    interval: Annotated[
        str | None, typer.Option(help="Poll interval, e.g. 90s, 15m, 2h (default: the setting).")
    ] = None,
    full_text: Annotated[
        bool, typer.Option("--full-text", help="Fetch each entry's page for the whole article.")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Register a feed (or change its interval); the ingest service polls it right away."""
    from newsmill_ingest.feed_registry import FeedSpec, add_feed
    from newsmill_ingest.feed_schedule import parse_interval

    settings = command_settings(data_dir)
    try:
        seconds = parse_interval(interval) if interval else None
        view, created = add_feed(
            command_database(settings),
            FeedSpec(url, seconds, full_text),
            settings.feed_default_interval_s,
        )
    except ValueError as exc:
        err.print(problem("not added", exc))
        raise typer.Exit(2) from None
    verb = "added" if created else "updated"
    err.print(shown(f"{verb} feed {view.id}: {view.url} every {_duration(view.interval_s)}"))


@feeds_app.command("list")
def feeds_list(
    data_dir: DataDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON Lines, one feed a line.")] = False,
) -> None:
    """Every feed with its health: last success, last error, errors in a row, next poll."""
    from newsmill_ingest.feed_registry import list_feeds

    views = list_feeds(command_database(command_settings(data_dir)))
    now = utcnow()
    if as_json:
        for view in views:
            print(json.dumps(view.as_dict(now), ensure_ascii=False))
        return
    table = Table(
        "id", "feed", "every", "last success", "errors", "last error", "next poll", "seen"
    )
    for view in views:
        table.add_row(
            str(view.id),
            shown(view.title or view.url),
            _duration(view.interval_s),
            _ago(view.last_success_at, now),
            str(view.consecutive_errors),
            shown(view.last_error if view.consecutive_errors else ""),
            f"in {_duration((view.next_poll_at - now).total_seconds())}",
            str(view.entries_seen),
        )
    console.print(table)


@feeds_app.command("remove")
def feeds_remove(url_or_id: str, data_dir: DataDir = None) -> None:
    """Stop polling a feed (its articles stay)."""
    from newsmill_ingest.feed_registry import remove_feed

    if not remove_feed(command_database(command_settings(data_dir)), url_or_id):
        err.print(shown(f"no feed {url_or_id}"))
        raise typer.Exit(1)
    err.print(shown(f"removed feed {url_or_id}"))


@feeds_app.command("poll")
def feeds_poll(
    url: Annotated[str | None, typer.Argument(help="Only this feed (default: all).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Poll now, whatever the schedule; new entries are queued for the workers."""
    from newsmill_ingest.feeds import FeedPoller
    from newsmill_ingest.publisher import Publisher

    settings = command_settings(data_dir)
    db = command_database(settings)
    publisher = Publisher(settings, db)
    poller = FeedPoller(settings, db, publisher)
    try:
        reports = poller.poll_now(url)
    finally:
        poller.close()
        publisher.close()
    if url is not None and not reports:
        err.print(shown(f"no feed {url} (or another poller has it right now)"))
        raise typer.Exit(1)
    for report in reports:
        outcome = report.error if report.kind == "error" else report.kind.replace("_", " ")
        err.print(
            shown(
                f"{report.url}: {outcome}; {report.new_entries} new,"
                f" {report.changed_entries} changed; next poll in {_duration(report.next_poll_in_s)}"
            )
        )
    if any(r.kind == "error" for r in reports):
        raise typer.Exit(1)


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if (seconds >= size and seconds % size == 0) or seconds >= size * 10:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _ago(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "never"
    return f"{_duration((now - when).total_seconds())} ago"

"""The ``newsmill`` command line. Each command parses its options, calls one function, reports."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.highlighter import JSONHighlighter
from rich.progress import Progress
from rich.table import Table
from rich.text import Text
from sqlalchemy.exc import DBAPIError

from newsmill_ingest.cli_common import (
    AsJson,
    DataDir,
    command_database,
    command_settings,
    console,
    database_problem,
    err,
    problem,
    shown,
)
from newsmill_ingest.feeds_cli import feeds_app
from newsmill_schema.display import printable_json
from newsmill_schema.settings import load_settings

app = typer.Typer(
    help="newsmill: ingest news documents into clean, deduplicated articles.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
jobs_app = typer.Typer(help="The job ledger.", no_args_is_help=True)
docs_app = typer.Typer(help="Stored articles.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(jobs_app, name="jobs")
app.add_typer(docs_app, name="docs")
app.add_typer(feeds_app, name="feeds")


@app.command()
def up(data_dir: DataDir = None) -> None:
    """Run everything embedded: the ingest service and a Celery worker, on SQLite."""
    from newsmill_ingest.embedded import run_embedded

    settings = command_settings(data_dir)
    err.print(
        Text.assemble(
            "newsmill up: drop files into ", shown(settings.inbox_dir, "bold"), " (Ctrl-C stops)"
        )
    )
    raise typer.Exit(run_embedded(settings))


@app.command()
def ingest(data_dir: DataDir = None) -> None:
    """Run the ingest service alone: watch the inbox, publish jobs, reconcile."""
    from newsmill_ingest.embedded import run_ingest

    settings = command_settings(data_dir)
    run_ingest(settings)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def worker(
    ctx: typer.Context,
    data_dir: DataDir = None,
    supervise: Annotated[
        bool,
        typer.Option(help="Restart the Celery worker if it dies (off: run it in this process)."),
    ] = True,
) -> None:
    """Start a Celery worker (extra options go to `celery worker`)."""
    settings = command_settings(data_dir)
    if supervise:
        from newsmill_worker.liveness import liveness_of
        from newsmill_worker.supervisor import supervise as run_supervised

        here = ["--data-dir", str(data_dir)] if data_dir else []
        command = [sys.executable, "-m", "newsmill_ingest", "worker", "--no-supervise", *here]
        raise typer.Exit(run_supervised([*command, *ctx.args], liveness_of(settings)))
    from newsmill_worker.celery_app import configure
    from newsmill_worker.worker import start_worker

    raise typer.Exit(start_worker(configure(settings), settings, list(ctx.args)))


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def flower(ctx: typer.Context, data_dir: DataDir = None) -> None:
    """Start Flower (its options follow, e.g. --port=5555) with /metrics behind its auth too."""
    from newsmill_worker.celery_app import configure
    from newsmill_worker.flower import start_flower

    raise typer.Exit(start_flower(configure(command_settings(data_dir)), list(ctx.args)))


@app.command()
def parse(path: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]) -> None:
    """Decode, parse and clean one file (no database, no broker); print JSON Lines."""
    from newsmill_worker.parsing import parse_file

    code = parse_file(path, load_settings(), sys.stdout, err)
    raise typer.Exit(code)


@app.command()
def add(
    paths: Annotated[list[Path], typer.Argument(exists=True)], data_dir: DataDir = None
) -> None:
    """Submit files or folders now (copies them through the same intake as the inbox)."""
    from newsmill_ingest.submit import files_under, submit

    settings = command_settings(data_dir)
    files = files_under(paths)
    db = command_database(settings)
    with Progress(console=err) as progress:
        task = progress.add_task("submitting", total=len(files))
        recorded = submit(settings, db, files, on_each=lambda: progress.advance(task))
    err.print(f"submitted {len(recorded)} file(s)")


@app.command()
def status(
    data_dir: DataDir = None,
    as_json: AsJson = False,
    watch: Annotated[bool, typer.Option("--watch", help="Redraw live until Ctrl-C.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between redraws with --watch.")] = 2.0,
    count: Annotated[int, typer.Option(help="With --watch: stop after this many redraws.")] = 0,
) -> None:
    """Jobs per state and source, queue depth, workers, throughput, failures, feed health."""
    from newsmill_ingest.status import collect, render
    from newsmill_ingest.status import watch as watch_status

    settings = command_settings(data_dir)
    if watch:
        watch_status(settings, command_database(settings), console, interval, count)
        return
    report = collect(settings, command_database(settings))
    if as_json:
        console.print_json(json.dumps(report))
        return
    console.print(render(report))


@app.command()
def export(
    data_dir: DataDir = None,
    fmt: Annotated[str, typer.Option("--format", help="jsonl, csv or parquet.")] = "jsonl",
    since: Annotated[
        str | None, typer.Option(help="Only articles processed at or after this ISO time.")
    ] = None,
    canonical: Annotated[
        bool, typer.Option("--canonical", help="Leave out near-duplicates.")
    ] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Stream articles out as JSON Lines, CSV or Parquet (progress on stderr)."""
    from newsmill_ingest import export as exporting

    settings = command_settings(data_dir)
    db = command_database(settings)
    try:
        moment = exporting.parse_since(since) if since else None
        total = exporting.count(db, moment, canonical)
        with Progress(console=err, transient=output is None) as progress:
            task = progress.add_task(f"exporting {fmt}", total=total)
            written = exporting.export(
                db,
                fmt,  # type: ignore[arg-type]
                output,
                sys.stdout,
                moment,
                canonical,
                on_batch=lambda n: progress.advance(task, n),
            )
    except exporting.ExportError as exc:
        err.print(problem("error", exc))
        raise typer.Exit(2) from None
    err.print(shown(f"exported {written} article(s)" + (f" to {output}" if output else "")))


@app.command()
def health(
    data_dir: DataDir = None,
    workers: Annotated[bool, typer.Option(help="Also require a live worker.")] = True,
) -> None:
    """Exit non-zero when the database, the broker or (by default) the workers are unreachable."""
    from newsmill_ingest.status import check_health

    settings = command_settings(data_dir)
    db = command_database(settings, migrate_sqlite=False)
    problems = check_health(settings, db, require_workers=workers)
    for reason in problems:
        err.print(problem("unhealthy", reason))
    if problems:
        raise typer.Exit(1)
    err.print("healthy")


@app.command()
def reprocess(
    job_ids: Annotated[
        list[int] | None, typer.Argument(help="Failed job ids to run again.")
    ] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Every failed job.")] = False,
    all_jobs: Annotated[
        bool,
        typer.Option("--all", help="Every finished job; their articles are rewritten in place."),
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Run jobs again from their stored raw bytes."""
    from newsmill_ingest.publisher import Publisher
    from newsmill_ingest.reprocess import requeue_all, requeue_failed

    if sum((failed, all_jobs, bool(job_ids))) != 1:
        err.print("name job ids, or pass --failed or --all")
        raise typer.Exit(2)
    settings = command_settings(data_dir)
    db = command_database(settings)
    publisher = Publisher(settings, db)
    try:
        if all_jobs:
            queued = sent = 0
            for batch in requeue_all(db):
                queued += len(batch)
                sent += publisher.publish(batch)
            unsent = (
                f"; {queued - sent} unsent, the reconciler will send them" if sent < queued else ""
            )
            err.print(f"requeued {queued} job(s){unsent}")
            return
        result = requeue_failed(db, None if failed else job_ids)
        publisher.publish(result.queued)
    finally:
        publisher.close()
    for job_id, reason in result.refused.items():
        err.print(shown(f"job {job_id}: not reprocessed: {reason}"))
    err.print(f"requeued {len(result.queued)} job(s)")
    if result.refused:
        raise typer.Exit(1)


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDir = None) -> None:
    """Apply database migrations up to the latest."""
    settings = command_settings(data_dir)
    command_database(settings, migrate_sqlite=False).upgrade()
    err.print("database schema is up to date")


@jobs_app.command("list")
def jobs_list(
    data_dir: DataDir = None,
    state: Annotated[str | None, typer.Option(help="Only jobs in this state.")] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many.")] = None,
    as_json: AsJson = False,
) -> None:
    """The job ledger: one line per job with its state, source, article and error."""
    from newsmill_ingest import views

    rows = views.jobs(command_database(command_settings(data_dir)), state=state, limit=limit)
    if as_json:
        for row in rows:
            print(json.dumps(row.as_dict(), ensure_ascii=False))
        return
    table = Table("id", "state", "source", "article", "attempts", "error")
    for row in rows:
        table.add_row(
            str(row.id),
            shown(row.state),
            shown(row.source_uri),
            str(row.article_id or ""),
            str(row.attempts),
            shown(row.error),
        )
    console.print(table)


@docs_app.command("list")
def docs_list(
    data_dir: DataDir = None,
    limit: Annotated[int | None, typer.Option(help="At most this many.")] = None,
    canonical: Annotated[bool, typer.Option("--canonical", help="Hide near-duplicates.")] = False,
    as_json: AsJson = False,
) -> None:
    """Stored articles (JSON Lines with --json)."""
    from newsmill_ingest import views

    rows = views.articles(
        command_database(command_settings(data_dir)), limit=limit, canonical=canonical
    )
    if as_json:
        for row in rows:
            print(row.model_dump_json(exclude={"sources"}))
        return
    table = Table("id", "title", "words", "language", "duplicate of", "source")
    for row in rows:
        table.add_row(
            str(row.id),
            shown(row.title),
            str(row.word_count),
            shown(row.language),
            str(row.duplicate_of or ""),
            shown(row.source.uri),
        )
    console.print(table)


@docs_app.command("search")
def docs_search(
    query: Annotated[str, typer.Argument(help="Words to find in titles and bodies.")],
    data_dir: DataDir = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 20,
    as_json: AsJson = False,
) -> None:
    """Full-text search of articles, best match first."""
    from newsmill_ingest.search import SearchError, search

    try:
        hits = search(command_database(command_settings(data_dir)), query, limit)
    except SearchError as exc:
        err.print(problem("error", exc))
        raise typer.Exit(2) from None
    if as_json:
        for hit in hits:
            print(json.dumps(hit.as_dict(), ensure_ascii=False))
        return
    table = Table("id", "title", "snippet")
    for hit in hits:
        table.add_row(str(hit.id), shown(hit.title), shown(hit.snippet))
    console.print(table)
    err.print(f"{len(hits)} match(es)")


@docs_app.command("show")
def docs_show(article_id: int, data_dir: DataDir = None) -> None:
    """One article as JSON, with every source it arrived from."""
    from newsmill_ingest import views

    row = views.article(command_database(command_settings(data_dir)), article_id)
    if row is None:
        err.print(f"no article {article_id}")
        raise typer.Exit(1)
    # Not print_json: it parses and re-dumps, and JSON leaves C1 controls and bidi marks raw.
    text = printable_json(json.dumps(row.model_dump(mode="json"), indent=2, ensure_ascii=False))
    console.print(JSONHighlighter()(text), soft_wrap=True)


PRIVATE_UMASK = 0o077
"""Folders newsmill creates are 0700 and files 0600: documents, the embedded database and
exports may be confidential, and the folders hold names anyone could otherwise list."""


def main() -> None:
    """The ``newsmill`` script; database trouble is one clear line, not a traceback."""
    os.umask(PRIVATE_UMASK)  # inherited by the worker processes `up` and `worker` start
    try:
        app()
    except DBAPIError as exc:
        err.print(problem("database error", database_problem(exc)), soft_wrap=True)
        raise SystemExit(1) from None

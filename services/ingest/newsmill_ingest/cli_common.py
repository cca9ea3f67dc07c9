"""What every ``newsmill`` command shares: the consoles, common options, settings and database.

Every string that came from a document, a feed or a server (names, titles,
URLs, reasons) is printed through :func:`shown`: as ``rich.text.Text`` it is
never read as markup (``[/x]`` in a title would crash rich), and its control
characters are shown as escapes, not sent to the terminal.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text
from sqlalchemy.exc import DBAPIError

from newsmill_schema.db import Database
from newsmill_schema.display import printable
from newsmill_schema.logs import setup_logging
from newsmill_schema.settings import Settings, load_settings

console = Console()
err = Console(stderr=True)

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Embedded mode's data folder (default: NEWSMILL_DATA_DIR or ./data)."
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def shown(value: object, style: str = "") -> Text:
    """Untrusted text for a table cell or a message: literal, control characters escaped."""
    return Text(printable("" if value is None else str(value)), style=style)


def problem(label: str, detail: object) -> Text:
    """``label: detail`` with the label in red, the detail shown literally."""
    return Text.assemble((f"{label}:", "red"), " ", shown(detail))


def command_settings(data_dir: Path | None) -> Settings:
    """Settings for one command (``--data-dir`` over the environment), logging set up."""
    settings = load_settings(data_dir)
    setup_logging(settings)
    return settings


def command_database(settings: Settings, migrate_sqlite: bool = True) -> Database:
    """The command's database, an embedded SQLite file brought up to date first.

    So every command works on a fresh data folder; a server database is
    migrated by ``newsmill db upgrade`` only.
    """
    db = Database.from_settings(settings)
    if migrate_sqlite and db.is_sqlite:
        # A routine check before every command: Alembic's progress lines would be noise.
        logging.getLogger("alembic").setLevel(logging.WARNING)
        db.upgrade()
    return db


def database_problem(exc: DBAPIError) -> str:
    """One line saying what went wrong with the database, and what to do about a missing schema."""
    lines = str(exc.orig or "").strip().splitlines()
    detail = lines[0] if lines else exc.__class__.__name__
    if "no such table" in detail or ("does not exist" in detail and "relation" in detail):
        return f"{detail}: the database has no newsmill schema yet; run `newsmill db upgrade`"
    return detail

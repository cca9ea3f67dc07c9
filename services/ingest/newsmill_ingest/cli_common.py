"""What every ``newsmill`` command shares: the consoles, common options, settings and database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from newsmill_schema.db import Database
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


def command_settings(data_dir: Path | None) -> Settings:
    """Settings for one command (``--data-dir`` over the environment), logging set up."""
    settings = load_settings(data_dir)
    setup_logging(settings)
    return settings


def command_database(settings: Settings, migrate_sqlite: bool = False) -> Database:
    """The database; an embedded SQLite file can be brought up to date first."""
    db = Database.from_settings(settings)
    if migrate_sqlite and db.is_sqlite:
        db.upgrade()
    return db

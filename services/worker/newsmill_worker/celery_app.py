"""The Celery application. Configured lazily from settings: importing it connects to nothing."""

from __future__ import annotations

from typing import Any

from celery import Celery

from newsmill_schema import broker
from newsmill_schema.settings import Settings, load_settings

app = Celery("newsmill", include=["newsmill_worker.tasks"])

_settings: Settings | None = None


def configure(settings: Settings) -> Celery:
    """Configure the app from explicit settings (the CLI does this before starting)."""
    global _settings
    _settings = settings
    return broker.configure(app, settings)


def settings() -> Settings:
    """The settings the app runs with, read from the environment if none were given."""
    global _settings
    if _settings is None:
        _settings = load_settings()
    return _settings


@app.on_configure.connect
def _configure_from_env(sender: Celery, **_: Any) -> None:
    # `celery -A newsmill_worker ...` starts without our CLI: read NEWSMILL_* here.
    broker.configure(sender, settings())

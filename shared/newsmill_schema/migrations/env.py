"""Alembic environment: the URL comes from the config or NEWSMILL_DATABASE_URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from newsmill_schema.db import SQLITE_BUSY_TIMEOUT_S, use_wal
from newsmill_schema.models import Base
from newsmill_schema.settings import Settings

config = context.config


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or Settings().database_url


def run_migrations_online() -> None:
    url = _url()
    sqlite = {"timeout": SQLITE_BUSY_TIMEOUT_S} if url.startswith("sqlite") else {}
    engine = create_engine(url, poolclass=pool.NullPool, connect_args=sqlite)
    with engine.connect() as connection:
        driver = connection.connection.driver_connection
        if connection.dialect.name == "sqlite" and driver is not None:
            # Every way to create or update an embedded database comes through here.
            use_wal(driver)
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()

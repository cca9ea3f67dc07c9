"""Fixtures of the fault suite: a stack on the shared servers, or on servers of its own."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsmill_schema.db import Database
from tests.reliability.harness import PostgresServer, RedisServer, Stack

SCALE = int(os.environ.get("NEWSMILL_RELIABILITY_SCALE", "1"))
"""Multiplies document counts; ``make test-reliability`` runs the long versions."""


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Before the root conftest's hook, which skips marked tests when a server is absent.
    for item in items:
        if "tests/reliability" in str(item.fspath):
            item.add_marker(pytest.mark.redis)
            item.add_marker(pytest.mark.postgres)


@pytest.fixture
def stack(tmp_path: Path, pg_url: str, redis_url: str) -> Iterator[Stack]:
    running = Stack(tmp_path, pg_url, redis_url)
    yield running
    running.stop()
    Database(pg_url).dispose()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.kill()


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    server.init()
    yield server
    server.destroy()

"""Shared fixtures: real Redis and Postgres, throwaway databases, newsmill processes.

Tests marked ``redis`` or ``postgres`` are skipped with a one-line reason when
the server does not answer, except under ``CI=true``, where that is a failure.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import support
from tests.support import IN_CI, PG_ADMIN_URL, REDIS_HOST, REDIS_PORT, service_answers

ROOT = Path(__file__).resolve().parents[1]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help="Run the long scenarios too.")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = {
        "redis": not service_answers(REDIS_HOST, REDIS_PORT),
        "postgres": not service_answers("127.0.0.1", 5432),
    }
    for item in items:
        if "slow" in item.keywords and not config.getoption("--run-slow"):
            item.add_marker(pytest.mark.skip(reason="long scenario: run with --run-slow"))
        for service, absent in missing.items():
            if service in item.keywords and absent and not IN_CI:
                item.add_marker(pytest.mark.skip(reason=f"{service} is not answering on 127.0.0.1"))


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis database number of its own, leased so concurrent test runs never share one."""
    with support.leased_redis_db() as url:
        yield url


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh Postgres database of its own, dropped afterwards."""
    import psycopg

    name = f"newsmill_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'newsmill.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Storage tests run on both SQLite and Postgres."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture(name="free_port")
def free_port_fixture() -> int:
    return support.free_port()


@pytest.fixture
def seed_path() -> Path:
    return ROOT / "seeds" / "000_d424f5f705e33254.txt"

"""Fetches to one host are spaced out across workers, through the database."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from newsmill_schema.db import Database
from newsmill_worker.host_slots import HostSlots

INTERVAL_S = 2.0
NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


@pytest.fixture
def url(database_url: str) -> Iterator[str]:
    db = Database(database_url)
    db.upgrade()
    db.dispose()
    yield database_url


def _worker(url: str, sleeps: list[float]) -> HostSlots:
    # Each "worker" has its own engine and connections, as separate processes would.
    return HostSlots(Database(url), INTERVAL_S, clock=lambda: NOW, sleep=sleeps.append)


def test_concurrent_workers_get_distinct_slots_for_one_host(url: str) -> None:
    # Given four workers asking for the same host at the same instant, three times each
    waits: list[float] = []
    sleeps: list[float] = []
    errors: list[BaseException] = []
    together = threading.Barrier(4, timeout=60)

    def fetcher() -> None:
        slots = _worker(url, sleeps)
        try:
            for _ in range(3):
                together.wait()  # all four really ask at once, every time
                waits.append(slots.wait("news.example"))
        except BaseException as exc:
            errors.append(exc)
            together.abort()
        finally:
            slots.db.dispose()

    threads = [threading.Thread(target=fetcher) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # Then none of them failed, and their fetches start one interval apart: 0, 2, ... 22 s
    assert errors == []
    assert sorted(waits) == [i * INTERVAL_S for i in range(12)]
    assert sorted(sleeps) == [i * INTERVAL_S for i in range(1, 12)]


def test_hosts_do_not_wait_for_each_other(url: str) -> None:
    slots = _worker(url, [])

    assert slots.wait("a.example") == 0.0
    assert slots.wait("b.example") == 0.0
    assert slots.wait("a.example") == INTERVAL_S
    slots.db.dispose()


def test_a_slot_in_the_past_does_not_delay_a_fetch(url: str) -> None:
    # Given a host last fetched long ago
    earlier = HostSlots(Database(url), INTERVAL_S, clock=lambda: NOW - timedelta(hours=1))
    earlier.wait("news.example")
    earlier.db.dispose()

    # Then a fetch now starts at once
    slots = _worker(url, [])
    assert slots.wait("news.example") == 0.0
    slots.db.dispose()

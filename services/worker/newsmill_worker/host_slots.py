"""Spacing out fetches to one host across every worker, through the database.

Each host has a next free start time in ``host_slots``. A worker about to
fetch takes the next slot in one short transaction (the row is locked, so two
workers never take the same one) and sleeps until it starts. Per-process
limiters would multiply the rate by the number of worker processes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from newsmill_schema import models
from newsmill_schema.db import Database
from newsmill_schema.models import utcnow


class HostSlots:
    """Fetches to the same host start at least ``interval_s`` apart, whichever worker makes them."""

    def __init__(
        self,
        db: Database,
        interval_s: float,
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.db = db
        self.interval = timedelta(seconds=interval_s)
        self.clock = clock
        self.sleep = sleep

    def wait(self, host: str) -> float:
        """Block until this process's slot for ``host`` starts; returns the seconds waited."""
        if not self.interval:
            return 0.0
        now = self.clock()
        with self.db.session() as session:
            start = take(session, host, now, self.interval)
        delay = (start - now).total_seconds()
        if delay > 0:
            self.sleep(delay)
        return max(delay, 0.0)


def take(session: Session, host: str, now: datetime, interval: timedelta) -> datetime:
    """Reserve the next free slot for ``host``; returns when it starts (``now`` at the earliest)."""
    dialect_insert = (
        postgres_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    )
    session.execute(
        dialect_insert(models.HostSlot).values(host=host, next_at=now).on_conflict_do_nothing()
    )
    slot = session.execute(
        select(models.HostSlot).where(models.HostSlot.host == host).with_for_update()
    ).scalar_one()
    start = max(now, slot.next_at)
    slot.next_at = start + interval
    return start

"""The ingest service: watch the inbox, record files, publish jobs, reconcile.

One thread does the work (the watcher's inotify thread only announces paths),
so intake, publishing and the reconciler never race each other.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.exc import DBAPIError

from newsmill_ingest import views
from newsmill_ingest.failures import report_failures
from newsmill_ingest.feeds import FeedPoller
from newsmill_ingest.intake import Intake, Recorded
from newsmill_ingest.metrics import SAMPLE_INTERVAL_S, IngestMetrics
from newsmill_ingest.publisher import Publisher
from newsmill_ingest.reconciler import reconcile
from newsmill_ingest.watcher import Watcher
from newsmill_schema import broker
from newsmill_schema.db import Database
from newsmill_schema.messages import JobState, ProcessDocument
from newsmill_schema.settings import Settings

log = logging.getLogger(__name__)

BATCH = 200
FAILURE_REPORT_INTERVAL_S = 1.0
MAX_BACKOFF_S = 30.0


@dataclass
class _Timer:
    """Calls ``action`` every ``interval`` seconds from the service loop."""

    interval: float
    action: Callable[[], object]
    due: float = field(default=0.0)

    def tick(self, now: float) -> None:
        if now < self.due:
            return
        self.due = now + self.interval
        self.action()


class IngestService:
    """The long-running ingest process (``newsmill ingest``)."""

    def __init__(self, settings: Settings, db: Database) -> None:
        assert settings.inbox_dir
        self.settings = settings
        self.db = db
        self.intake = Intake(settings, db)
        self.intake.make_folders()
        self.publisher = Publisher(settings, db)
        self.watcher = Watcher(settings.inbox_dir, settings.settle_seconds)
        self.metrics = IngestMetrics()
        self._backoff = 0.0
        self.feeds = FeedPoller(settings, db, self.publisher)
        self._rescan_timer = _Timer(settings.rescan_interval_s, self.rescan)
        self._timers = [
            _Timer(SAMPLE_INTERVAL_S, self.sample_metrics),
            self._rescan_timer,
            _Timer(settings.reconcile_interval_s, self.reconcile),
            _Timer(FAILURE_REPORT_INTERVAL_S, self.report_failures),
            _Timer(settings.feed_check_interval_s, self.feeds.tick),
        ]

    def run(self, stop: threading.Event) -> None:
        """Serve until ``stop`` is set."""
        self.watcher.start()
        metrics_server = self.metrics.serve(self.settings)
        log.info("watching %s", self.settings.inbox_dir)
        try:
            while not stop.is_set():
                self._step(stop)
        finally:
            if metrics_server is not None:
                metrics_server.shutdown()
            self.watcher.stop()
            self.feeds.close()
            self.publisher.close()
            log.info("ingest service stopped")

    def _step(self, stop: threading.Event) -> None:
        try:
            first = self.watcher.next(timeout=0.2)
            if first is not None:
                self.take([first, *self.watcher.drain(BATCH - 1)])
            now = time.monotonic()
            for timer in self._timers:
                timer.tick(now)
            self._backoff = 0.0
        except DBAPIError as exc:
            # The database is down: claimed files wait in the work folder and
            # are recorded by the next rescan once it is back.
            self._backoff = min(MAX_BACKOFF_S, max(0.5, self._backoff * 2))
            log.warning(
                "database unavailable (%s); retrying in %.1fs",
                exc.__class__.__name__,
                self._backoff,
            )
            stop.wait(self._backoff)
        except Exception:
            # A bug or an unexpected filesystem error must not stop the service:
            # files stay in the inbox or work folder and the next rescan retries them.
            self._backoff = min(MAX_BACKOFF_S, max(0.5, self._backoff * 2))
            log.exception("ingest step failed; retrying in %.1fs", self._backoff)
            stop.wait(self._backoff)

    def take(self, paths: list[Path]) -> list[Recorded]:
        """Claim, record and publish inbox files."""
        recorded = self.intake.take(paths)
        self._publish(recorded)
        return recorded

    def rescan(self) -> None:
        """Finish interrupted claims, then take every settled file left in the inbox.

        A file still changing is looked at again as soon as it will have
        settled: a file copied in just before start-up (inotify was not
        watching yet) is taken seconds later, not a whole rescan interval later.
        """
        self._publish(self.intake.recover())
        scan = self.watcher.rescan()
        for start in range(0, len(scan.settled), BATCH):
            self.take(scan.settled[start : start + BATCH])
        if scan.next_settle_in is not None:
            soon = time.monotonic() + scan.next_settle_in
            self._rescan_timer.due = min(self._rescan_timer.due, soon)

    def reconcile(self) -> int:
        sent = reconcile(self.db, self.publisher, self.settings)
        self.metrics.republished.inc(sent)
        return sent

    def sample_metrics(self) -> None:
        self.metrics.sample(
            jobs=lambda: views.job_counts(self.db),
            feeds_failing=lambda: views.feeds_failing(self.db),
            queue_depth=lambda: broker.queue_depth(self.publisher.app),
        )

    def report_failures(self) -> int:
        return report_failures(self.db, self.settings)

    def _publish(self, recorded: list[Recorded]) -> None:
        self.metrics.files_taken(len(recorded), [r.state for r in recorded])
        queued = [
            ProcessDocument(job_id=r.job_id, source_kind="file", source_uri=r.source_uri)
            for r in recorded
            if r.state == JobState.QUEUED
        ]
        if queued:
            self.publisher.publish(queued)

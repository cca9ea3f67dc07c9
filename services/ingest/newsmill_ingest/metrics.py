"""The ingest service's Prometheus metrics, served on ``metrics_port``.

Counters move where things happen (the service calls them); gauges are sampled
from the database and the broker on a timer of the service loop, so a scrape
never touches either.

- ``newsmill_files_seen_total``: inbox files taken in (claimed);
- ``newsmill_files_recorded_total{state}``: of those, recorded as queued or rejected (failed);
- ``newsmill_reconciler_republished_total``: jobs the reconciler sent again;
- ``newsmill_feed_polls_total{outcome}``: feed polls, ``ok`` or ``error``;
- ``newsmill_jobs{state}``: jobs per state in the ledger;
- ``newsmill_feeds_failing``: feeds whose last poll failed;
- ``newsmill_queue_depth``: messages waiting in the broker (-1 when unknown);
- ``newsmill_up{dependency}``: 1 when the database / broker answered the last sample.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from newsmill_schema.messages import JobState
from newsmill_schema.settings import Settings

log = logging.getLogger(__name__)

SAMPLE_INTERVAL_S = 5.0
DEPENDENCIES = ("database", "broker")


class IngestMetrics:
    """The ingest service's metrics in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.files_seen = Counter("newsmill_files_seen", "Inbox files taken in.", registry=r)
        self.files_recorded = Counter(
            "newsmill_files_recorded",
            "Files recorded, by the job state they got.",
            ["state"],
            registry=r,
        )
        self.republished = Counter(
            "newsmill_reconciler_republished", "Jobs re-published by the reconciler.", registry=r
        )
        self.feed_polls = Counter(
            "newsmill_feed_polls", "Feed polls, by outcome (ok, error).", ["outcome"], registry=r
        )
        self.jobs = Gauge("newsmill_jobs", "Jobs in the ledger, by state.", ["state"], registry=r)
        self.feeds_failing = Gauge(
            "newsmill_feeds_failing", "Feeds whose last poll failed.", registry=r
        )
        self.queue_depth = Gauge(
            "newsmill_queue_depth", "Messages waiting in the broker (-1: unknown).", registry=r
        )
        self.up = Gauge(
            "newsmill_up",
            "1 when the dependency answered the last sample.",
            ["dependency"],
            registry=r,
        )
        for state in JobState:
            self.jobs.labels(state=state.value)
        for state in (JobState.QUEUED, JobState.FAILED):
            self.files_recorded.labels(state=state.value)
        for outcome in ("ok", "error"):
            self.feed_polls.labels(outcome=outcome)
        for dependency in DEPENDENCIES:
            self.up.labels(dependency=dependency)

    def files_taken(self, seen: int, states: list[str]) -> None:
        """``seen`` files were claimed; ``states`` are the states of those recorded."""
        self.files_seen.inc(seen)
        for state in states:
            self.files_recorded.labels(state=state).inc()

    def feed_polled(self, ok: bool) -> None:
        """One feed poll finished."""
        self.feed_polls.labels(outcome="ok" if ok else "error").inc()

    def set_jobs(self, counts: Mapping[str, int]) -> None:
        """Set the per-state gauge; states absent from ``counts`` are 0."""
        for state in {*(s.value for s in JobState), *counts}:
            self.jobs.labels(state=state).set(counts.get(state, 0))

    def set_up(self, dependency: str, up: bool) -> None:
        self.up.labels(dependency=dependency).set(1 if up else 0)

    def sample(
        self,
        jobs: Callable[[], Mapping[str, int]],
        feeds_failing: Callable[[], int],
        queue_depth: Callable[[], int | None],
    ) -> None:
        """Refresh the gauges; an unreachable dependency is reported, never raised."""
        try:
            self.set_jobs(jobs())
            self.feeds_failing.set(feeds_failing())
            self.set_up("database", True)
        except Exception as exc:  # a metric must never take the service down
            log.debug("metrics: database sample failed: %s", exc.__class__.__name__)
            self.set_up("database", False)
        depth = queue_depth()
        self.queue_depth.set(-1 if depth is None else depth)
        self.set_up("broker", depth is not None)

    def serve(self, settings: Settings) -> Any:
        """Start the HTTP endpoint in a daemon thread; returns the server (None when off)."""
        if not settings.metrics_port:
            return None
        server, _thread = start_http_server(
            settings.metrics_port, settings.metrics_address, registry=self.registry
        )
        log.info("metrics on http://%s:%d/metrics", settings.metrics_address, settings.metrics_port)
        return server

"""Metric bookkeeping of the ingest service and the workers (pure logic, no HTTP)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from newsmill_ingest.metrics import IngestMetrics
from newsmill_worker.metrics import WorkerMetrics, outcome_of


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_files_taken_count_seen_files_and_their_recorded_states() -> None:
    metrics = IngestMetrics()
    metrics.files_taken(3, ["queued", "queued", "failed"])
    metrics.files_taken(1, ["queued"])
    assert _value(metrics.registry, "newsmill_files_seen_total") == 4
    assert _value(metrics.registry, "newsmill_files_recorded_total", state="queued") == 3
    assert _value(metrics.registry, "newsmill_files_recorded_total", state="failed") == 1


def test_sample_sets_job_gauges_and_reachability() -> None:
    metrics = IngestMetrics()
    metrics.sample(
        jobs=lambda: {"done": 5, "queued": 2}, feeds_failing=lambda: 1, queue_depth=lambda: 9
    )
    assert _value(metrics.registry, "newsmill_jobs", state="done") == 5
    assert _value(metrics.registry, "newsmill_jobs", state="failed") == 0
    assert _value(metrics.registry, "newsmill_feeds_failing") == 1
    assert _value(metrics.registry, "newsmill_queue_depth") == 9
    assert _value(metrics.registry, "newsmill_up", dependency="database") == 1
    assert _value(metrics.registry, "newsmill_up", dependency="broker") == 1


def test_sample_reports_unreachable_dependencies_without_raising() -> None:
    def broken() -> dict[str, int]:
        raise ConnectionError("database down")

    metrics = IngestMetrics()
    metrics.sample(jobs=broken, feeds_failing=lambda: 0, queue_depth=lambda: None)
    assert _value(metrics.registry, "newsmill_up", dependency="database") == 0
    assert _value(metrics.registry, "newsmill_up", dependency="broker") == 0
    assert _value(metrics.registry, "newsmill_queue_depth") == -1


def test_feed_polls_are_counted_by_outcome() -> None:
    metrics = IngestMetrics()
    metrics.feed_polled(ok=True)
    metrics.feed_polled(ok=False)
    metrics.feed_polled(ok=False)
    assert _value(metrics.registry, "newsmill_feed_polls_total", outcome="ok") == 1
    assert _value(metrics.registry, "newsmill_feed_polls_total", outcome="error") == 2


def test_outcome_is_the_job_state_on_success_and_celery_state_otherwise() -> None:
    assert outcome_of("SUCCESS", "duplicate") == "duplicate"
    assert outcome_of("SUCCESS", "skipped") == "skipped"
    assert outcome_of("RETRY", None) == "retry"
    assert outcome_of("FAILURE", ValueError()) == "error"
    assert outcome_of(None, None) == "error"


def test_worker_metrics_count_outcomes_durations_and_duplicates() -> None:
    registry = CollectorRegistry()
    metrics = WorkerMetrics(registry)
    metrics.observe("done", 0.2)
    metrics.observe("duplicate", 0.03)
    metrics.observe("failed", 4.0)
    assert _value(registry, "newsmill_documents_processed_total", outcome="done") == 1
    assert _value(registry, "newsmill_documents_processed_total", outcome="failed") == 1
    assert _value(registry, "newsmill_duplicates_found_total") == 1
    assert _value(registry, "newsmill_document_processing_seconds_count") == 3
    assert _value(registry, "newsmill_document_processing_seconds_bucket", le="0.25") == 2
    assert abs((_value(registry, "newsmill_document_processing_seconds_sum") or 0) - 4.23) < 1e-9

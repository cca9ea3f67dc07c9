"""Worker metrics and the job id on log lines, hooked into Celery's task signals.

Prefork workers run tasks in child processes, so the counters use
prometheus_client's multiprocess mode: when ``worker_metrics_port`` is set,
the worker's main process makes a fresh folder, points
``PROMETHEUS_MULTIPROC_DIR`` at it before the pool forks, and serves
``/metrics`` summed over every child (past and present) of that worker. One
port per ``newsmill worker`` (per container), not per child; the folder is
removed when the worker stops.

Exported:

- ``newsmill_documents_processed_total{outcome}``: done, duplicate, failed,
  skipped (already finished), retry, error (an exception escaped);
- ``newsmill_document_processing_seconds``: task wall time, a histogram;
- ``newsmill_duplicates_found_total``: documents that were exact duplicates.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from celery import signals

from newsmill_schema.logs import bind_job
from newsmill_schema.messages import PROCESS_DOCUMENT
from newsmill_schema.settings import Settings

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_CELERY_OUTCOMES = {"RETRY": "retry", "FAILURE": "error", "REJECTED": "error", "IGNORED": "error"}


def outcome_of(state: str | None, retval: object) -> str:
    """The outcome label of a finished task: the job's state on success, else what Celery saw."""
    if state == "SUCCESS":
        return str(retval)
    return _CELERY_OUTCOMES.get(state or "", "error")


class WorkerMetrics:
    """The worker's Prometheus metrics (created per process, after the pool has forked)."""

    def __init__(self, registry: Any = None) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        # The endpoint reads the processes' files, not a registry: a private one
        # keeps a re-created set (after a fork) from clashing with the old.
        registry = registry if registry is not None else CollectorRegistry()
        self.processed = Counter(
            "newsmill_documents_processed",
            "Documents processed, by outcome.",
            ["outcome"],
            registry=registry,
        )
        self.seconds = Histogram(
            "newsmill_document_processing_seconds",
            "Wall time of one document task.",
            buckets=BUCKETS,
            registry=registry,
        )
        self.duplicates = Counter(
            "newsmill_duplicates_found",
            "Documents found to be exact duplicates.",
            registry=registry,
        )

    def observe(self, outcome: str, seconds: float) -> None:
        """Record one finished task."""
        self.processed.labels(outcome=outcome).inc()
        self.seconds.observe(seconds)
        if outcome == "duplicate":
            self.duplicates.inc()


@dataclass
class _ProcessState:
    pid: int = 0
    metrics: WorkerMetrics | None = None
    started: dict[str, float] = field(default_factory=dict)


_state = _ProcessState()


def _metrics() -> WorkerMetrics:
    # One set per process: a forked child must not write through its parent's files.
    if _state.metrics is None or _state.pid != os.getpid():
        _state.pid = os.getpid()
        _state.metrics = WorkerMetrics()
        _state.started.clear()
    return _state.metrics


def enable_multiprocess(directory: str) -> None:
    """Make metrics created from now on (in this process and its future children) shared files."""
    from prometheus_client import values

    os.environ[MULTIPROC_ENV] = directory
    # prometheus_client picks its value class when first imported; choose again
    # now that the folder is set, whatever imported it earlier.
    values.ValueClass = values.get_value_class()


def serve(settings: Settings, directory: str) -> None:
    """Serve the summed metrics of every process writing to ``directory``."""
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)
    start_http_server(settings.worker_metrics_port, settings.metrics_address, registry=registry)
    log.info(
        "worker metrics on http://%s:%d/metrics",
        settings.metrics_address,
        settings.worker_metrics_port,
    )


@signals.worker_init.connect
def _on_worker_init(**_: Any) -> None:
    from newsmill_worker.celery_app import settings

    current = settings()
    if not current.worker_metrics_port:
        return
    directory = tempfile.mkdtemp(prefix="newsmill-worker-metrics-")
    enable_multiprocess(directory)
    serve(current, directory)


@signals.worker_shutdown.connect
def _on_worker_shutdown(**_: Any) -> None:
    directory = os.environ.get(MULTIPROC_ENV, "")
    if os.path.basename(directory).startswith("newsmill-worker-metrics-"):
        shutil.rmtree(directory, ignore_errors=True)


@signals.task_prerun.connect
def _on_task_prerun(task_id: str, task: Any, args: Any = None, **_: Any) -> None:
    if task.name != PROCESS_DOCUMENT:
        return
    job_id = args[0] if args else None
    bind_job(job_id if isinstance(job_id, int) else None)
    _metrics()
    _state.started[task_id] = time.monotonic()


@signals.task_postrun.connect
def _on_task_postrun(
    task_id: str, task: Any, retval: Any = None, state: str | None = None, **_: Any
) -> None:
    if task.name != PROCESS_DOCUMENT:
        return
    bind_job(None)
    started = _state.started.pop(task_id, None)
    elapsed = time.monotonic() - started if started is not None else 0.0
    _metrics().observe(outcome_of(state, retval), elapsed)

"""The supervisor's probe against a real Celery worker on Redis: answering is not enough."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsmill_schema import broker
from newsmill_schema.messages import PROCESS_DOCUMENT, QUEUE, ProcessDocument
from newsmill_schema.settings import Settings
from newsmill_worker.liveness import liveness_of
from newsmill_worker.worker import NODE_NAME
from tests.support import Process, wait_for

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


@pytest.fixture
def settings(tmp_path: Path, pg_url: str, redis_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=pg_url,
        broker_url=redis_url,
        worker_concurrency=1,
        document_time_limit_s=1,
        task_time_limit_s=2,
        worker_liveness_interval_s=1,
    )


@pytest.fixture
def worker(tmp_path: Path, settings: Settings) -> Iterator[Process]:
    env = {
        "NEWSMILL_DATA_DIR": str(settings.data_dir),
        "NEWSMILL_DATABASE_URL": settings.database_url,
        "NEWSMILL_BROKER_URL": settings.broker_url,
        "NEWSMILL_WORKER_CONCURRENCY": "1",
    }
    process = Process(["worker", "--no-supervise"], env, tmp_path / "worker.log")
    wait_for(lambda: "ready" in process.output(), 60, what="worker ready")
    yield process
    process.stop()


def test_a_worker_that_answers_but_consumes_nothing_fails_its_probe(
    settings: Settings, worker: Process
) -> None:
    liveness = liveness_of(settings)
    assert liveness is not None
    assert liveness.probe() is True, worker.output()[-2000:]
    app = broker.make_app(settings, "newsmill-test")
    node = NODE_NAME.replace("%h", socket.gethostname())

    # Given a worker that keeps answering but has stopped taking from its queue
    app.control.cancel_consumer(QUEUE, destination=[node], reply=True, timeout=5)
    # When messages wait for it
    for job_id in (1, 2, 3):
        args, kwargs = ProcessDocument(
            job_id=job_id, source_kind="file", source_uri="x"
        ).task_args()
        app.send_task(PROCESS_DOCUMENT, args=args, kwargs=kwargs, queue=QUEUE)
    started = time.monotonic()

    # Then its probe passes for a whole stall window (2 × 2 s + 1 s), then fails
    wait_for(lambda: liveness.probe() is False, 30, interval=0.5, what="a failed probe")
    assert time.monotonic() - started >= 4.5
    assert worker.alive
    app.close()

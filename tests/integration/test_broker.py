"""The broker module against real brokers: Redis, the embedded filesystem broker, and none."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsmill_schema import broker
from newsmill_schema.messages import PROCESS_DOCUMENT, QUEUE, ProcessDocument
from newsmill_schema.settings import Settings
from tests.support import free_port


def _send(settings: Settings, count: int) -> None:
    app = broker.make_app(settings, "newsmill-test")
    for job_id in range(1, count + 1):
        args, kwargs = ProcessDocument(
            job_id=job_id, source_kind="file", source_uri="x"
        ).task_args()
        app.send_task(PROCESS_DOCUMENT, args=args, kwargs=kwargs, queue=QUEUE)
    app.close()


@pytest.mark.redis
def test_queue_depth_on_redis_counts_waiting_messages(tmp_path: Path, redis_url: str) -> None:
    settings = Settings(data_dir=tmp_path, broker_url=redis_url)
    app = broker.make_app(settings, "newsmill-test")
    # A fresh broker has no queue yet: it is empty, not unknown
    assert broker.queue_depth(app) == 0
    _send(settings, 3)
    assert broker.queue_depth(app) == 3
    assert broker.reachable(app)
    # No worker runs: nobody answers a ping
    assert broker.ping(app, timeout=0.5) == []
    app.close()


def test_queue_depth_on_the_embedded_broker(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    app = broker.make_app(settings, "newsmill-test")
    assert broker.queue_depth(app) == 0
    _send(settings, 2)
    assert broker.queue_depth(app) == 2
    app.close()


def test_an_unreachable_broker_has_no_depth_and_no_workers(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, broker_url=f"redis://127.0.0.1:{free_port()}/0")
    app = broker.make_app(settings, "newsmill-test")
    assert broker.queue_depth(app) is None
    assert not broker.reachable(app)
    assert broker.ping(app, timeout=0.5) == []
    app.close()

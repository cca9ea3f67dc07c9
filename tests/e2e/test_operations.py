"""Operating a Redis + Postgres stack: Flower over HTTP, metrics endpoints, Celery's tools, logs.

One stack (ingest, worker, Flower as real processes) serves every check, to keep it quick.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from newsmill_ingest.views import job_counts
from newsmill_schema.db import Database
from newsmill_schema.settings import Settings
from tests.support import Process, free_port, wait_for

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

AUTH = ("operator", "pw-for-tests")
DOCUMENTS = {
    f"story-{n}.txt": f"Story number {n} about the {topic}\n\n"
    + " ".join(f"The {topic} report, part {i} of story {n}, has ordinary words." for i in range(12))
    for n, topic in enumerate(["harbour", "orchard", "railway", "library"])
}
BODY_MARKER = "ordinary words"


@dataclass
class Ops:
    settings: Settings
    db: Database
    env: dict[str, str]
    ingest: Process
    worker: Process
    flower: subprocess.Popen[bytes]
    ingest_metrics: str
    worker_metrics: str
    flower_url: str


@pytest.fixture
def ops(tmp_path: Path, pg_url: str, redis_url: str) -> Iterator[Ops]:
    data = tmp_path / "data"
    ports = {"ingest": free_port(), "worker": free_port(), "flower": free_port()}
    env = {
        "NEWSMILL_DATA_DIR": str(data),
        "NEWSMILL_DATABASE_URL": pg_url,
        "NEWSMILL_BROKER_URL": redis_url,
        "NEWSMILL_LOG_FORMAT": "text",
        "NEWSMILL_SETTLE_SECONDS": "0.5",
        "NEWSMILL_METRICS_ADDRESS": "127.0.0.1",
        # The reconciler runs often but finds nothing to re-publish: every message arrives.
        "NEWSMILL_RECONCILE_INTERVAL_S": "1",
        "NEWSMILL_METRICS_PORT": str(ports["ingest"]),
        "NEWSMILL_WORKER_METRICS_PORT": str(ports["worker"]),
    }
    Database(pg_url).upgrade()
    flower_log = open(tmp_path / "flower.log", "ab")  # noqa: SIM115 - closed below
    # As compose runs it: `newsmill flower`, given the broker and no database URL.
    flower_env = {k: v for k, v in {**os.environ, **env}.items() if k != "NEWSMILL_DATABASE_URL"}
    flower = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "newsmill_ingest",
            "flower",
            f"--port={ports['flower']}",
            "--address=127.0.0.1",
            "--persistent=True",
            f"--db={tmp_path / 'flower.db'}",
        ],
        env={**flower_env, "FLOWER_BASIC_AUTH": ":".join(AUTH)},
        stdout=flower_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    worker = Process(["worker"], env, tmp_path / "worker.log")
    ingest = Process(["ingest"], env, tmp_path / "ingest.log")
    settings = Settings(data_dir=data, database_url=pg_url, broker_url=redis_url)
    flower_url = f"http://127.0.0.1:{ports['flower']}"
    try:
        wait_for(lambda: "ready" in worker.output(), 60, what="the worker")
        wait_for(lambda: _get(f"{flower_url}/healthcheck") == 200, 30, what="Flower")
        wait_for(lambda: settings.inbox_dir and settings.inbox_dir.is_dir(), 30, what="the inbox")
        yield Ops(
            settings,
            Database(pg_url),
            env,
            ingest,
            worker,
            flower,
            f"http://127.0.0.1:{ports['ingest']}/metrics",
            f"http://127.0.0.1:{ports['worker']}/metrics",
            flower_url,
        )
    finally:
        for process in (ingest, worker):
            process.stop()
        flower.terminate()
        try:
            flower.wait(timeout=10)
        except subprocess.TimeoutExpired:
            flower.kill()
        flower_log.close()


def _get(url: str, **kwargs: object) -> int:
    try:
        return httpx.get(url, timeout=2, **kwargs).status_code  # type: ignore[arg-type]
    except httpx.HTTPError:
        return 0


def _metric(url: str, name: str, **labels: str) -> float | None:
    """One sample's value from a Prometheus text endpoint (None when absent or unreachable)."""
    try:
        body = httpx.get(url, timeout=2).text
    except httpx.HTTPError:
        return None
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = re.escape(name) + (r"\{" + re.escape(wanted) + r"\}" if wanted else "") + r" (\S+)"
    match = re.search(r"^" + pattern + r"$", body, re.MULTILINE)
    return float(match.group(1)) if match else None


def _drop(inbox: Path, name: str, text: str) -> None:
    staging = inbox.parent / f".staging-{name}"
    staging.write_text(text, encoding="utf-8")
    os.replace(staging, inbox / name)


def test_operating_a_running_stack(ops: Ops) -> None:
    assert ops.settings.inbox_dir
    # Given a quiet stack, the ingest endpoint reports nothing seen yet
    wait_for(
        lambda: _metric(ops.ingest_metrics, "newsmill_up", dependency="broker") == 1,
        20,
        what="the ingest metrics endpoint",
    )
    assert _metric(ops.ingest_metrics, "newsmill_files_seen_total") == 0
    assert _metric(ops.worker_metrics, "newsmill_documents_processed_total", outcome="done") is None

    # When four stories and a copy of one are dropped
    for name, text in DOCUMENTS.items():
        _drop(ops.settings.inbox_dir, name, text)
    _drop(ops.settings.inbox_dir, "copy.txt", DOCUMENTS["story-0.txt"])
    wait_for(
        lambda: job_counts(ops.db) == {"done": 4, "duplicate": 1}, 30, what="every job to finish"
    )

    # Then the counters move on both endpoints
    assert _metric(ops.ingest_metrics, "newsmill_files_seen_total") == 5
    assert _metric(ops.ingest_metrics, "newsmill_files_recorded_total", state="queued") == 5
    assert _metric(ops.ingest_metrics, "newsmill_reconciler_republished_total") == 0
    wait_for(
        lambda: _metric(ops.ingest_metrics, "newsmill_jobs", state="done") == 4,
        15,
        what="the sampled job gauge",
    )
    assert _metric(ops.ingest_metrics, "newsmill_up", dependency="database") == 1
    # (the worker's figures are summed over its prefork children)
    worker = ops.worker_metrics
    assert _metric(worker, "newsmill_documents_processed_total", outcome="done") == 4
    assert _metric(worker, "newsmill_documents_processed_total", outcome="duplicate") == 1
    assert _metric(worker, "newsmill_duplicates_found_total") == 1
    assert _metric(worker, "newsmill_document_processing_seconds_count") == 5

    # and Flower, behind basic auth, lists the tasks by name with job ids and sources only
    assert _get(f"{ops.flower_url}/api/tasks") == 401
    names = {*DOCUMENTS, "copy.txt"}
    tasks = wait_for(lambda: _flower_tasks(ops.flower_url, names), 30, what="Flower's task list")
    assert len(tasks) == len(names)
    assert {t["name"] for t in tasks} == {"newsmill.process_document"}
    assert {t["state"] for t in tasks} == {"SUCCESS"}
    assert all(re.fullmatch(r"\[\d+\]", t["args"]) for t in tasks), tasks
    assert any("inbox/copy.txt" in t["kwargs"] for t in tasks)
    assert not any(BODY_MARKER in t["args"] + t["kwargs"] for t in tasks)
    flower_metrics = httpx.get(f"{ops.flower_url}/metrics", auth=AUTH, timeout=5).text
    assert "flower_events_total" in flower_metrics
    # its /metrics (task names, worker names) too, which plain Flower serves to anyone
    assert _get(f"{ops.flower_url}/metrics") == 401
    assert _get(f"{ops.flower_url}/healthcheck") == 200

    # and Celery's own inspect tool reaches the worker by its node name
    stats = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "newsmill_worker", "inspect", "stats", "--json"],
        env={**os.environ, **ops.env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert stats.returncode == 0, stats.stderr
    assert "newsmill@" in stats.stdout
    assert '"newsmill.process_document": 5' in stats.stdout.replace("'", '"')

    # and every worker log line about a document names its job
    lines = [
        line for line in ops.worker.output().splitlines() if "newsmill.process_document[" in line
    ]
    assert len(lines) == 10, ops.worker.output()[-2000:]  # received + succeeded, per task
    assert all("[job " in line for line in lines), lines


def _flower_tasks(url: str, names: set[str]) -> list[dict] | None:
    """Flower's finished tasks, once there is one for each of our files."""
    response = httpx.get(f"{url}/api/tasks", auth=AUTH, timeout=5)
    tasks = [t for t in response.json().values() if t.get("state") == "SUCCESS"]
    seen = {n for n in names for t in tasks if f"inbox/{n}'" in t["kwargs"]}
    return tasks if seen == names else None

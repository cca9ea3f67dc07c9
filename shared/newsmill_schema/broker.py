"""The broker, for every part of newsmill: Celery apps, queue depth, ping.

The ingest service publishes, the workers consume, the supervisor and
``newsmill status`` ask how things stand: each makes its Celery app here, from
the one configuration below, and asks the broker through these functions.
Tasks are sent by name, so nothing that publishes imports worker code, and
making an app connects to nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from celery import Celery
from kombu.exceptions import ChannelError

from newsmill_schema.messages import PROCESS_DOCUMENT, QUEUE
from newsmill_schema.settings import Settings


def make_app(settings: Settings, name: str) -> Celery:
    """A Celery app configured for newsmill, to publish or ask with (not the worker's own app)."""
    return configure(Celery(name, set_as_current=False), settings)


def configure(app: Celery, settings: Settings) -> Celery:
    """Apply newsmill's configuration to an app (the embedded broker's folders are made)."""
    _ensure_broker_dirs(settings)
    app.conf.update(celery_config(settings))
    return app


def queue_depth(app: Celery) -> int | None:
    """Messages waiting in newsmill's queue; None only when the broker is unreachable.

    The queue exists once a worker or a publish has declared it: on a fresh or
    restarted broker, asking for it fails although the queue is simply empty.
    """
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1)
            try:
                declared = connection.default_channel.queue_declare(queue=QUEUE, passive=True)
            except ChannelError:
                return 0
            return int(declared.message_count)
    except Exception:  # any failure to ask: tell a down broker from an undeclared queue
        return 0 if reachable(app) else None


def reachable(app: Celery) -> bool:
    """True when a connection to the broker can be made."""
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1)
        return True
    except Exception:  # any failure to connect means unreachable
        return False


def ping(app: Celery, timeout: float) -> list[str]:
    """Names of the workers answering a ping (what ``celery inspect ping`` shows), sorted."""
    try:
        replies = app.control.ping(timeout=timeout) or []
    except Exception:  # an unreachable broker means no worker is reachable
        return []
    return sorted(name for reply in replies for name in reply)


def celery_config(settings: Settings) -> dict[str, Any]:
    """Celery settings for newsmill: late acks, bounded retries, events on request, JSON only."""
    config: dict[str, Any] = {
        "broker_url": settings.broker_url,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": _transport_options(settings),
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_serializer": "json",
        "task_ignore_result": True,
        "result_backend": None,
        "task_default_queue": QUEUE,
        "task_routes": {PROCESS_DOCUMENT: {"queue": QUEUE}},
        # The database is the source of truth; late acks and requeue-on-loss
        # only make redelivery quicker, the reconciler makes it certain.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_time_limit": settings.task_time_limit_s,
        "worker_prefetch_multiplier": settings.worker_prefetch_multiplier,
        "worker_concurrency": settings.worker_concurrency,
        "worker_max_memory_per_child": settings.worker_max_memory_mb * 1024,
        "worker_max_tasks_per_child": settings.worker_max_tasks_per_child,
        # Off by default: each event is one more broker publish per task, and
        # Flower enables worker events itself when it connects.
        "worker_send_task_events": settings.task_events,
        "task_send_sent_event": settings.task_events,
        "worker_hijack_root_logger": False,
        "worker_cancel_long_running_tasks_on_connection_loss": False,
    }
    return config


def _transport_options(settings: Settings) -> dict[str, Any]:
    if settings.embedded_broker:
        folder = settings.broker_dir
        return {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "control_folder": str(folder / "control"),
            # The filesystem transport polls its folder; poll often for low latency.
            "polling_interval": 0.05,
        }
    # A message unacknowledged this long is redelivered: keep it above the hard limit.
    return {"visibility_timeout": int(settings.processing_timeout_s * 2)}


def _ensure_broker_dirs(settings: Settings) -> None:
    """The filesystem transport needs its folders to exist before it is used."""
    if not settings.embedded_broker:
        return
    options = _transport_options(settings)
    for key in ("data_folder_in", "control_folder"):
        Path(options[key]).mkdir(mode=0o700, parents=True, exist_ok=True)

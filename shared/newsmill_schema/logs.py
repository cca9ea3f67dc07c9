"""Logging: JSON lines in containers, readable lines on a terminal.

Every line about a document carries its job id, whichever way it was logged:

- newsmill's own calls pass ``extra={"job_id": ...}``;
- code running inside a task is wrapped in :func:`job_context`, so any logger
  (the pipeline's, SQLAlchemy's, Celery's own "succeeded" line) gets it;
- Celery's "received" line, logged by the worker's main process, carries the
  task's arguments, whose first is the job id.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from newsmill_schema.display import printable
from newsmill_schema.messages import PROCESS_DOCUMENT
from newsmill_schema.settings import Settings

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}

_current_job: ContextVar[int | None] = ContextVar("newsmill_job_id", default=None)

# Celery logs a task's arguments as their repr: "[42]" or "(42,)".
_FIRST_ARG = re.compile(r"^[\[(]\s*(\d+)\s*[,\])]")


@contextmanager
def job_context(job_id: int) -> Iterator[None]:
    """Within this block, every log line carries ``job_id``."""
    token = _current_job.set(job_id)
    try:
        yield
    finally:
        _current_job.reset(token)


def bind_job(job_id: int | None) -> None:
    """Set (or with None clear) the job id of the lines that follow, for signal-style hooks."""
    _current_job.set(job_id)


def current_job() -> int | None:
    """The job id bound by :func:`job_context` or :func:`bind_job`, if any."""
    return _current_job.get()


def celery_job_id(record: logging.LogRecord) -> int | None:
    """The job id in one of Celery's task log lines about a document, if it is one."""
    data = getattr(record, "data", None)
    if not isinstance(data, dict) or data.get("name") != PROCESS_DOCUMENT:
        return None
    match = _FIRST_ARG.match(str(data.get("args") or ""))
    return int(match.group(1)) if match else None


class JobIdFilter(logging.Filter):
    """Adds ``job_id`` to records that lack it, from the bound job or Celery's task context."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "job_id", None) is None:
            job_id = current_job() or celery_job_id(record)
            if job_id is not None:
                record.job_id = job_id
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with every ``extra`` field at the top level."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        payload.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``time level logger [job N] message``, one line per record.

    Messages carry file names and reasons from documents: their control
    characters are escaped, so a name cannot forge a line or paint the
    terminal. A traceback keeps its own line breaks.
    """

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s %(job)s%(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        job_id = getattr(record, "job_id", None)
        record.job = f"[job {job_id}] " if job_id is not None else ""
        return super().format(record)

    def formatMessage(self, record: logging.LogRecord) -> str:
        return printable(super().formatMessage(record))

    def formatException(self, ei: Any) -> str:
        return printable(super().formatException(ei), keep_newlines=True)

    def formatStack(self, stack_info: str) -> str:
        return printable(super().formatStack(stack_info), keep_newlines=True)


def use_json(settings: Settings, stream: object = None) -> bool:
    """JSON when asked for, or on ``auto`` when the stream is not a terminal (a container)."""
    if settings.log_format != "auto":
        return settings.log_format == "json"
    stream = stream if stream is not None else sys.stderr
    isatty = getattr(stream, "isatty", None)
    return not (isatty and isatty())


def make_handler(settings: Settings, stream: object = None) -> logging.Handler:
    """A stream handler with newsmill's format and job-id filter."""
    target = stream if stream is not None else sys.stderr
    handler = logging.StreamHandler(target)  # type: ignore[arg-type]
    handler.setFormatter(JsonFormatter() if use_json(settings, target) else TextFormatter())
    handler.addFilter(JobIdFilter())
    return handler


def setup_logging(settings: Settings) -> None:
    """Configure the root logger once, from settings."""
    root = logging.getLogger()
    root.handlers[:] = [make_handler(settings)]
    root.setLevel(settings.log_level.upper())

"""Log lines: JSON in containers, text on a terminal, the job id on every document line."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest

from newsmill_schema.logs import (
    JobIdFilter,
    JsonFormatter,
    TextFormatter,
    celery_job_id,
    job_context,
    make_handler,
    use_json,
)
from newsmill_schema.messages import PROCESS_DOCUMENT
from newsmill_schema.settings import Settings


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _record(msg: str = "hello", **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("newsmill.test", logging.INFO, __file__, 1, msg, None, None)
    record.__dict__.update(extra)
    return record


def _emit(handler: logging.Handler, stream: io.StringIO, record: logging.LogRecord) -> str:
    handler.handle(record)
    return stream.getvalue().strip()


def test_auto_format_is_json_without_a_terminal_and_text_on_one(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path, log_format="auto")
    assert use_json(settings, io.StringIO()) is True
    assert use_json(settings, _Tty()) is False
    assert use_json(Settings(data_dir=tmp_path, log_format="text"), io.StringIO()) is False
    assert use_json(Settings(data_dir=tmp_path, log_format="json"), _Tty()) is True


def test_json_line_carries_the_job_id_bound_by_the_task(tmp_path) -> None:
    # Given a JSON handler, when a line is logged inside a job's context
    stream = io.StringIO()
    handler = make_handler(Settings(data_dir=tmp_path, log_format="json"), stream)
    with job_context(41):
        line = _emit(handler, stream, _record("parsed"))
    # then it is one JSON object with the job id at the top level
    payload = json.loads(line)
    assert payload["job_id"] == 41
    assert payload["msg"] == "parsed"
    assert payload["level"] == "info"


def test_context_ends_with_the_block() -> None:
    record = _record()
    with job_context(7):
        pass
    JobIdFilter().filter(record)
    assert not hasattr(record, "job_id")


def test_explicit_job_id_wins_over_the_context() -> None:
    record = _record(job_id=3)
    with job_context(9):
        JobIdFilter().filter(record)
    assert record.job_id == 3


def test_text_line_shows_the_job_id(tmp_path) -> None:
    stream = _Tty()
    handler = make_handler(Settings(data_dir=tmp_path, log_format="auto"), stream)
    assert isinstance(handler.formatter, TextFormatter)
    with job_context(12):
        line = _emit(handler, stream, _record("job done"))
    assert "[job 12] job done" in line


@pytest.mark.parametrize(
    ("args", "expected"),
    [("[42]", 42), ("(42,)", 42), ("[ 7 ]", 7), ("[]", None), ("['x']", None), ("", None)],
)
def test_celery_task_lines_yield_the_job_id(args: str, expected: int | None) -> None:
    # Celery's "Task ... received" line passes its context as extra={"data": ...}
    record = _record(data={"name": PROCESS_DOCUMENT, "id": "abc", "args": args})
    assert celery_job_id(record) == expected


def test_other_tasks_lines_are_left_alone() -> None:
    record = _record(data={"name": "celery.ping", "args": "[42]"})
    JobIdFilter().filter(record)
    assert not hasattr(record, "job_id")


def test_json_formatter_reports_exceptions() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    payload = json.loads(JsonFormatter().format(record))
    assert "ValueError: boom" in payload["exc"]


def test_a_hostile_name_cannot_forge_a_text_line_or_paint_the_terminal() -> None:
    record = logging.LogRecord(
        "newsmill.test",
        logging.WARNING,
        __file__,
        1,
        "rejected %s: %s",
        ("x.txt\n12:00:00 INFO    forged line \x1b[31mred\u202eexe.txt", "empty"),
        None,
    )

    line = TextFormatter().format(record)

    assert "\n" not in line and "\x1b" not in line and "\u202e" not in line
    assert "x.txt\\n12:00:00 INFO    forged line \\x1b[31mred\\u202eexe.txt: empty" in line


def test_a_traceback_keeps_its_lines_but_not_its_escapes() -> None:
    try:
        raise ValueError("bad \x1b[2J name")
    except ValueError:
        record = logging.LogRecord(
            "newsmill.test", logging.ERROR, __file__, 1, "failed", None, sys.exc_info()
        )

    text = TextFormatter().format(record)

    assert text.count("\n") >= 3 and "\x1b" not in text and "bad \\x1b[2J name" in text

"""A document that runs out of parsing time fails once, with its reason; a slow fetch is retried."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsmill_schema import models
from newsmill_schema.db import Database
from newsmill_schema.messages import JobState
from newsmill_schema.settings import Settings
from newsmill_worker.deadline import FetchTimeout, deadline
from newsmill_worker.fulltext import FullText
from newsmill_worker.pipeline import Limits
from newsmill_worker.processor import Processor
from tests.support import queue_document

# About 40,000 paragraphs: seconds of real extraction, under max_html_elements.
SLOW_PAGE = "<html><body>" + "<p>Word after word" * 40_000 + "</body></html>"


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    database.upgrade()
    yield database
    database.dispose()


def test_a_document_out_of_parsing_time_fails_once_with_the_reason(
    db: Database, tmp_path: Path, seed_path: Path
) -> None:
    # Given a page whose extraction takes longer than a 0.5 s document time limit
    settings = Settings(data_dir=tmp_path, database_url=db.url, document_time_limit_s=0.5)
    processor = Processor(settings, db)
    slow = queue_document(db, "slow.html", SLOW_PAGE)
    good = queue_document(db, "seed.txt", seed_path.read_text(encoding="utf-8"))

    # When it is processed
    started = time.process_time()
    state = processor.process(slow)

    # Then it fails at the limit, on its first attempt, and says why it is not retried;
    # the work it cost is bounded (CPU time: a loaded machine stretches the wall clock)
    assert state == JobState.FAILED
    assert time.process_time() - started < 2
    with db.session() as session:
        job = session.get(models.Job, slow)
        assert job is not None
        assert job.state == JobState.FAILED and job.attempts == 1
        assert job.error is not None
        assert "parsing exceeded the time limit of 0.5s" in job.error
        assert "not retried" in job.error
    # and the next document is processed as usual
    assert processor.process(good) == JobState.DONE


class _SlowLimiter:
    """A host slot that takes longer to come than the document may take."""

    def wait(self, host: str) -> float:
        time.sleep(5)
        return 5.0


def test_running_out_of_time_while_fetching_is_a_fetch_timeout(tmp_path: Path) -> None:
    full_text = FullText(Settings(data_dir=tmp_path), _SlowLimiter())
    with pytest.raises(FetchTimeout, match=r"time limit of 0\.2s"), deadline(0.2):
        full_text.page("https://example.org/story", Limits())

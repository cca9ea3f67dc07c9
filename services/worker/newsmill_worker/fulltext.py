"""Full text for feed entries that ask for it (``newsmill feeds add --full-text``).

Many feeds carry only a teaser. For an entry record flagged ``fetch_full_text``
by the feed poller (a job from a registered feed: the flag in a file dropped
into the inbox is ignored, or any inbox writer could make workers fetch any
public URL) the worker fetches the entry's link (through the same guarded fetcher as the
feeds: scheme and address checks, size cap, timeouts), extracts the article
with the HTML path, and keeps the feed's own title, link and date. When the
fetch or the extraction fails, or finds less text than the feed had, the
feed's own content is used. Fetches to one host are spaced out across every
worker (``host_slots``), so a feed of 50 entries does not hammer its site.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from typing import Protocol
from urllib.parse import urlsplit

from newsmill_ingest.fetch import Fetcher, FetchError, FetchPolicy
from newsmill_schema.links import web_url
from newsmill_schema.messages import FULL_TEXT_FIELD
from newsmill_schema.settings import Settings
from newsmill_worker import pipeline
from newsmill_worker.deadline import DocumentTimeout, FetchTimeout
from newsmill_worker.pipeline import DocumentError, Limits, Outcome, Parsed

log = logging.getLogger(__name__)

_ACCEPT_HTML = {"Accept": "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"}
_PAGE_NAME = "page.html"


class Limiter(Protocol):
    """Spaces out fetches to one host (``host_slots.HostSlots``)."""

    def wait(self, host: str) -> float: ...


def requested_link(data: bytes) -> str | None:
    """The link of an entry record that asks for its full text, else None."""
    if FULL_TEXT_FIELD.encode() not in data:
        return None
    try:
        record = json.loads(data)
    except (ValueError, RecursionError):
        return None
    if not isinstance(record, dict) or record.get(FULL_TEXT_FIELD) is not True:
        return None
    return web_url(record.get("link"))


def merge(page: Parsed, entry: Parsed | None) -> Parsed:
    """The page's text with the entry's metadata; the entry alone when it has more text."""
    if entry is None:
        return page
    if page.word_count < entry.word_count:
        return entry
    return replace(
        page,
        title=entry.title or page.title,
        subtitle=entry.subtitle or page.subtitle,
        authors=page.authors or entry.authors,
        published_at=entry.published_at or page.published_at,
        language=page.language or entry.language,
        publisher=entry.publisher or page.publisher,
        url=entry.url or page.url,
    )


class FullText:
    """Runs the pipeline on a job, fetching the page first for full-text entries."""

    def __init__(
        self, settings: Settings, limiter: Limiter, fetcher: Fetcher | None = None
    ) -> None:
        self.settings = settings
        self.limiter = limiter
        self._fetcher = fetcher

    @property
    def fetcher(self) -> Fetcher:
        # Made on first use, after the worker forked: no connection pool crosses processes.
        if self._fetcher is None:
            policy = FetchPolicy.from_settings(self.settings)
            # The page fetch must end well inside the task's soft time limit.
            deadline = min(policy.total_timeout_s, self.settings.document_time_limit_s / 2)
            self._fetcher = Fetcher(replace(policy, total_timeout_s=deadline))
        return self._fetcher

    def run(self, data: bytes, name: str, limits: Limits, from_feed: bool) -> list[Outcome]:
        """``pipeline.run``, with the entry's page as its text when a feed entry asks for it."""
        link = requested_link(data) if from_feed else None
        if link is None:
            return pipeline.run(data, name, limits)
        try:
            outcomes: list[Outcome] | None = pipeline.run(data, name, limits)
            problem: DocumentError | None = None
        except DocumentError as exc:
            outcomes, problem = None, exc
        entry = outcomes[0] if outcomes and isinstance(outcomes[0], Parsed) else None
        page = self.page(link, limits)
        if page is not None:
            return [merge(page, entry)]
        if outcomes is None:
            assert problem is not None
            raise problem
        return outcomes

    def page(self, link: str, limits: Limits) -> Parsed | None:
        """The article extracted from ``link``, or None (logged) when there is none."""
        try:
            self.limiter.wait(urlsplit(link).hostname or "")
            response = self.fetcher.get(link, _ACCEPT_HTML)
        except FetchError as exc:
            log.info("full text of %s not fetched: %s; using the feed's content", link, exc.reason)
            return None
        except DocumentTimeout as exc:
            # Out of time on the network, not in parsing: worth another attempt.
            raise FetchTimeout(exc.seconds) from exc
        if response.status != 200:
            log.info("full text of %s: HTTP %d; using the feed's content", link, response.status)
            return None
        try:
            outcomes = pipeline.run(response.body, _PAGE_NAME, limits)
        except DocumentError as exc:
            log.info("full text of %s not extracted: %s", link, exc.reason)
            return None
        first = outcomes[0] if outcomes else None
        return first if isinstance(first, Parsed) else None

"""The worker's database adapter: claim a job, save its articles, fail it.

Every function takes a Session inside the caller's transaction, so a job's
outcome (its state, its article, its sources) commits or rolls back as one.

Deduplication follows one rule, whatever order workers see copies in: the
earliest job (lowest id) of a cluster of copies owns the canonical article.
An exact copy gets no row, only a source on the existing article; a
near-copy gets its own row pointing at the cluster's canonical. A job that
arrives late but is earlier than the cluster's canonical takes its place, so
the result equals processing the jobs one by one in id order.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from newsmill_schema import models
from newsmill_schema.blobs import store_blob
from newsmill_schema.messages import FINISHED_STATES, JobState
from newsmill_schema.models import utcnow
from newsmill_worker import dedup_index, rewrites
from newsmill_worker.pipeline import Parsed, RecordError
from newsmill_worker.pipeline.dedupe import (
    DedupParams,
    Fingerprint,
    Signature,
    fingerprint,
    signature,
    similarity,
    text_of,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Work:
    """What a worker needs to process a job, read inside the claiming transaction."""

    job_id: int
    name: str
    source_kind: str
    source_uri: str
    data: bytes
    attempt: int


def start(session: Session, job_id: int, max_attempts: int) -> Work | None:
    """Mark a job processing and return its bytes; None when there is nothing to do.

    A job already finished (a redelivered or re-published message) is skipped,
    which makes the task idempotent. The attempt count is bumped before any
    work, so a document that kills its worker cannot loop forever.
    """
    job = session.execute(
        select(models.Job).where(models.Job.id == job_id).with_for_update()
    ).scalar_one_or_none()
    if job is None or job.state in FINISHED_STATES:
        return None
    job.attempts += 1
    if job.attempts > max_attempts:
        reason = job.error or "worker process died or was killed while processing"
        _fail(job, f"gave up after {max_attempts} attempts: {reason}")
        log.warning("job failed: %s", job.error, extra={"job_id": job.id})
        return None
    job.state = JobState.PROCESSING
    job.started_at = utcnow()
    blob = session.get(models.Blob, job.blob_sha256) if job.blob_sha256 else None
    return Work(
        job_id=job.id,
        name=job.name,
        source_kind=job.source_kind,
        source_uri=job.source_uri,
        data=blob.data if blob else b"",
        attempt=job.attempts,
    )


def fail(session: Session, job_id: int, reason: str) -> None:
    """End a job as failed with a one-line reason (unless it already finished)."""
    job = session.get(models.Job, job_id, with_for_update=True)
    if job is None or job.state in FINISHED_STATES:
        return
    _fail(job, reason)


def note_error(session: Session, job_id: int, reason: str) -> None:
    """Remember why an attempt failed, for the final reason if attempts run out."""
    job = session.get(models.Job, job_id, with_for_update=True)
    if job is not None and job.state not in FINISHED_STATES:
        job.error = reason


def _fail(job: models.Job, reason: str) -> None:
    job.state = JobState.FAILED
    job.error = reason[:2000]
    job.finished_at = utcnow()


def finish(
    session: Session,
    work: Work,
    outcomes: list[Parsed | RecordError],
    hashes: Sequence[str | Fingerprint],
    params: DedupParams | None = None,
) -> str:
    """Store a job's articles and end it; returns the job's final state.

    ``hashes`` holds each outcome's fingerprint (or just its content hash, and
    the fingerprint is computed here with ``params``). One article: the job
    itself gets it. Several (a JSON Lines or feed file): the job is split into
    one child job per record, each ending done, duplicate or failed on its
    own, in this same transaction.
    """
    params = params or DedupParams()
    job = session.get(models.Job, work.job_id, with_for_update=True)
    assert job is not None
    if job.state in FINISHED_STATES:
        return job.state
    prints = [_fingerprint(o, h, params) for o, h in zip(outcomes, hashes, strict=True)]
    if len(outcomes) == 1:
        return _conclude(session, job, outcomes[0], prints[0], params)
    for part, (outcome, fp) in enumerate(zip(outcomes, prints, strict=True)):
        _conclude(session, _child_job(session, job, part, outcome), outcome, fp, params)
    job.state = JobState.DONE
    job.finished_at = utcnow()
    job.error = None
    return job.state


def _conclude(
    session: Session,
    job: models.Job,
    outcome: Parsed | RecordError,
    fp: Fingerprint | None,
    params: DedupParams,
) -> str:
    # A changed feed entry or a job run again updates its article in place.
    replaced = rewrites.replace(session, job, outcome, fp)
    if replaced is not None:
        return replaced
    state = _settle(session, job, outcome, fp, params)
    rewrites.remember(session, job)
    return state


def _fingerprint(
    outcome: Parsed | RecordError, given: str | Fingerprint, params: DedupParams
) -> Fingerprint | None:
    if isinstance(outcome, RecordError):
        return None
    if isinstance(given, Fingerprint):
        return given
    fp = fingerprint(outcome, params)
    return replace(fp, content_hash=given) if given else fp


def _child_job(
    session: Session, parent: models.Job, part: int, outcome: Parsed | RecordError
) -> models.Job:
    ref = outcome.ref or f"#record={part}"
    blob_sha = store_blob(session, outcome.raw) if outcome.raw else parent.blob_sha256
    rerun = session.execute(
        select(models.Job).where(models.Job.parent_id == parent.id, models.Job.part == part)
    ).scalar_one_or_none()
    if rerun is not None:
        # The parent is run again: its records keep their jobs (and their articles).
        rerun.state = JobState.PROCESSING
        rerun.blob_sha256 = blob_sha
        rerun.attempts += 1
        rerun.error = None
        rerun.started_at = utcnow()
        rerun.finished_at = None
        return rerun
    child = models.Job(
        state=JobState.PROCESSING,
        source_kind="record",
        source_uri=f"{parent.source_uri}{ref}",
        name=f"{parent.name}{ref}",
        blob_sha256=blob_sha,
        parent_id=parent.id,
        part=part,
        feed_id=parent.feed_id,
        attempts=1,
        created_at=parent.created_at,
        started_at=utcnow(),
    )
    session.add(child)
    session.flush()
    return child


def _settle(
    session: Session,
    job: models.Job,
    outcome: Parsed | RecordError,
    fp: Fingerprint | None,
    params: DedupParams,
) -> str:
    if isinstance(outcome, RecordError) or fp is None:
        _fail(job, outcome.reason if isinstance(outcome, RecordError) else "no fingerprint")
        return job.state
    dedup_index.lock(session, fp, job.id)
    existing = session.execute(
        select(models.Article).where(models.Article.content_hash == fp.content_hash)
    ).scalar_one_or_none()
    if existing is not None and existing.job_id != job.id:
        _exact_copy(session, job, existing, params)
        return _end(job, existing)
    article = existing or _insert_article(session, job, outcome, fp)
    _add_source(session, article.id, job)
    if existing is None:
        signatures = _Signatures(params, {article.id: fp.signature})
        match = _best_match(session, article, fp, signatures)
        if match is not None:
            _join(session, article, match, signatures)
    return _end(job, article)


def _end(job: models.Job, article: models.Article) -> str:
    """A job is done when it owns a canonical article, a duplicate otherwise."""
    owner = article.job_id == job.id and article.duplicate_of is None
    job.state = JobState.DONE if owner else JobState.DUPLICATE
    job.article_id = article.id
    job.error = None
    job.finished_at = utcnow()
    return job.state


def _insert_article(
    session: Session, job: models.Job, parsed: Parsed, fp: Fingerprint
) -> models.Article:
    article = models.Article(
        job_id=job.id,
        **parsed.article_fields(),
        content_hash=fp.content_hash,
        source_kind=job.source_kind,
        source_uri=job.source_uri,
        ingested_at=job.created_at,
        processed_at=utcnow(),
    )
    session.add(article)
    session.flush()
    dedup_index.add(session, article.id, fp.bands)
    return article


class _Signatures:
    """MinHash signatures of stored articles, computed from their text once per transaction."""

    def __init__(self, params: DedupParams, known: dict[int, Signature]) -> None:
        self.params = params
        self._known = known

    def of(self, article: models.Article) -> Signature:
        if article.id not in self._known:
            self._known[article.id] = signature(text_of(article.title, article.body), self.params)
        return self._known[article.id]

    def similarity(self, a: models.Article, b: models.Article) -> float:
        return similarity(self.of(a), self.of(b))


def _best_match(
    session: Session, article: models.Article, fp: Fingerprint, signatures: _Signatures
) -> models.Article | None:
    """The most similar stored article at or above the threshold (ties: the oldest row)."""
    params = signatures.params
    ids = dedup_index.candidates(session, fp.bands, exclude=article.id, limit=params.max_candidates)
    if not ids:
        return None
    rows = session.execute(select(models.Article).where(models.Article.id.in_(ids))).scalars().all()
    scored = [(signatures.similarity(article, row), row) for row in rows]
    matches = [(score, row) for score, row in scored if score >= params.threshold]
    if not matches:
        return None
    return min(matches, key=lambda m: (-m[0], m[1].id))[1]


def _join(
    session: Session, article: models.Article, match: models.Article, signatures: _Signatures
) -> None:
    """Put a new article into its match's cluster: a member, or the canonical if earlier."""
    canonical = _lock_canonical(session, match.duplicate_of or match.id)
    if canonical.job_id < article.job_id:
        article.duplicate_of = canonical.id
        article.similarity = signatures.similarity(article, canonical)
        return
    _promote(session, article, canonical, signatures)


def _lock_canonical(session: Session, article_id: int) -> models.Article:
    """The cluster's canonical row, locked; follows a takeover committed while we waited."""
    while True:
        row = session.execute(
            select(models.Article)
            .where(models.Article.id == article_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalar_one()
        if row.duplicate_of is None:
            return row
        article_id = row.duplicate_of


def _promote(
    session: Session, article: models.Article, canonical: models.Article, signatures: _Signatures
) -> None:
    """Make ``article`` the canonical of ``canonical``'s cluster: every member points at it."""
    members = (
        session.execute(
            select(models.Article)
            .where(models.Article.duplicate_of == canonical.id)
            .with_for_update()
        )
        .scalars()
        .all()
    )
    moved = [row for row in (canonical, *members) if row.id != article.id]
    article.duplicate_of = None
    article.similarity = None
    for row in moved:
        row.duplicate_of = article.id
        row.similarity = signatures.similarity(article, row)
    session.flush()
    session.execute(
        update(models.Job)
        .where(
            models.Job.article_id.in_([row.id for row in moved]), models.Job.state == JobState.DONE
        )
        .values(state=JobState.DUPLICATE)
    )


def _exact_copy(
    session: Session, job: models.Job, existing: models.Article, params: DedupParams
) -> None:
    """Link an exact copy to the stored article; an earlier job takes the row over."""
    _add_source(session, existing.id, job)
    if job.id > existing.job_id:
        return
    session.execute(
        update(models.Job)
        .where(models.Job.id == existing.job_id, models.Job.state == JobState.DONE)
        .values(state=JobState.DUPLICATE)
    )
    existing.job_id = job.id
    existing.source_kind = job.source_kind
    existing.source_uri = job.source_uri
    existing.ingested_at = job.created_at
    session.flush()
    if existing.duplicate_of is None:
        return
    canonical = _lock_canonical(session, existing.duplicate_of)
    if job.id < canonical.job_id:
        _promote(session, existing, canonical, _Signatures(params, {}))


def _add_source(session: Session, article_id: int, job: models.Job) -> None:
    present = session.execute(
        select(models.ArticleSource.id).where(models.ArticleSource.job_id == job.id)
    ).first()
    if present:
        return
    session.add(
        models.ArticleSource(
            article_id=article_id, job_id=job.id, kind=job.source_kind, uri=job.source_uri
        )
    )

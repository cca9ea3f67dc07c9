"""The worker's database adapter: save a job's articles and end the job.

Every function takes a Session inside the caller's transaction, so a job's
outcome (its state, its article, its sources) commits or rolls back as one.

Saving an article decides once what its text is: the new text of an article
that exists already (a job run again, a feed entry that changed), written
into it in place; or a new text, settled into its cluster of copies
(``dedup.clusters``: exact copy, near copy, or the canonical of its story).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from newsmill_schema import jobs, models
from newsmill_schema.blobs import store_blob
from newsmill_worker.dedup import clusters, index
from newsmill_worker.dedup.fingerprint import DedupParams, Fingerprint, fingerprint
from newsmill_worker.pipeline import Parsed, RecordError


def finish(
    session: Session,
    job_id: int,
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
    job = jobs.lock(session, job_id)
    assert job is not None
    if jobs.finished(job):
        return job.state
    prints = [_fingerprint(o, h, params) for o, h in zip(outcomes, hashes, strict=True)]
    if len(outcomes) == 1:
        return _store(session, job, outcomes[0], prints[0], params)
    for part, (outcome, fp) in enumerate(zip(outcomes, prints, strict=True)):
        _store(session, _record_job(session, job, part, outcome), outcome, fp, params)
    return jobs.conclude_split(job)


def _fingerprint(
    outcome: Parsed | RecordError, given: str | Fingerprint, params: DedupParams
) -> Fingerprint | None:
    if isinstance(outcome, RecordError):
        return None
    if isinstance(given, Fingerprint):
        return given
    fp = fingerprint(outcome, params)
    return replace(fp, content_hash=given) if given else fp


def _record_job(
    session: Session, parent: models.Job, part: int, outcome: Parsed | RecordError
) -> models.Job:
    blob_sha = store_blob(session, outcome.raw) if outcome.raw else parent.blob_sha256
    return jobs.new_record_job(session, parent, part, outcome.ref or f"#record={part}", blob_sha)


def _store(
    session: Session,
    job: models.Job,
    outcome: Parsed | RecordError,
    fp: Fingerprint | None,
    params: DedupParams,
) -> str:
    """One article's text: written where it belongs, its source noted, its job ended."""
    if isinstance(outcome, RecordError) or fp is None:
        reason = outcome.reason if isinstance(outcome, RecordError) else "no fingerprint"
        return jobs.fail(job, reason)
    # Decide under the locks of this text's story, one decision at a time.
    index.lock(session, fp, job.id)
    article, rewrote = _place(session, job, outcome, fp, params)
    _add_source(session, article.id, job)
    return jobs.conclude(job, article, rewrote=rewrote)


def _place(
    session: Session, job: models.Job, parsed: Parsed, fp: Fingerprint, params: DedupParams
) -> tuple[models.Article, bool]:
    """The article this text ends in, and whether the job wrote it in place.

    A job run again rewrites the article it created (or, when its new text is
    exactly another article's, leaves it as it was: reprocessing never merges).
    A feed job whose entry changed rewrites the article the entry made. Any
    other text is new: an exact copy, a near copy or a story of its own.
    """
    # A first run names no article: it skips the lookup.
    own = _article(session, _own_article_id(session, job)) if job.article_id else None
    if own is not None:
        clusters.rewrite(session, own, parsed, fp)
        return own, False
    entry = _article(session, _entry_article_id(session, job)) if job.feed_id else None
    if entry is not None and clusters.rewrite(session, entry, parsed, fp):
        return entry, True
    article = clusters.settle(session, job, parsed, fp, params)
    _remember_on_entry(session, job, article)
    return article, False


def _own_article_id(session: Session, job: models.Job) -> int | None:
    return session.execute(
        select(models.Article.id).where(models.Article.job_id == job.id)
    ).scalar_one_or_none()


def _entry_article_id(session: Session, job: models.Job) -> int | None:
    return session.execute(
        select(models.FeedEntry.article_id).where(models.FeedEntry.job_id == job.id)
    ).scalar_one_or_none()


def _article(session: Session, article_id: int | None) -> models.Article | None:
    if article_id is None:
        return None
    return session.get(models.Article, article_id, with_for_update=True)


def _remember_on_entry(session: Session, job: models.Job, article: models.Article) -> None:
    """A feed job's entry keeps the article the job created (never one it only joined).

    When the entry changes, its next job rewrites that article in place.
    """
    if job.feed_id is None or article.job_id != job.id:
        return
    session.execute(
        update(models.FeedEntry)
        .where(models.FeedEntry.job_id == job.id)
        .values(article_id=article.id)
        .execution_options(synchronize_session=False)
    )


def _add_source(session: Session, article_id: int, job: models.Job) -> None:
    """Every job an article arrived from is one of its sources, once."""
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

"""Articles rewritten in place: a feed entry that changed, a job run again.

Two kinds of job produce text for an article that already exists:

- a feed entry whose content changed: the ingest service enqueues a new job
  and points the entry's ``feed_entries`` row at it; the article the entry
  produced before is the one to update (``remember`` records it);
- a job run again by ``newsmill reprocess --all`` (say, after a parser
  upgrade): the article the job itself created is the one to update.

Either way the article keeps its id, its sources and its near-duplicate link
(``duplicate_of``); its text, fields and band hashes are replaced.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from newsmill_schema import models
from newsmill_schema.messages import JobState
from newsmill_schema.models import utcnow
from newsmill_worker import dedup_index
from newsmill_worker.pipeline import Parsed, RecordError
from newsmill_worker.pipeline.dedupe import Fingerprint


def replace(
    session: Session, job: models.Job, outcome: Parsed | RecordError, fp: Fingerprint | None
) -> str | None:
    """Rewrite the article this job updates; the job's new state, or None when there is none.

    None also when the new text of a feed entry is exactly another article's:
    the ordinary path then links the job to that article as a duplicate. A job
    run again whose new text is another article's leaves its own article as it
    was: reprocessing does not merge clusters.
    """
    if not isinstance(outcome, Parsed) or fp is None:
        return None
    # A job run again still names the article it ended with; a new one names none.
    article_id = _own_article(session, job) if job.article_id is not None else None
    rerun = article_id is not None
    if article_id is None:
        article_id = _feed_entry_article(session, job)
    if article_id is None:
        return None
    article = session.get(models.Article, article_id, with_for_update=True)
    if article is None:
        return None
    if _taken_by_another(session, fp.content_hash, article.id):
        return _end(job, article) if rerun else None
    # New bands: decide against concurrent near-copies one at a time, as a new article does.
    dedup_index.lock(session, fp, job.id)
    _rewrite(session, article, outcome, fp)
    if not rerun:
        session.add(
            models.ArticleSource(
                article_id=article.id, job_id=job.id, kind=job.source_kind, uri=job.source_uri
            )
        )
    return _end(job, article)


def remember(session: Session, job: models.Job) -> None:
    """Note the article a feed job created on its entry (never an article it only joined)."""
    if job.feed_id is None or job.article_id is None:
        return
    owner = session.execute(
        select(models.Article.job_id).where(models.Article.id == job.article_id)
    ).scalar_one_or_none()
    if owner != job.id:
        return
    session.execute(
        update(models.FeedEntry)
        .where(models.FeedEntry.job_id == job.id)
        .values(article_id=job.article_id)
        .execution_options(synchronize_session=False)
    )


def _own_article(session: Session, job: models.Job) -> int | None:
    return session.execute(
        select(models.Article.id).where(models.Article.job_id == job.id)
    ).scalar_one_or_none()


def _feed_entry_article(session: Session, job: models.Job) -> int | None:
    if job.feed_id is None:
        return None
    return session.execute(
        select(models.FeedEntry.article_id).where(models.FeedEntry.job_id == job.id)
    ).scalar_one_or_none()


def _taken_by_another(session: Session, content_hash: str, article_id: int) -> bool:
    other = session.execute(
        select(models.Article.id).where(
            models.Article.content_hash == content_hash, models.Article.id != article_id
        )
    ).first()
    return other is not None


def _rewrite(session: Session, article: models.Article, parsed: Parsed, fp: Fingerprint) -> None:
    for name, value in parsed.article_fields().items():
        setattr(article, name, value)
    article.content_hash = fp.content_hash
    article.processed_at = utcnow()
    dedup_index.replace(session, article.id, fp.bands)


def _end(job: models.Job, article: models.Article) -> str:
    job.state = JobState.DONE if article.duplicate_of is None else JobState.DUPLICATE
    job.article_id = article.id
    job.error = None
    job.finished_at = utcnow()
    return job.state

"""Feed entries that changed: their article is updated in place, not stored twice.

The ingest service re-enqueues an entry whose content changed and points its
``feed_entries`` row at the new job. When that job finishes, the article the
entry produced before is rewritten with the new text; its id, its sources and
its near-duplicate link (``duplicate_of``) stay. ``remember`` records which
article an entry produced, so the next change knows what to update.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from newsmill_schema import models
from newsmill_schema.messages import JobState
from newsmill_schema.models import utcnow
from newsmill_worker.pipeline import Parsed, RecordError


def replace(
    session: Session, job: models.Job, outcome: Parsed | RecordError, content_hash: str | None
) -> str | None:
    """Update the article of the feed entry this job re-processes; None when there is none.

    None also when the new text is exactly another article's: the ordinary
    path then links the job to that article as a duplicate.
    """
    if job.feed_id is None or not isinstance(outcome, Parsed) or not content_hash:
        return None
    article_id = session.execute(
        select(models.FeedEntry.article_id).where(models.FeedEntry.job_id == job.id)
    ).scalar_one_or_none()
    if article_id is None:
        return None
    article = session.get(models.Article, article_id, with_for_update=True)
    if article is None or _taken_by_another(session, content_hash, article.id):
        return None
    _rewrite(article, outcome, content_hash)
    session.add(
        models.ArticleSource(
            article_id=article.id, job_id=job.id, kind=job.source_kind, uri=job.source_uri
        )
    )
    job.state = JobState.DONE if article.duplicate_of is None else JobState.DUPLICATE
    job.article_id = article.id
    job.error = None
    job.finished_at = utcnow()
    return job.state


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


def _taken_by_another(session: Session, content_hash: str, article_id: int) -> bool:
    other = session.execute(
        select(models.Article.id).where(
            models.Article.content_hash == content_hash, models.Article.id != article_id
        )
    ).first()
    return other is not None


def _rewrite(article: models.Article, parsed: Parsed, content_hash: str) -> None:
    for name, value in parsed.article_fields().items():
        setattr(article, name, value)
    article.content_hash = content_hash
    article.processed_at = utcnow()

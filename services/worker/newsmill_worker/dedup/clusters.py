"""The cluster policy: which article is a story's canonical, and which job owns it.

One rule, whatever order workers see copies in: the earliest job (lowest id)
of a cluster of copies owns the canonical article. An exact copy gets no row,
only a source on the stored article; a near copy gets its own row pointing at
the cluster's canonical (``duplicate_of``, never at another member). A job that
arrives late but is earlier than the cluster's canonical takes its place, so
the result equals processing the jobs one by one in id order.

An article rewritten in place (a changed feed entry, a job run again) keeps
its id, its sources and its cluster: only a new article joins or takes over
a cluster, and a rewrite never merges two.

Every function runs in the caller's transaction after ``index.lock`` on the
article's fingerprint, so two decisions about one story never interleave.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from newsmill_schema import jobs, models
from newsmill_schema.models import utcnow
from newsmill_worker.dedup import index
from newsmill_worker.dedup.fingerprint import (
    DedupParams,
    Fingerprint,
    Signature,
    signature,
    similarity,
    text_of,
)
from newsmill_worker.pipeline import Parsed


def settle(
    session: Session, job: models.Job, parsed: Parsed, fp: Fingerprint, params: DedupParams
) -> models.Article:
    """The article a job's new text ends in: an exact copy's stored row, or a new row in its cluster."""
    signatures = _Signatures(session, params)
    existing = session.execute(
        select(models.Article).where(models.Article.content_hash == fp.content_hash)
    ).scalar_one_or_none()
    if existing is not None:
        _exact_copy(session, job, existing, signatures)
        return existing
    article = _insert(session, job, parsed, fp)
    signatures.known[article.id] = fp.signature
    match = _best_match(session, article, fp, signatures)
    if match is not None:
        _join(session, article, match, signatures)
    return article


def rewrite(session: Session, article: models.Article, parsed: Parsed, fp: Fingerprint) -> bool:
    """Put new text into a stored article, in place; False, changing nothing, when it is another's.

    The article keeps its id, sources and cluster; its fields, content hash and
    band hashes are replaced. A text that is exactly another article's is not
    written: two rows would share one content hash, and a rewrite never merges.
    """
    taken = session.execute(
        select(models.Article.id).where(
            models.Article.content_hash == fp.content_hash, models.Article.id != article.id
        )
    ).first()
    if taken is not None:
        return False
    for name, value in parsed.article_fields().items():
        setattr(article, name, value)
    article.content_hash = fp.content_hash
    article.processed_at = utcnow()
    index.replace(session, article.id, fp)
    return True


def _insert(session: Session, job: models.Job, parsed: Parsed, fp: Fingerprint) -> models.Article:
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
    index.add(session, article.id, fp)
    return article


class _Signatures:
    """Signatures of the articles one decision compares, read from the index once each.

    An article whose stored signature is missing or was made with another
    ``num_perm`` (the setting changed since) is signed again from its text.
    """

    def __init__(self, session: Session, params: DedupParams) -> None:
        self.session = session
        self.params = params
        self.known: dict[int, Signature] = {}

    def load(self, article_ids: Iterable[int]) -> None:
        """Read the stored signatures of these articles in one query."""
        wanted = {i for i in article_ids if i not in self.known}
        stored = index.signatures(self.session, wanted)
        self.known.update((i, sig) for i, sig in stored.items() if len(sig) == self.params.num_perm)

    def of(self, article: models.Article) -> Signature:
        if article.id not in self.known:
            self.load([article.id])
        if article.id not in self.known:
            self.known[article.id] = signature(text_of(article.title, article.body), self.params)
        return self.known[article.id]

    def similarity(self, a: models.Article, b: models.Article) -> float:
        return similarity(self.of(a), self.of(b))


def _best_match(
    session: Session, article: models.Article, fp: Fingerprint, signatures: _Signatures
) -> models.Article | None:
    """The most similar stored article at or above the threshold (ties: the oldest row)."""
    params = signatures.params
    ids = index.candidates(session, fp.bands, exclude=article.id, limit=params.max_candidates)
    if not ids:
        return None
    rows = session.execute(select(models.Article).where(models.Article.id.in_(ids))).scalars().all()
    signatures.load(ids)
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
    signatures.load([article.id, *(row.id for row in moved)])
    article.duplicate_of = None
    article.similarity = None
    for row in moved:
        row.duplicate_of = article.id
        row.similarity = signatures.similarity(article, row)
    session.flush()
    jobs.demote(session, [row.id for row in moved])


def _exact_copy(
    session: Session, job: models.Job, existing: models.Article, signatures: _Signatures
) -> None:
    """An exact copy shares the stored row; an earlier job takes the row over."""
    if job.id >= existing.job_id:
        return
    jobs.demote(session, [existing.id])
    existing.job_id = job.id
    existing.source_kind = job.source_kind
    existing.source_uri = job.source_uri
    existing.ingested_at = job.created_at
    session.flush()
    if existing.duplicate_of is None:
        return
    canonical = _lock_canonical(session, existing.duplicate_of)
    if job.id < canonical.job_id:
        _promote(session, existing, canonical, signatures)

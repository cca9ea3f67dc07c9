"""Taking a file in: claim it out of the inbox, record it, then let it go.

The order is what makes a dropped file safe:

1. claim: an atomic rename from the inbox into the work folder, under a unique
   token, so no other ingest process (or rescan) takes it too;
2. record: in ONE transaction, store the raw bytes (content-addressed) and a
   ``queued`` job carrying the claim token;
3. release: move the claimed file to the archive (or delete it).

A crash between 1 and 2 leaves the file in the work folder, where start-up
recovery records it; a crash between 2 and 3 leaves a file whose token is
already in the database, which recovery only releases. Publishing the task
happens after commit and may fail freely: the reconciler re-publishes.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from newsmill_schema import models
from newsmill_schema.blobs import store_blob
from newsmill_schema.db import Database
from newsmill_schema.messages import JobState
from newsmill_schema.models import utcnow
from newsmill_schema.settings import Settings

log = logging.getLogger(__name__)

IGNORED_SUFFIXES = (".part", ".tmp", ".crdownload", "~", ".error.json")
_TOKEN_SEPARATOR = "__"


def ignored(name: str) -> bool:
    """Dotfiles and partial downloads are never taken in."""
    return name.startswith(".") or name.endswith(IGNORED_SUFFIXES)


@dataclass(frozen=True)
class Claim:
    """A file moved out of the inbox under a unique token."""

    token: str
    path: Path
    name: str


@dataclass(frozen=True)
class Recorded:
    """A claimed file whose job is committed."""

    job_id: int
    state: str
    source_uri: str


class Intake:
    """Claims, records and releases files for one data directory and database."""

    def __init__(self, settings: Settings, db: Database) -> None:
        assert settings.inbox_dir and settings.work_dir and settings.archive_dir and settings.failed_dir
        self.settings = settings
        self.db = db
        self.inbox = settings.inbox_dir
        self.work = settings.work_dir
        self.archive = settings.archive_dir
        self.failed = settings.failed_dir

    def make_folders(self) -> None:
        for folder in (self.inbox, self.work, self.archive, self.failed):
            folder.mkdir(parents=True, exist_ok=True)

    def claim(self, path: Path) -> Claim | None:
        """Move a file out of the inbox; None if it is gone or not ours to take."""
        if path.parent.resolve() != self.inbox.resolve() or ignored(path.name):
            return None
        token = uuid.uuid4().hex
        target = self.work / f"{token}{_TOKEN_SEPARATOR}{path.name}"
        try:
            os.rename(path, target)
        except FileNotFoundError:
            return None
        return Claim(token=token, path=target, name=path.name)

    def take(self, path: Path) -> Recorded | None:
        """Claim, record and release one inbox file."""
        claim = self.claim(path)
        if claim is None:
            return None
        return self.record(claim)

    def record(self, claim: Claim) -> Recorded:
        """Record a claimed file as a job (idempotent on its token), then release it."""
        source_uri = f"inbox/{claim.name}"
        existing = self._recorded(claim.token)
        if existing is not None:
            self._release(claim, existing)
            return existing
        problem, data = read_file(claim.path, self.settings.max_document_bytes)
        if problem is not None:
            recorded = self._record_rejected(claim, source_uri, problem)
            self._reject(claim, recorded, problem)
            return recorded
        assert data is not None
        with self.db.session() as session:
            digest = store_blob(session, data)
            job = models.Job(
                state=JobState.QUEUED,
                source_kind="file",
                source_uri=source_uri,
                name=claim.name,
                blob_sha256=digest,
                claim_token=claim.token,
            )
            session.add(job)
            session.flush()
            recorded = Recorded(job_id=job.id, state=job.state, source_uri=source_uri)
        self._release(claim, recorded)
        return recorded

    def recover(self) -> list[Recorded]:
        """Finish claims a crash interrupted: record or release every file left in work/."""
        results = []
        for entry in sorted(self.work.iterdir()):
            token, sep, name = entry.name.partition(_TOKEN_SEPARATOR)
            if not sep or not name:
                continue
            results.append(self.record(Claim(token=token, path=entry, name=name)))
        return results

    def _recorded(self, token: str) -> Recorded | None:
        with self.db.session() as session:
            job = session.execute(
                select(models.Job).where(models.Job.claim_token == token)
            ).scalar_one_or_none()
            if job is None:
                return None
            return Recorded(job_id=job.id, state=job.state, source_uri=job.source_uri)

    def _record_rejected(self, claim: Claim, source_uri: str, reason: str) -> Recorded:
        with self.db.session() as session:
            job = models.Job(
                state=JobState.FAILED,
                source_kind="file",
                source_uri=source_uri,
                name=claim.name,
                claim_token=claim.token,
                error=reason,
                finished_at=utcnow(),
                failure_reported=True,
            )
            session.add(job)
            session.flush()
            return Recorded(job_id=job.id, state=job.state, source_uri=source_uri)

    def _release(self, claim: Claim, recorded: Recorded) -> None:
        if recorded.state == JobState.FAILED:
            self._reject(claim, recorded, None)
            return
        if not claim.path.exists() and not claim.path.is_symlink():
            return
        if self.settings.archive_mode == "delete":
            claim.path.unlink(missing_ok=True)
            return
        target = free_name(self.archive, claim.name, recorded.job_id)
        os.replace(claim.path, target)
        with self.db.session() as session:
            job = session.get(models.Job, recorded.job_id)
            if job is not None:
                job.archive_path = str(target)

    def _reject(self, claim: Claim, recorded: Recorded, reason: str | None) -> None:
        if not claim.path.exists() and not claim.path.is_symlink():
            return
        target = free_name(self.failed, claim.name, recorded.job_id)
        os.replace(claim.path, target)
        with self.db.session() as session:
            job = session.get(models.Job, recorded.job_id)
            if job is None:
                return
            write_error_report(target, job)
            job.failure_reported = True
        log.warning("rejected %s: %s", claim.name, reason or "", extra={"job_id": recorded.job_id})


def read_file(path: Path, limit: int) -> tuple[str | None, bytes | None]:
    """A file's bytes, or why they will not be taken (never following a symlink)."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return "file vanished before it could be read", None
    if stat.S_ISLNK(info.st_mode):
        return "symbolic links are refused (they may point outside the inbox)", None
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file", None
    if info.st_size > limit:
        return f"file too large: {info.st_size} bytes > limit {limit}", None
    try:
        with open(path, "rb", opener=_open_nofollow) as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        return f"cannot read file: {exc.strerror or exc}", None
    if len(data) > limit:
        return f"file too large: more than {limit} bytes", None
    return None, data


def _open_nofollow(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW)


def free_name(folder: Path, name: str, job_id: int) -> Path:
    """``folder/name``, or ``folder/stem.job<ID>suffix`` when that is taken."""
    target = folder / name
    if not target.exists() and not target.is_symlink():
        return target
    stem, dot, suffix = name.rpartition(".")
    if not dot or not stem:
        return folder / f"{name}.job{job_id}"
    return folder / f"{stem}.job{job_id}.{suffix}"


def write_error_report(failed_copy: Path, job: models.Job) -> Path:
    """Write ``<name>.error.json`` beside a failed file: what it was and why it failed."""
    report = failed_copy.with_name(failed_copy.name + ".error.json")
    payload = {
        "job_id": job.id,
        "file": job.name,
        "source_uri": job.source_uri,
        "state": job.state,
        "reason": job.error,
        "attempts": job.attempts,
        "failed_at": _iso(job.finished_at),
        "received_at": _iso(job.created_at),
    }
    tmp = report.with_name(report.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, report)
    return report


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None

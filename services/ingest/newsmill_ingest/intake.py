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
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from newsmill_ingest import folders
from newsmill_schema import models
from newsmill_schema.blobs import store_blobs
from newsmill_schema.db import Database
from newsmill_schema.messages import JobState
from newsmill_schema.models import utcnow
from newsmill_schema.settings import Settings

log = logging.getLogger(__name__)

BLOB_BATCH_BYTES = 8 * 1024 * 1024
"""Documents stored per multi-row insert: few round trips, bounded memory."""
IGNORED_SUFFIXES = (".part", ".tmp", ".crdownload", "~", ".error.json")
_TOKEN_SEPARATOR = "__"
_TOKEN_CHARS = 32
CLAIMED_NAME_MAX_BYTES = folders.NAME_MAX_BYTES - _TOKEN_CHARS - len(_TOKEN_SEPARATOR)
"""Longest inbox name a claim (``<token>__<name>``) can carry; longer ones are refused."""


def ignored(name: str) -> bool:
    """Dotfiles and partial downloads are never taken in."""
    return name.startswith(".") or name.endswith(IGNORED_SUFFIXES)


@dataclass(frozen=True)
class Claim:
    """A file moved out of the inbox under a unique token."""

    token: str
    path: Path
    name: str
    """The name in the inbox, as the file system gave it."""
    problem: str | None = None
    """Why the file is refused before it is read (a name too long to claim)."""

    @property
    def label(self) -> str:
        """The name as recorded: bytes that are not UTF-8 shown as U+FFFD (the database takes text)."""
        return os.fsencode(self.name).decode("utf-8", errors="replace")


@dataclass(frozen=True)
class Recorded:
    """A claimed file whose job is committed."""

    job_id: int
    state: str
    source_uri: str
    destination: Path | None = None
    """Where the original goes once recorded: the archive, the failed folder, or nowhere."""
    error: str | None = None


class Intake:
    """Claims, records and releases files for one data directory and database."""

    def __init__(self, settings: Settings, db: Database) -> None:
        assert (
            settings.inbox_dir
            and settings.work_dir
            and settings.archive_dir
            and settings.failed_dir
        )
        self.settings = settings
        self.db = db
        self.inbox = settings.inbox_dir
        self.work = settings.work_dir
        self.archive = settings.archive_dir
        self.failed = settings.failed_dir

    def make_folders(self) -> None:
        for folder in (self.inbox, self.work, self.archive, self.failed):
            folders.make_folder(folder)

    def claim(self, path: Path) -> Claim | None:
        """Move a file out of the inbox; None if it is gone or not ours to take.

        A name too long to carry the claim token is claimed under a shortened
        one and refused; any other trouble with one file leaves it in the inbox
        (the next rescan tries again) and never stops the others.
        """
        if path.parent.resolve() != self.inbox.resolve() or ignored(path.name):
            return None
        token = uuid.uuid4().hex
        size = len(os.fsencode(path.name))
        problem = None
        if size > CLAIMED_NAME_MAX_BYTES:
            problem = f"file name too long: {size} bytes > limit {CLAIMED_NAME_MAX_BYTES}"
        claimed = folders.fitted(path.name, CLAIMED_NAME_MAX_BYTES)
        target = self.work / f"{token}{_TOKEN_SEPARATOR}{claimed}"
        try:
            os.rename(path, target)
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("cannot claim %s: %s", path.name, exc.strerror or exc)
            return None
        return Claim(token=token, path=target, name=path.name, problem=problem)

    def take(self, paths: list[Path]) -> list[Recorded]:
        """Claim, record and release inbox files, recording them in one transaction."""
        claims = [c for c in (self.claim(p) for p in paths) if c is not None]
        return self.record(claims)

    def record(self, claims: list[Claim]) -> list[Recorded]:
        """Record claimed files as jobs (idempotent on their tokens), then release them."""
        if not claims:
            return []
        known = self._recorded({c.token for c in claims})
        fresh = [c for c in claims if c.token not in known]
        recorded = {**known, **self._record_new(fresh)}
        claims = [c for c in claims if c.token in recorded]
        for claim in claims:
            try:
                self._release(claim, recorded[claim.token])
            except OSError as exc:
                # Recorded already: the file waits in work/ and the next rescan releases it.
                log.warning("cannot release %s: %s", claim.label, exc.strerror or exc)
        return [recorded[c.token] for c in claims]

    def recover(self, now: float | None = None) -> list[Recorded]:
        """Record or release every file left in work/: claims a crash interrupted, and
        files that were still being written when read, once unchanged for ``settle_seconds``.
        """
        now = time.time() if now is None else now
        claims = []
        for entry in sorted(self.work.iterdir()):
            token, sep, name = entry.name.partition(_TOKEN_SEPARATOR)
            if not (sep and name) or now - entry.lstat().st_mtime < self.settings.settle_seconds:
                continue
            claims.append(Claim(token=token, path=entry, name=name))
        return self.record(claims)

    def _recorded(self, tokens: set[str]) -> dict[str, Recorded]:
        with self.db.session() as session:
            jobs = session.execute(
                select(models.Job).where(models.Job.claim_token.in_(tokens))
            ).scalars()
            return {job.claim_token: _recorded(job) for job in jobs if job.claim_token}

    def _record_new(self, claims: list[Claim]) -> dict[str, Recorded]:
        """One transaction: bytes, job and planned destination of every claim.

        Blobs go in with one multi-row insert per ``BLOB_BATCH_BYTES`` of
        documents, and a chunk's jobs only after its blobs (their foreign key).
        """
        planned: set[Path] = set()
        jobs: dict[str, models.Job] = {}
        with self.db.session() as session:
            chunk: list[tuple[models.Job, bytes]] = []
            for claim in claims:
                made = self._new_job(claim)
                if made is None:
                    continue
                job, data = made
                destination = self._destination(claim, job.state, planned)
                job.archive_path = str(destination) if destination else None
                jobs[claim.token] = job
                if data is None:
                    session.add(job)
                    continue
                chunk.append((job, data))
                if sum(len(d) for _, d in chunk) >= BLOB_BATCH_BYTES:
                    _add_with_blobs(session, chunk)
                    chunk = []
            _add_with_blobs(session, chunk)
            session.flush()
            return {token: _recorded(job) for token, job in jobs.items()}

    def _new_job(self, claim: Claim) -> tuple[models.Job, bytes | None] | None:
        """The job of a claim and its bytes; None while the file is still being written."""
        content = FileContent(problem=claim.problem)
        if claim.problem is None:
            content = read_file(claim.path, self.settings.max_document_bytes)
        if content.changing:
            # Left claimed in work/: recovery takes it once it has settled.
            log.info("%s changed while being read; taken once it settles", claim.label)
            return None
        problem, data = content.problem, content.data
        job = models.Job(
            source_kind="file",
            source_uri=f"inbox/{claim.label}",
            name=claim.label,
            claim_token=claim.token,
        )
        if problem is None and data is not None:
            job.state = JobState.QUEUED
            return job, data
        job.state = JobState.FAILED
        job.error = problem
        job.finished_at = utcnow()
        job.failure_reported = True
        return job, None

    def _destination(self, claim: Claim, state: str, planned: set[Path]) -> Path | None:
        if state == JobState.FAILED:
            folder = self.failed
        elif self.settings.archive_mode == "archive":
            folder = self.archive
        else:
            return None
        target = folders.free_name(folder / claim.label, claim.token[:8], planned)
        planned.add(target)
        return target

    def _release(self, claim: Claim, recorded: Recorded) -> None:
        """Move a recorded claim to its planned place (archive or failed), or delete it."""
        if not os.path.lexists(claim.path):
            return
        if recorded.destination is None:
            claim.path.unlink(missing_ok=True)
            return
        if recorded.state == JobState.FAILED:
            self._release_failed(claim, recorded)
            return
        if folders.left_reservation(recorded.destination):
            # A crash between reserving the planned name and the rename left our
            # own empty reservation there (nothing else writes the archive): finish it.
            os.replace(claim.path, recorded.destination)
            return
        placed = folders.move_new(claim.path, recorded.destination, claim.token[:8])
        if placed != recorded.destination:  # something took the planned name meanwhile
            with self.db.session() as session:
                job = session.get(models.Job, recorded.job_id)
                if job is not None:
                    job.archive_path = str(placed)

    def _release_failed(self, claim: Claim, recorded: Recorded) -> None:
        """A refused file goes to the failed folder with its report; a link is only deleted.

        A symbolic link, a hard link or anything but a regular file is never
        kept: kept, it would sit in a folder newsmill writes to, pointing (or
        giving access) wherever its author chose. Deleting removes only this
        name. Its report says why it was refused.
        """
        assert recorded.destination is not None
        with self.db.session() as session:
            job = session.get(models.Job, recorded.job_id)
            if job is None:
                return
            report = error_report(job)
            if _kept_when_refused(claim.path):
                placed = folders.move_new(claim.path, recorded.destination, claim.token[:8])
                folders.write_report(folders.report_path(placed), report)
            else:
                claim.path.unlink()
                folders.new_report(recorded.destination, claim.token[:8], report)
            job.archive_path = None
        log.warning(
            "rejected %s: %s", claim.label, recorded.error, extra={"job_id": recorded.job_id}
        )


def _add_with_blobs(session: Session, chunk: list[tuple[models.Job, bytes]]) -> None:
    digests = store_blobs(session, [data for _, data in chunk])
    for (job, _), digest in zip(chunk, digests, strict=True):
        job.blob_sha256 = digest
        session.add(job)


def _recorded(job: models.Job) -> Recorded:
    destination = Path(job.archive_path) if job.archive_path else None
    return Recorded(
        job_id=job.id,
        state=job.state,
        source_uri=job.source_uri,
        destination=destination,
        error=job.error,
    )


@dataclass(frozen=True)
class FileContent:
    """What reading a file gave: its bytes, or why it is refused, or that it is still changing."""

    data: bytes | None = None
    problem: str | None = None
    changing: bool = False
    """It changed while being read: a writer is still at it, so it is not complete."""


def read_file(path: Path, limit: int, refuse_hard_links: bool = True) -> FileContent:
    """A file's bytes, or why they will not be taken (never following a symlink).

    A file with another name (a hard link) is refused: that name may be
    anywhere, a database or a key file the inbox writer could not read
    itself. Size and modification time are checked again after reading, so
    bytes read while a writer was still appending are never taken as the file.
    """
    try:
        info = path.lstat()
    except FileNotFoundError:
        return FileContent(problem="file vanished before it could be read")
    if stat.S_ISLNK(info.st_mode):
        return FileContent(problem="symbolic links are refused (they may point outside the inbox)")
    if not stat.S_ISREG(info.st_mode):
        return FileContent(problem="not a regular file")
    if info.st_size > limit:
        return FileContent(problem=f"file too large: {info.st_size} bytes > limit {limit}")
    try:
        with open(path, "rb", opener=_open_nofollow) as handle:
            before = os.fstat(handle.fileno())
            if refuse_hard_links and before.st_nlink > 1:
                return FileContent(problem=_HARD_LINK)
            data = handle.read(limit + 1)
            after = os.fstat(handle.fileno())
    except OSError as exc:
        return FileContent(problem=f"cannot read file: {exc.strerror or exc}")
    if _changed(before, after) or len(data) not in (after.st_size, limit + 1):
        return FileContent(changing=True)
    if len(data) > limit:
        return FileContent(problem=f"file too large: more than {limit} bytes")
    return FileContent(data=data)


_HARD_LINK = "hard-linked files are refused (another name of the file may be outside the inbox)"


def _changed(before: os.stat_result, after: os.stat_result) -> bool:
    return (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns)


def _open_nofollow(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW)


def _kept_when_refused(path: Path) -> bool:
    """A refused regular file with no other name is kept in the failed folder; not a link."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_nlink == 1


def error_report(job: models.Job) -> str:
    """The ``<name>.error.json`` of a failed job: what it was and why it failed."""
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
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None

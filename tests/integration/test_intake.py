"""Intake: a dropped file is recorded exactly once, whatever step a crash interrupts."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from newsmill_ingest.intake import Intake
from newsmill_schema import models
from newsmill_schema.db import Database
from newsmill_schema.settings import Settings
from tests.support import wait_for


@pytest.fixture
def intake(tmp_path: Path, database_url: str) -> Intake:
    settings = Settings(
        data_dir=tmp_path / "data", database_url=database_url, max_document_bytes=1000
    )
    db = Database(database_url)
    db.upgrade()
    taken = Intake(settings, db)
    taken.make_folders()
    return taken


def _drop(intake: Intake, name: str, data: bytes) -> Path:
    path = intake.inbox / name
    path.write_bytes(data)
    return path


def _jobs(intake: Intake) -> list[models.Job]:
    with intake.db.session() as session:
        return list(session.execute(select(models.Job).order_by(models.Job.id)).scalars())


def _blob(intake: Intake, sha: str) -> bytes:
    with intake.db.session() as session:
        blob = session.get(models.Blob, sha)
        assert blob is not None
        return blob.data


def test_a_taken_file_is_stored_queued_and_archived(intake: Intake) -> None:
    path = _drop(intake, "story.txt", b"Title\n\nBody.")

    [recorded] = intake.take([path])

    [job] = _jobs(intake)
    assert (job.id, job.state, job.source_uri) == (recorded.job_id, "queued", "inbox/story.txt")
    assert job.blob_sha256 == hashlib.sha256(b"Title\n\nBody.").hexdigest()
    assert _blob(intake, job.blob_sha256) == b"Title\n\nBody."
    assert not path.exists()
    assert (intake.archive / "story.txt").read_bytes() == b"Title\n\nBody."
    assert job.archive_path == str(intake.archive / "story.txt")
    assert list(intake.work.iterdir()) == []


def test_a_crash_after_the_claim_is_recovered_once(intake: Intake) -> None:
    # Given a file claimed (moved to work/) by a process that died before recording it
    claim = intake.claim(_drop(intake, "a.txt", b"A\n\nbody"))
    assert claim is not None and claim.path.exists()

    # When a restarted service recovers, twice over (once the file has settled)
    later = time.time() + intake.settings.settle_seconds
    first = intake.recover(later)
    second = intake.recover(later)

    # Then exactly one job exists and the file is archived
    assert [r.state for r in first] == ["queued"]
    assert second == []
    assert len(_jobs(intake)) == 1
    assert (intake.archive / "a.txt").exists()


def test_a_crash_after_commit_before_release_does_not_record_twice(intake: Intake) -> None:
    # Given a claim whose job committed, but whose file was never moved on
    claim = intake.claim(_drop(intake, "b.txt", b"B\n\nbody"))
    assert claim is not None
    intake._record_new([claim])
    assert claim.path.exists()

    # When the service recovers
    [recorded] = intake.recover(time.time() + intake.settings.settle_seconds)

    # Then the existing job is reused and the file released
    assert len(_jobs(intake)) == 1
    assert recorded.job_id == _jobs(intake)[0].id
    assert not claim.path.exists()
    assert (intake.archive / "b.txt").exists()


def test_an_oversized_file_fails_with_a_reason_beside_it(intake: Intake) -> None:
    path = _drop(intake, "huge.txt", b"x" * 1001)

    [recorded] = intake.take([path])

    [job] = _jobs(intake)
    assert job.state == "failed" and job.blob_sha256 is None
    assert "too large" in (job.error or "")
    report = json.loads((intake.failed / "huge.txt.error.json").read_text())
    assert report["job_id"] == recorded.job_id
    assert "1001 bytes > limit 1000" in report["reason"]
    assert (intake.failed / "huge.txt").stat().st_size == 1001


def test_a_symlink_out_of_the_inbox_is_refused_and_its_target_untouched(
    intake: Intake, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read")
    link = intake.inbox / "link.txt"
    link.symlink_to(secret)

    intake.take([link])

    [job] = _jobs(intake)
    assert job.state == "failed" and "symbolic link" in (job.error or "")
    assert secret.read_text() == "do not read"
    # The link is deleted, not kept in a folder newsmill writes to; its report says why.
    assert not any(p.is_symlink() for p in intake.failed.iterdir())
    assert not any(p.is_symlink() for p in intake.work.iterdir())
    report = json.loads((intake.failed / "link.txt.error.json").read_text())
    assert "symbolic link" in report["reason"]


def test_an_archived_name_taken_by_a_planted_link_is_not_written_through(
    intake: Intake, tmp_path: Path
) -> None:
    # Given a link in the archive under the name the next file will want
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    (intake.archive / "story.txt").symlink_to(outside)

    intake.take([_drop(intake, "story.txt", b"Title\n\nBody.")])

    # Then the file lands beside it under a tagged name, and the link's target is untouched
    [job] = _jobs(intake)
    assert outside.read_text() == "keep me"
    placed = Path(job.archive_path or "")
    assert placed.parent == intake.archive and placed.name.startswith("story.")
    assert placed.name != "story.txt" and placed.read_bytes() == b"Title\n\nBody."


def test_the_same_name_twice_keeps_both_originals(intake: Intake) -> None:
    intake.take([_drop(intake, "same.txt", b"one\n\nbody")])
    intake.take([_drop(intake, "same.txt", b"two\n\nbody")])

    archived = sorted(p.read_bytes() for p in intake.archive.iterdir())
    assert archived == [b"one\n\nbody", b"two\n\nbody"]
    with intake.db.session() as session:
        assert session.scalar(select(func.count()).select_from(models.Blob)) == 2


def test_ignored_names_are_not_claimed(intake: Intake) -> None:
    names = [".hidden", "download.part", "x.tmp", "y.crdownload", "backup~"]
    paths = [_drop(intake, n, b"data") for n in names]

    assert intake.take(paths) == []
    assert all(p.exists() for p in paths)


def test_delete_mode_removes_the_original_after_commit(tmp_path: Path, sqlite_url: str) -> None:
    settings = Settings(data_dir=tmp_path / "d", database_url=sqlite_url, archive_mode="delete")
    db = Database(sqlite_url)
    db.upgrade()
    intake = Intake(settings, db)
    intake.make_folders()

    [recorded] = intake.take([_drop(intake, "gone.txt", b"T\n\nbody")])

    assert recorded.state == "queued"
    assert list(intake.archive.iterdir()) == [] and list(intake.inbox.iterdir()) == []


@pytest.mark.parametrize("size", [222, 255])
def test_a_name_too_long_to_claim_fails_alone(intake: Intake, size: int) -> None:
    long_name = "n" * (size - 4) + ".txt"
    paths = [_drop(intake, "a.txt", b"A\n\nbody"), _drop(intake, long_name, b"L\n\nbody")]
    paths.append(_drop(intake, "b.txt", b"B\n\nbody"))

    recorded = intake.take(paths)

    assert [r.state for r in recorded] == ["queued", "failed", "queued"]
    assert recorded[1].error == f"file name too long: {size} bytes > limit 221"
    [report] = intake.failed.glob("*.error.json")
    assert json.loads(report.read_text())["file"] == long_name
    assert all(len(p.name.encode()) <= 255 for p in intake.failed.iterdir())
    assert list(intake.inbox.iterdir()) == [] and list(intake.work.iterdir()) == []


def test_a_name_that_is_not_utf8_is_recorded_with_replacement_characters(
    intake: Intake,
) -> None:
    raw = os.fsencode(intake.inbox) + b"/caf\xe9.txt"
    with open(raw, "wb") as handle:
        handle.write(b"Cafe\n\nbody")

    [odd, good] = intake.take([Path(os.fsdecode(raw)), _drop(intake, "good.txt", b"G\n\nbody")])

    assert (odd.state, odd.source_uri) == ("queued", "inbox/caf\ufffd.txt")
    assert good.state == "queued"
    assert sorted(p.name for p in intake.archive.iterdir()) == ["caf\ufffd.txt", "good.txt"]


def test_a_hard_link_is_refused_and_only_its_inbox_name_deleted(
    intake: Intake, tmp_path: Path
) -> None:
    # Given a hard link in the inbox to a file elsewhere (say, the database)
    target = tmp_path / "private.db"
    target.write_bytes(b"Private\n\nrows")
    link = intake.inbox / "link.txt"
    os.link(target, link)

    [recorded] = intake.take([link])

    assert recorded.state == "failed" and "hard-linked files are refused" in (recorded.error or "")
    assert target.read_bytes() == b"Private\n\nrows" and target.stat().st_nlink == 1
    assert [p.name for p in intake.failed.iterdir()] == ["link.txt.error.json"]
    assert list(intake.work.iterdir()) == []


def test_a_file_still_being_written_is_not_taken_until_it_settles(
    tmp_path: Path, sqlite_url: str
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", database_url=sqlite_url, max_document_bytes=64 * 2**20
    )
    db = Database(sqlite_url)
    db.upgrade()
    intake = Intake(settings, db)
    intake.make_folders()
    path = intake.inbox / "slow.txt"
    # 30 MB: reading it takes long enough for the writer below to append meanwhile
    path.write_bytes(b"Slow\n\n" + b"word " * 6_000_000)
    # Given a writer still appending to it as fast as it can (in its own process)
    writer = subprocess.Popen(
        [sys.executable, "-c",
         "import sys\nwith open(sys.argv[1], 'ab', buffering=0) as f:\n"
         "    while True: f.write(b'more ')", str(path)],
    )  # fmt: skip
    try:
        start = path.stat().st_size
        wait_for(lambda: path.stat().st_size > start + 10_000, 10, what="the writer to start")
        # When it is taken, Then it stays claimed and unrecorded
        assert intake.take([path]) == []
        assert _jobs(intake) == []
        assert intake.recover() == []  # still changing: not settled
    finally:
        writer.kill()
        writer.wait()
    [claimed] = list(intake.work.iterdir())
    whole = claimed.read_bytes()
    # and once it has been left alone for settle_seconds, it is recorded whole
    [recorded] = intake.recover(time.time() + settings.settle_seconds)
    assert recorded.state == "queued"
    assert _blob(intake, _jobs(intake)[0].blob_sha256 or "") == whole

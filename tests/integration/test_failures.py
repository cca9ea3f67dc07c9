"""The failed folder: a worker's failed job gets its original and report, never outside it."""

from __future__ import annotations

import json
from pathlib import Path

from newsmill_ingest.failures import report_failures
from newsmill_ingest.folders import make_folder
from newsmill_schema import models
from newsmill_schema.blobs import store_blob
from newsmill_schema.db import Database
from newsmill_schema.models import utcnow
from newsmill_schema.settings import Settings


def _failed_record(db: Database, name: str, data: bytes) -> int:
    with db.session() as session:
        job = models.Job(
            state="failed",
            source_kind="record",
            source_uri=f"inbox/{name}",
            name=name,
            blob_sha256=store_blob(session, data),
            error="no article body",
            finished_at=utcnow(),
        )
        session.add(job)
        session.flush()
        return job.id


def test_links_planted_under_a_records_names_are_not_written_through(
    tmp_path: Path, database_url: str
) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url)
    db = Database(database_url)
    db.upgrade()
    assert settings.failed_dir
    failed = settings.failed_dir
    make_folder(failed)
    outside = tmp_path / "outside.txt"
    outside.write_text("not newsmill's")
    job_id = _failed_record(db, "evil.jsonl#line=2", b'{"title": "no body"}')
    # Given links under every name the record's copy could be given, short of a random one
    planted = ["evil.jsonl_line=2", f"evil.job{job_id}.jsonl_line=2"]
    planted += [f"evil.job{job_id}-{n}.jsonl_line=2" for n in range(2, 21)]
    for name in planted:
        (failed / name).symlink_to(outside)

    assert report_failures(db, settings) == 1

    assert outside.read_text() == "not newsmill's"
    [copy] = [p for p in failed.iterdir() if not p.is_symlink() and p.suffix != ".json"]
    assert copy.name not in planted
    assert copy.read_bytes() == b'{"title": "no body"}'
    report = json.loads((failed / f"{copy.name}.error.json").read_text())
    assert (report["job_id"], report["reason"]) == (job_id, "no article body")

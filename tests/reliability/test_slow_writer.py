"""Scenario 6: a file still being written is not taken before it is complete."""

from __future__ import annotations

import threading
import time

from newsmill_schema import models
from newsmill_schema.db import Database
from tests.reliability.harness import Stack, top_level_jobs, wait_settled


def test_a_slowly_written_file_is_taken_whole(stack: Stack) -> None:
    stack.start()
    db = Database(stack.database_url)
    content = ("Slow news\n\n" + "A paragraph written one byte at a time. " * 2).encode()
    assert len(content) * 0.05 > 3, "the write must outlast several rescans"

    # Given a producer writing straight into the inbox, one byte every 50 ms
    def write_slowly() -> None:
        with open(stack.inbox / "slow.txt", "wb") as handle:
            for byte in content:
                handle.write(bytes([byte]))
                handle.flush()
                time.sleep(0.05)

    writer = threading.Thread(target=write_slowly)
    writer.start()
    writer.join()

    # Then exactly one job is recorded, holding every byte
    wait_settled(db, {"slow.txt"}, timeout=30, stack=stack)
    [job] = top_level_jobs(db)["slow.txt"]
    with db.session() as session:
        blob = session.get(models.Blob, job.blob_sha256)
        assert blob is not None and blob.data == content
    assert job.state == "done"

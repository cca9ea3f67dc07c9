"""The watcher announces closed and moved-in files, and rescans only settled ones."""

from __future__ import annotations

import os
import time
from pathlib import Path

from newsmill_ingest.watcher import Watcher


def test_rescan_skips_files_still_changing_and_ignored_names(tmp_path: Path) -> None:
    (tmp_path / "old.txt").write_text("settled")
    (tmp_path / "new.txt").write_text("just written")
    (tmp_path / ".hidden").write_text("ignored")
    (tmp_path / "sub").mkdir()
    past = time.time() - 60
    os.utime(tmp_path / "old.txt", (past, past))
    os.utime(tmp_path / ".hidden", (past, past))

    scan = Watcher(tmp_path, settle_seconds=2).rescan()

    assert [p.name for p in scan.settled] == ["old.txt"]
    # and says when the file still changing will have settled
    assert scan.next_settle_in is not None and 0 < scan.next_settle_in <= 2


def test_a_scan_of_settled_files_only_has_nothing_to_wait_for(tmp_path: Path) -> None:
    (tmp_path / "old.txt").write_text("settled")
    past = time.time() - 60
    os.utime(tmp_path / "old.txt", (past, past))

    scan = Watcher(tmp_path, settle_seconds=2).rescan()

    assert [p.name for p in scan.settled] == ["old.txt"]
    assert scan.next_settle_in is None


def test_events_announce_closed_and_moved_in_files(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    watcher = Watcher(inbox, settle_seconds=2)
    watcher.start()
    try:
        (inbox / "written.txt").write_text("closed after write")
        (tmp_path / "staged.txt").write_text("moved in")
        os.replace(tmp_path / "staged.txt", inbox / "moved.txt")
        (inbox / "partial.part").write_text("ignored")

        seen: set[str] = set()
        deadline = time.monotonic() + 5
        while seen != {"written.txt", "moved.txt"} and time.monotonic() < deadline:
            path = watcher.next(timeout=0.2)
            if path is not None:
                seen.add(path.name)
    finally:
        watcher.stop()
    assert seen == {"written.txt", "moved.txt"}

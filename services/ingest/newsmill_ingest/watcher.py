"""The drop-folder watcher: inotify events plus periodic rescans.

A file is taken when it is closed after writing or moved into the inbox.
inotify drops events when bursts overflow its queue, so the inbox is also
rescanned at start-up and on a timer; a rescanned file must have been left
unchanged for ``settle_seconds``, so a file still being written is not taken
early. A scan says when the first file it left alone will have settled, so
the service looks again then instead of a whole rescan interval later.
"""

from __future__ import annotations

import logging
import os
import queue
import time
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import (
    FileClosedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from newsmill_ingest.intake import ignored

log = logging.getLogger(__name__)


class _Handler(FileSystemEventHandler):
    def __init__(self, inbox: Path, ready: queue.Queue[Path]) -> None:
        self.inbox = inbox
        self.ready = ready

    def on_closed(self, event: FileSystemEvent) -> None:
        if isinstance(event, FileClosedEvent):
            self._offer(Path(os.fsdecode(event.src_path)))

    def on_moved(self, event: FileSystemEvent) -> None:
        if isinstance(event, FileMovedEvent):
            self._offer(Path(os.fsdecode(event.dest_path)))

    def _offer(self, path: Path) -> None:
        if path.parent == self.inbox and not ignored(path.name):
            self.ready.put(path)


def _observer() -> BaseObserver:
    """inotify with full move events, so a file moved in from elsewhere is seen as moved."""
    try:
        from watchdog.observers.inotify import InotifyFullEmitter, InotifyObserver
        from watchdog.observers.inotify_c import InotifyConstants, Mask
    except ImportError:  # not Linux: the platform observer, with rescans as the safety net
        return Observer()

    class _InboxEmitter(InotifyFullEmitter):
        # Only files closed after writing or moved in. Our own claims move files
        # OUT of the inbox; watchdog holds every IN_MOVED_FROM for 0.5 s to pair it
        # with a move-in, and all later events queue behind it (a file dropped
        # within 0.5 s of the last claim waited ~500 ms).
        def get_event_mask_from_filter(self) -> Mask:
            return Mask(
                InotifyConstants.IN_CLOSE_WRITE
                | InotifyConstants.IN_MOVED_TO
                | InotifyConstants.IN_DELETE_SELF
            )

    observer = InotifyObserver(generate_full_events=True)
    observer._emitter_class = _InboxEmitter  # watchdog has no public hook for the event mask
    return observer


@dataclass(frozen=True)
class Scan:
    """What one look at the inbox found."""

    settled: list[Path]
    """Files left unchanged for ``settle_seconds``: ready to be taken."""
    next_settle_in: float | None
    """Seconds until the first file still changing will have settled (None: there is none)."""


class Watcher:
    """Yields inbox paths ready to be taken, from events and rescans."""

    def __init__(self, inbox: Path, settle_seconds: float) -> None:
        self.inbox = inbox.resolve()
        self.settle_seconds = settle_seconds
        self.ready: queue.Queue[Path] = queue.Queue()
        self._observer = _observer()
        self._observer.schedule(_Handler(self.inbox, self.ready), str(self.inbox), recursive=False)

    def start(self) -> None:
        self._observer.start()

    def stop(self) -> None:
        self._observer.stop()
        self._observer.join(timeout=5)

    def next(self, timeout: float) -> Path | None:
        """The next path an event announced, or None after ``timeout`` seconds."""
        try:
            return self.ready.get(timeout=timeout)
        except queue.Empty:
            return None

    def drain(self, limit: int) -> list[Path]:
        """Up to ``limit`` announced paths, without waiting."""
        paths: list[Path] = []
        while len(paths) < limit:
            try:
                paths.append(self.ready.get_nowait())
            except queue.Empty:
                break
        return paths

    def rescan(self, now: float | None = None) -> Scan:
        """Inbox files not written to for ``settle_seconds``, and when the next one settles."""
        now = time.time() if now is None else now
        settled: list[Path] = []
        waits: list[float] = []
        with os.scandir(self.inbox) as entries:
            for entry in entries:
                if ignored(entry.name):
                    continue
                try:
                    info = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    continue
                age = now - info.st_mtime
                if age >= self.settle_seconds:
                    settled.append(Path(entry.path))
                else:
                    # A clock step backwards makes age negative: wait one window, not forever.
                    waits.append(self.settle_seconds - max(age, 0.0))
        return Scan(settled, min(waits) if waits else None)

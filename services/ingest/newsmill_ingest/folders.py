"""Writing into newsmill's own folders (archive, failed) without following or clobbering.

Every name newsmill writes there comes from someone else: an inbox writer
names files, a feed author names entries. So nothing in these folders is
trusted to be what its name suggests:

- a new file is created with ``O_CREAT | O_EXCL | O_NOFOLLOW``: if anything
  already has the name (a file, a folder, a symbolic link pointing outside the
  data folder) creation fails and the next candidate name is tried, so no write
  ever goes through a link or over an existing entry;
- a move first reserves its target that way and then renames onto its own
  reservation (see :func:`move_new`);
- a name is taken when the name itself or its ``.error.json`` exists, so a
  failed file and its report always belong together;
- names are shortened (with a hash, so they stay distinct) to leave room for
  ``.error.json.tmp`` within the file system's 255-byte limit.
"""

from __future__ import annotations

import hashlib
import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

NAME_MAX_BYTES = 255
"""Longest file name (one path part) Linux file systems take."""
REPORT_SUFFIX = ".error.json"
_TMP_SUFFIX = ".tmp"
PLACED_NAME_MAX_BYTES = NAME_MAX_BYTES - len(REPORT_SUFFIX) - len(_TMP_SUFFIX)
"""Longest name given to a placed file: its report's temporary file must fit too."""
FILE_MODE = 0o600
FOLDER_MODE = 0o700
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_TAGGED_TRIES = 20
_HASH_CHARS = 16


def make_folder(path: Path) -> None:
    """Create ``path`` (and missing parents) readable by newsmill's user only."""
    path.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)


def fitted(name: str, limit: int = PLACED_NAME_MAX_BYTES) -> str:
    """``name`` when it fits in ``limit`` bytes, else its start, ``~``, a hash of it and its suffix."""
    if len(os.fsencode(name)) <= limit:
        return name
    digest = hashlib.sha256(os.fsencode(name)).hexdigest()[:_HASH_CHARS]
    suffix = Path(name).suffix
    if len(os.fsencode(suffix)) > _HASH_CHARS:
        suffix = ""
    room = limit - len(digest) - 1 - len(os.fsencode(suffix))
    head, used = [], 0
    for char in name:
        size = len(os.fsencode(char))
        if used + size > room:
            break
        head.append(char)
        used += size
    return f"{''.join(head)}~{digest}{suffix}"


def regular_file(path: Path) -> bool:
    """True for a regular file (not a link to one, not a folder, FIFO or device)."""
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except FileNotFoundError:
        return False


def report_path(placed: Path) -> Path:
    """Where the ``.error.json`` of a file in the failed folder goes."""
    return placed.with_name(placed.name + REPORT_SUFFIX)


def _candidates(name: str, tag: str) -> Iterator[str]:
    """``name``, then ``stem.tag.suffix``, ``stem.tag-2.suffix``..., then random names."""
    yield fitted(name)
    stem, dot, suffix = name.rpartition(".")
    for n in range(1, _TAGGED_TRIES + 1):
        label = tag if n == 1 else f"{tag}-{n}"
        yield fitted(f"{stem}.{label}.{suffix}" if dot and stem else f"{name}.{label}")
    while True:  # a folder crowded on purpose still gets a fresh name
        yield fitted(f"{uuid.uuid4().hex}.{suffix}" if dot and stem else uuid.uuid4().hex)


def _is_free(path: Path) -> bool:
    return not os.path.lexists(path) and not os.path.lexists(report_path(path))


def create_new(target: Path, tag: str) -> tuple[Path, int]:
    """Create a new, empty file named like ``target`` in its folder: its path and an open fd.

    ``target.name`` is tried first, then tagged names. Nothing that exists is
    opened, so a symbolic link planted under the name is never followed.
    """
    for name in _candidates(target.name, tag):
        path = target.with_name(name)
        if not _is_free(path):
            continue
        try:
            return path, os.open(path, _NEW_FILE, FILE_MODE)
        except FileExistsError:
            continue
    raise AssertionError("unreachable: candidate names never run out")


def write_new(target: Path, tag: str, data: bytes) -> Path:
    """Write ``data`` to a new file named like ``target`` (see :func:`create_new`)."""
    path, fd = create_new(target, tag)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def move_new(source: Path, target: Path, tag: str) -> Path:
    """Move ``source`` to a new name like ``target``, replacing nothing that was there.

    The name is reserved first with an ``O_EXCL`` create; the rename then
    replaces only that empty reservation of ours. rename(2) never follows a
    symbolic link at its target, so even a reservation swapped for a link
    could not send the file elsewhere. Why not the alternatives: link(2) and
    unlink(2) fail where hard links are refused (``fs.protected_hardlinks``
    refuses links to other users' files, as dropped files often are; some
    network file systems have none), and renameat2's ``RENAME_NOREPLACE`` is
    Linux-only and missing on some file systems. A kill between the two steps
    leaves only an empty file behind.
    """
    path, fd = create_new(target, tag)
    os.close(fd)
    try:
        os.replace(source, path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def left_reservation(path: Path) -> bool:
    """True when ``path`` is an empty regular file of one link: a reservation a crash left."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_size == 0 and info.st_nlink == 1


def free_name(target: Path, tag: str, taken: frozenset[Path] | set[Path] = frozenset()) -> Path:
    """The first name like ``target`` that nothing has now (nor ``taken``): a plan only.

    Plans are made before a transaction commits and carried out after it;
    :func:`move_new` and :func:`create_new` make them real, or pick the next
    free name when something took this one in between.
    """
    for name in _candidates(target.name, tag):
        path = target.with_name(name)
        if path not in taken and _is_free(path):
            return path
    raise AssertionError("unreachable: candidate names never run out")


def write_report(report: Path, text: str) -> None:
    """Write a report whole (readers never see half of one), through a new temporary file.

    The report's name belongs to the file it describes, whose name was
    reserved by :func:`create_new`; the rename replaces an earlier report of
    that same file and, like every rename, never follows a link.
    """
    tmp = report.with_name(report.name + _TMP_SUFFIX)
    tmp.unlink(missing_ok=True)  # a crash's leftover; unlink removes a link, never its target
    _publish(os.open(tmp, _NEW_FILE, FILE_MODE), tmp, report, text)


def new_report(target: Path, tag: str, text: str) -> Path:
    """A report for a file that is not kept, at a name no file or report has; its path."""
    for name in _candidates(target.name, tag):
        path = target.with_name(name)
        if not _is_free(path):
            continue
        report = report_path(path)
        tmp = report.with_name(report.name + _TMP_SUFFIX)
        try:
            fd = os.open(tmp, _NEW_FILE, FILE_MODE)
        except FileExistsError:
            continue
        _publish(fd, tmp, report, text)
        return report
    raise AssertionError("unreachable: candidate names never run out")


def _publish(fd: int, tmp: Path, report: Path, text: str) -> None:
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, report)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise

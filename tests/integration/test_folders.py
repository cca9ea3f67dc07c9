"""Writing into the archive and failed folders: nothing there is followed or overwritten."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from newsmill_ingest import folders


@pytest.fixture
def failed(tmp_path: Path) -> Path:
    folder = tmp_path / "failed"
    folders.make_folder(folder)
    return folder


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    path = tmp_path / "outside.txt"
    path.write_text("not newsmill's")
    return path


def test_a_planted_link_is_never_written_through(failed: Path, outside: Path) -> None:
    # Given links under the name and under its first tagged names, one of them dangling
    (failed / "evil.txt").symlink_to(outside)
    (failed / "evil.job7.txt").symlink_to(outside)
    (failed / "evil.job7-2.txt").symlink_to(failed / "nowhere")

    placed = folders.write_new(failed / "evil.txt", "job7", b"record bytes")

    assert outside.read_text() == "not newsmill's"
    assert placed == failed / "evil.job7-3.txt"
    assert not placed.is_symlink() and placed.read_bytes() == b"record bytes"


def test_a_crowded_folder_still_gets_a_fresh_name(failed: Path, outside: Path) -> None:
    names = ["evil.txt", "evil.job1.txt", *(f"evil.job1-{n}.txt" for n in range(2, 21))]
    for name in names:
        (failed / name).symlink_to(outside)

    placed = folders.write_new(failed / "evil.txt", "job1", b"x")

    assert placed.name not in names and placed.suffix == ".txt"
    assert placed.read_bytes() == b"x" and outside.read_text() == "not newsmill's"


def test_a_move_replaces_nothing_that_was_there(tmp_path: Path, failed: Path) -> None:
    (failed / "same.txt").write_text("first")
    source = tmp_path / "incoming"
    source.write_text("second")

    placed = folders.move_new(source, failed / "same.txt", "abc")

    assert (failed / "same.txt").read_text() == "first"
    assert placed == failed / "same.abc.txt" and placed.read_text() == "second"
    assert not source.exists()


def test_a_name_whose_report_exists_is_taken(failed: Path) -> None:
    (failed / "a.txt.error.json").write_text("{}")

    placed = folders.write_new(failed / "a.txt", "t", b"x")

    assert placed.name == "a.t.txt"


def test_a_report_for_a_file_not_kept_takes_a_free_name(failed: Path, outside: Path) -> None:
    (failed / "link.txt.error.json").symlink_to(outside)

    report = folders.new_report(failed / "link.txt", "t", '{"reason": "link"}')

    assert report == failed / "link.t.txt.error.json"
    assert report.read_text() == '{"reason": "link"}'
    assert outside.read_text() == "not newsmill's"


def test_a_report_replaces_a_planted_link_without_following_it(failed: Path, outside: Path) -> None:
    (failed / "a.txt.error.json").symlink_to(outside)
    (failed / "a.txt.error.json.tmp").symlink_to(outside)

    folders.write_report(failed / "a.txt.error.json", "{}")

    assert outside.read_text() == "not newsmill's"
    assert not (failed / "a.txt.error.json").is_symlink()
    assert not (failed / "a.txt.error.json.tmp").exists()


def test_files_and_folders_are_private(failed: Path) -> None:
    placed = folders.write_new(failed / "a.txt", "t", b"x")
    folders.write_report(folders.report_path(placed), "{}")

    assert stat.S_IMODE(failed.stat().st_mode) == 0o700
    assert stat.S_IMODE(placed.stat().st_mode) == 0o600
    assert stat.S_IMODE(folders.report_path(placed).stat().st_mode) == 0o600


@pytest.mark.parametrize("name", ["a" * 300 + ".txt", "é" * 200 + ".json", "x." + "y" * 260])
def test_long_names_are_shortened_distinctly_within_the_limit(failed: Path, name: str) -> None:
    fitted = folders.fitted(name)
    other = folders.fitted(name[:-5] + "z" + name[-4:])

    assert len(os.fsencode(fitted)) <= folders.PLACED_NAME_MAX_BYTES
    assert fitted != other
    # the report's temporary file still fits
    report_tmp = folders.report_path(failed / fitted).name + ".tmp"
    assert len(os.fsencode(report_tmp)) <= folders.NAME_MAX_BYTES
    folders.write_report(folders.report_path(failed / fitted), "{}")

"""What every command shares: a fresh embedded folder just works; database trouble is one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def newsmill(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NEWSMILL_")}
    return subprocess.run(
        [sys.executable, "-m", "newsmill_ingest", *args],
        env={**clean, "NEWSMILL_LOG_FORMAT": "text", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_read_commands_work_on_a_fresh_embedded_data_folder(tmp_path: Path) -> None:
    # Given a data folder nothing has run in yet
    fresh = tmp_path / "data"
    # When an operator lists what is there
    for command in (["docs", "list", "--json"], ["jobs", "list"], ["feeds", "list", "--json"]):
        result = newsmill([*command, "--data-dir", str(fresh)])
        # Then the answer is an empty list, not a missing-table traceback
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        assert result.stdout.strip() == "" or "id" in result.stdout
    assert (fresh / "newsmill.db").is_file()


@pytest.mark.postgres
def test_an_unmigrated_server_database_is_one_clear_line(pg_url: str) -> None:
    result = newsmill(["docs", "list"], NEWSMILL_DATABASE_URL=pg_url)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "no newsmill schema" in result.stderr and "newsmill db upgrade" in result.stderr


def test_an_unreachable_database_is_one_clear_line(free_port: int) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port}/newsmill"
    result = newsmill(["jobs", "list"], NEWSMILL_DATABASE_URL=url)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "database error" in result.stderr and "refused" in result.stderr


def test_embedded_commands_print_no_broker_warnings(tmp_path: Path) -> None:
    # Given an embedded folder, whose broker is kombu's filesystem transport (no host)
    data = str(tmp_path / "data")
    # When the commands that reach the broker run
    for command in (["status"], ["health", "--no-workers"]):
        result = newsmill([*command, "--data-dir", data])
        # Then kombu's "No hostname was supplied" never reaches the user
        assert "hostname" not in result.stderr, result.stderr
        assert "WARNING" not in result.stderr, result.stderr

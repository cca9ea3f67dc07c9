"""Scenario 8: hundreds of hostile and malformed files mixed with good ones."""

from __future__ import annotations

import gzip
import io
import json
import os
import random
import zipfile
from collections.abc import Callable
from pathlib import Path

from bench.memory import RssSampler
from newsmill_schema.db import Database
from tests.reliability.harness import (
    Document,
    Stack,
    assert_ledger,
    corpus,
    drop,
    top_level_jobs,
    wait_settled,
)
from tests.support import slow_parse_texts, unclosed_paragraphs_page, wait_for

MEMORY_LIMIT_MB = 400


def _zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("inner.txt", "0" * 20_000_000)
    return buffer.getvalue()


def _entity_bomb(i: int) -> bytes:
    return (
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "{"a" * 50}">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        f"<rss><channel><item><title>bomb {i} &c;</title></item></channel></rss>"
    ).encode()


def hostile_corpus(rng: random.Random) -> dict[str, tuple[bytes, str]]:
    """name → (content, a word its failure reason must contain)."""
    gzip_bomb = gzip.compress(b"\0" * 30_000_000)
    zip_bomb = _zip_bomb()
    nested_html = (
        b"<html><body>" + b"<div>" * 100_000 + b"x" + b"</div>" * 100_000 + b"</body></html>"
    )
    unclosed_html = unclosed_paragraphs_page()
    makers: list[tuple[str, int, Callable[[int], bytes], str]] = [
        ("random-{}.txt", 150, lambda i: bytes(rng.getrandbits(8) for _ in range(3000)), "binary"),
        (
            "latin-noise-{}.txt",
            80,
            lambda i: bytes(rng.randrange(0x80, 0x100) for _ in range(2000)),
            "decod",
        ),
        (
            "nul-{}.txt",
            50,
            lambda i: b"Title\x00\n\nBody with \x00 bytes " + str(i).encode(),
            "binary",
        ),
        ("empty-{}.txt", 50, lambda i: b"", "empty"),
        ("blank-{}.md", 20, lambda i: b" \n\t\n  " * (i + 1), "no text"),
        ("gzip-bomb-{}.txt", 10, lambda i: gzip_bomb, "gzip"),
        ("zip-bomb-{}.html", 10, lambda i: zip_bomb, "zip"),
        ("nested-{}.html", 3, lambda i: nested_html, "nested"),
        ("unclosed-{}.html", 3, lambda i: unclosed_html, "too large to extract"),
        ("nested-{}.json", 20, lambda i: b"[" * 10_000 + b"]" * 10_000, "nested"),
        ("entities-{}.xml", 20, _entity_bomb, "ENTITY"),
        ("bad..dots-{}.txt", 20, lambda i: b"", "empty"),
        ("with space {}.txt", 20, lambda i: b"\x00\x01\x02" * 100, "binary"),
        ("ünïcødé-{}.txt", 20, lambda i: b"", "empty"),
        ("new\nline-{}.txt", 20, lambda i: b"", "empty"),
        ("ansi-\x1b[31m-{}\x1b[0m.txt", 10, lambda i: b"", "empty"),
        ("markup [bold]{}[red].txt", 10, lambda i: b"", "empty"),
        # Names too long to carry a claim token (222 to 255 bytes), with good text inside
        (
            "{}" + "l" * 218 + ".txt",
            10,
            lambda i: b"Long\n\nA good text under a long name.",
            "too long",
        ),
        (
            "{}" + "m" * 245 + ".txt",
            5,
            lambda i: b"Long\n\nA good text under a long name.",
            "too long",
        ),
    ]
    files: dict[str, tuple[bytes, str]] = {}
    for pattern, count, make, reason in makers:
        for i in range(count):
            files[pattern.format(i)] = (make(i), reason)
    return files


def _reports(failed_dir: Path) -> dict[str, dict]:
    """Every report in the failed folder, by the name of the file it is about."""
    reports = {}
    for path in failed_dir.glob("*.error.json"):
        report = json.loads(path.read_text())  # written whole, then renamed into place
        reports[report["file"]] = report
    return reports


def test_hostile_files_fail_with_specific_reasons_and_good_ones_are_stored(
    stack: Stack, tmp_path: Path
) -> None:
    stack.env_extra.update(
        {
            "NEWSMILL_MAX_DECOMPRESSED_BYTES": str(5_000_000),
            "NEWSMILL_MAX_DOCUMENT_BYTES": str(20_000_000),
            "NEWSMILL_WORKER_MAX_MEMORY_MB": str(MEMORY_LIMIT_MB),
        }
    )
    stack.start()
    assert stack.ingest is not None and stack.worker is not None
    db = Database(stack.database_url)
    rng = random.Random(8)
    hostile = hostile_corpus(rng)
    # Texts that once made the cleaner backtrack for minutes are good documents too
    slow = [Document(name, title, data) for name, (title, data) in slow_parse_texts().items()]
    good = [*corpus(100, seed=81), *slow]
    # Some good documents arrive under names with markup, ANSI escapes and a newline
    for i, doc in enumerate(good[:10]):
        good[i] = Document(f"[bold]good \x1b[31m{i}\nname[red].txt", doc.title, doc.data)
    outside = tmp_path / "outside-secret.txt"
    outside.write_text("Secret\n\nnot for the inbox")

    with RssSampler({"ingest": stack.ingest.popen.pid, "worker": stack.worker.popen.pid}) as memory:
        # Given bad files of every kind, a 100 MB file and symlinks out of the inbox, among good ones
        staging = stack.data / "hostile"
        staging.mkdir()
        for name, (data, _) in hostile.items():
            (staging / name).write_bytes(data)
        with open(staging / "huge.txt", "wb") as handle:
            handle.truncate(100 * 2**20)
        for i in range(20):
            (staging / f"link-{i}.txt").symlink_to(outside)
            os.link(outside, staging / f"hard-{i}.txt")
        expected = {
            **{n: r for n, (_, r) in hostile.items()},
            "huge.txt": "too large",
            **{f"link-{i}.txt": "symbolic link" for i in range(20)},
            **{f"hard-{i}.txt": "hard-linked" for i in range(20)},
        }
        drop(stack.inbox, good)
        for name in expected:
            os.replace(staging / name, stack.inbox / name)

        wait_settled(db, set(expected) | {d.name for d in good}, timeout=300, stack=stack)

    # Then every bad file failed for its own reason, with an .error.json in the failed folder
    assert len(expected) >= 500
    failed_dir = stack.data / "failed"
    reports = wait_for(
        lambda: (found := _reports(failed_dir)).keys() >= expected.keys() and found,
        60,
        what="the failed folder's reports",
    )
    wrong = {}
    for name, word in expected.items():
        if word.lower() not in (reports[name].get("reason") or "").lower():
            wrong[name] = reports[name].get("reason")
    assert not wrong, f"{len(wrong)} files without the expected reason: {list(wrong.items())[:8]}"
    # and every good one is stored, once
    assert_ledger(
        db,
        [*good, *(Document(n, "", b"") for n in expected)],
        stack.data / "work",
        failed=set(expected),
    )
    assert outside.read_text() == "Secret\n\nnot for the inbox"
    assert outside.stat().st_nlink == 1, "a hard link to it was kept"
    # and no link, symbolic or hard, was kept in a folder newsmill writes to
    kept = [
        p
        for p in stack.data.rglob("*")
        if p.is_symlink() or (p.is_file() and p.stat().st_nlink > 1)
    ]
    assert kept == []
    # and the documents that once ran into the time limit took one attempt each
    jobs = top_level_jobs(db)
    once_slow = [d.name for d in slow] + [n for n in expected if n.startswith("unclosed-")]
    assert {n: jobs[n][0].attempts for n in once_slow} == dict.fromkeys(once_slow, 1)
    # and no process died or outgrew its memory limit
    assert stack.ingest.alive and stack.worker.alive
    peak_mb = max(memory.peak_mb("ingest"), memory.peak_mb("worker"))
    assert peak_mb < MEMORY_LIMIT_MB, f"peak RSS {peak_mb:.0f} MB"

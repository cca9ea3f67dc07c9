"""feedparser's own test suite through newsmill's feed path: how much comes out right?

Each suite file's header comment says what the parse must give (``Expect:``,
a Python expression over feedparser's result) and which HTTP headers it was
served with (``Header:``). For every wellformed, illformed and encoding case
this script:

1. parses the bytes exactly as the poller does (``feed_entries.feedparser_result``:
   entity declarations refused, headers passed, never a URL) and checks the
   expectation;
2. turns each entry into newsmill's JSON record and runs it through the
   worker's pipeline, counting the entries that become articles (and, for
   those, that the article keeps the entry's title).

Usage: ``python -m newsmill_ingest.bench.feedparser_suite [SUITE_DIR]``
(default ``../shared/data/feeds/feedparser-tests`` beside the repository).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from newsmill_ingest.feed_entries import FeedError, entry_record, feedparser_result, parse_feed

DEFAULT_SUITE = Path(__file__).resolve().parents[4].parent / "shared/data/feeds/feedparser-tests"
GROUPS = ("wellformed", "illformed", "encoding")
_FIELD = re.compile(r"^(Description|Expect|Header|SkipUnless):\s*(.*)$", re.MULTILINE)
_URL = "http://127.0.0.1:8097/"
"""Where feedparser's own harness serves the files: the suite's relative-URI cases expect it."""


@dataclass
class Case:
    path: Path
    expect: str
    headers: dict[str, str]
    skip_unless: str | None


@dataclass
class Tally:
    files: int = 0
    skipped: int = 0
    expectations_met: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    entries: int = 0
    articles: int = 0
    titles_kept: int = 0
    not_articles: Counter[str] = field(default_factory=Counter)
    failed_expectations: list[str] = field(default_factory=list)


def read_case(path: Path) -> Case:
    head = path.read_bytes()[:4000].decode("utf-8", errors="replace")
    found: dict[str, list[str]] = {}
    for name, value in _FIELD.findall(head):
        found.setdefault(name, []).append(value.strip())
    headers = {}
    for line in found.get("Header", []):
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    guard = found.get("SkipUnless")
    return Case(path, (found.get("Expect") or [""])[0], headers, guard[0] if guard else None)


def expectation_met(case: Case, result: Any) -> bool:
    try:
        return bool(eval(case.expect, {"__builtins__": __builtins__}, result))
    except Exception:  # an expectation that cannot even be evaluated is not met
        return False


def run_case(case: Case, tally: Tally) -> None:
    from newsmill_worker.pipeline import DocumentError, Limits, Parsed, run

    body = case.path.read_bytes()
    url = case.headers.get("content-location", _URL + case.path.name)
    # A server always sends a content type; the suite's own harness defaults to XML too.
    content_type = case.headers.get("content-type", "application/xml")
    try:
        result = feedparser_result(body, url, content_type)
    except FeedError as exc:
        tally.refused[exc.reason[:60]] += 1
        return
    if expectation_met(case, result):
        tally.expectations_met += 1
    else:
        tally.failed_expectations.append(f"{case.path.name}: {case.expect}")
    try:
        parse_feed(body, url, content_type)
    except FeedError as exc:
        tally.refused[exc.reason[:60]] += 1
        return
    for entry in result.entries:
        tally.entries += 1
        record = entry_record(entry, result.feed, full_text=False)
        raw = json.dumps(record, ensure_ascii=False).encode("utf-8")
        try:
            article = run(raw, "entry.json", Limits())[0]
        except DocumentError as exc:
            tally.not_articles[exc.reason.split(":")[0][:60]] += 1
            continue
        if isinstance(article, Parsed):
            tally.articles += 1
            tally.titles_kept += " ".join(record.get("title", "").split()) == article.title


def run_suite(suite: Path) -> dict[str, Tally]:
    tallies = {}
    for group in GROUPS:
        tally = Tally()
        for path in sorted((suite / group).rglob("*.xml")):
            case = read_case(path)
            if case.skip_unless and not _available(case.skip_unless):
                tally.skipped += 1
                continue
            tally.files += 1
            run_case(case, tally)
        tallies[group] = tally
    return tallies


def _available(condition: str) -> bool:
    try:
        return bool(eval(condition))  # the suite's own trusted guard expressions
    except Exception:
        return False


def report(tallies: dict[str, Tally], elapsed: float) -> str:
    lines = []
    total = Tally()
    for group, t in tallies.items():
        lines.append(
            f"{group:10s} files {t.files:5d} (skipped {t.skipped}) | expectation met "
            f"{t.expectations_met:5d} | refused {sum(t.refused.values()):3d} | entries "
            f"{t.entries:5d} -> articles {t.articles:5d} (title kept {t.titles_kept})"
        )
        total.files += t.files
        total.expectations_met += t.expectations_met
        total.entries += t.entries
        total.articles += t.articles
        total.titles_kept += t.titles_kept
        total.refused.update(t.refused)
        total.not_articles.update(t.not_articles)
    lines.append(
        f"{'total':10s} files {total.files:5d} | expectation met {total.expectations_met:5d} | "
        f"entries {total.entries:5d} -> articles {total.articles:5d} "
        f"(title kept {total.titles_kept}) | {elapsed:.1f}s"
    )
    lines.append("refused: " + ", ".join(f"{n}x {r}" for r, n in total.refused.most_common(5)))
    lines.append(
        "entries that are no article: "
        + ", ".join(f"{n}x {r}" for r, n in total.not_articles.most_common(5))
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("suite", nargs="?", type=Path, default=DEFAULT_SUITE)
    parser.add_argument("--failures", action="store_true", help="List unmet expectations.")
    args = parser.parse_args(argv)
    if not (args.suite / "wellformed").is_dir():
        print(f"feedparser suite not found at {args.suite}", file=sys.stderr)
        return 2
    started = time.monotonic()
    tallies = run_suite(args.suite)
    print(report(tallies, time.monotonic() - started))
    if args.failures:
        for tally in tallies.values():
            print("\n".join(tally.failed_expectations))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Body-extraction benchmark: newsmill's ``run()`` against plain ``trafilatura.extract``.

Scores each page's extracted body against its ground truth as precision and
recall over 4-word shingles (multisets of ``\\w+`` words; a text under four
words is one shingle), averages P and R over pages, and takes F1 of the
averages. Both extractors get the same decompressed HTML bytes; timing is the
best of a few rounds in which they take turns (the scoring pass warms them up).
Also times ``run()`` over the BBC text corpus.

    python -m newsmill_worker.bench.extraction [--data DIR] [--json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import trafilatura
from rich.console import Console
from rich.table import Table

from newsmill_worker.pipeline import DocumentError, Limits, Parsed, run

_WORD = re.compile(r"\w+")
_SHINGLE = 4
Extractor = Callable[[bytes], str]
_DEFAULT_DATA = Path(__file__).resolve().parents[4].parent / "shared" / "data"


@dataclass
class Score:
    """One extractor's averaged scores over a corpus."""

    name: str
    precision: float
    recall: float
    f1: float
    ms_per_page: float


def shingles(text: str) -> Counter[tuple[str, ...]]:
    """Multiset of 4-word shingles of ``text``'s words (one shingle for shorter texts)."""
    words = _WORD.findall(text)
    if len(words) < _SHINGLE:
        return Counter([tuple(words)]) if words else Counter()
    return Counter(tuple(words[i : i + _SHINGLE]) for i in range(len(words) - _SHINGLE + 1))


def precision_recall(predicted: str, truth: str) -> tuple[float, float]:
    """Shingle precision and recall of one page; an empty side scores as a perfect miss."""
    pred, true = shingles(predicted), shingles(truth)
    tp = sum((pred & true).values())
    fp = sum((pred - true).values())
    fn = sum((true - pred).values())
    precision = tp / (tp + fp) if tp + fp else float(not true)
    recall = tp / (tp + fn) if tp + fn else 1.0
    return precision, recall


def score(name: str, extract: Extractor, pages: dict[str, bytes], truth: dict) -> Score:
    """Average P and R of ``extract`` over ``pages`` (its time is measured by :func:`timings`)."""
    results = [
        precision_recall(extract(html), truth[k]["articleBody"]) for k, html in pages.items()
    ]
    p = sum(r[0] for r in results) / len(results)
    r = sum(r[1] for r in results) / len(results)
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return Score(name, p, r, f1, 0.0)


def timings(extractors: list[Extractor], pages: dict[str, bytes], rounds: int) -> list[float]:
    """Best-of-``rounds`` ms per page for each extractor, the extractors taking turns per round.

    Taking turns spreads background load fairly over the extractors; the best
    round is the one least disturbed by it (as ``timeit`` recommends).
    """
    best = [float("inf")] * len(extractors)
    for _ in range(rounds):
        for index, extract in enumerate(extractors):
            start = time.perf_counter()
            for html in pages.values():
                extract(html)
            best[index] = min(best[index], time.perf_counter() - start)
    return [seconds / len(pages) * 1000 for seconds in best]


def newsmill_body(html: bytes) -> str:
    """The body ``run()`` gives for a page, empty when it refuses it."""
    try:
        outcomes = run(html, "page.html", Limits())
    except DocumentError:
        return ""
    return "\n\n".join(o.body for o in outcomes if isinstance(o, Parsed))


def trafilatura_body(html: bytes) -> str:
    """Plain ``trafilatura.extract`` with its default options."""
    return trafilatura.extract(html) or ""


def bbc_files_per_second(folder: Path) -> tuple[int, float]:
    """Files ``run()`` processes per second over the BBC corpus (files, rate)."""
    files = sorted(folder.glob("*/*.txt"))
    if not files:
        return 0, 0.0
    blobs = [(f.name, f.read_bytes()) for f in files]
    start = time.perf_counter()
    for name, data in blobs:
        run(data, name, Limits())
    return len(blobs), len(blobs) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    """Print the benchmark table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=_DEFAULT_DATA, help="shared data folder")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--rounds", type=int, default=3, help="timing rounds (best is kept)")
    args = parser.parse_args(argv)
    dev = args.data / "extraction-dev"
    truth = json.loads((dev / "ground-truth.json").read_text(encoding="utf-8"))
    pages = {k: gzip.decompress((dev / "html" / f"{k}.html.gz").read_bytes()) for k in truth}
    extractors = {"trafilatura.extract": trafilatura_body, "newsmill run()": newsmill_body}
    scores = [score(name, extract, pages, truth) for name, extract in extractors.items()]
    ms = timings(list(extractors.values()), pages, args.rounds)
    scores = [replace(s, ms_per_page=t) for s, t in zip(scores, ms, strict=True)]
    bbc_files, bbc_rate = bbc_files_per_second(args.data / "bbc")
    if args.json:
        report = {"pages": len(pages), "scores": [asdict(s) for s in scores]}
        report["bbc"] = {"files": bbc_files, "files_per_second": bbc_rate}
        print(json.dumps(report, indent=2))
        return
    table = Table(title=f"Body extraction on {len(pages)} pages (4-word shingles)")
    for column in ("extractor", "precision", "recall", "F1", "ms/page"):
        table.add_column(column, justify="left" if column == "extractor" else "right")
    for s in scores:
        table.add_row(
            s.name, f"{s.precision:.4f}", f"{s.recall:.4f}", f"{s.f1:.4f}", f"{s.ms_per_page:.1f}"
        )
    console = Console()
    console.print(table)
    console.print(f"BBC: run() over {bbc_files} files at {bbc_rate:.0f} files/s")


if __name__ == "__main__":
    main()

"""Extraction benchmark: newsmill beside plain trafilatura, on each page set separately.

For every set, in one process, on the same decompressed bytes:

* **body**: 4-word-shingle precision and recall per page (multisets of ``\\w+``
  words; a text under four words is one shingle), averaged over the pages, and
  F1 of the averages (the metric of ``../shared/README.md``);
* **leave-one-site-out F1**: each page scored with the configuration (trafilatura
  mode, pruning of hidden elements, cleaning rules) that scores best on the
  pages of every *other* site of both sets. Close to newsmill's own F1, the
  choices do not depend on the sites they were measured on;
* **metadata**: title, first author and publication date against the
  references that have them (readability's ``title``, ``byline`` and
  ``publishedTime``; the date in a page's URL for the news pages);
* **time**: per page, the best of ``--rounds`` runs of each extractor taking
  turns, summed over the pages; the ratio is newsmill's time over
  trafilatura's.

Plain trafilatura is ``trafilatura.extract(html)`` with its defaults, as a user
would call it (``bare_extraction(html, with_metadata=True)`` for its metadata).
Readability's reference bodies hold UTF-8 read as Latin-1 (``Ã©`` for ``é``) on
most non-ASCII pages; they are repaired line by line where that is reversible.

Run from the checkout (``make bench-quality``)::

    python bench/extraction.py [--dev DIR] [--readability DIR] [--rounds N] [--json]
    python bench/extraction.py --write-baseline   # the figures the quality gate holds
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import ftfy
import trafilatura
from dateutil import parser as dateutil_parser
from rich.console import Console
from rich.table import Table
from trafilatura.settings import Document
from trafilatura.utils import load_html

from newsmill_worker.pipeline import DocumentError, Limits, Parsed, clean, run
from newsmill_worker.pipeline.clean import (
    DEBRIS_RULES,
    DebrisRule,
    drop_footers,
    drop_headline,
    drop_standfirst,
    drop_title_copies,
)
from newsmill_worker.pipeline.formats.html import HIDDEN_ELEMENTS
from newsmill_worker.pipeline.formats.page_metadata import page_metadata

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
BASELINE = ROOT / "bench" / "extraction_baseline.json"
SETS = ("extraction-dev", "extraction-readability")
_WORD = re.compile(r"\w+")
_SHINGLE = 4
_URL_DATE = re.compile(r"/((?:19|20)\d\d)[/-](\d\d)[/-](\d\d)(?:[/-]|$)")
_TITLE_SEPARATOR = re.compile(r"\s+[|–—·•»/\\-]\s+")
_BRACKETED_SUFFIX = re.compile(r"\s*\[[^\]]*\]$")
_SITE_NUMBER = re.compile(r"-\d+$")


# --- page sets and references ------------------------------------------------------


@dataclass
class Reference:
    """What a page's reference says: the body, and metadata where the set has it."""

    body: str
    title: str | None = None
    byline: str | None = None
    published: str | None = None
    url: str | None = None


@dataclass
class PageSet:
    """One set of pages: HTML bytes, references and the site of each page."""

    name: str
    pages: dict[str, bytes]
    references: dict[str, Reference]
    sites: dict[str, str]


def load_set(folder: Path) -> PageSet:
    """Read ``ground-truth.json`` and ``html/<id>.html.gz`` of a set folder."""
    truth = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
    pages = {k: gzip.decompress((folder / "html" / f"{k}.html.gz").read_bytes()) for k in truth}
    references = {
        k: Reference(
            body=repair_mojibake(v["articleBody"]),
            title=v.get("title"),
            byline=v.get("byline"),
            published=v.get("publishedTime"),
            url=v.get("url"),
        )
        for k, v in truth.items()
    }
    sites = {k: site_of(k, r.url) for k, r in references.items()}
    return PageSet(folder.name, pages, references, sites)


def site_of(key: str, url: str | None) -> str:
    """A page's site: its URL's host, else its name without a running number (``nytimes-3``)."""
    host = urlsplit(url).hostname if url else None
    return host.removeprefix("www.") if host else _SITE_NUMBER.sub("", key)


def repair_mojibake(text: str) -> str:
    """Undo UTF-8 read as Latin-1, line by line, where the bytes allow it.

    A no-break space (byte A0) inside a character became a plain space in the
    stored text; it is put back. Lines that were never mangled (pure ASCII,
    or real Latin-1 text that is not valid UTF-8) come back unchanged.
    """
    return "\n".join(_repair_line(line) for line in text.split("\n"))


def _repair_line(line: str) -> str:
    try:
        data = bytearray(line.encode("latin-1"))
    except UnicodeEncodeError:
        return ftfy.fix_encoding(line)
    while True:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.end < len(data) and data[exc.end] == 0x20:
                data[exc.end] = 0xA0
                continue
            return ftfy.fix_encoding(line)


# --- the metric -------------------------------------------------------------------------


def shingles(text: str) -> Counter[tuple[str, ...]]:
    """Multiset of 4-word shingles of ``text``'s words (one shingle for shorter texts)."""
    words = _WORD.findall(text)
    if len(words) < _SHINGLE:
        return Counter([tuple(words)]) if words else Counter()
    return Counter(tuple(words[i : i + _SHINGLE]) for i in range(len(words) - _SHINGLE + 1))


def precision_recall(predicted: str, truth: Counter[tuple[str, ...]] | str) -> tuple[float, float]:
    """Shingle precision and recall of one page; an empty side scores as a perfect miss."""
    pred = shingles(predicted)
    true = shingles(truth) if isinstance(truth, str) else truth
    tp = sum((pred & true).values())
    fp = sum((pred - true).values())
    fn = sum((true - pred).values())
    precision = tp / (tp + fp) if tp + fp else float(not true)
    recall = tp / (tp + fn) if tp + fn else 1.0
    return precision, recall


@dataclass
class Score:
    """Precision and recall averaged over pages, and F1 of the averages."""

    precision: float
    recall: float
    f1: float

    @classmethod
    def of(cls, results: Sequence[tuple[float, float]]) -> Score:
        p = sum(r[0] for r in results) / len(results)
        r = sum(r[1] for r in results) / len(results)
        return cls(p, r, 2 * p * r / (p + r) if p + r else 0.0)


# --- the two extractors -------------------------------------------------------------------


def newsmill_article(html: bytes) -> Parsed | None:
    """The article ``run()`` makes of a page, None when it refuses it."""
    try:
        outcomes = run(html, "page.html", Limits())
    except DocumentError:
        return None
    return next((o for o in outcomes if isinstance(o, Parsed)), None)


def newsmill_body(html: bytes) -> str:
    article = newsmill_article(html)
    return article.body if article is not None else ""


def trafilatura_body(html: bytes) -> str:
    """Plain ``trafilatura.extract`` with its default options."""
    return trafilatura.extract(html) or ""


def newsmill_score(page_set: PageSet) -> Score:
    """newsmill's body score on a set (what the quality gate checks)."""
    return Score.of(
        [
            precision_recall(newsmill_body(html), page_set.references[k].body)
            for k, html in page_set.pages.items()
        ]
    )


# --- metadata -------------------------------------------------------------------------------


@dataclass
class Metadata:
    """An extractor's title, first author and date for one page."""

    title: str = ""
    author: str = ""
    published: datetime | date | None = None


def newsmill_metadata(article: Parsed | None) -> Metadata:
    if article is None:
        return Metadata()
    author = article.authors[0] if article.authors else ""
    return Metadata(article.title, author, article.published_at)


def trafilatura_metadata(html: bytes) -> Metadata:
    document = trafilatura.bare_extraction(html, with_metadata=True)
    if not isinstance(document, Document):
        return Metadata()
    author = (document.author or "").split(";")[0].strip()
    published = date.fromisoformat(document.date) if document.date else None
    return Metadata(document.title or "", author, published)


def _normal(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def title_exact(predicted: str, reference: str) -> bool:
    """Equal after Unicode NFC and whitespace normalisation."""
    return _normal(predicted) == _normal(reference)


def title_match(predicted: str, reference: str) -> bool:
    """Exact, or exact once one side loses a site-name segment ("Title - Site", "Title [Site]")."""
    a, b = _normal(predicted), _normal(reference)
    return a == b or b in _without_site_segment(a) or a in _without_site_segment(b)


def _without_site_segment(title: str) -> set[str]:
    variants = {_BRACKETED_SUFFIX.sub("", title)}
    separators = list(_TITLE_SEPARATOR.finditer(title))
    if separators:
        variants |= {title[: separators[-1].start()], title[separators[0].end() :]}
    return variants - {title}


def author_match(predicted: str, byline: str) -> bool:
    """The first author's every word appears in the reference byline (bylines carry dates, roles)."""
    words = set(_WORD.findall(predicted.casefold()))
    return bool(words) and words <= set(_WORD.findall(byline.casefold()))


def date_match(predicted: datetime | date | None, reference: str) -> bool:
    """The same calendar day, seen in the reference's time zone when both carry one."""
    if predicted is None:
        return False
    expected = _reference_datetime(reference)
    if isinstance(predicted, datetime):
        if expected.tzinfo is not None and predicted.tzinfo is not None:
            predicted = predicted.astimezone(expected.tzinfo)
        predicted = predicted.date()
    return predicted == expected.date()


def url_date_match(predicted: datetime | date | None, url: str) -> bool:
    """Within a day of the date in the URL (a publisher's local day; timestamps may be UTC)."""
    match = _URL_DATE.search(url)
    if predicted is None or match is None:
        return False
    day = predicted.date() if isinstance(predicted, datetime) else predicted
    return abs((day - date(*map(int, match.groups()))).days) <= 1


def _date_right(predicted: datetime | date | None, reference: Reference) -> bool:
    if reference.published:
        return date_match(predicted, reference.published)
    return url_date_match(predicted, reference.url or "")


def _reference_datetime(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return dateutil_parser.parse(text)


@dataclass
class MetadataScore:
    """Shares of pages with a right title, author and date, over the pages that have one."""

    title_exact: float | None = None
    title: float | None = None
    author: float | None = None
    date: float | None = None
    counts: dict[str, int] = field(default_factory=dict)


def metadata_score(page_set: PageSet, found: dict[str, Metadata]) -> MetadataScore:
    refs = page_set.references
    titled = [k for k, r in refs.items() if r.title]
    bylined = [k for k, r in refs.items() if r.byline]
    dated = [k for k, r in refs.items() if r.published]
    url_dated = [
        k for k, r in refs.items() if not r.published and r.url and _URL_DATE.search(r.url)
    ]

    def share(keys: list[str], check: Callable[[str], bool]) -> float | None:
        return sum(map(check, keys)) / len(keys) if keys else None

    date_keys = dated or url_dated
    return MetadataScore(
        title_exact=share(titled, lambda k: title_exact(found[k].title, refs[k].title or "")),
        title=share(titled, lambda k: title_match(found[k].title, refs[k].title or "")),
        author=share(bylined, lambda k: author_match(found[k].author, refs[k].byline or "")),
        date=share(
            date_keys,
            lambda k: _date_right(found[k].published, refs[k]),
        ),
        counts={"titles": len(titled), "bylines": len(bylined), "dates": len(date_keys)},
    )


# --- time --------------------------------------------------------------------------------------


def time_per_page(
    extractors: Sequence[Callable[[bytes], object]], pages: Iterable[bytes], rounds: int
) -> list[float]:
    """ms per page of each extractor: per page the best of ``rounds`` turns, summed.

    The extractors take turns page by page (first one, then the other), so
    background load falls on both alike; the best of several turns is the one
    least disturbed by it, as ``timeit`` recommends.
    """
    blobs = list(pages)
    best = [[float("inf")] * len(blobs) for _ in extractors]
    for round_ in range(rounds):
        for index, html in enumerate(blobs):
            order = list(range(len(extractors)))
            if (round_ + index) % 2:
                order.reverse()
            for which in order:
                start = time.perf_counter()
                extractors[which](html)
                best[which][index] = min(best[which][index], time.perf_counter() - start)
    return [sum(times) / len(blobs) * 1000 for times in best]


# --- leave-one-site-out -------------------------------------------------------------------------

_EXTRACTIONS: dict[str, dict[str, Any]] = {
    "balanced, hidden pruned": {"prune_xpath": HIDDEN_ELEMENTS},
    "balanced": {},
    "precision, hidden pruned": {"prune_xpath": HIDDEN_ELEMENTS, "favor_precision": True},
    "recall, hidden pruned": {"prune_xpath": HIDDEN_ELEMENTS, "favor_recall": True},
}
_MERGED = "balanced within the precision run's span"
_SHIPPED_EXTRACTION = "balanced, hidden pruned"
_COPY_MIN_WORDS = 12


def drop_prose_copies(paragraphs: list[str], title: str, subtitle: str) -> list[str]:
    """A candidate newsmill dropped: a repeated paragraph of 12+ words outside a run of repeats."""
    keys = [p.casefold() for p in paragraphs]
    first: dict[str, int] = {}
    for index, key in enumerate(keys):
        first.setdefault(key, index)
    repeated = [first[key] != index for index, key in enumerate(keys)]
    kept = []
    for index, paragraph in enumerate(paragraphs):
        in_run = any(repeated[i] for i in (index - 1, index + 1) if 0 <= i < len(keys))
        if repeated[index] and not in_run and len(paragraph.split()) >= _COPY_MIN_WORDS:
            continue
        kept.append(paragraph)
    return kept


def _rule_sets() -> dict[str, tuple[DebrisRule, ...]]:
    """Every combination of the cleaning rules, named; the shipped one is ``DEBRIS_RULES``."""
    sets: dict[str, tuple[DebrisRule, ...]] = {}
    for footers in (True, False):
        for titles in (True, False):
            for headline in (None, 0.5, 0.6, 0.7):
                for copies in (False, True):
                    rules: list[DebrisRule] = []
                    name = []
                    if footers:
                        rules.append(drop_footers)
                        name.append("footers")
                    if titles:
                        rules.append(drop_title_copies)
                        name.append("title")
                    if headline is not None:
                        rules.append(partial(drop_headline, similarity=headline))
                        name.append(f"headline≥{headline}")
                    if copies:
                        rules.append(drop_prose_copies)
                        name.append("copies")
                    rules.append(drop_standfirst)
                    sets[" + ".join(name) or "no rules"] = tuple(rules)
    return sets


_SHIPPED_RULES = "footers + title + headline≥0.6"


def _page_variants(html: bytes) -> dict[str, Parsed | None]:
    """The page before cleaning under each extraction candidate (``article_from_page``'s steps)."""
    text = html.decode("utf-8", errors="replace")
    tree = load_html(text)
    if tree is None:
        return dict.fromkeys([*_EXTRACTIONS, _MERGED])
    meta = page_metadata(tree)
    lines: dict[str, list[str]] = {}
    for name, options in _EXTRACTIONS.items():
        result = trafilatura.bare_extraction(tree, **options)
        found = result.text if isinstance(result, Document) and result.text else ""
        lines[name] = [line.strip() for line in found.splitlines() if line.strip()]
    lines[_MERGED] = _within_span(
        lines[_SHIPPED_EXTRACTION], set(lines["precision, hidden pruned"])
    )
    return {
        name: Parsed(title=meta.title, paragraphs=paragraphs) if paragraphs else None
        for name, paragraphs in lines.items()
    }


def _within_span(paragraphs: list[str], kept: set[str]) -> list[str]:
    inside = [i for i, p in enumerate(paragraphs) if p in kept]
    return paragraphs[inside[0] : inside[-1] + 1] if inside else paragraphs


@dataclass
class Folds:
    """Leave-one-site-out results of one set."""

    score: Score
    shipped_chosen: int
    folds: int
    alternatives: dict[str, int]


def leave_one_site_out(page_sets: list[PageSet]) -> dict[str, Folds]:
    """For each site, the best candidate on all other sites' pages scores that site's pages.

    "Best" is the candidate with the highest mean F1 over the sets on their
    remaining pages, among those whose recall there stays within
    ``RECALL_TOLERANCE`` of plain trafilatura's (recall first, as newsmill's
    own choices were made); a tie goes to newsmill's own configuration.
    """
    rule_sets = _rule_sets()
    shipped = f"{_SHIPPED_EXTRACTION} | {_SHIPPED_RULES}"
    scores: dict[str, dict[str, dict[str, tuple[float, float]]]] = {}
    for page_set in page_sets:
        per_candidate: dict[str, dict[str, tuple[float, float]]] = {_PLAIN: {}}
        for key, html in page_set.pages.items():
            truth = shingles(page_set.references[key].body)
            per_candidate[_PLAIN][key] = precision_recall(trafilatura_body(html), truth)
            for extraction, parsed in _page_variants(html).items():
                for rules_name, rules in rule_sets.items():
                    body = clean(parsed, rules).body if parsed is not None else ""
                    per_candidate.setdefault(f"{extraction} | {rules_name}", {})[key] = (
                        precision_recall(body, truth)
                    )
        scores[page_set.name] = per_candidate
    sums = _Sums(page_sets, scores)
    candidates = [c for c in sums.candidates if c != _PLAIN]
    folds: dict[str, Folds] = {}
    for page_set in page_sets:
        chosen: list[tuple[float, float]] = []
        counts: Counter[str] = Counter()
        for site in sorted(set(page_set.sites.values())):
            best = sums.best(candidates, site, prefer=shipped)
            counts[best] += 1
            chosen += [
                scores[page_set.name][best][k] for k, s in page_set.sites.items() if s == site
            ]
        folds[page_set.name] = Folds(
            Score.of(chosen),
            counts[shipped],
            sum(counts.values()),
            {c: n for c, n in counts.items() if c != shipped},
        )
    return folds


_PLAIN = "trafilatura.extract"
RECALL_TOLERANCE = 0.005


class _Sums:
    """Sums of P and R per candidate, set and site, to score any training split at once."""

    def __init__(
        self, page_sets: list[PageSet], scores: dict[str, dict[str, dict[str, tuple[float, float]]]]
    ) -> None:
        self.candidates = list(next(iter(scores.values())))
        self.sets = [s.name for s in page_sets]
        # (set, candidate) and (set, candidate, site) → (sum of P, sum of R, pages)
        self.sums: dict[tuple[str, ...], tuple[float, float, int]] = {}
        for page_set in page_sets:
            for candidate, pages in scores[page_set.name].items():
                for key, (p, r) in pages.items():
                    for index in (
                        (page_set.name, candidate),
                        (page_set.name, candidate, page_set.sites[key]),
                    ):
                        sp, sr, n = self.sums.get(index, (0.0, 0.0, 0))
                        self.sums[index] = (sp + p, sr + r, n + 1)

    def training(self, candidate: str, held_out_site: str) -> list[Score]:
        """The candidate's score on each set, the held-out site's pages left out."""
        found = []
        for name in self.sets:
            p, r, n = self.sums[(name, candidate)]
            sp, sr, sn = self.sums.get((name, candidate, held_out_site), (0.0, 0.0, 0))
            p, r = (p - sp) / (n - sn), (r - sr) / (n - sn)
            found.append(Score(p, r, 2 * p * r / (p + r) if p + r else 0.0))
        return found

    def best(self, candidates: list[str], held_out_site: str, prefer: str) -> str:
        """Highest mean F1 among candidates keeping plain trafilatura's recall on every set."""
        floor = [s.recall - RECALL_TOLERANCE for s in self.training(_PLAIN, held_out_site)]
        feasible = [
            c
            for c in candidates
            if all(
                s.recall >= f for s, f in zip(self.training(c, held_out_site), floor, strict=True)
            )
        ] or candidates

        def merit(candidate: str) -> tuple[float, bool]:
            f1s = [s.f1 for s in self.training(candidate, held_out_site)]
            return sum(f1s) / len(f1s), candidate == prefer

        return max(feasible, key=merit)


# --- report ---------------------------------------------------------------------------------------


@dataclass
class Row:
    """One extractor's line for one set."""

    set: str
    extractor: str
    pages: int
    precision: float
    recall: float
    f1: float
    loso_f1: float | None
    metadata: MetadataScore
    ms_per_page: float
    ratio: float | None


def measure(page_set: PageSet, rounds: int) -> list[Row]:
    """Both extractors' rows for one set."""
    refs = page_set.references
    articles = {k: newsmill_article(html) for k, html in page_set.pages.items()}
    newsmill = Score.of(
        [
            precision_recall(a.body if a is not None else "", refs[k].body)
            for k, a in articles.items()
        ]
    )
    plain = Score.of(
        [precision_recall(trafilatura_body(h), refs[k].body) for k, h in page_set.pages.items()]
    )
    newsmill_meta = metadata_score(page_set, {k: newsmill_metadata(a) for k, a in articles.items()})
    plain_meta = metadata_score(
        page_set, {k: trafilatura_metadata(h) for k, h in page_set.pages.items()}
    )
    plain_ms, newsmill_ms = time_per_page(
        [trafilatura_body, newsmill_body], page_set.pages.values(), rounds
    )
    pages = len(page_set.pages)
    return [
        Row(
            page_set.name,
            "trafilatura.extract",
            pages,
            plain.precision,
            plain.recall,
            plain.f1,
            None,
            plain_meta,
            plain_ms,
            None,
        ),
        Row(
            page_set.name,
            "newsmill run()",
            pages,
            newsmill.precision,
            newsmill.recall,
            newsmill.f1,
            None,
            newsmill_meta,
            newsmill_ms,
            newsmill_ms / plain_ms,
        ),
    ]


def shipped_matches_run(page_sets: list[PageSet]) -> tuple[int, int]:
    """Pages where the benchmark's shipped candidate gives exactly ``run()``'s body."""
    same = total = 0
    for page_set in page_sets:
        for html in page_set.pages.values():
            parsed = _page_variants(html)[_SHIPPED_EXTRACTION]
            body = clean(parsed, DEBRIS_RULES).body if parsed is not None else ""
            same += body == newsmill_body(html)
            total += 1
    return same, total


def bbc_files_per_second(folder: Path) -> tuple[int, float]:
    """Files ``run()`` processes per second over the BBC texts (files, rate); (0, 0) without them."""
    blobs = [(f.name, f.read_bytes()) for f in sorted(folder.glob("*/*.txt"))]
    if not blobs:
        return 0, 0.0
    start = time.perf_counter()
    for name, data in blobs:
        run(data, name, Limits())
    return len(blobs), len(blobs) / (time.perf_counter() - start)


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def print_report(rows: list[Row], folds: dict[str, Folds], fidelity: tuple[int, int]) -> None:
    table = Table(title="Body extraction and metadata, each set on its own")
    columns = ["set", "extractor", "P", "R", "F1", "LOSO F1", "title", "title*", "date"]
    columns += ["author", "ms/page", "ratio"]
    for column in columns:
        table.add_column(column, justify="left" if column in ("set", "extractor") else "right")
    for row in rows:
        m = row.metadata
        table.add_row(
            f"{row.set} ({row.pages})",
            row.extractor,
            f"{row.precision:.4f}",
            f"{row.recall:.4f}",
            f"{row.f1:.4f}",
            "—" if row.loso_f1 is None else f"{row.loso_f1:.4f}",
            _fmt(m.title_exact),
            _fmt(m.title),
            _fmt(m.date),
            _fmt(m.author),
            f"{row.ms_per_page:.1f}",
            _fmt(row.ratio),
        )
    console = Console(width=max(Console().width, 150))
    console.print(table)
    console.print(
        "title: equal after NFC and whitespace normalisation; title*: also when one side"
        " loses a site-name segment. date: same day (readability: its publishedTime, in its"
        " time zone; news pages: the URL's date, within a day)."
    )
    for name, fold in folds.items():
        console.print(
            f"{name}: leave-one-site-out chose newsmill's configuration in"
            f" {fold.shipped_chosen} of {fold.folds} folds; others: {fold.alternatives or 'none'}"
        )
    console.print(
        f"benchmark's shipped configuration = run() on {fidelity[0]} of {fidelity[1]} pages"
    )


def write_baseline(rows: list[Row]) -> None:
    """Commit newsmill's figures for the quality gate (``tests/unit/test_extraction_quality.py``)."""
    sets = {
        r.set: {"pages": r.pages, "precision": r.precision, "recall": r.recall, "f1": r.f1}
        for r in rows
        if r.extractor == "newsmill run()"
    }
    BASELINE.write_text(
        json.dumps({"metric": "4-word shingles, per-page P/R averaged", "sets": sets}, indent=2)
        + "\n",
        encoding="utf-8",
    )


def main(argv: list[str] | None = None) -> None:
    """Measure every set and print the table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev", type=Path, default=DATA / SETS[0], help="news pages, gold bodies")
    parser.add_argument(
        "--readability", type=Path, default=DATA / SETS[1], help="Readability.js's test pages"
    )
    parser.add_argument("--bbc", type=Path, default=DATA / "bbc", help="BBC texts (throughput)")
    parser.add_argument("--rounds", type=int, default=5, help="timing turns per page (best kept)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--write-baseline", action="store_true", help=f"write {BASELINE.relative_to(ROOT)}"
    )
    args = parser.parse_args(argv)
    page_sets = [load_set(args.dev), load_set(args.readability)]
    rows = [row for page_set in page_sets for row in measure(page_set, args.rounds)]
    folds = leave_one_site_out(page_sets)
    for row in rows:
        if row.extractor == "newsmill run()":
            row.loso_f1 = folds[row.set].score.f1
    fidelity = shipped_matches_run(page_sets)
    bbc = bbc_files_per_second(args.bbc)
    if args.write_baseline:
        write_baseline(rows)
    if args.json:
        report = {
            "rows": [asdict(r) for r in rows],
            "folds": {k: asdict(v) for k, v in folds.items()},
            "shipped_matches_run": fidelity,
            "bbc": {"files": bbc[0], "files_per_second": bbc[1]},
        }
        print(json.dumps(report, indent=2, default=str))
        return
    print_report(rows, folds, fidelity)
    Console().print(f"BBC texts: run() over {bbc[0]} files at {bbc[1]:.0f} files/s")


if __name__ == "__main__":
    main()

"""Near-duplicate quality benchmark on the BBC corpus, through the real pipeline.

Builds a labelled set from the BBC articles (which already hold byte-identical
pairs): for a sample of originals it adds near-copies made by the edits
syndication really makes, and it pairs each original with its hardest negative
(the most word-similar other article of the same category). Every document
becomes a job in a fresh database and is processed by ``Processor`` in job
order; a pair is predicted "duplicate" when both jobs end in one cluster.

Reports pairwise precision and recall overall, recall per edit type (all
copies, and those sharing ≥ 80% of their text), the hard negatives merged,
and a sweep of shingle size and threshold over signatures alone (no database)
that the default settings are chosen from.

    python -m bench.dedup_quality [--data DIR] [--per-edit N] [--database-url URL]
"""

from __future__ import annotations

import argparse
import difflib
import json
import random
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from bench.data import BBC
from newsmill_schema import jobs, models
from newsmill_schema.blobs import store_blob
from newsmill_schema.db import Database
from newsmill_schema.settings import Settings
from newsmill_worker.dedup.fingerprint import DedupParams, normalise, signature, similarity
from newsmill_worker.processor import Processor

_SHARED_ENOUGH = 0.8
# Corpus pairs sharing this much text (aligned words) are labelled the same story.
_SAME_STORY = 0.5
_SAME_STORY_WORDS = 0.3

HEADERS = [
    "Wire Desk Daily | World News",
    "From our partners at the Evening Courier",
    "Reuters-style syndication feed - Business section",
    "Published by Metro Online. Updated 10 minutes ago.",
]
FOOTERS = [
    "Copyright 2005 Wire Desk Daily. All rights reserved. This material may not be published, "
    "broadcast, rewritten or redistributed.",
    "Sign up for our morning newsletter to get the top stories delivered to your inbox. "
    "Follow us on Twitter and Facebook.",
    "This article was originally published by BBC News and is republished here under licence. "
    "Share this story with your friends.",
    "Have your say: comments are closed for this article. "
    "Read more stories from our business desk.",
]
EDITOR_NOTES = [
    "Editor's note: this story has been updated with a statement from the company, received "
    "after publication, and with additional reporting from our correspondents.",
    "Additional reporting by the news agencies. An earlier version of this article misstated the "
    "date of the announcement; it has since been corrected.",
]


@dataclass
class Doc:
    """One document of the evaluation set."""

    name: str
    text: str
    group: int
    edit: str
    original: int | None = None
    """Index of the document this one is a copy of (None for a corpus document)."""
    shared: float = 1.0


def read_corpus(root: Path) -> list[tuple[str, str, str]]:
    """(category, name, text) of every BBC article."""
    result = []
    for path in sorted(root.glob("*/*.txt")):
        data = path.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("cp1252")
        result.append((path.parent.name, f"{path.parent.name}/{path.name}", text))
    return result


def split(text: str) -> tuple[str, list[str]]:
    lines = [line.strip() for line in text.strip().splitlines()]
    return lines[0], [p for p in lines[1:] if p]


def join(title: str, paragraphs: list[str]) -> str:
    return title + "\n\n" + "\n\n".join(paragraphs) + "\n"


def _sentences(paragraph: str) -> list[str]:
    return [s for s in paragraph.replace(". ", ".\n").split("\n") if s]


def boilerplate(title: str, paras: list[str], rng: random.Random, _: list[str]) -> str:
    return join(title, [rng.choice(HEADERS), *paras, rng.choice(FOOTERS)])


def paragraph_added(title: str, paras: list[str], rng: random.Random, others: list[str]) -> str:
    added = rng.choice([*EDITOR_NOTES, rng.choice(others)])
    at = rng.randrange(1, len(paras) + 1)
    return join(title, [*paras[:at], added, *paras[at:]])


def paragraph_removed(title: str, paras: list[str], rng: random.Random, _: list[str]) -> str:
    at = rng.randrange(len(paras))
    return join(title, paras[:at] + paras[at + 1 :])


def paragraph_rewritten(title: str, paras: list[str], rng: random.Random, others: list[str]) -> str:
    at = rng.randrange(len(paras))
    return join(title, [*paras[:at], rng.choice(others), *paras[at + 1 :]])


def sentence_corrected(title: str, paras: list[str], rng: random.Random, _: list[str]) -> str:
    at = rng.randrange(len(paras))
    sentences = _sentences(paras[at])
    which = rng.randrange(len(sentences))
    words = sentences[which].split()
    for _step in range(max(1, len(words) // 5)):
        words[rng.randrange(len(words))] = rng.choice(
            ["reportedly", "about", "nearly", "the firm", "officials"]
        )
    sentences[which] = " ".join(words)
    return join(title, [*paras[:at], " ".join(sentences), *paras[at + 1 :]])


def reflowed(title: str, paras: list[str], rng: random.Random, _: list[str]) -> str:
    width = rng.choice([60, 72, 80])
    wrapped = []
    for para in paras:
        lines, line = [], ""
        for word in para.split():
            if line and len(line) + len(word) + 2 > width:
                lines.append(line)
                line = word
            else:
                line = f"{line}  {word}" if line else word
        wrapped.append("\n".join([*lines, line]))
    return join(title, wrapped)


def retitled(title: str, paras: list[str], rng: random.Random, _: list[str]) -> str:
    return join(
        rng.choice(["UPDATE: ", "Analysis: ", "", "In depth: "])
        + " ".join(reversed(title.split())),
        paras,
    )


def syndicated(title: str, paras: list[str], rng: random.Random, others: list[str]) -> str:
    """Other site's boilerplate, a new title and a corrected sentence together."""
    text = sentence_corrected(title, paras, rng, others)
    new_title, new_paras = split(retitled(*split(text), rng, others))
    return boilerplate(new_title, new_paras, rng, others)


EDITS: dict[str, Callable[[str, list[str], random.Random, list[str]], str]] = {
    "boilerplate": boilerplate,
    "paragraph added": paragraph_added,
    "paragraph removed": paragraph_removed,
    "paragraph rewritten": paragraph_rewritten,
    "sentence corrected": sentence_corrected,
    "reflowed whitespace": reflowed,
    "different title": retitled,
    "syndicated (all of it)": syndicated,
}


def shared_fraction(a: str, b: str) -> float:
    """Share of the longer text's words that the two texts have in common, in order."""
    wa, wb = normalise(a).split(), normalise(b).split()
    matcher = difflib.SequenceMatcher(None, wa, wb, autojunk=False)
    common = sum(block.size for block in matcher.get_matching_blocks())
    return common / max(len(wa), len(wb), 1)


def build(
    corpus: list[tuple[str, str, str]], per_edit: int, seed: int
) -> tuple[list[Doc], list[tuple[int, int]]]:
    """The evaluation documents and the hard-negative pairs (indexes into the documents)."""
    rng = random.Random(seed)
    group_of = same_story_groups(corpus)
    docs = [Doc(name, text, group_of[i], "corpus") for i, (_, name, text) in enumerate(corpus)]
    by_category: dict[str, list[int]] = defaultdict(list)
    for index, (category, _, _) in enumerate(corpus):
        by_category[category].append(index)
    paragraphs_of = {i: split(corpus[i][2])[1] for i in range(len(corpus))}
    for edit, make in EDITS.items():
        for index in rng.sample(range(len(corpus)), per_edit):
            title, paras = split(corpus[index][2])
            if len(paras) < 2:
                continue
            others = paragraphs_of[
                rng.choice([i for i in by_category[corpus[index][0]] if i != index])
            ]
            text = make(title, paras, rng, others)
            shared = shared_fraction(corpus[index][2], text)
            name = f"{corpus[index][1]}~{edit.replace(' ', '-')}"
            docs.append(Doc(name, text, docs[index].group, edit, index, shared))
    return docs, hard_negatives(corpus, docs, rng, per_edit)


def same_story_groups(corpus: list[tuple[str, str, str]]) -> list[int]:
    """Label the corpus itself: articles sharing ≥ half their text are one story.

    The BBC set holds byte-identical pairs and also updated versions of a
    story under another title; both count as duplicates. Sequence alignment
    (not MinHash) decides, after a cheap same-category word-overlap filter.
    """
    parent = list(range(len(corpus)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    words = [set(normalise(text).split()) for _, _, text in corpus]
    for a, b in combinations(range(len(corpus)), 2):
        if corpus[a][0] != corpus[b][0]:
            continue
        overlap = len(words[a] & words[b]) / max(len(words[a] | words[b]), 1)
        if (
            overlap >= _SAME_STORY_WORDS
            and shared_fraction(corpus[a][2], corpus[b][2]) >= _SAME_STORY
        ):
            parent[root(b)] = root(a)
    return [root(i) for i in range(len(corpus))]


def hard_negatives(
    corpus: list[tuple[str, str, str]], docs: list[Doc], rng: random.Random, count: int
) -> list[tuple[int, int]]:
    """For sampled articles, the same-category article sharing the most words (another story)."""
    words = [set(normalise(text).split()) for _, _, text in corpus]
    pairs = []
    for index in rng.sample(range(len(corpus)), count):
        same = [
            j
            for j in range(len(corpus))
            if corpus[j][0] == corpus[index][0] and docs[j].group != docs[index].group
        ]
        best = max(same, key=lambda j: len(words[index] & words[j]) / len(words[index] | words[j]))
        pairs.append((index, best))
    return pairs


def run_pipeline(
    docs: list[Doc], database_url: str, params: DedupParams, workdir: Path
) -> list[int]:
    """Process every document as a job, in job order; returns each one's cluster (canonical id)."""
    db = Database(database_url)
    db.upgrade()
    settings = Settings(
        data_dir=workdir,
        database_url=database_url,
        dedup_threshold=params.threshold,
        dedup_shingle_size=params.shingle_size,
        dedup_num_perm=params.num_perm,
    )
    processor = Processor(settings, db)
    ids = []
    with db.session() as session:
        for doc in docs:
            job = jobs.new_file_job(
                session,
                source_uri=doc.name,
                name=doc.name,
                blob_sha256=store_blob(session, doc.text.encode("utf-8")),
            )
            session.flush()
            ids.append(job.id)
    for job_id in ids:
        processor.process(job_id)
    with db.session() as session:
        canonical = dict(
            session.execute(select(models.Article.id, models.Article.duplicate_of)).all()
        )
        article_of = dict(session.execute(select(models.Job.id, models.Job.article_id)).all())
    db.dispose()
    clusters = []
    for job_id in ids:
        article = article_of.get(job_id)
        # A failed job is its own cluster (negative ids never collide with articles).
        clusters.append(-job_id if article is None else canonical[article] or article)
    return clusters


def pairwise(groups: list[int], clusters: list[int]) -> tuple[float, float, int, int, int]:
    """Precision and recall of "same cluster" against "same group" over all pairs of documents."""

    def pairs(counts: Counter[object]) -> int:
        return sum(n * (n - 1) // 2 for n in counts.values())

    both = pairs(Counter(zip(groups, clusters, strict=True)))
    predicted = pairs(Counter(clusters))
    true = pairs(Counter(groups))
    return both / max(predicted, 1), both / max(true, 1), both, predicted, true


def sweep(docs: list[Doc], negatives: list[tuple[int, int]]) -> list[dict[str, float]]:
    """Precision/recall of estimated Jaccard ≥ t on the labelled pairs, over signatures only."""
    positives = [(d.original, i) for i, d in enumerate(docs) if d.original is not None]
    results = []
    for size in (3, 4, 5, 7):
        params = DedupParams(shingle_size=size, num_perm=128)
        needed = {i for pair in [*positives, *negatives] for i in pair}
        sigs = {i: signature(docs[i].text, params) for i in needed}
        pos = [similarity(sigs[a], sigs[b]) for a, b in positives if a is not None]
        neg = [similarity(sigs[a], sigs[b]) for a, b in negatives]
        for threshold in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
            tp = sum(s >= threshold for s in pos)
            fp = sum(s >= threshold for s in neg)
            results.append(
                {
                    "shingle_size": size,
                    "threshold": threshold,
                    "recall": tp / len(pos),
                    "hard_negatives_merged": fp / len(neg),
                    "max_hard_negative_similarity": max(neg),
                }
            )
    return results


def report(
    docs: list[Doc], clusters: list[int], negatives: list[tuple[int, int]], elapsed: float
) -> dict[str, object]:
    precision, recall, tp, predicted, true = pairwise([d.group for d in docs], clusters)
    by_edit: dict[str, list[tuple[bool, float]]] = defaultdict(list)
    for index, doc in enumerate(docs):
        if doc.original is not None:
            by_edit[doc.edit].append((clusters[index] == clusters[doc.original], doc.shared))
    natural = (
        [
            (a, b)
            for a, b in combinations(range(len(docs)), 2)
            if docs[a].original is None
            and docs[b].original is None
            and docs[a].group == docs[b].group
        ]
        if len(docs) < 5000
        else []
    )
    rows = {}
    for edit, hits in by_edit.items():
        enough = [hit for hit, shared in hits if shared >= _SHARED_ENOUGH]
        rows[edit] = {
            "copies": len(hits),
            "recall": sum(h for h, _ in hits) / len(hits),
            "copies_sharing_80pct": len(enough),
            "recall_sharing_80pct": sum(enough) / len(enough) if enough else None,
            "min_shared": min(s for _, s in hits),
        }
    shared = [shared_fraction(docs[a].text, docs[b].text) for a, b in natural]
    found = [clusters[a] == clusters[b] for a, b in natural]
    enough_natural = [f for f, part in zip(found, shared, strict=True) if part >= _SHARED_ENOUGH]
    rows["corpus: same story (incl. byte-identical)"] = {
        "copies": len(natural),
        "recall": sum(found) / max(len(found), 1),
        "copies_sharing_80pct": len(enough_natural),
        "recall_sharing_80pct": sum(enough_natural) / max(len(enough_natural), 1),
        "min_shared": min(shared, default=1.0),
    }
    positives = [(i, d.original) for i, d in enumerate(docs) if d.original is not None]
    copies_80: list[tuple[int, int]]
    copies_80 = [(i, o) for i, o in positives if docs[i].shared >= _SHARED_ENOUGH]
    false_pairs = [
        (docs[a].name, docs[b].name)
        for a, b in combinations(range(len(docs)), 2)
        if clusters[a] == clusters[b] and docs[a].group != docs[b].group
    ][:20]
    return {
        "documents": len(docs),
        "pairwise_precision": precision,
        "pairwise_recall": recall,
        "true_pairs": true,
        "predicted_pairs": predicted,
        "true_positive_pairs": tp,
        "recall_sharing_80pct": sum(clusters[i] == clusters[o] for i, o in copies_80)
        / max(len(copies_80), 1),
        "hard_negatives": len(negatives),
        "hard_negatives_merged": sum(clusters[a] == clusters[b] for a, b in negatives),
        "false_positive_examples": false_pairs,
        "by_edit": rows,
        "ms_per_document": elapsed / len(docs) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=BBC, help="BBC corpus folder")
    parser.add_argument("--per-edit", type=int, default=150, help="copies made per edit type")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    parser.add_argument(
        "--out", type=Path, default=Path(tempfile.gettempdir()) / "newsmill-dedup-quality.json"
    )
    args = parser.parse_args()
    console = Console()

    corpus = read_corpus(args.data)
    docs, negatives = build(corpus, args.per_edit, args.seed)
    params = DedupParams(
        threshold=Settings().dedup_threshold,
        shingle_size=Settings().dedup_shingle_size,
        num_perm=Settings().dedup_num_perm,
    )
    grid = sweep(docs, negatives)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'quality.db'}"
        started = time.perf_counter()
        clusters = run_pipeline(docs, url, params, Path(tmp))
        elapsed = time.perf_counter() - started
    result = report(docs, clusters, negatives, elapsed)
    result["params"] = {
        "threshold": params.threshold,
        "shingle_size": params.shingle_size,
        "num_perm": params.num_perm,
        "bands": params.bands,
        "rows": params.rows,
    }
    result["sweep"] = grid

    table = Table(
        title=f"Near-duplicate recall per edit (threshold {params.threshold}, "
        f"{params.shingle_size}-word shingles, {params.num_perm} perms, "
        f"{params.bands}×{params.rows} bands)"
    )
    for column in ("edit", "copies", "recall", "copies ≥80% shared", "recall ≥80%", "min shared"):
        table.add_column(column)
    for edit, row in result["by_edit"].items():  # type: ignore[attr-defined]
        r80 = row["recall_sharing_80pct"]
        table.add_row(
            edit,
            str(row["copies"]),
            f"{row['recall']:.3f}",
            str(row["copies_sharing_80pct"]),
            "-" if r80 is None else f"{r80:.3f}",
            f"{row['min_shared']:.2f}",
        )
    console.print(table)
    summary = Table(title="Pairwise, whole set through the pipeline")
    for column in (
        "documents",
        "precision",
        "recall",
        "recall ≥80% shared",
        "hard negatives merged",
        "ms/doc",
    ):
        summary.add_column(column)
    summary.add_row(
        str(result["documents"]),
        f"{result['pairwise_precision']:.4f}",
        f"{result['pairwise_recall']:.4f}",
        f"{result['recall_sharing_80pct']:.4f}",
        f"{result['hard_negatives_merged']}/{result['hard_negatives']}",
        f"{result['ms_per_document']:.1f}",
    )
    console.print(summary)
    sweep_table = Table(
        title="Sweep on signatures (labelled pairs): recall / hard negatives merged"
    )
    sweep_table.add_column("shingle")
    thresholds = sorted({g["threshold"] for g in grid})
    for t in thresholds:
        sweep_table.add_column(f"t={t}")
    for size in sorted({g["shingle_size"] for g in grid}):
        cells = [
            f"{g['recall']:.3f} / {g['hard_negatives_merged']:.3f}"
            for g in grid
            if g["shingle_size"] == size
        ]
        sweep_table.add_row(str(size), *cells)
    console.print(sweep_table)
    if result["false_positive_examples"]:
        console.print("false positive pairs (first 20):", result["false_positive_examples"])
    args.out.write_text(json.dumps(result, indent=2))
    console.print(str(args.out))


if __name__ == "__main__":
    main()

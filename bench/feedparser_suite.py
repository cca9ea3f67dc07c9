"""feedparser's own test suite through newsmill's feed path: how much comes out right?

Each suite file's header comment says what the parse must give (``Expect:``,
a Python expression over feedparser's result) and which HTTP headers it was
served with (``Header:``). The expressions are data, so they are never run
with ``eval``: a small evaluator walks their syntax tree and knows only what
the suite uses (names of the result, subscripts, attributes, comparisons,
``and``/``or``/``not``, literals, ``len``/``ord``/``isinstance``/``locals`` and
the ``get``/``has_key`` methods). For every wellformed, illformed and encoding
case this script:

1. parses the bytes exactly as the poller does (``feed_entries.feedparser_result``:
   entity declarations refused, headers passed, never a URL) and checks the
   expectation;
2. turns each entry into newsmill's JSON record and runs it through the
   worker's pipeline, counting the entries that become articles (and, for
   those, that the article keeps the entry's title).

Usage, from the checkout: ``python -m bench.feedparser_suite [SUITE_DIR]``
(default ``../shared/data/feeds/feedparser-tests`` beside the repository).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import operator
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.data import FEEDPARSER_SUITE
from newsmill_ingest.feed_entries import FeedError, entry_record, feedparser_result, parse_feed

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


class Unsupported(ValueError):
    """An expression uses syntax or a call the evaluator does not offer."""


_COMPARISONS: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.Not: operator.not_,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}
_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
}
_METHODS = frozenset({"get", "has_key", "lookup", "split"})
"""The only methods an expression may call (dict look-ups; a codec look-up; str.split)."""
_GUARD_MODULES = frozenset({"chardet", "codecs", "sys"})
"""Modules a ``SkipUnless`` guard may ask for."""


def safe_eval(
    expression: str, names: Mapping[str, Any], functions: Mapping[str, Callable[..., Any]]
) -> Any:
    """The value of a Python expression over ``names``, calling only ``functions`` and ``_METHODS``.

    Names are looked up in ``names`` first, then ``functions``, as ``eval`` looks
    in its locals before the builtins. Private attributes (``_x``) are refused.
    """
    return _Evaluator(names, functions).value(ast.parse(expression.strip(), mode="eval").body)


class _Evaluator:
    def __init__(
        self, names: Mapping[str, Any], functions: Mapping[str, Callable[..., Any]]
    ) -> None:
        self.names = names
        self.functions = functions

    def value(self, node: ast.AST) -> Any:
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            raise Unsupported(type(node).__name__)
        return method(node)

    def _Constant(self, node: ast.Constant) -> Any:
        return node.value

    def _Name(self, node: ast.Name) -> Any:
        try:
            return self.names[node.id]
        except KeyError:
            pass
        if node.id in self.functions:
            return self.functions[node.id]
        raise NameError(node.id)

    def _Attribute(self, node: ast.Attribute) -> Any:
        if node.attr.startswith("_"):
            raise Unsupported(f"private attribute {node.attr}")
        return getattr(self.value(node.value), node.attr)

    def _Subscript(self, node: ast.Subscript) -> Any:
        return self.value(node.value)[self.value(node.slice)]

    def _Slice(self, node: ast.Slice) -> slice:
        parts = (node.lower, node.upper, node.step)
        return slice(*(None if part is None else self.value(part) for part in parts))

    def _Tuple(self, node: ast.Tuple) -> tuple[Any, ...]:
        return tuple(self.value(item) for item in node.elts)

    def _List(self, node: ast.List) -> list[Any]:
        return [self.value(item) for item in node.elts]

    def _Dict(self, node: ast.Dict) -> dict[Any, Any]:
        if any(key is None for key in node.keys):
            raise Unsupported("dict unpacking")
        return {
            self.value(key): self.value(item)
            for key, item in zip(node.keys, node.values, strict=True)
            if key is not None
        }

    def _BoolOp(self, node: ast.BoolOp) -> Any:
        result: Any = None
        for operand in node.values:
            result = self.value(operand)
            # `and` stops at the first falsy operand, `or` at the first truthy one.
            if bool(result) is isinstance(node.op, ast.Or):
                return result
        return result

    def _UnaryOp(self, node: ast.UnaryOp) -> Any:
        return _UNARY[type(node.op)](self.value(node.operand))

    def _BinOp(self, node: ast.BinOp) -> Any:
        if type(node.op) not in _BINARY:
            raise Unsupported(type(node.op).__name__)
        return _BINARY[type(node.op)](self.value(node.left), self.value(node.right))

    def _Compare(self, node: ast.Compare) -> bool:
        left = self.value(node.left)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self.value(right_node)
            if not _COMPARISONS[type(op)](left, right):
                return False
            left = right
        return True

    def _Call(self, node: ast.Call) -> Any:
        if node.keywords:
            raise Unsupported("keyword arguments")
        if isinstance(node.func, ast.Name):
            function = self.functions.get(node.func.id)
            if function is None:
                raise NameError(node.func.id)
        elif isinstance(node.func, ast.Attribute) and node.func.attr in _METHODS:
            function = self._Attribute(node.func)
        else:
            raise Unsupported(f"call of {ast.unparse(node.func)}")
        return function(*(self.value(arg) for arg in node.args))


def expectation_met(case: Case, result: Any) -> bool:
    functions: dict[str, Callable[..., Any]] = {
        "len": len,
        "ord": ord,
        "isinstance": isinstance,
        "locals": lambda: result,
    }
    try:
        return bool(safe_eval(case.expect, result, functions))
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
    """A ``SkipUnless`` guard: is a module (or a codec) there to run this case?"""
    try:
        return bool(safe_eval(condition, {}, {"__import__": _guard_import}))
    except Exception:  # a guard that fails, or cannot be evaluated, skips its case
        return False


def _guard_import(name: str) -> Any:
    if name not in _GUARD_MODULES:
        raise ImportError(name)
    return importlib.import_module(name)


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
    parser.add_argument("suite", nargs="?", type=Path, default=FEEDPARSER_SUITE)
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

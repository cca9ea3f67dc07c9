"""What a web page says about its article: title, authors, publication date, site and address.

The page's own structured statements win over guesses from its layout:

* **title**: the JSON-LD article's ``headline``, else the first of the
  ``og:title``, ``twitter:title``, ``dc:title`` and ``title`` meta tags, else
  the ``<title>`` element without a segment naming the site ("Headline | Site"),
  else trafilatura's guess from the headings;
* **authors**: the JSON-LD article's authors, else trafilatura's (meta tags,
  then bylines in the page);
* **published_at**: the JSON-LD ``datePublished`` or the ``article:published_time``
  meta tag, else htmldate in its extensive mode (original date, not the last
  update); a full timestamp with its time zone is kept, a bare date is
  midnight UTC;
* **publisher** and **url**: trafilatura's site name and canonical address.

The precedence was measured against the titles, bylines and dates of the
readability test pages (see ``bench/extraction.py``); no rule names a site.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime

from htmldate import find_date
from lxml.etree import XPath
from lxml.html import HtmlElement
from trafilatura.metadata import (
    examine_meta,
    extract_metainfo,
    extract_title,
    extract_url,
    normalize_authors,
)

from newsmill_worker.pipeline.dates import parse_date

_ARTICLE_TYPE = re.compile(r"(?:Article|Posting|Report|APIReference)$")
"""schema.org types of an article: NewsArticle, BlogPosting, ReportageNewsArticle, ..."""
_JSON_LD_MAX_DEPTH = 8
_CDATA = re.compile(r"^\s*(?://\s*)?<!\[CDATA\[|(?://\s*)?\]\]>\s*$")
_TITLE_META = ("og:title", "twitter:title", "dc:title", "dcterms:title", "title")
_DATE_META = ("article:published_time", "og:article:published_time", "datepublished")
_SITE_META = ("og:site_name", "application-name")
_TITLE_SEPARATOR = re.compile(r"\s+[|–—·•»:/\\-]\s+")
_AUTHOR_SEPARATORS = re.compile(r"\s*;\s*")
_BYLINE_PREFIX = re.compile(r"^(?:by|von|par|por|di|door)\s+", re.IGNORECASE)
_HTMLDATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
_BYLINE = XPath(
    "//@rel[. = 'author']/.. | //@itemprop[contains(., 'author')]/.."
    " | //@id[contains(., 'author')]/.. | //@data-component[contains(., 'Byline')]/.."
    " | //@class[contains(., 'author') or contains(., 'Author')"
    " or contains(., 'byline') or contains(., 'Byline')]/.."
)
"""Bylines by their markup, in document order (testing attributes, not every element, is three
times faster). trafilatura's own search, regular expressions over every element of a pruned
copy, finds two more of the 76 readability bylines at five times the cost."""
_BYLINE_MAX_CHARS = 120
_EARLIEST_DATE = date(1995, 1, 1)
"""htmldate's own lower bound: earlier declared dates are placeholders such as 0001-01-01."""
_WORD = re.compile(r"\w+")


@dataclass
class PageMetadata:
    """The metadata of one page; empty fields when the page does not say."""

    title: str = ""
    authors: list[str] = field(default_factory=list)
    published_at: datetime | None = None
    publisher: str | None = None
    url: str | None = None


def page_metadata(tree: HtmlElement) -> PageMetadata:
    """Read title, authors, date, site name and canonical URL from a parsed page."""
    article = _json_ld_article(tree)
    meta = _meta_tags(tree)
    found = examine_meta(tree)
    publisher = _publisher(article) or meta_value(meta, _SITE_META) or found.sitename or None
    url = extract_url(tree) or found.url or None
    return PageMetadata(
        title=_title(tree, article, meta, publisher),
        authors=_authors(tree, article, found.author),
        published_at=_published_at(tree, article, meta, url),
        publisher=publisher,
        url=url,
    )


def meta_value(meta: dict[str, str], keys: tuple[str, ...]) -> str | None:
    """The first of ``keys`` the page's meta tags give a value for."""
    return next((meta[key] for key in keys if meta.get(key)), None)


def _meta_tags(tree: HtmlElement) -> dict[str, str]:
    """Meta tags by lower-cased name, property or itemprop (space-separated lists split).

    The first tag for a key wins, as browsers and crawlers read them.
    """
    found: dict[str, str] = {}
    for element in tree.iter("meta"):
        content = " ".join((element.get("content") or "").split())
        if not content:
            continue
        names = " ".join(element.get(a) or "" for a in ("property", "name", "itemprop"))
        for key in names.lower().split():
            found.setdefault(key, content)
    return found


def _json_ld_article(tree: HtmlElement) -> dict[str, object]:
    """The first JSON-LD object of an article type on the page, or an empty dict."""
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        try:
            data = json.loads(_CDATA.sub("", script.text or ""))
        except (ValueError, RecursionError):
            continue  # broken or hostile JSON-LD says nothing
        article = next(_articles(data, 0), None)
        if article is not None:
            return article
    return {}


def _articles(data: object, depth: int) -> Iterator[dict[str, object]]:
    if depth > _JSON_LD_MAX_DEPTH:
        return
    if isinstance(data, list):
        for item in data:
            yield from _articles(item, depth + 1)
        return
    if not isinstance(data, dict):
        return
    kinds = data.get("@type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if any(isinstance(k, str) and _ARTICLE_TYPE.search(k) for k in kinds):
        yield data
    for key in ("@graph", "mainEntity", "mainEntityOfPage"):
        if key in data:
            yield from _articles(data[key], depth + 1)


def _text(value: object) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""


def _title(
    tree: HtmlElement, article: dict[str, object], meta: dict[str, str], publisher: str | None
) -> str:
    element = tree.find(".//title")
    title_text = " ".join(element.text_content().split()) if element is not None else ""
    headline = _headline(article, title_text)
    if headline:
        return headline
    declared = meta_value(meta, _TITLE_META)
    if declared:
        return declared
    if title_text:
        return _without_site_name(title_text, tree, publisher)
    return extract_title(tree) or ""


def _headline(article: dict[str, object], title_text: str) -> str:
    """The article's ``headline`` or ``name``; when both differ, the one closer to ``<title>``.

    Sites put a description in one of them or their own name in the other.
    """
    headline, name = _text(article.get("headline")), _text(article.get("name"))
    if not headline or not name or headline == name:
        return headline or name
    title_words = set(_WORD.findall(title_text.casefold()))
    return max((headline, name), key=lambda t: _overlap(t, title_words))


def _overlap(text: str, words: set[str]) -> float:
    own = set(_WORD.findall(text.casefold()))
    return len(own & words) / len(own | words) if own | words else 0.0


def _without_site_name(title: str, tree: HtmlElement, publisher: str | None) -> str:
    """``"Headline | Site"`` → ``"Headline"`` when a segment is the page's heading or site name."""
    separators = list(_TITLE_SEPARATOR.finditer(title))
    if not separators:
        return title
    headings = {" ".join(h.text_content().split()).casefold() for h in tree.iter("h1")}
    for part in _TITLE_SEPARATOR.split(title):
        if part.casefold() in headings:
            return part
    site = (publisher or "").casefold()
    if title[separators[-1].end() :].casefold() == site:
        return title[: separators[-1].start()]
    if title[: separators[0].start()].casefold() == site:
        return title[separators[0].end() :]
    return title


def _publisher(article: dict[str, object]) -> str | None:
    publisher = article.get("publisher")
    if isinstance(publisher, list):
        publisher = publisher[0] if publisher else None
    if isinstance(publisher, dict):
        return _text(publisher.get("name")) or None
    return _text(publisher) or None


def _authors(tree: HtmlElement, article: dict[str, object], meta_author: str | None) -> list[str]:
    names = _json_ld_people(article.get("author"))
    if not names:
        found = meta_author or _byline(tree) or ""
        names = [a for a in _AUTHOR_SEPARATORS.split(found) if a]
    unique: list[str] = []
    for name in (_BYLINE_PREFIX.sub("", n).strip() for n in names):
        if name and name.casefold() not in {u.casefold() for u in unique}:
            unique.append(name)
    return unique


def _byline(tree: HtmlElement) -> str | None:
    author = extract_metainfo(tree, [_BYLINE], len_limit=_BYLINE_MAX_CHARS)
    return normalize_authors(None, author) if author else None


def _json_ld_people(value: object) -> list[str]:
    if isinstance(value, list):
        return [name for item in value for name in _json_ld_people(item)]
    if isinstance(value, dict):
        value = value.get("name")
    name = _text(value)
    return [name] if name and not name.startswith(("http://", "https://")) else []


def _published_at(
    tree: HtmlElement, article: dict[str, object], meta: dict[str, str], url: str | None
) -> datetime | None:
    """The publication date the page declares, else the one htmldate finds in it."""
    declared = parse_date(article.get("datePublished")) or parse_date(meta_value(meta, _DATE_META))
    if declared is not None and _EARLIEST_DATE <= declared.date() <= date.today():
        return declared
    found = find_date(
        tree,
        url=url,
        extensive_search=True,
        original_date=True,
        outputformat=_HTMLDATE_FORMAT,
        max_date=date.today().isoformat(),
    )
    return parse_date(found) if found else None

"""Decoded text to articles, for every format (before cleaning unless ``run`` is used)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from newsmill_worker.pipeline import (
    Decoded,
    DocumentError,
    Limits,
    Parsed,
    RecordError,
    decode,
    parse,
    run,
)

LIMITS = Limits()
PARAGRAPH = "The council approved the budget on Tuesday after a long debate about road repairs."


def _parse(text: str, name: str = "doc.txt", limits: Limits = LIMITS) -> list[Parsed | RecordError]:
    return parse(decode(text.encode(), name, limits))


def _article(text: str, name: str = "doc.txt") -> Parsed:
    (article,) = _parse(text, name)
    assert isinstance(article, Parsed)
    return article


# --- plain text and Markdown -------------------------------------------------


def test_text_title_is_first_line_and_blank_lines_separate_paragraphs() -> None:
    article = _article(f"  Budget passed  \n\n{PARAGRAPH}\nstill the same paragraph\n\nSecond.\n")
    assert article.title == "Budget passed"
    assert article.subtitle is None
    assert article.paragraphs == [f"{PARAGRAPH} still the same paragraph", "Second."]


def test_text_without_blank_lines_has_a_paragraph_per_line_and_a_standfirst() -> None:
    article = _article(f"Budget passed\nRoads come first.\n{PARAGRAPH}\nSecond line.\n")
    assert article.subtitle == "Roads come first."
    assert article.paragraphs == [PARAGRAPH, "Second line."]


def test_a_long_or_multi_sentence_second_line_is_no_standfirst() -> None:
    article = _article(f"Budget passed\nIt passed. Roads come first.\n{PARAGRAPH}\n")
    assert article.subtitle is None
    assert article.paragraphs[0] == "It passed. Roads come first."


def test_markdown_heading_marks_links_and_emphasis_are_removed() -> None:
    text = "# Budget *passed* #\n\n## Roads come first\n\nSee **the plan** at [the site](http://x.example).\n"
    article = _article(text, "doc.md")
    assert article.title == "Budget *passed*"
    assert article.subtitle == "Roads come first"
    assert article.paragraphs == ["See the plan at the site."]


def test_markdown_setext_title() -> None:
    article = _article("Budget passed\n=============\n\nBody text.\n", "doc.md")
    assert article.title == "Budget passed"
    assert article.paragraphs == ["Body text."]


# --- HTML --------------------------------------------------------------------


PAGE = """<!DOCTYPE html><html lang="fr"><head><title>Le budget adopté - Le Journal</title>
<meta property="og:site_name" content="Le Journal">
<meta name="author" content="Claire Martin">
<meta property="article:published_time" content="2024-02-01T08:00:00+01:00">
<link rel="canonical" href="https://journal.example/budget"></head>
<body><nav><a href="/">Accueil</a></nav><article><h1>Le budget adopté</h1>
<p>Le conseil municipal a adopté mardi soir le budget de l'année, après un long débat sur
l'entretien des routes et le prix des cantines scolaires.</p>
<p>L'opposition a voté contre, estimant que les investissements prévus étaient insuffisants
pour les quartiers du nord de la ville.</p>
<p>Le maire a promis une nouvelle concertation avec les habitants au printemps prochain.</p>
</article></body></html>"""


def test_html_page_gives_body_and_metadata() -> None:
    # Given a page whose <h1> trafilatura keeps as the body's first line
    (article,) = run(PAGE.encode(), "page.html", LIMITS)
    assert isinstance(article, Parsed)
    # Then after cleaning the body starts at the first real paragraph
    assert article.title == "Le budget adopté"
    assert article.authors == ["Claire Martin"]
    assert article.publisher == "Le Journal"
    assert article.url == "https://journal.example/budget"
    assert article.language == "fr"
    assert (
        article.published_at is not None and article.published_at.date().isoformat() == "2024-02-01"
    )
    assert article.paragraphs[0].startswith("Le conseil municipal a adopté")
    assert "Accueil" not in article.body


def test_html_without_text_is_refused() -> None:
    with pytest.raises(DocumentError, match="no article text found in the HTML page"):
        _parse(
            "<html><head><title>x</title></head><body><div><img src='a.png'></div></body></html>"
        )


def test_100000_nested_tags_are_refused_quickly() -> None:
    # Given HTML nested far past libxml2's 256-level limit
    html = (
        "<html><body>" + "<div>" * 100_000 + "<p>deep</p>" + "</div>" * 100_000 + "</body></html>"
    )
    start = time.perf_counter()
    # Then it neither crashes nor hangs: a clear reason, in well under a few seconds
    with pytest.raises(DocumentError, match="HTML nested too deeply"):
        run(html.encode(), "deep.html", LIMITS)
    assert time.perf_counter() - start < 3


def test_a_page_of_300000_unclosed_paragraphs_is_refused_quickly() -> None:
    # Given 2.4 MB of "<p>" never closed: 300,000 paragraphs for the extractor
    html = "<html><body>" + "<p>word " * 300_000 + "</body></html>"
    start = time.perf_counter()
    # Then it is refused for its size before any extraction, with the numbers in the reason
    with pytest.raises(
        DocumentError, match=r"too large to extract: 300002 elements \(limit 50000\)"
    ):
        run(html.encode(), "flat.html", LIMITS)
    assert time.perf_counter() - start < 2


def test_short_html_page_falls_back_to_its_body_text() -> None:
    article = _article(
        "<html><head><title>Note</title></head><body><p>Short note.</p><p>Two.</p></body></html>"
    )
    assert article.paragraphs == ["Short note.", "Two."]


# --- JSON and JSON Lines -----------------------------------------------------


def test_json_object_with_schema_org_names() -> None:
    record = {
        "headline": "Budget passed",
        "articleBody": f"{PARAGRAPH}\n\nSecond.",
        "author": [{"@type": "Person", "name": "A. Writer"}, {"name": "B. Writer"}],
        "datePublished": "2024-02-01T08:00:00Z",
        "publisher": {"name": "Daily"},
        "inLanguage": "en-GB",
        "description": "Roads come first.",
        "url": "https://daily.example/b",
    }
    article = _article(json.dumps(record), "a.json")
    assert article.title == "Budget passed"
    assert article.paragraphs == [PARAGRAPH, "Second."]
    assert article.authors == ["A. Writer", "B. Writer"]
    assert article.published_at == datetime(2024, 2, 1, 8, tzinfo=UTC)
    assert (article.publisher, article.language, article.url) == (
        "Daily",
        "en-GB",
        "https://daily.example/b",
    )
    assert article.subtitle == "Roads come first."
    assert article.ref is None and article.raw is None


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(document.cookie)", " JavaScript:alert(1)", "data:text/html,x",
     "file:///etc/passwd", "mailto:desk@example.com"],
)  # fmt: skip
def test_only_http_urls_are_kept_as_the_article_url(url: str) -> None:
    as_json = _article(json.dumps({"title": "T", "body": PARAGRAPH, "url": url}), "a.json")
    rss = (
        '<rss version="2.0"><channel><title>F</title><item><title>T</title>'
        f"<link>{url.strip()}</link><description>{PARAGRAPH}</description></item></channel></rss>"
    )
    html = (
        f'<html><head><title>T</title><link rel="canonical" href="{url.strip()}"></head>'
        f"<body><article><h1>T</h1><p>{PARAGRAPH}</p><p>{PARAGRAPH}</p></article></body></html>"
    )
    assert as_json.url is None
    assert _article(rss, "f.rss").url is None
    assert _article(html, "p.html").url is None


@pytest.mark.parametrize("url", ["//no-scheme.example/a", "http:///no-host", "https://"])
def test_a_url_without_scheme_or_host_is_not_kept(url: str) -> None:
    assert _article(json.dumps({"title": "T", "body": PARAGRAPH, "url": url}), "a.json").url is None


def test_json_html_body_goes_through_the_html_path() -> None:
    record = {
        "title": "T",
        "content": "<div><p>One &amp; two.</p><ul><li>Three</li></ul><script>x()</script></div>",
    }
    assert _article(json.dumps(record), "a.json").paragraphs == ["One & two.", "Three"]


def test_json_container_object_and_epoch_dates() -> None:
    records = {"articles": [{"title": "A", "body": "x", "timestamp": 1700000000}]}
    (article,) = _parse(json.dumps(records), "a.json")
    assert isinstance(article, Parsed)
    assert article.ref == "#record=1"
    assert article.published_at == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


def test_a_bad_record_does_not_lose_its_neighbours() -> None:
    records = [
        {"title": "A", "body": "a"},
        {"title": "no body"},
        "text",
        {"title": "C", "text": "c"},
    ]
    outcomes = _parse(json.dumps(records), "a.json")
    assert [type(o).__name__ for o in outcomes] == [
        "Parsed",
        "RecordError",
        "RecordError",
        "Parsed",
    ]
    assert [o.ref for o in outcomes] == ["#record=1", "#record=2", "#record=3", "#record=4"]
    bad = outcomes[1]
    assert isinstance(bad, RecordError) and json.loads(bad.raw or b"") == {"title": "no body"}
    assert "no article body" in bad.reason


def test_list_records_keep_their_own_source_text() -> None:
    text = '[ {"title": "A",  "body": "caf\\u00e9"} ,\n  {"title":"B","body":"b"}\n]'
    first, second = _parse(text, "a.json")
    assert first.raw == b'{"title": "A",  "body": "caf\\u00e9"}'
    assert second.raw == b'{"title":"B","body":"b"}'


def test_single_object_without_body_is_a_document_error() -> None:
    with pytest.raises(DocumentError, match="no article body: expected one of body, text"):
        _parse('{"title": "only a title"}', "a.json")


def test_invalid_json_reason_says_where() -> None:
    with pytest.raises(DocumentError, match=r"invalid JSON: Expecting value \(line 1, column 24\)"):
        _parse('{"title": "A", "body": }', "a.json")


def test_json_deeper_than_the_limit_is_refused() -> None:
    deep = '{"title": "A", "body": "b", "x": ' + "[" * 300 + "]" * 300 + "}"
    with pytest.raises(DocumentError, match="JSON nested deeper than 200 levels"):
        _parse(deep, "a.json")


def test_json_deeper_than_the_interpreter_stack_is_refused() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(DocumentError, match="JSON nested deeper than 200 levels"):
        _parse(deep, "a.json")


def test_more_records_than_the_limit_are_refused() -> None:
    records = [{"title": str(i), "body": "b"} for i in range(11)]
    with pytest.raises(DocumentError, match="too many records: 11 > limit 10"):
        _parse(json.dumps(records), "a.json", Limits(max_records=10))
    lines = "\n".join(json.dumps(r) for r in records)
    with pytest.raises(DocumentError, match="too many records: 11 lines > limit 10"):
        _parse(lines, "a.jsonl", Limits(max_records=10))


def test_jsonl_that_is_not_json_at_all_is_a_document_error() -> None:
    with pytest.raises(DocumentError, match="not JSON Lines: no line is valid JSON"):
        parse(Decoded(text="just\ntext", name="a.jsonl", encoding="utf-8", format="jsonl"))


def test_jsonl_keeps_each_lines_bytes() -> None:
    line = '{"title": "Café", "body": "b"}'
    (article,) = _parse(line + "\n", "a.jsonl")
    assert isinstance(article, Parsed)
    assert (article.ref, article.raw) == ("#line=1", line.encode())


# --- feeds ---------------------------------------------------------------------


RSS1 = """<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
 xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="https://x.example/"><title>Wire</title><link>https://x.example/</link>
<description>d</description></channel>
<item rdf:about="https://x.example/1"><title>First</title><link>https://x.example/1</link>
<description>Plain text summary of the first story.</description><dc:creator>Ann Bell</dc:creator>
<dc:date>2024-03-01T10:00:00Z</dc:date></item>
</rdf:RDF>"""


def test_rss_1_feed() -> None:
    (entry,) = _parse(RSS1, "wire.rdf")
    assert isinstance(entry, Parsed)
    assert (entry.title, entry.url, entry.authors, entry.publisher) == (
        "First",
        "https://x.example/1",
        ["Ann Bell"],
        "Wire",
    )
    assert entry.paragraphs == ["Plain text summary of the first story."]
    assert entry.published_at == datetime(2024, 3, 1, 10, tzinfo=UTC)
    assert entry.ref == "#entry=1"


def test_rss_09x_feed_with_html_description() -> None:
    rss = (
        '<rss version="0.91"><channel><title>Old</title><item><title>Story</title>'
        "<link>https://o.example/s</link><description>&lt;p&gt;One.&lt;/p&gt;&lt;p&gt;Two.&lt;/p&gt;"
        "</description></item></channel></rss>"
    )
    (entry,) = _parse(rss, "old.xml")
    assert isinstance(entry, Parsed)
    assert entry.paragraphs == ["One.", "Two."]


def test_feed_without_entries_is_refused() -> None:
    with pytest.raises(DocumentError, match="feed holds no entries"):
        _parse('<rss version="2.0"><channel><title>Empty</title></channel></rss>', "f.xml")


def test_feed_entry_whose_content_is_its_summary_has_no_standfirst() -> None:
    atom = (
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><entry><title>E</title>'
        "<summary>Same text.</summary><content>Same text.</content></entry></feed>"
    )
    (entry,) = run(atom.encode(), "f.atom", LIMITS)
    assert isinstance(entry, Parsed)
    assert (entry.subtitle, entry.paragraphs) == (None, ["Same text."])


def test_feed_entry_raw_is_its_own_xml() -> None:
    rss = (
        '<?xml version="1.0" encoding="ISO-8859-1"?><rss version="2.0"><channel><title>C</title>'
        "<item><title>Caf\xe9 opens</title><description>Body.</description></item>"
        "<item><title>Second</title><description>Body two.</description></item></channel></rss>"
    )
    first, second = run(rss.encode("latin-1"), "f.rss", LIMITS)
    assert isinstance(first, Parsed) and isinstance(second, Parsed)
    assert (
        first.raw
        == "<item><title>Café opens</title><description>Body.</description></item>".encode()
    )
    assert second.raw is not None and second.raw.startswith(b"<item><title>Second</title>")


def test_broken_feed_entries_keep_their_fields_as_raw() -> None:
    rss = (
        '<rss version="2.0"><channel><item><title>A & B</title><description>x</description></item>'
    )
    (entry,) = run(rss.encode(), "f.rss", LIMITS)
    assert isinstance(entry, Parsed)
    assert json.loads(entry.raw or b"")["title"] == "A & B"

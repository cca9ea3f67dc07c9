"""A web page's title, authors, date, site and address, from its own statements first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import lxml.html

from newsmill_worker.pipeline.formats.page_metadata import PageMetadata, page_metadata

BODY = "<body><h1>Budget passed</h1><p>The council approved the budget on Tuesday.</p></body>"


def _meta(head: str, body: str = BODY) -> PageMetadata:
    return page_metadata(lxml.html.document_fromstring(f"<html><head>{head}</head>{body}</html>"))


def _json_ld(data: str) -> str:
    return f'<script type="application/ld+json">{data}</script>'


def test_json_ld_article_gives_title_authors_date_and_publisher() -> None:
    meta = _meta(
        '<meta property="og:title" content="Social title">'
        + _json_ld(
            '{"@context": "https://schema.org", "@graph": [{"@type": "WebSite", "name": "Site"},'
            ' {"@type": "NewsArticle", "headline": "Budget passed after long debate",'
            ' "author": [{"@type": "Person", "name": "Jo Bloggs"}, {"name": "By Sam Roe"}],'
            ' "datePublished": "2024-02-01T09:30:00-04:00",'
            ' "publisher": {"@type": "Organization", "name": "Daily Example"}}]}'
        )
    )
    assert meta.title == "Budget passed after long debate"
    assert meta.authors == ["Jo Bloggs", "Sam Roe"]
    assert meta.publisher == "Daily Example"
    # The declared time zone is kept, not folded into UTC or dropped
    assert meta.published_at == datetime(2024, 2, 1, 9, 30, tzinfo=timezone(timedelta(hours=-4)))
    assert meta.published_at is not None and meta.published_at.utcoffset() == timedelta(hours=-4)


def test_json_ld_in_cdata_is_read_and_broken_json_ld_ignored() -> None:
    meta = _meta(
        _json_ld("{not json")
        + _json_ld('<![CDATA[ {"@type": "BlogPosting", "headline": "From CDATA"} ]]>')
    )
    assert meta.title == "From CDATA"


def test_headline_or_name_whichever_the_title_element_agrees_with() -> None:
    # Given an article whose "headline" holds a description and whose "name" is the title
    meta = _meta(
        "<title>List of films featuring time loops - Encyclopedia</title>"
        + _json_ld(
            '{"@type": "Article", "name": "List of films featuring time loops",'
            ' "headline": "Encyclopedia list article"}'
        )
    )
    assert meta.title == "List of films featuring time loops"


def test_title_meta_tags_before_the_title_element() -> None:
    meta = _meta(
        '<title>Page | Site</title><meta property="x:title dc:title" content="Declared title">'
    )
    assert meta.title == "Declared title"


def test_title_element_loses_the_site_name_segment() -> None:
    site = '<meta property="og:site_name" content="Daily Example">'
    assert _meta(f"<title>Budget row deepens | Daily Example</title>{site}").title == (
        "Budget row deepens"
    )
    assert _meta(f"<title>Daily Example - Budget row deepens</title>{site}").title == (
        "Budget row deepens"
    )
    # a segment that is the page's own <h1> is the headline
    assert _meta("<title>Budget passed - Council news - Example</title>").title == "Budget passed"
    # with nothing to tell the site name apart, the title stays whole
    assert _meta("<title>Budget row - the view from Example</title>").title == (
        "Budget row - the view from Example"
    )


def test_byline_in_the_page_when_no_meta_tag_names_the_author() -> None:
    body = '<body><p class="article-byline">By Jo Bloggs</p><p>Text of the story.</p></body>'
    assert _meta("<title>t</title>", body).authors == ["Jo Bloggs"]


def test_placeholder_dates_are_ignored_and_htmldate_finds_the_page_date() -> None:
    meta = _meta(
        '<meta property="article:published_time" content="0001-01-01T00:00:00Z">'
        '<meta name="date" content="2023-05-04">'
    )
    # a date without a time is midnight UTC
    assert meta.published_at == datetime(2023, 5, 4, tzinfo=UTC)


def test_a_page_without_metadata_gives_empty_fields() -> None:
    meta = _meta("", "<body><p>Just text.</p></body>")
    assert meta == PageMetadata()

"""Bytes to text: encodings, compression and the inputs refused with a reason."""

from __future__ import annotations

import gzip
import io
import random
import time
import zipfile

import pytest

from newsmill_worker.pipeline import DocumentError, Limits, decode, run

LIMITS = Limits()
ARTICLE = "Title line\n\nA first paragraph with enough words to be an article.\n"


def test_utf8_text_is_read_as_is() -> None:
    doc = decode("Café £5 — “quoted”\n\nBody.".encode(), "a.txt", LIMITS)
    assert doc.text.startswith("Café £5 — “quoted”")
    assert (doc.encoding, doc.format) == ("utf-8", "text")


@pytest.mark.parametrize(
    ("encoded", "encoding"),
    [
        (b"\xef\xbb\xbf" + "Café".encode(), "utf-8"),
        ("\ufeffCafé".encode("utf-16-le"), "utf-16-le"),
        ("\ufeffCafé".encode("utf-16-be"), "utf-16-be"),
        ("\ufeffCafé".encode("utf-32-le"), "utf-32-le"),
    ],
)
def test_byte_order_mark_decides_the_encoding(encoded: bytes, encoding: str) -> None:
    doc = decode(encoded + b"\n\nbody" if encoding == "utf-8" else encoded, "a.txt", LIMITS)
    assert doc.encoding == encoding
    assert doc.text.startswith("Café")


def test_latin1_pound_sign_reads_as_pound() -> None:
    # Given a mostly-ASCII file with one raw 0xA3 byte, like bbc/sport/199.txt
    data = b"Chelsea sack Mutu\n\nA \xa315.8m signing from Parma last season.\n"
    # Then it is Windows-1252 and the byte is a pound sign
    doc = decode(data, "199.txt", LIMITS)
    assert "£15.8m" in doc.text
    assert doc.encoding == "cp1252"


def test_declared_html_charset_is_used() -> None:
    html = '<html><head><meta charset="windows-1251"><title>Новости</title></head>'
    html += "<body><p>Москва сегодня.</p><div>x</div><p>y</p></body></html>"
    doc = decode(html.encode("cp1251"), "page.html", LIMITS)
    assert doc.encoding == "cp1251"
    assert "Москва" in doc.text


def test_declared_xml_encoding_is_used() -> None:
    xml = '<?xml version="1.0" encoding="ISO-8859-1"?><rss version="2.0"><channel>'
    xml += "<title>Caf\xe9</title></channel></rss>"
    doc = decode(xml.encode("latin-1"), "feed.xml", LIMITS)
    assert doc.format == "feed"
    assert "Café" in doc.text


def test_undeclared_cyrillic_is_guessed() -> None:
    text = "Правительство объявило о новых мерах поддержки малого бизнеса в регионах страны. " * 4
    doc = decode(text.encode("cp1251"), "news.txt", LIMITS)
    assert "Правительство" in doc.text


def test_gzip_input_is_decompressed() -> None:
    doc = decode(gzip.compress(ARTICLE.encode()), "a.txt.gz", LIMITS)
    assert doc.text == ARTICLE
    assert doc.name == "a.txt"


def test_gzip_bomb_is_stopped_at_the_cap_without_expanding_it() -> None:
    # Given 1 GB of zeros compressed to about a megabyte
    bomb = _gzip_of_zeros(1024**3)
    limits = Limits(max_decompressed_bytes=10 * 1024 * 1024)
    # When it is decoded, Then it is refused quickly, long before 1 GB is inflated
    start = time.perf_counter()
    with pytest.raises(DocumentError, match="gzip expands beyond the 10485760-byte limit"):
        decode(bomb, "bomb.txt.gz", limits)
    assert time.perf_counter() - start < 2


def test_truncated_gzip_is_refused() -> None:
    data = gzip.compress((ARTICLE * 200).encode())
    with pytest.raises(DocumentError, match="truncated gzip stream"):
        decode(data[: len(data) // 2], "a.txt.gz", LIMITS)


def test_corrupt_gzip_is_refused() -> None:
    data = bytearray(gzip.compress((ARTICLE * 20).encode()))
    data[20:40] = b"\xff" * 20
    with pytest.raises(DocumentError, match="corrupt gzip stream"):
        decode(bytes(data), "a.txt.gz", LIMITS)


def test_zip_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.txt", ARTICLE)
    with pytest.raises(DocumentError, match="zip archive"):
        decode(buffer.getvalue(), "a.zip", LIMITS)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file (0 bytes)"),
        (b" \n\t\r\n ", "no text: the document holds only whitespace"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF document"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG image"),
        (b"Title\x00\x01\x02\x03 body", "binary content: NUL bytes"),
        (bytes(range(1, 9)) * 100, "binary content: 800 control bytes"),
        (gzip.compress(b""), "empty file (0 bytes after gzip)"),
    ],
    ids=["empty", "whitespace", "pdf", "png", "nul", "controls", "empty-gzip"],
)
def test_non_documents_are_refused_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(DocumentError) as caught:
        decode(data, "upload.txt", LIMITS)
    assert reason in caught.value.reason
    assert "\n" not in caught.value.reason


def test_a_50_mb_file_is_refused_for_its_size() -> None:
    data = b"a" * (50 * 1024 * 1024)
    with pytest.raises(DocumentError, match=r"file too large: 52428800 bytes > limit 20971520"):
        decode(data, "huge.txt", LIMITS)


def test_a_large_gzip_expanding_past_the_cap_is_refused() -> None:
    with pytest.raises(DocumentError, match="gzip expands beyond"):
        decode(_gzip_of_zeros(2048), "a.gz", Limits(max_decompressed_bytes=1024))


def test_undecodable_bytes_never_crash() -> None:
    # Given text damaged by a run of bytes valid in no single encoding
    text = b"Headline\n\nA long enough paragraph of ordinary words around the damage. " * 8
    data = text + bytes(range(0x80, 0x100)) + text
    # Then decoding still gives text, with nothing raised
    doc = decode(data, "odd.txt", LIMITS)
    assert doc.text.startswith("Headline")


@pytest.mark.parametrize(
    ("text", "name", "format"),
    [
        ("<!DOCTYPE html><html><body><p>Hi</p></body></html>", "story.txt", "html"),
        ("<p>One</p>\n<p>Two</p>\n<div>Three</div>", "notes.txt", "html"),
        ('<?xml version="1.0"?><rss version="2.0"><channel></channel></rss>', "f.xml", "feed"),
        ('<feed xmlns="http://www.w3.org/2005/Atom"></feed>', "f.txt", "feed"),
        ('{"title": "t", "body": "b"}', "a.txt", "json"),
        ('{"title": "t"}\n{"title": "u"}\n', "a.txt", "jsonl"),
        ('{"title": "t"}', "a.ndjson", "jsonl"),
        ("# Heading\n\nBody text.", "a.txt", "markdown"),
        ("Heading\n\nBody text with a <b>bold</b> word.", "a.md", "markdown"),
        ("Plain title\n\nPlain body with 3 < 4 in it.", "a.html", "text"),
    ],
)
def test_format_is_detected_by_content(text: str, name: str, format: str) -> None:
    assert decode(text.encode(), name, LIMITS).format == format


def test_json_named_file_that_is_not_json_is_refused() -> None:
    with pytest.raises(DocumentError, match=r"not JSON: export\.json does not start with"):
        decode(b"Just a headline\n\nAnd a paragraph.", "export.json", LIMITS)


def test_xml_that_is_no_feed_is_refused() -> None:
    with pytest.raises(DocumentError, match="neither an RSS/Atom feed nor XHTML"):
        decode(b'<?xml version="1.0"?><invoice><total>3</total></invoice>', "a.xml", LIMITS)


def test_entity_declarations_are_refused() -> None:
    # Given a "billion laughs" feed
    bomb = b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">'
    bomb += b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><rss><channel><title>&b;</title>'
    bomb += b"</channel></rss>"
    with pytest.raises(DocumentError, match=r"<!ENTITY"):
        run(bomb, "feed.xml", LIMITS)


def _gzip_of_zeros(size: int) -> bytes:
    """``size`` zero bytes as 1 MiB gzip members: cheap to build, big to inflate."""
    member = gzip.compress(b"\x00" * min(size, 1024 * 1024), compresslevel=9)
    return member * max(1, size // (1024 * 1024))


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_xml_in_utf16_or_utf32_without_a_byte_order_mark(encoding: str) -> None:
    xml = '<?xml version="1.0"?><rss version="2.0"><channel><title>Café</title></channel></rss>'
    doc = decode(xml.encode(encoding), "feed.xml", LIMITS)
    assert (doc.encoding, doc.format) == (encoding, "feed")
    assert "Café" in doc.text


def test_a_text_quoting_an_entity_declaration_is_still_a_text() -> None:
    text = 'XML bombs explained\n\nThey start with a line such as <!ENTITY lol "lol"> in a DOCTYPE.'
    assert decode(text.encode(), "story.txt", LIMITS).format == "text"


def test_high_byte_noise_is_refused_as_undecodable() -> None:
    rng = random.Random(1)
    noise = bytes(rng.randrange(0x80, 0x100) for _ in range(2000))
    with pytest.raises(DocumentError, match="undecodable"):
        decode(noise, "noise.txt", LIMITS)

"""Bytes to text: refuse what is not text, undo gzip, find the encoding, name the format.

Order of evidence for the encoding: a byte-order mark, then valid UTF-8, then
the charset the document declares (XML declaration, HTML ``<meta>``), then a
guess. Mojibake inside the text (UTF-8 read as Latin-1 upstream) is repaired
later, by the cleaner, on the article text only.
"""

from __future__ import annotations

import codecs
import re
import zlib

from charset_normalizer import from_bytes

from newsmill_worker.pipeline.document import Decoded, Limits
from newsmill_worker.pipeline.errors import DocumentError
from newsmill_worker.pipeline.sniff import detect_format

_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 64 * 1024
_SAMPLE = 8192
_REFUSED_MAGIC = (
    (b"PK\x03\x04", "zip archive: unpack it and submit the documents one by one"),
    (b"PK\x05\x06", "zip archive (empty): nothing to ingest"),
    (b"%PDF-", "PDF document: only text, HTML, JSON and feeds are ingested"),
    (b"\x89PNG\r\n", "PNG image, not a text document"),
    (b"\xff\xd8\xff", "JPEG image, not a text document"),
    (b"GIF8", "GIF image, not a text document"),
    (b"BZh9", "bzip2 archive: only gzip compression is accepted"),
    (b"\xfd7zXZ\x00", "xz archive: only gzip compression is accepted"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip archive: only gzip compression is accepted"),
    (b"\xd0\xcf\x11\xe0", "legacy Office (OLE) document, not a text document"),
    (b"\x7fELF", "executable (ELF) file, not a text document"),
)
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_XML_WITHOUT_BOM = (
    # How XML (and so a feed) starting with "<" looks in UTF-16/32 without a byte-order mark.
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00", "utf-16-le"),
    (b"\x00<", "utf-16-be"),
)
_CONTROL_BYTES = bytes(set(range(0, 9)) | {11, 12} | (set(range(14, 32)) - {27}))
_CONTROL_TABLE = bytes.maketrans(_CONTROL_BYTES, b"\x00" * len(_CONTROL_BYTES))
_MAX_CONTROL_SHARE = 0.05
_HIGH_BYTES = bytes(range(0x80, 0x100))
_DECLARED = re.compile(
    rb"""<\?xml[^>]*?encoding\s*=\s*["']([\w.:-]+)["']"""
    rb"""|<meta[^>]+?charset\s*=\s*["']?\s*([\w.:-]+)""",
    re.IGNORECASE,
)
_ASCII_SHARE_FOR_CP1252 = 0.95
"""Undeclared non-UTF-8 text this ASCII is western (a stray ``£`` or ``é``): Windows-1252."""


_ASCII_SHARE_FOR_NOISY_TEXT = 0.5
"""Below this share of ASCII, bytes no encoding fits are noise rather than damaged text."""


def decode(data: bytes, name: str, limits: Limits) -> Decoded:
    """Decode a document's bytes to text, or raise DocumentError saying why not."""
    _check_size(data, limits)
    if data.startswith(_GZIP_MAGIC):
        data = _gunzip(data, limits)
        name = name[:-3] if name.lower().endswith(".gz") else name
        _check_size(data, limits, after="gzip")
    _refuse_known_binary(data)
    text, encoding = _to_text(data)
    if not text.strip():
        raise DocumentError(f"no text: the document holds only whitespace ({encoding})")
    return Decoded(
        text=text, name=name, encoding=encoding, format=detect_format(text, name), limits=limits
    )


def _check_size(data: bytes, limits: Limits, after: str = "") -> None:
    what = f" after {after}" if after else ""
    if not data:
        raise DocumentError(f"empty file (0 bytes{what})")
    if not after and len(data) > limits.max_bytes:
        raise DocumentError(f"file too large: {len(data)} bytes > limit {limits.max_bytes}")
    if data.startswith(_GZIP_MAGIC) and after:
        raise DocumentError("gzip inside gzip is refused")


def _gunzip(data: bytes, limits: Limits) -> bytes:
    """Decompress in chunks, stopping as soon as the output passes the cap (no bomb expands)."""
    cap = limits.max_decompressed_bytes
    out = bytearray()
    pending = data
    while pending:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            pending = _inflate_member(inflater, pending, out, cap)
        except zlib.error as err:
            raise DocumentError(f"corrupt gzip stream: {err}") from None
    return bytes(out)


def _inflate_member(inflater: zlib._Decompress, data: bytes, out: bytearray, cap: int) -> bytes:
    chunk = inflater.decompress(data, _CHUNK)
    while True:
        out += chunk
        if len(out) > cap:
            raise DocumentError(f"gzip expands beyond the {cap}-byte limit (compression bomb?)")
        if inflater.eof or not inflater.unconsumed_tail:
            break
        chunk = inflater.decompress(inflater.unconsumed_tail, _CHUNK)
    if not inflater.eof:
        raise DocumentError("truncated gzip stream: the compressed data ends early")
    return inflater.unused_data.lstrip(b"\x00")


def _refuse_known_binary(data: bytes) -> None:
    for magic, reason in _REFUSED_MAGIC:
        if data.startswith(magic):
            raise DocumentError(reason)


def _to_text(data: bytes) -> tuple[str, str]:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, errors="replace"), encoding
    for start, encoding in _XML_WITHOUT_BOM:
        if data.startswith(start):
            return data.decode(encoding, errors="replace"), encoding
    _refuse_binary(data)
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    declared = _declared_charset(data)
    if declared:
        try:
            return data.decode(declared), declared
        except UnicodeDecodeError:
            pass
    encoding = _guess_encoding(data)
    return data.decode(encoding, errors="replace"), encoding


def _refuse_binary(data: bytes) -> None:
    sample = data[:_SAMPLE]
    if b"\x00" in sample:
        raise DocumentError(
            "binary content: NUL bytes in a file without a UTF-16/32 byte-order mark"
        )
    controls = sample.translate(_CONTROL_TABLE).count(0)
    if controls > len(sample) * _MAX_CONTROL_SHARE:
        raise DocumentError(f"binary content: {controls} control bytes in the first {len(sample)}")


def _declared_charset(data: bytes) -> str | None:
    match = _DECLARED.search(data[:_SAMPLE])
    if not match:
        return None
    label = (match.group(1) or match.group(2)).decode("ascii").lower()
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _guess_encoding(data: bytes) -> str:
    sample = data[: _SAMPLE * 8]
    ascii_share = len(sample.translate(None, _HIGH_BYTES)) / len(sample)
    if ascii_share >= _ASCII_SHARE_FOR_CP1252:
        return "cp1252"
    best = from_bytes(sample).best()
    if best is not None:
        return str(best.encoding)
    # Every candidate encoding reads as chaos: keep text with a few stray bytes, refuse noise.
    if ascii_share >= _ASCII_SHARE_FOR_NOISY_TEXT:
        return "cp1252"
    raise DocumentError("undecodable: the bytes read as no known text encoding")

"""Text from documents and feeds, made safe to show on a terminal or in a line of a log.

File names, titles, URLs and error reasons come from inbox writers and feed
authors. Printed as they are, a newline forges a log line, an ANSI escape
repaints the terminal and a bidirectional override reverses what is read.
Here such characters are shown as escapes (``\\n``, ``\\x1b``, ``\\u202e``).
Rich markup is a separate matter: print untrusted text as ``rich.text.Text``.
"""

from __future__ import annotations

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_BIDI_AND_SEPARATORS = [
    0x061C,
    0x200E,
    0x200F,
    0x2028,
    0x2029,
    *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
]
_CONTROLS = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), *_BIDI_AND_SEPARATORS]


def _escape(code: int) -> str:
    char = chr(code)
    if char in _NAMED:
        return _NAMED[char]
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


_TABLE = {code: _escape(code) for code in _CONTROLS}
_TABLE_KEEPING_NEWLINES = {code: text for code, text in _TABLE.items() if code != ord("\n")}
_JSON_TABLE = {code: f"\\u{code:04x}" for code in _CONTROLS if code >= 0x7F}


def printable(text: str, keep_newlines: bool = False) -> str:
    """``text`` with control, bidirectional and line-separator characters shown as escapes."""
    return text.translate(_TABLE_KEEPING_NEWLINES if keep_newlines else _TABLE)


def printable_json(text: str) -> str:
    """JSON text with the characters JSON leaves raw (DEL, C1 controls, bidi) as ``\\u`` escapes.

    JSON already escapes the controls below U+0020; the result is still valid JSON.
    """
    return text.translate(_JSON_TABLE)

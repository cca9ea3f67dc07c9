"""The feedparser suite's expectations are evaluated over their syntax tree, never with eval."""

from __future__ import annotations

from typing import Any

import feedparser
import pytest

from bench.feedparser_suite import Unsupported, _available, safe_eval

RESULT = feedparser.parse(
    b"<rss version='2.0'><channel><title>found</title>"
    b"<item><title>One</title><link>http://link/get?a=1&amp;b=2</link></item>"
    b"</channel></rss>"
)
FUNCTIONS: dict[str, Any] = {"len": len, "ord": ord, "locals": lambda: RESULT}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("not bozo and feed['title'] == 'found'", True),
        ("entries[0].link == 'http://link/get?a=1&b=2'", True),
        ("entries[0].get('where') == {}", False),
        ("len(entries) == 1 and ord('a') == 97", True),
        ("'etag' in locals() or 'version' not in locals()", False),
        ("bozo or entries[0]['title'][1:] == 'ne'", True),
        ("(1, -2.5) == (1, -2.5) and [1] != [2] and 'a' + 'b' == 'ab'", True),
        ("entries[0].title is None", False),
    ],
)
def test_expressions_over_a_feedparser_result(expression: str, expected: bool) -> None:
    assert safe_eval(expression, RESULT, FUNCTIONS) is expected


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os').system('true')",
        "().__class__.__bases__",
        "'{}'.format(1)",
        "(lambda: 1)()",
        "[x for x in entries]",
        "len(entries, key=1)",
    ],
)
def test_anything_else_is_refused(expression: str) -> None:
    with pytest.raises((Unsupported, NameError)):
        safe_eval(expression, RESULT, FUNCTIONS)


def test_skip_guards_ask_only_for_known_modules_and_codecs() -> None:
    assert _available("__import__('codecs').lookup('big5')")
    assert _available("__import__('sys').version.split()[0] >= '2.2.0'")
    assert not _available("__import__('codecs').lookup('no-such-codec')")
    assert not _available("__import__('os').getcwd()")
    assert not _available("feedparser.ACCEPTABLE_URI_SCHEMES")

"""Links documents give for themselves: only absolute http(s) URLs are kept.

A feed or a JSON record may say its link is ``javascript:...``, ``data:...``
or ``file:///...``; stored as an article's ``url``, anything that later shows
articles as links would offer that to a reader.
"""

from __future__ import annotations

from urllib.parse import urlsplit

WEB_SCHEMES = ("http", "https")


def web_url(value: object) -> str | None:
    """``value`` when it is an absolute http or https URL with a host, else None."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an invalid IPv6 host
        return None
    if parts.scheme.lower() not in WEB_SCHEMES or not parts.hostname:
        return None
    return url

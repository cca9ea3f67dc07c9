"""The fetcher against a real HTTP server on 127.0.0.1: encodings and their bombs."""

from __future__ import annotations

import gzip
import time
import tracemalloc
import zlib
from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer

from newsmill_ingest.fetch import Fetcher, FetchError, FetchPolicy
from tests.support import TrickleServer, gzip_of_zeros, wait_for

LIMIT = 1_000_000


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    fetcher = Fetcher(FetchPolicy(user_agent="test", max_bytes=LIMIT, allow_private=True))
    yield fetcher
    fetcher.close()


def test_stacked_encodings_are_refused_before_any_decoding(
    fetcher: Fetcher, httpserver: HTTPServer
) -> None:
    # Given 800 MB of zeros gzipped twice: under 2 KB on the wire
    bomb = gzip.compress(gzip_of_zeros(800 * 2**20))
    assert len(bomb) < 2048
    httpserver.expect_request("/bomb").respond_with_data(
        bomb, headers={"Content-Encoding": "gzip, gzip"}
    )

    tracemalloc.start()
    try:
        with pytest.raises(FetchError, match="stacked Content-Encoding 'gzip, gzip' refused"):
            fetcher.get(httpserver.url_for("/bomb"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # (other threads of this process count too; httpx decoding both layers takes 848 MB)
    assert peak < 16 * 2**20, f"peak {peak / 2**20:.1f} MB"


def test_a_gzip_bomb_is_cut_at_the_limit_without_growing_past_it(
    fetcher: Fetcher, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/bomb").respond_with_data(
        gzip_of_zeros(200 * 2**20), headers={"Content-Encoding": "gzip"}
    )

    tracemalloc.start()
    try:
        with pytest.raises(FetchError, match=f"too large: more than {LIMIT} bytes"):
            fetcher.get(httpserver.url_for("/bomb"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # httpx's own decoding of the same response peaks near 150 MB (a 64 KB chunk inflates whole).
    assert peak < 16 * 2**20, f"peak {peak / 2**20:.1f} MB"


@pytest.mark.parametrize(
    ("encoding", "pack"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as some servers send
        ("identity", lambda data: data),
    ],
)
def test_one_layer_of_gzip_or_deflate_is_decoded(
    fetcher: Fetcher, httpserver: HTTPServer, encoding: str, pack: object
) -> None:
    text = b"<rss><channel><title>Feed</title></channel></rss>" * 100
    assert callable(pack)
    httpserver.expect_request("/feed").respond_with_data(
        pack(text), headers={"Content-Encoding": encoding}
    )

    response = fetcher.get(httpserver.url_for("/feed"))

    assert response.body == text
    assert httpserver.log[0][0].headers["Accept-Encoding"] == "gzip, deflate"


def test_other_encodings_and_trailing_junk_are_bounded(
    fetcher: Fetcher, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/br").respond_with_data(b"x", headers={"Content-Encoding": "br"})
    junk = gzip.compress(b"short") + b"\0" * (LIMIT + 10)
    httpserver.expect_request("/junk").respond_with_data(junk, headers={"Content-Encoding": "gzip"})

    with pytest.raises(FetchError, match="unsupported Content-Encoding 'br'"):
        fetcher.get(httpserver.url_for("/br"))
    with pytest.raises(FetchError, match="too large"):
        fetcher.get(httpserver.url_for("/junk"))


def test_a_server_trickling_headers_is_cut_at_the_whole_fetch_deadline() -> None:
    # Given a server sending one header line every 1.5 s, each within the read timeout
    server = TrickleServer(every=1.5)
    policy = FetchPolicy(
        user_agent="test", read_timeout_s=20, total_timeout_s=3, allow_private=True
    )
    fetcher = Fetcher(policy)
    started = time.monotonic()
    try:
        with pytest.raises(FetchError, match="too slow: no complete response after 3s"):
            fetcher.get(server.url)
        elapsed = time.monotonic() - started
        # Then the fetch ends at its deadline and the connection is closed with it
        assert 3 <= elapsed < 4, elapsed
        wait_for(lambda: server.stays, 5, what="the server to see the client go")
        assert server.stays[0] < 4, server.stays
    finally:
        fetcher.close()
        server.close()


def test_a_slow_name_lookup_counts_against_the_deadline() -> None:
    def slow_resolver(host: str, port: int) -> list[str]:
        time.sleep(3)
        return ["127.0.0.1"]

    fetcher = Fetcher(
        FetchPolicy(user_agent="test", total_timeout_s=1, allow_private=True), slow_resolver
    )
    started = time.monotonic()
    with pytest.raises(FetchError, match="too slow"):
        fetcher.get("http://slow.example/feed")
    assert time.monotonic() - started < 1.5
    fetcher.close()

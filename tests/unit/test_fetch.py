"""The fetcher's safety checks as pure logic: schemes and addresses."""

from __future__ import annotations

import pytest

from newsmill_ingest.fetch import (
    FetchError,
    Refused,
    check_scheme,
    checked_addresses,
    forbidden_reason,
)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("172.16.5.4", "private"),
        ("fd12::1", "private"),
        ("169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("100.100.100.200", "metadata"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("100.64.0.1", "globally routable"),
        ("::ffff:127.0.0.1", "loopback"),
    ],
)
def test_non_public_addresses_are_forbidden(address: str, reason: str) -> None:
    found = forbidden_reason(address)
    assert found is not None and reason in found


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert forbidden_reason(address) is None


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/feed",
        "file:///etc/passwd",
        "gopher://x/",
        "javascript:alert(1)",
        "//example.com/feed",
        "http:///nohost",
    ],
)
def test_only_absolute_http_urls_pass(url: str) -> None:
    with pytest.raises(Refused):
        check_scheme(url)


def test_http_and_https_pass() -> None:
    check_scheme("http://example.com/feed")
    check_scheme("HTTPS://example.com/feed")


def test_one_private_record_refuses_the_whole_name() -> None:
    def resolve(host: str, port: int) -> list[str]:
        return ["93.184.215.14", "10.0.0.7"]

    with pytest.raises(Refused, match=r"10\.0\.0\.7.*private"):
        checked_addresses("mixed.example", 80, allow_private=False, resolve=resolve)
    assert checked_addresses("mixed.example", 80, allow_private=True, resolve=resolve) == [
        "93.184.215.14",
        "10.0.0.7",
    ]


def test_a_name_without_addresses_is_an_error() -> None:
    with pytest.raises(FetchError, match="cannot resolve"):
        checked_addresses("void.example", 80, allow_private=False, resolve=lambda h, p: [])

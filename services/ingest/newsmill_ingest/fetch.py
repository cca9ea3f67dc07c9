"""Fetching over HTTP safely: the one way newsmill reaches out to the web.

Feeds and full-text pages are URLs chosen by users and by feed authors, so
every fetch is bounded and checked:

- only ``http`` and ``https``, on every redirect hop too;
- the host name is resolved by us, and the connection goes to an address we
  checked (no second lookup an attacker's DNS could answer differently):
  loopback, private, link-local, cloud-metadata and other non-global
  addresses are refused unless ``allow_private_addresses`` is set;
- redirects are followed by hand, at most ``feed_max_redirects`` of them;
- connect and read timeouts, plus an absolute deadline for the whole fetch
  (name lookup, connect, TLS, headers and body, redirects included): every
  blocking socket call waits at most until the deadline, so a server dripping
  one header line or one byte at a time cannot hold a poller past it;
- the body is streamed raw and its ``Content-Encoding`` (gzip or deflate,
  one layer only) undone here with ``feed_max_bytes`` as a running cap on
  what the decompressor may produce, so a bomb of a few hundred bytes never
  grows past the cap in memory;
- a clear User-Agent, and no proxy or credentials taken from the environment.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from newsmill_schema.settings import Settings

Resolver = Callable[[str, int], list[str]]
"""Host and port to the IP addresses they resolve to."""

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254")
)
"""Cloud instance-metadata endpoints (AWS, ECS, Alibaba, AWS IPv6)."""

ALLOWED_SCHEMES = ("http", "https")
_REDIRECTS = (301, 302, 303, 307, 308)
ACCEPT_ENCODING = "gzip, deflate"
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


class FetchError(Exception):
    """A fetch that gave no usable response; ``reason`` says why in one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Refused(FetchError):
    """A URL newsmill will not fetch: wrong scheme or a forbidden address."""


@dataclass(frozen=True)
class FetchPolicy:
    """The bounds every fetch respects; taken from settings."""

    user_agent: str
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 20.0
    total_timeout_s: float = 30.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    allow_private: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchPolicy:
        return cls(
            user_agent=settings.feed_user_agent,
            connect_timeout_s=settings.feed_connect_timeout_s,
            read_timeout_s=settings.feed_read_timeout_s,
            total_timeout_s=settings.feed_total_timeout_s,
            max_bytes=settings.feed_max_bytes,
            max_redirects=settings.feed_max_redirects,
            allow_private=settings.allow_private_addresses,
        )


@dataclass(frozen=True)
class Fetched:
    """A response: final URL, status, headers (lower-case names) and the whole body."""

    url: str
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed_s: float


def forbidden_reason(address: str) -> str | None:
    """Why an IP address may not be fetched from, or None when it is a public address."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    for kind in ("loopback", "unspecified", "link_local", "multicast", "private", "reserved"):
        if getattr(ip, f"is_{kind}"):
            return f"a {kind.replace('_', '-')} address"
    if not ip.is_global:
        return "not a globally routable address"
    return None


def check_scheme(url: str) -> None:
    """Refuse anything but absolute http(s) URLs."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise Refused(f"only http and https URLs are fetched, not {parts.scheme or 'no scheme'!r}")
    if not parts.hostname:
        raise Refused(f"URL has no host: {url}")


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for ``host``."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchError(f"cannot resolve {host}: {exc.strerror or exc}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def checked_addresses(host: str, port: int, allow_private: bool, resolve: Resolver) -> list[str]:
    """The addresses to connect to for ``host``; refused if ANY of them is forbidden.

    Refusing on any (not all) forbidden address stops a name that mixes a
    public and a private record from reaching the private one on a retry.
    """
    addresses = resolve(host, port)
    if not addresses:
        raise FetchError(f"cannot resolve {host}: no addresses")
    if allow_private:
        return addresses
    for address in addresses:
        reason = forbidden_reason(address)
        if reason:
            raise Refused(f"{host} resolves to {address}, {reason} (refused)")
    return addresses


_fetch = threading.local()
"""The deadline (``time.monotonic()``) of the fetch running on this thread, if any."""


def _time_left(kind: type[httpcore.TimeoutException]) -> float | None:
    """Seconds until this thread's fetch deadline (None: no deadline); ``kind`` raised at it."""
    deadline: float | None = getattr(_fetch, "deadline", None)
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise kind("the whole-fetch deadline has passed")
    return left


def _bounded(timeout: float | None, kind: type[httpcore.TimeoutException]) -> float | None:
    """``timeout``, shortened so that a blocking call returns by the fetch's deadline."""
    left = _time_left(kind)
    if left is None:
        return timeout
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read, write and TLS handshake ends by the fetch's deadline.

    The deadline is read per call from the calling thread, so a pooled
    connection reused by another fetch obeys that fetch's deadline.
    """

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self.inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self.inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self.inner.start_tls(ssl_context, server_hostname, bounded))

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)


def _resolve_in_time(resolve: Resolver, host: str, port: int) -> list[str]:
    """``resolve``, given up at the fetch's deadline: the feed author runs the DNS server too.

    The lookup goes on in its own thread until the system resolver's own
    timeout ends it; nothing waits for it.
    """
    left = _time_left(httpcore.ConnectTimeout)
    if left is None:
        return resolve(host, port)
    found: Future[list[str]] = Future()

    def lookup() -> None:
        try:
            found.set_result(resolve(host, port))
        except BaseException as exc:  # handed to the waiting fetch
            found.set_exception(exc)

    threading.Thread(target=lookup, name="resolve", daemon=True).start()
    try:
        return found.result(timeout=left)
    except FutureTimeout:
        raise httpcore.ConnectTimeout(f"no address for {host} before the deadline") from None


class _GuardedBackend(httpcore.SyncBackend):
    """Connects only to addresses that passed ``checked_addresses``, by the fetch's deadline."""

    def __init__(self, allow_private: bool, resolve: Resolver) -> None:
        self.allow_private = allow_private
        self.resolve = resolve

    def _resolve(self, host: str, port: int) -> list[str]:
        return _resolve_in_time(self.resolve, host, port)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = checked_addresses(host, port, self.allow_private, self._resolve)
        last: Exception | None = None
        for address in addresses:
            bounded = _bounded(timeout, httpcore.ConnectTimeout)
            try:
                stream = super().connect_tcp(address, port, bounded, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
                continue
            return _DeadlineStream(stream)
        assert last is not None
        raise last


def guarded_transport(
    allow_private: bool, resolve: Resolver = system_resolver
) -> httpx.HTTPTransport:
    """An httpx transport whose every TCP connection goes through the address check."""
    transport = httpx.HTTPTransport(trust_env=False)
    # httpx does not expose the network backend; its pool is rebuilt around ours.
    ssl_context = httpx.create_ssl_context(trust_env=False)
    transport._pool = httpcore.ConnectionPool(
        ssl_context=ssl_context,
        max_connections=20,
        max_keepalive_connections=10,
        network_backend=_GuardedBackend(allow_private, resolve),
    )
    return transport


class Fetcher:
    """GETs URLs under a FetchPolicy. Thread-safe; one per process is enough."""

    def __init__(self, policy: FetchPolicy, resolve: Resolver = system_resolver) -> None:
        self.policy = policy
        self.client = httpx.Client(
            transport=guarded_transport(policy.allow_private, resolve),
            timeout=httpx.Timeout(
                connect=policy.connect_timeout_s,
                read=policy.read_timeout_s,
                write=policy.read_timeout_s,
                pool=policy.connect_timeout_s,
            ),
            headers={"User-Agent": policy.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
            follow_redirects=False,
            trust_env=False,
        )

    def get(self, url: str, headers: Mapping[str, str] | None = None) -> Fetched:
        """GET ``url``, following redirects by hand; any status is returned, never raised.

        Everything, redirects included, ends by ``total_timeout_s`` after the call.
        """
        started = time.monotonic()
        deadline = started + self.policy.total_timeout_s
        outer = getattr(_fetch, "deadline", None)
        _fetch.deadline = deadline
        try:
            for _hop in range(self.policy.max_redirects + 1):
                check_scheme(url)
                status, response_headers, body, location = self._once(url, headers or {}, deadline)
                if location is None:
                    elapsed = time.monotonic() - started
                    return Fetched(url, status, response_headers, body, elapsed)
                url = location
        finally:
            _fetch.deadline = outer
        raise FetchError(f"more than {self.policy.max_redirects} redirects")

    def _once(
        self, url: str, headers: Mapping[str, str], deadline: float
    ) -> tuple[int, dict[str, str], bytes, str | None]:
        # Waiting for a pooled connection counts against the deadline too.
        pool = min(self.policy.connect_timeout_s, max(deadline - time.monotonic(), 0.001))
        timeout = self.client.timeout
        timeout = httpx.Timeout(
            connect=timeout.connect, read=timeout.read, write=timeout.write, pool=pool
        )
        try:
            with self.client.stream("GET", url, headers=dict(headers), timeout=timeout) as response:
                location = response.headers.get("location")
                if response.status_code in _REDIRECTS and location:
                    return response.status_code, {}, b"", urljoin(url, location)
                body = self._read(response, deadline)
                return response.status_code, _lower(response.headers), body, None
        except httpx.TimeoutException as exc:
            if time.monotonic() >= deadline:
                raise FetchError(self._too_slow()) from None
            raise FetchError(f"timed out ({_kind(exc)}) fetching {url}") from None
        except httpx.HTTPError as exc:
            raise FetchError(f"{_kind(exc)} fetching {url}: {exc}") from None

    def _read(self, response: httpx.Response, deadline: float) -> bytes:
        limit = self.policy.max_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise FetchError(f"response too large: {declared} bytes declared > limit {limit}")
        decoder = BodyDecoder(response.headers.get("content-encoding", ""), limit)
        body = bytearray()
        # Raw bytes: httpx would decode every layer of Content-Encoding, unbounded, before
        # a size check could see the result.
        for chunk in response.iter_raw():
            body += decoder.decode(chunk)
            if time.monotonic() > deadline:
                raise FetchError(self._too_slow())
        body += decoder.flush()
        return bytes(body)

    def _too_slow(self) -> str:
        return f"too slow: no complete response after {self.policy.total_timeout_s:g}s"

    def close(self) -> None:
        self.client.close()


class BodyDecoder:
    """A body's Content-Encoding undone as it arrives, never producing more than ``limit`` bytes.

    One layer of gzip or deflate, or none. Stacked encodings (``gzip, gzip``)
    are refused: no feed needs them and each layer multiplies a bomb's
    expansion (826 bytes of ``gzip, gzip`` make 848 MB).
    """

    def __init__(self, content_encoding: str, limit: int) -> None:
        self.limit = limit
        self.size = 0
        codings = [c.strip().lower() for c in content_encoding.split(",")]
        codings = [c for c in codings if c and c != "identity"]
        if len(codings) > 1:
            raise FetchError(
                f"stacked Content-Encoding {content_encoding!r} refused (possible decompression bomb)"
            )
        self.coding = codings[0] if codings else None
        if self.coding is not None and self.coding not in _WBITS:
            raise FetchError(f"unsupported Content-Encoding {self.coding!r}")
        self._inflater = zlib.decompressobj(_WBITS[self.coding]) if self.coding else None
        self._started = False

    def decode(self, chunk: bytes) -> bytes:
        """The decoded bytes of the next raw chunk; FetchError past the limit."""
        if self._inflater is None:
            return self._counted(chunk)
        if self._inflater.eof:
            # Bytes after the end of the compressed stream: bounded like the body, then dropped.
            self._counted(chunk)
            return b""
        try:
            # At most one byte more than the room left: enough to know the limit is passed.
            out = self._inflater.decompress(chunk, self.limit - self.size + 1)
        except zlib.error as exc:
            if self.coding == "deflate" and not self._started:
                # Some servers send raw deflate without the zlib header it should have.
                self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
                self._started = True
                return self.decode(chunk)
            raise FetchError(f"undecodable {self.coding} body: {exc}") from None
        self._started = True
        return self._counted(out)

    def flush(self) -> bytes:
        """What the decompressor still holds at the end of the body."""
        return self._counted(self._inflater.flush()) if self._inflater is not None else b""

    def _counted(self, out: bytes) -> bytes:
        self.size += len(out)
        if self.size > self.limit:
            raise FetchError(f"response too large: more than {self.limit} bytes")
        return out


def _lower(headers: httpx.Headers) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _kind(exc: Exception) -> str:
    """``ReadTimeout`` → ``read timeout``: the exception class as words."""
    name = exc.__class__.__name__
    words = "".join(f" {c.lower()}" if c.isupper() else c for c in name).strip()
    return words

"""The fetch guard as httpx transports, and the I/O under them.

- :class:`AsyncGuardTransport` / :class:`GuardTransport` wrap an inner transport: every
  request is judged (:func:`~unerased.net._judge.judge`) before it is handed on. Without
  a proxy the guard resolves the host itself, judges every address, and *pins* the
  judged addresses: the inner transport's network backend connects only to pinned
  addresses and never resolves (no second resolution, so DNS rebinding cannot slip in
  another address). Behind a proxy nothing is resolved locally: the name goes to the
  proxy. Every answer's body is capped (streamed: over the cap the read fails with
  :class:`BodyTooLarge`).
- :func:`pool_transport` / :func:`sync_pool_transport`: httpcore connection pools (the
  public ``network_backend`` seam) speaking directly (pinned backend) or through an
  HTTP(S) or SOCKS5 proxy.

httpcore's SOCKS5 client sends the host *name* to the proxy (socksio encodes anything
that is not an IP literal as a domain name), for ``socks5://`` and ``socks5h://`` alike:
with httpx neither resolves locally.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpcore
import httpx

from ._errors import BodyTooLarge, Refused
from ._judge import Policy, Target, judge, parse_target

SERVICE_EXTENSION = "unerased.service_origins"
"""Request extension: the origins of the watched service (an iterable of URLs or
origins) whose requests may go where the service is, loopback included."""

AsyncResolver = Callable[[str, int], Awaitable[Sequence[str]]]
SyncResolver = Callable[[str, int], Sequence[str]]

_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)

_EXCEPTIONS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextmanager
def _mapped() -> Iterator[None]:
    """httpcore's exceptions as httpx's (what callers of an httpx client expect)."""
    try:
        yield
    except Exception as e:
        for core, mapped in _EXCEPTIONS:
            if isinstance(e, core):
                raise mapped(str(e) or type(e).__name__) from e
        raise


# --- pins and the pinned network backends --------------------------------------------


class Pins:
    """The addresses the guard judged for each ``(host, port)``: the only ones the
    pinned backend may connect to. One per transport."""

    def __init__(self) -> None:
        self._pins: dict[tuple[str, int], tuple[str, ...]] = {}

    def set(self, host: str, port: int, addresses: Sequence[str]) -> None:
        self._pins[(host.lower(), port)] = tuple(addresses)

    def get(self, host: str, port: int) -> tuple[str, ...]:
        return self._pins.get((host.lower(), port), ())


def _pinned(pins: Pins, host: str, port: int) -> tuple[str, ...]:
    """The addresses a pinned backend may connect to for ``(host, port)``; a
    ConnectError when the guard judged none."""
    addresses = pins.get(host, port)
    if not addresses:
        raise httpcore.ConnectError(f"{host}:{port} was not judged by the fetch guard")
    return addresses


class _PinnedAsyncBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, pins: Pins, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.pins = pins
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self, host: str, port: int, timeout: float | None = None,
        local_address: str | None = None, socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        last: Exception | None = None
        for addr in _pinned(self.pins, host, port):
            try:
                return await self.inner.connect_tcp(addr, port, timeout, local_address,
                                                    socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                last = e
        assert last is not None
        raise last

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not used")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class _PinnedSyncBackend(httpcore.NetworkBackend):
    def __init__(self, pins: Pins, inner: httpcore.NetworkBackend | None = None) -> None:
        self.pins = pins
        self.inner = inner or httpcore.SyncBackend()

    def connect_tcp(
        self, host: str, port: int, timeout: float | None = None,
        local_address: str | None = None, socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        last: Exception | None = None
        for addr in _pinned(self.pins, host, port):
            try:
                return self.inner.connect_tcp(addr, port, timeout, local_address,
                                              socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                last = e
        assert last is not None
        raise last

    def connect_unix_socket(
        self, path: str, timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not used")


# --- resolving -----------------------------------------------------------------------


def _addresses(infos: Iterable[tuple[Any, Any, Any, Any, tuple[Any, ...]]]) -> list[str]:
    out: list[str] = []
    for info in infos:
        addr = str(info[4][0])
        if addr not in out:
            out.append(addr)
    return out


async def system_resolve(host: str, port: int) -> list[str]:
    """Every address the OS resolver gives for ``host`` (TCP)."""
    return _addresses(await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM))


def system_resolve_sync(host: str, port: int) -> list[str]:
    return _addresses(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))


# --- the httpcore pools as httpx transports ------------------------------------------


def _core_request(request: httpx.Request, stream: Any) -> httpcore.Request:
    return httpcore.Request(
        method=request.method,
        url=httpcore.URL(scheme=request.url.raw_scheme, host=request.url.raw_host,
                         port=request.url.port, target=request.url.raw_path),
        headers=request.headers.raw,
        content=stream,
        extensions={k: v for k, v in request.extensions.items() if k != SERVICE_EXTENSION},
    )


class _AsyncCoreStream(httpx.AsyncByteStream):
    def __init__(self, stream: Any) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _mapped():
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        if hasattr(self._stream, "aclose"):
            with _mapped():
                await self._stream.aclose()


class _SyncCoreStream(httpx.SyncByteStream):
    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        with _mapped():
            yield from self._stream

    def close(self) -> None:
        if hasattr(self._stream, "close"):
            with _mapped():
                self._stream.close()


class _AsyncPool(httpx.AsyncBaseTransport):
    def __init__(self, pool: Any) -> None:
        self.pool = pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        with _mapped():
            resp = await self.pool.handle_async_request(_core_request(request, request.stream))
        return httpx.Response(status_code=resp.status, headers=resp.headers,
                              stream=_AsyncCoreStream(resp.stream), extensions=resp.extensions)

    async def aclose(self) -> None:
        await self.pool.aclose()


class _SyncPool(httpx.BaseTransport):
    def __init__(self, pool: Any) -> None:
        self.pool = pool

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        with _mapped():
            resp = self.pool.handle_request(_core_request(request, request.stream))
        return httpx.Response(status_code=resp.status, headers=resp.headers,
                              stream=_SyncCoreStream(resp.stream), extensions=resp.extensions)

    def close(self) -> None:
        self.pool.close()


def _pool_args(proxy: str | None, ssl_context: ssl.SSLContext) -> tuple[str, dict[str, Any]]:
    """Which httpcore pool class (``pool``, ``http_proxy``, ``socks``) and its arguments."""
    common: dict[str, Any] = {
        "ssl_context": ssl_context,
        "max_connections": _LIMITS.max_connections,
        "max_keepalive_connections": _LIMITS.max_keepalive_connections,
        "keepalive_expiry": _LIMITS.keepalive_expiry,
    }
    if proxy is None:
        return "pool", common
    p = httpx.Proxy(url=proxy)
    url = httpcore.URL(scheme=p.url.raw_scheme, host=p.url.raw_host, port=p.url.port,
                       target=p.url.raw_path)
    if p.url.scheme in ("http", "https"):
        return "http_proxy", {**common, "proxy_url": url, "proxy_auth": p.raw_auth,
                              "proxy_headers": p.headers.raw,
                              "proxy_ssl_context": p.ssl_context}
    return "socks", {**common, "proxy_url": url, "proxy_auth": p.raw_auth}


def pool_transport(
    proxy: str | None, pins: Pins, ssl_context: ssl.SSLContext
) -> httpx.AsyncBaseTransport:
    """Direct (connecting only to pinned addresses) or through ``proxy``."""
    kind, args = _pool_args(proxy, ssl_context)
    if kind == "pool":
        return _AsyncPool(httpcore.AsyncConnectionPool(
            **args, network_backend=_PinnedAsyncBackend(pins)))
    if kind == "http_proxy":
        return _AsyncPool(httpcore.AsyncHTTPProxy(**args))
    return _AsyncPool(httpcore.AsyncSOCKSProxy(**args))


def sync_pool_transport(
    proxy: str | None, pins: Pins, ssl_context: ssl.SSLContext
) -> httpx.BaseTransport:
    kind, args = _pool_args(proxy, ssl_context)
    if kind == "pool":
        return _SyncPool(httpcore.ConnectionPool(
            **args, network_backend=_PinnedSyncBackend(pins)))
    if kind == "http_proxy":
        return _SyncPool(httpcore.HTTPProxy(**args))
    return _SyncPool(httpcore.SOCKSProxy(**args))


# --- the body cap --------------------------------------------------------------------


def _declared_length(response: httpx.Response) -> int | None:
    v = response.headers.get("content-length", "").strip()
    return int(v) if v.isdigit() and len(v) < 20 else None


class _Meter:
    """Counts one body's bytes against the cap (the declared length first)."""

    def __init__(self, limit: int, request: httpx.Request, declared: int | None) -> None:
        self.limit, self.request, self.declared = limit, request, declared
        self.seen = 0

    def start(self) -> None:
        if self.declared is not None and self.declared > self.limit:
            raise BodyTooLarge(self.limit, request=self.request)
        self.seen = 0

    def count(self, part: bytes) -> None:
        self.seen += len(part)
        if self.seen > self.limit:
            raise BodyTooLarge(self.limit, request=self.request)


def _meter(response: httpx.Response, limit: int, request: httpx.Request) -> _Meter:
    return _Meter(limit, request, _declared_length(response))


class _CappedAsync(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, meter: _Meter) -> None:
        self.inner, self.meter = inner, meter

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self.meter.start()
        async for part in self.inner:
            self.meter.count(part)
            yield part

    async def aclose(self) -> None:
        await self.inner.aclose()


class _CappedSync(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, meter: _Meter) -> None:
        self.inner, self.meter = inner, meter

    def __iter__(self) -> Iterator[bytes]:
        self.meter.start()
        for part in self.inner:
            self.meter.count(part)
            yield part

    def close(self) -> None:
        self.inner.close()


# --- the guard -----------------------------------------------------------------------


def _policy_for(policy: Policy, request: httpx.Request) -> Policy:
    services = request.extensions.get(SERVICE_EXTENSION)
    if not services:
        return policy
    return policy.serving(str(s) for s in services)


def _timeout(request: httpx.Request) -> float | None:
    t = request.extensions.get("timeout")
    v = t.get("connect") if isinstance(t, dict) else None
    return float(v) if isinstance(v, int | float) else None


@dataclass(frozen=True, slots=True)
class _Judged:
    """A request whose URL passed the first judgement (scheme, literal, name, nothing
    resolved): the policy that applies to it and the host and port it names."""

    request: httpx.Request
    url: str
    policy: Policy
    target: Target


def _judge_first(policy: Policy, request: httpx.Request) -> _Judged:
    """The guard's first step, before any I/O: Refused unless the URL may be fetched
    as far as its scheme, literal and name tell."""
    url = str(request.url)
    policy = _policy_for(policy, request)
    why = judge(url, policy, None)
    if why is not None:
        raise Refused(why, request=request)
    target = parse_target(url)
    assert not isinstance(target, str)  # judge() parsed it
    return _Judged(request, url, policy, target)


def _unresolvable(judged: _Judged, e: OSError) -> httpx.ConnectError:
    return httpx.ConnectError(f"cannot resolve {judged.target.host}: {e.strerror or e}",
                              request=judged.request)


def _judge_and_pin(judged: _Judged, addresses: list[str], pins: Pins) -> None:
    """The guard's step after resolving: every address judged (Refused when one may
    not be reached), then pinned: the only addresses the connection may go to."""
    why = judge(judged.url, judged.policy, addresses)
    if why is not None:
        raise Refused(why, request=judged.request)
    pins.set(judged.target.host, judged.target.port, addresses)


class AsyncGuardTransport(httpx.AsyncBaseTransport):
    """Judges every request before handing it to ``inner``.

    ``resolve``: when given (no proxy), the host is resolved by it, every address judged
    and the judged addresses pinned in ``pins`` (which the inner transport's backend
    connects to); when None (behind a proxy) nothing is resolved locally and only the
    URL's literal and name are judged. ``max_body``: the body cap (None: none).
    """

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        policy: Policy,
        *,
        resolve: AsyncResolver | None,
        pins: Pins | None = None,
        max_body: int | None = None,
    ) -> None:
        self.inner = inner
        self.policy = policy
        self.resolve = resolve
        self.pins = pins if pins is not None else Pins()
        self.max_body = max_body

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        judged = _judge_first(self.policy, request)
        if self.resolve is not None:
            host, port = judged.target.host, judged.target.port
            try:
                with anyio.fail_after(_timeout(request)):
                    addresses = list(await self.resolve(host, port))
            except TimeoutError:
                raise httpx.ConnectTimeout(f"resolving {host} timed out",
                                           request=request) from None
            except OSError as e:
                raise _unresolvable(judged, e) from None
            _judge_and_pin(judged, addresses, self.pins)
        response = await self.inner.handle_async_request(request)
        if self.max_body is not None:
            assert isinstance(response.stream, httpx.AsyncByteStream)
            response.stream = _CappedAsync(response.stream,
                                           _meter(response, self.max_body, request))
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class GuardTransport(httpx.BaseTransport):
    """The synchronous twin of :class:`AsyncGuardTransport` (for the timestamp client):
    the same decisions, only the I/O differs."""

    def __init__(
        self,
        inner: httpx.BaseTransport,
        policy: Policy,
        *,
        resolve: SyncResolver | None,
        pins: Pins | None = None,
        max_body: int | None = None,
    ) -> None:
        self.inner = inner
        self.policy = policy
        self.resolve = resolve
        self.pins = pins if pins is not None else Pins()
        self.max_body = max_body

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        judged = _judge_first(self.policy, request)
        if self.resolve is not None:
            try:
                addresses = list(self.resolve(judged.target.host, judged.target.port))
            except OSError as e:
                raise _unresolvable(judged, e) from None
            _judge_and_pin(judged, addresses, self.pins)
        response = self.inner.handle_request(request)
        if self.max_body is not None:
            assert isinstance(response.stream, httpx.SyncByteStream)
            response.stream = _CappedSync(response.stream,
                                          _meter(response, self.max_body, request))
        return response

    def close(self) -> None:
        self.inner.close()

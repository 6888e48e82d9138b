"""WebSocket connections behind the same fetch guard as HTTP (``docs/network.md``).

:func:`ws_connect` judges a ``ws:``/``wss:`` URL exactly as the guard judges the
``http:``/``https:`` URL of the same origin (:func:`~unerased.net.judge`, the allow-list,
the watched service's own origins), then connects:

- **through the configured proxy** when there is one (``websockets.connect(...,
  proxy=URL)``; a ``socks5://`` proxy is used as ``socks5h://`` so the host *name* goes
  to the proxy and nothing is resolved locally, as with httpx). A dead proxy is an
  error: never a direct connection instead;
- **directly** otherwise, with ``proxy=None`` said explicitly (websockets would read
  environment proxies by default): the host is resolved here, every address judged,
  and the socket goes to a judged address (the "pinned" address, as for HTTP).

Redirects are not followed (a 3xx handshake answer is an error), every message is
capped (``max_size``), the environment is ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidURI
from websockets.uri import parse_uri

from ._client import USER_AGENT, NetSettings
from ._errors import Refused
from ._judge import judge
from ._transport import AsyncResolver, system_resolve

DEFAULT_MAX_MESSAGE = 4 * 1024 * 1024
"""The message cap (bytes) when none is given: a firehose frame is at most ~2 MiB."""
WS_OPEN_TIMEOUT = 15.0
WS_CLOSE_TIMEOUT = 2.0
"""Seconds a clean close waits for the other side before dropping the connection."""

_HTTP_SCHEME = {"ws": "http", "wss": "https"}


class _NoRedirect(connect):
    """``websockets.connect`` that never follows a redirect: a redirect could name any
    host, and under a proxy it would not be judged again."""

    def process_redirect(self, exc: Exception) -> Exception | str:
        return exc


def http_equivalent(url: str) -> str:
    """The ``http(s)`` URL the guard judges for a ``ws(s)`` URL (same host, port,
    path); a non-WebSocket URL is returned as it is (and refused by the guard)."""
    scheme, sep, rest = url.partition("://")
    mapped = _HTTP_SCHEME.get(scheme.lower())
    return f"{mapped}://{rest}" if sep and mapped else url


def ws_proxy(proxy: str) -> str:
    """The proxy URL handed to websockets: ``socks5://`` becomes ``socks5h://`` (the
    name is resolved by the proxy, never here)."""
    if proxy.lower().startswith("socks5://"):
        return "socks5h://" + proxy[len("socks5://"):]
    return proxy


async def ws_connect(
    url: str,
    net: NetSettings,
    *,
    services: Iterable[str] = (),
    headers: Mapping[str, str] | None = None,
    max_size: int = DEFAULT_MAX_MESSAGE,
    open_timeout: float = WS_OPEN_TIMEOUT,
    resolve: AsyncResolver | None = None,
) -> ClientConnection:
    """An open WebSocket to ``url`` through ``net``'s proxy (or explicitly none),
    judged by the fetch guard; ``services``: the streamed service's own origins (as
    ``http(s)``/``ws(s)`` URLs) allowed like a watched service's. :class:`Refused` when
    the guard refuses (nothing sent); OSError or a websockets exception when the
    connection fails (a dead proxy included: never a direct connection instead)."""
    policy = net.policy.serving(http_equivalent(s) for s in services)
    target = http_equivalent(url)
    if target == url:
        raise Refused(f"refused: not a ws(s) URL ({url[:200]!r})")
    why = judge(target, policy)
    if why is not None:
        raise Refused(why)
    try:
        wsuri = parse_uri(url)
    except InvalidURI as e:
        raise Refused(f"unparsable URL: {url[:200]!r}: {e}") from None
    hdrs = dict(headers or {})
    cap = max(1, int(max_size))

    async def open_(proxy: str | None, host: str | None = None) -> ClientConnection:
        extra: dict[str, Any] = {} if host is None else {"host": host, "port": wsuri.port}
        return await _NoRedirect(url, proxy=proxy, additional_headers=hdrs,
                                 user_agent_header=USER_AGENT, max_size=cap,
                                 open_timeout=open_timeout, close_timeout=WS_CLOSE_TIMEOUT,
                                 compression=None, **extra)

    if net.proxy is not None:
        return await open_(ws_proxy(net.proxy))
    addresses = list(await (resolve or system_resolve)(wsuri.host, wsuri.port))
    why = judge(target, policy, addresses)
    if why is not None:
        raise Refused(why)
    last: Exception | None = None
    for addr in addresses:
        try:
            return await open_(None, addr)
        except OSError as e:
            last = e
    assert last is not None
    raise last


__all__ = ["DEFAULT_MAX_MESSAGE", "WS_OPEN_TIMEOUT", "http_equivalent", "ws_connect", "ws_proxy"]

"""The one factory for outbound HTTP clients."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from ._errors import Refused
from ._judge import Policy, origin_of, parse_allow_list
from ._proxy import NO_PROXY, check_proxy, required_proxy
from ._transport import (
    AsyncGuardTransport,
    AsyncResolver,
    GuardTransport,
    Pins,
    SyncResolver,
    pool_transport,
    sync_pool_transport,
    system_resolve,
    system_resolve_sync,
)

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=15.0)
DEFAULT_MAX_BODY = 100 * 1024 * 1024
"""The body cap (bytes) when none is given: 100 MiB, room for a long video."""
USER_AGENT = "unerased (archiving public posts; +https://github.com/)"
ALLOW_ENV = "UNERASED_ALLOW_HOSTS"


@dataclass(frozen=True, slots=True)
class NetSettings:
    """How clients are made: the proxy (None: direct), the allow-list, timeouts, the
    body cap. :func:`settings` checks everything once (UsageError on a bad value)."""

    proxy: str | None = None
    policy: Policy = field(default_factory=Policy)
    timeout: httpx.Timeout = field(default_factory=lambda: DEFAULT_TIMEOUT)
    max_body: int = DEFAULT_MAX_BODY
    require_proxy: bool = False
    """Tor-only mode: no client, no WebSocket is made without a ``socks5h://`` proxy."""

    def check_route(self) -> None:
        """Refused (nothing sent) when Tor-only mode has no proxy to send through."""
        if self.require_proxy and self.proxy is None:
            raise Refused(NO_PROXY)


def settings(
    *,
    proxy: str | None = None,
    env: Mapping[str, str] | None = None,
    services: Iterable[str] = (),
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    max_body: int = DEFAULT_MAX_BODY,
    require_proxy: bool = False,
) -> NetSettings:
    """Checked settings: ``proxy`` (http, https, socks5, socks5h; UsageError otherwise;
    under ``require_proxy``, Tor-only mode, a ``socks5h://`` one must be given:
    :func:`~unerased.net.required_proxy`),
    the allow-list from ``env[UNERASED_ALLOW_HOSTS]`` (origins and CIDR ranges), and
    ``services``: origins always allowed for these clients (a configured service such
    as a timestamp authority)."""
    checked = check_proxy(proxy) if proxy else None
    if require_proxy:
        checked = required_proxy(checked)
    origins, networks = parse_allow_list((env or {}).get(ALLOW_ENV))
    service_origins = frozenset(o for o in (origin_of(s) for s in services) if o is not None)
    policy = Policy(allow_origins=origins, allow_networks=networks,
                    service_origins=service_origins, proxied=checked is not None)
    return NetSettings(checked, policy, timeout, max(1, int(max_body)), require_proxy)


def _client_options(net: NetSettings) -> dict[str, Any]:
    """What every client is made with, sync or async: the environment ignored, no
    redirect followed, the timeouts, the user agent."""
    return {"trust_env": False, "follow_redirects": False, "timeout": net.timeout,
            "headers": {"user-agent": USER_AGENT}}


def async_client(
    net: NetSettings, *, resolve: AsyncResolver | None = None
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` behind the fetch guard: environment ignored
    (``trust_env=False``: no environment proxy, no ``.netrc``), redirects not followed
    (the caller follows them hop by hop), the proxy explicit, bodies capped.
    ``resolve`` replaces the system resolver (tests)."""
    net.check_route()
    pins = Pins()
    ssl_context = httpx.create_ssl_context(trust_env=False)
    inner = pool_transport(net.proxy, pins, ssl_context)
    guard = AsyncGuardTransport(
        inner, net.policy, pins=pins, max_body=net.max_body,
        resolve=None if net.proxy else (resolve or system_resolve))
    return httpx.AsyncClient(transport=guard, **_client_options(net))


def sync_client(net: NetSettings, *, resolve: SyncResolver | None = None) -> httpx.Client:
    """The synchronous twin of :func:`async_client`."""
    net.check_route()
    pins = Pins()
    ssl_context = httpx.create_ssl_context(trust_env=False)
    inner = sync_pool_transport(net.proxy, pins, ssl_context)
    guard = GuardTransport(
        inner, net.policy, pins=pins, max_body=net.max_body,
        resolve=None if net.proxy else (resolve or system_resolve_sync))
    return httpx.Client(transport=guard, **_client_options(net))


def client_factory(
    *,
    proxy: str | None = None,
    env: Mapping[str, str] | None = None,
    resolve: AsyncResolver | None = None,
    max_body: int = DEFAULT_MAX_BODY,
    require_proxy: bool = False,
) -> Callable[[], httpx.AsyncClient]:
    """A ``() -> httpx.AsyncClient`` for the collector (one client per check). The proxy
    and the allow-list are checked now, so a bad value is a UsageError before anything
    runs."""
    net = settings(proxy=proxy, env=env, max_body=max_body, require_proxy=require_proxy)

    def make() -> httpx.AsyncClient:
        return async_client(net, resolve=resolve)

    return make

"""Every outbound HTTP request unerased makes goes through a client made here.

The clients ignore the environment (no environment proxy, no ``.netrc``) unless a proxy
value of ``env`` asks for the environment's proxy, never follow redirects themselves
(:class:`~unerased.sources.Recorder` follows them hop by hop, each hop judged and
recorded), cap every body, and put the **fetch guard** in front of every request: only
http(s), only public addresses — except the watched service's own origin and what the
allow-list (``UNERASED_ALLOW_HOSTS``) names. Without a proxy the guard resolves each
host itself and the connection goes to an address it judged; behind a proxy nothing is
resolved locally. WebSockets (:func:`ws_connect`) are judged and proxied the same way.
See ``docs/network.md``.
"""

from __future__ import annotations

from ._client import (
    ALLOW_ENV,
    DEFAULT_MAX_BODY,
    DEFAULT_TIMEOUT,
    USER_AGENT,
    NetSettings,
    async_client,
    client_factory,
    settings,
    sync_client,
)
from ._errors import BodyTooLarge, Refused
from ._judge import (
    METADATA_ADDRESSES,
    METADATA_NAMES,
    Policy,
    Target,
    ipv4_spelling,
    judge,
    judge_address,
    origin_of,
    parse_allow_list,
    parse_target,
)
from ._proxy import FROM_ENVIRONMENT, PROXY_SCHEMES, check_proxy, effective_proxy, environment_proxy
from ._transport import (
    SERVICE_EXTENSION,
    AsyncGuardTransport,
    GuardTransport,
    Pins,
    system_resolve,
    system_resolve_sync,
)
from ._ws import DEFAULT_MAX_MESSAGE, WS_OPEN_TIMEOUT, http_equivalent, ws_connect, ws_proxy

__all__ = [
    "ALLOW_ENV",
    "DEFAULT_MAX_BODY",
    "DEFAULT_MAX_MESSAGE",
    "DEFAULT_TIMEOUT",
    "FROM_ENVIRONMENT",
    "METADATA_ADDRESSES",
    "METADATA_NAMES",
    "PROXY_SCHEMES",
    "SERVICE_EXTENSION",
    "USER_AGENT",
    "WS_OPEN_TIMEOUT",
    "AsyncGuardTransport",
    "BodyTooLarge",
    "GuardTransport",
    "NetSettings",
    "Pins",
    "Policy",
    "Refused",
    "Target",
    "async_client",
    "check_proxy",
    "client_factory",
    "effective_proxy",
    "environment_proxy",
    "http_equivalent",
    "ipv4_spelling",
    "judge",
    "judge_address",
    "origin_of",
    "parse_allow_list",
    "parse_target",
    "settings",
    "sync_client",
    "system_resolve",
    "system_resolve_sync",
    "ws_connect",
    "ws_proxy",
]

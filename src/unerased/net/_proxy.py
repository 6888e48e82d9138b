"""Which proxy a request goes through, and whether a proxy URL can be used at all."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import httpx

from ..errors import UsageError, one_line

PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")

FROM_ENVIRONMENT = "env"
"""The proxy value that asks for the environment's proxy (``ALL_PROXY``, else
``HTTPS_PROXY``, else ``HTTP_PROXY``; lower-case names too). Environment proxies are
used only when asked for this way."""

_ENV_NAMES = ("ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY",
              "http_proxy")


def check_proxy(url: str, what: str = "--proxy") -> str:
    """``url`` when it is a proxy URL unerased can use (``http``, ``https``, ``socks5``,
    ``socks5h``, with a host and port); UsageError (one line) otherwise."""
    shown = _without_password(url)  # an error line must not carry the proxy's password
    try:
        u = httpx.URL(url.strip())
        host = u.host
    except (httpx.InvalidURL, ValueError, TypeError, UnicodeError) as e:
        raise UsageError(one_line(
            f"{what}: {shown!r} is not a URL ({_without_password(str(e))})")) from None
    if u.scheme not in PROXY_SCHEMES:
        raise UsageError(one_line(
            f"{what}: unsupported proxy scheme {u.scheme + ':' if u.scheme else 'none'} "
            f"in {shown!r} (use {', '.join(PROXY_SCHEMES)}; e.g. socks5h://127.0.0.1:9050)"))
    if not host:
        raise UsageError(one_line(f"{what}: {shown!r} names no proxy host"))
    if u.path not in ("", "/") or u.query or u.fragment:
        raise UsageError(one_line(f"{what}: {shown!r} must be scheme://host:port only"))
    if u.port is not None and not 0 < u.port < 65536:
        raise UsageError(one_line(f"{what}: port {u.port} out of range in {shown!r}"))
    return url.strip()


REQUIRED_SCHEME = "socks5h"
"""The one kind of proxy ``require_proxy`` (Tor-only mode) accepts: the proxy resolves
every name, nothing is looked up locally. ``socks5://`` is taken as ``socks5h://``."""

NO_PROXY = ("require_proxy is on but no proxy is configured: give one (--proxy, "
            "UNERASED_PROXY or `unerased config proxy socks5h://127.0.0.1:9050`); "
            "nothing was sent")


def required_proxy(url: str | None, what: str = "the proxy") -> str:
    """The proxy every request takes under ``require_proxy`` (Tor-only mode): ``url``
    as ``socks5h://`` (a ``socks5://`` one upgraded: the proxy resolves names, never
    this machine). UsageError (one line, nothing sent) when there is none, or when it
    is an HTTP(S) proxy."""
    if url is None or not url.strip():
        raise UsageError(NO_PROXY)
    scheme, _, rest = url.strip().partition("://")
    if scheme.lower() == "socks5":
        return f"{REQUIRED_SCHEME}://{rest}"
    if scheme.lower() != REQUIRED_SCHEME:
        raise UsageError(one_line(
            f"require_proxy: {what} {_without_password(url)!r} is not a SOCKS5 proxy; "
            f"Tor-only mode takes {REQUIRED_SCHEME}:// only (e.g. socks5h://127.0.0.1:9050)"))
    return url.strip()


def requires_proxy(config: Mapping[str, Any] | None) -> bool:
    """Whether the home's settings (``config["require_proxy"]``) turn Tor-only mode on."""
    return config is not None and config.get("require_proxy") is True


_USERINFO_PASSWORD = re.compile(r"(//[^/@:\s]*:)[^/@\s]*@")


def _without_password(text: str) -> str:
    """``text`` with the password of any ``scheme://user:password@`` in it shown as ``***``."""
    return _USERINFO_PASSWORD.sub(r"\1***@", text)


def environment_proxy(env: Mapping[str, str]) -> str | None:
    """The proxy the environment names (``ALL_PROXY``, ``HTTPS_PROXY``, ``HTTP_PROXY``,
    in that order), None when it names none. ``NO_PROXY`` is not honoured: every request
    goes through the one proxy (fail closed)."""
    for name in _ENV_NAMES:
        v = (env.get(name) or "").strip()
        if v:
            return check_proxy(v, name)
    return None


def effective_proxy(
    watch_proxy: str | None,
    command_proxy: str | None,
    env: Mapping[str, str],
    config: Mapping[str, Any] | None,
    *,
    require: bool = False,
) -> str | None:
    """The proxy for one watch (DESIGN.md): the watch's own proxy, else the command's
    ``--proxy``, else ``UNERASED_PROXY`` (in ``env``), else the home's ``proxy`` setting
    (``config["proxy"]``); None: direct. The value ``env`` at any of these levels asks
    for the environment's proxy (:func:`environment_proxy`); that it names none is a
    UsageError, never a silent direct connection. Every value is checked
    (:func:`check_proxy`).

    Under ``require`` (or ``config["require_proxy"]`` true: Tor-only mode) there must
    be one, and it is a ``socks5h://`` proxy (:func:`required_proxy`): this is the
    decision every network path takes its proxy from."""
    require = require or requires_proxy(config)
    found = _first_proxy(watch_proxy, command_proxy, env, config)
    if require:
        return required_proxy(found)
    return found


def _first_proxy(
    watch_proxy: str | None,
    command_proxy: str | None,
    env: Mapping[str, str],
    config: Mapping[str, Any] | None,
) -> str | None:
    cfg = config.get("proxy") if config is not None else None
    for what, value in (("the watch's proxy", watch_proxy), ("--proxy", command_proxy),
                        ("UNERASED_PROXY", env.get("UNERASED_PROXY")),
                        ("the proxy setting", cfg if isinstance(cfg, str) else None)):
        if value is None or not value.strip():
            continue
        if value.strip().lower() == FROM_ENVIRONMENT:
            found = environment_proxy(env)
            if found is None:
                raise UsageError(f"{what} is 'env' but no ALL_PROXY, HTTPS_PROXY or "
                                 "HTTP_PROXY is set")
            return found
        return check_proxy(value, what)
    return None

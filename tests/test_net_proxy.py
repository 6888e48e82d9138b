"""Proxies, with real sockets on loopback. A dead proxy fails closed: every path (API,
poll, media, feed, timestamp) errors and the target — a canary — sees no connection. A
working SOCKS5 or HTTP proxy carries every request (the target sees only the proxy's
address) and is handed the host *name*: nothing is resolved locally (socks5 and socks5h
alike), so ``.onion`` works. ``effective_proxy`` picks the proxy as DESIGN.md says."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from net_servers import (
    Site,
    canary,
    closed_port,
    http_proxy,
    json_answer,
    mastodon_site,
    sites,
    socks5_proxy,
    status,
)
from unerased.errors import LedgerError, SourceError, UsageError
from unerased.ledger.log import make_checkpoint
from unerased.net import async_client, check_proxy, effective_proxy, settings
from unerased.sources._base import Recorder
from unerased.sources.mastodon import MastodonSource
from unerased.store import Store
from unerased.watch.runner import (
    RunContext,
    WatchConfig,
    add_watch,
    default_client_factory,
    poll,
)
from unerased.watch.uri import parse_uri

ONION = "duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("UNERASED_ALLOW_HOSTS", "UNERASED_PROXY", "HTTP_PROXY", "HTTPS_PROXY",
                 "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


# --- which proxy --------------------------------------------------------------------


def test_effective_proxy_order() -> None:
    env = {"UNERASED_PROXY": "socks5h://127.0.0.1:9050"}
    cfg = {"proxy": "http://127.0.0.1:3128"}
    assert effective_proxy("socks5h://10.0.0.1:1", "http://c:1", env, cfg) == "socks5h://10.0.0.1:1"
    assert effective_proxy(None, "http://c:1", env, cfg) == "http://c:1"
    assert effective_proxy(None, None, env, cfg) == "socks5h://127.0.0.1:9050"
    assert effective_proxy(None, None, {}, cfg) == "http://127.0.0.1:3128"
    assert effective_proxy(None, None, {}, None) is None
    assert effective_proxy("", "  ", {"UNERASED_PROXY": ""}, {"proxy": None}) is None


def test_environment_proxies_only_when_asked() -> None:
    env = {"HTTPS_PROXY": "http://127.0.0.1:3128", "ALL_PROXY": "socks5h://127.0.0.1:9050"}
    assert effective_proxy(None, None, env, None) is None  # present, not asked for
    assert effective_proxy(None, "env", env, None) == "socks5h://127.0.0.1:9050"
    assert effective_proxy(None, None, {**env, "UNERASED_PROXY": "env"}, None) == (
        "socks5h://127.0.0.1:9050")
    assert effective_proxy(None, None, {"https_proxy": "http://p:8080"}, {"proxy": "env"}) == (
        "http://p:8080")
    with pytest.raises(UsageError, match="no ALL_PROXY, HTTPS_PROXY or HTTP_PROXY"):
        effective_proxy(None, "env", {}, None)


@pytest.mark.parametrize("bad", ["bogus://x", "socks4://127.0.0.1:1080", "ftp://p:21", "p:3128",
                                 "http://", "http://p:3128/path", "socks5h://[::1"])
def test_a_bad_proxy_is_one_usage_line(bad: str) -> None:
    for call in (lambda: check_proxy(bad), lambda: effective_proxy(bad, None, {}, None),
                 lambda: effective_proxy(None, None, {"UNERASED_PROXY": bad}, None),
                 lambda: settings(proxy=bad)):
        with pytest.raises(UsageError) as e:
            call()
        assert "\n" not in str(e.value)


# --- a dead proxy fails closed ----------------------------------------------------------


@pytest.fixture(params=["http", "socks5", "socks5h"])
def dead_proxy(request: pytest.FixtureRequest) -> str:
    return f"{request.param}://127.0.0.1:{closed_port()}"


def test_a_dead_proxy_fails_closed_on_every_path(
    dead_proxy: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = mastodon_site([status(1, "hello", ["/media/a.png"])], host="127.0.0.2")
    target.routes["/feed"] = lambda s: (200, [("content-type", "application/rss+xml")],
                                        b"<rss version='2.0'><channel><title>t</title>"
                                        b"</channel></rss>")
    # the guard would refuse 127.0.0.2 for media: allow it, so only the proxy stands
    # between the request and the target
    monkeypatch.setenv("UNERASED_ALLOW_HOSTS", "127.0.0.2/32")
    with sites(target):
        store = Store.open(tmp_path / "home")
        direct = RunContext(store, default_client_factory(), WatchConfig())
        asyncio.run(add_watch(direct, parse_uri("mastodon:@alice@social.example"),
                              service=target.base, tags={}))
        before = target.connections
        proxied = RunContext(store, default_client_factory(dead_proxy), WatchConfig(),
                             now=lambda: datetime.now(UTC) + timedelta(hours=1))
        # the API: watch add, and poll
        with pytest.raises(SourceError):
            asyncio.run(add_watch(proxied, parse_uri("mastodon:@bob@social.example"),
                                  service=target.base, tags={}))
        (outcome,) = asyncio.run(poll(proxied, once=True))
        assert outcome.error is not None
        # media and a feed, through a client with the same proxy

        async def media_and_feed() -> tuple[Any, Any, Recorder]:
            async with async_client(settings(proxy=dead_proxy, env={
                    "UNERASED_ALLOW_HOSTS": "127.0.0.2/32"})) as c:
                rec = Recorder(c)
                m = await MastodonSource(rec, service=target.base).fetch_media(
                    target.url("/media/a.png"))
                from unerased.sources.rss import RssSource

                f = await RssSource(rec).check_account(target.url("/feed"))
                return m, f, rec

        media, feed, rec = asyncio.run(media_and_feed())
        assert media is None and feed.snapshot is None and feed.error
        assert all(c.status is None and c.error for c in rec.captures)
        # a timestamp through the proxy
        with pytest.raises(LedgerError, match="cannot be reached"):
            make_checkpoint(store, timestamp_url=target.url("/tsa"), proxy=dead_proxy)
        store.close()
    assert target.connections == before  # not one direct connection


# --- a working proxy carries everything, and is handed names ----------------------------


Proxy = Callable[..., AbstractContextManager[Any]]


@pytest.fixture(params=[("socks5h", socks5_proxy), ("socks5", socks5_proxy), ("http", http_proxy)],
                ids=["socks5h", "socks5", "http"])
def proxy_kind(request: pytest.FixtureRequest) -> tuple[str, Proxy]:
    return request.param  # type: ignore[no-any-return]


def _named_site(name: str) -> Site:
    statuses = [status(1, "through the proxy", ["MEDIA"])]
    site = mastodon_site(statuses)
    statuses[0]["media"] = [f"http://{name}:{site.port}/media/p.png"]
    return site


@pytest.mark.parametrize("name", ["social.example", ONION])
def test_a_working_proxy_carries_every_request_by_name(
    proxy_kind: tuple[str, Proxy], name: str, tmp_path: Path
) -> None:
    scheme, make = proxy_kind
    site = _named_site(name)
    with sites(site), make(hosts={name: "127.0.0.1"}) as proxy:
        store = Store.open(tmp_path / "home")
        ctx = RunContext(store, default_client_factory(f"{scheme}://127.0.0.1:{proxy.port}"),
                         WatchConfig(), now=lambda: datetime.now(UTC) + timedelta(hours=1))
        asyncio.run(add_watch(ctx, parse_uri(f"mastodon:@alice@{name}"),
                              service=f"http://{name}:{site.port}", tags={}))
        (outcome,) = asyncio.run(poll(ctx, once=True))
        assert outcome.error is None
        (post,) = store.iter_posts()
        assert store.blobs.read(post["media"][0]["sha256"]) == b"\x89PNG /media/p.png"
        store.close()
    assert site.connections >= 4 and set(site.peers) == {"127.0.0.3"}  # all via the proxy
    assert {(r.host, r.port) for r in proxy.relayed} == {(name, site.port)}
    if scheme != "http":
        # httpx's socks5 and socks5h both hand the proxy the name: no local resolution
        assert {r.kind for r in proxy.relayed} == {"domain"}


def test_without_a_proxy_an_onion_name_is_refused(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "home")
    ctx = RunContext(store, default_client_factory(), WatchConfig())
    with pytest.raises(SourceError, match="onion address: it needs a Tor proxy"):
        asyncio.run(add_watch(ctx, parse_uri(f"mastodon:@alice@{ONION}"), service=None,
                              tags={}))
    store.close()


def test_behind_a_proxy_a_post_still_cannot_name_loopback(tmp_path: Path) -> None:
    """Nothing is resolved locally, but literals and known names are still judged: the
    proxy is never asked for 127.0.0.2, localhost or the metadata name."""
    trap = canary("127.0.0.2")
    statuses = [status(1, "bad media", ["A", "B", "C"])]
    site = mastodon_site(statuses)
    statuses[0]["media"] = [trap.url("/m"), f"http://localhost:{trap.port}/m",
                            "http://metadata.google.internal/computeMetadata/v1/"]
    with sites(site, trap), socks5_proxy(hosts={"social.example": "127.0.0.1"}) as proxy:
        store = Store.open(tmp_path / "home")
        ctx = RunContext(store, default_client_factory(f"socks5h://127.0.0.1:{proxy.port}"),
                         WatchConfig(), now=lambda: datetime.now(UTC) + timedelta(hours=1))
        asyncio.run(add_watch(ctx, parse_uri("mastodon:@alice@social.example"),
                              service=f"http://social.example:{site.port}", tags={}))
        asyncio.run(poll(ctx, once=True))
        refused = [c for c, *_ in store.iter_captures() if (c.error or "").startswith("refused:")]
        store.close()
    assert len(refused) == 3 and trap.connections == 0
    assert {r.host for r in proxy.relayed} == {"social.example"}


def test_the_timestamp_goes_through_the_proxy(tmp_path: Path) -> None:
    tsa = Site("127.0.0.1", {"/tsa": lambda s: json_answer(200, {"not": "a timestamp"})})
    platform = mastodon_site([status(1, "x")])
    with sites(tsa, platform), socks5_proxy(hosts={"tsa.example": "127.0.0.1"}) as proxy:
        store = Store.open(tmp_path / "home")
        ctx = RunContext(store, default_client_factory(), WatchConfig())
        asyncio.run(add_watch(ctx, parse_uri("mastodon:@alice@social.example"),
                              service=platform.base, tags={}))
        with pytest.raises(LedgerError, match="rejected"):  # it answered: not a TSR
            make_checkpoint(store, timestamp_url=f"http://tsa.example:{tsa.port}/tsa",
                            proxy=f"socks5h://127.0.0.1:{proxy.port}")
        store.close()
    assert tsa.peers == ["127.0.0.3"]
    assert [(r.host, r.kind) for r in proxy.relayed] == [("tsa.example", "domain")]


@pytest.mark.parametrize("bad", [
    "bogus://alice:s3cret@127.0.0.1:9050",
    "socks5h://alice:s3cret@127.0.0.1:9050/path",
    "socks5h://alice:s3cret@:9050",
    "socks5h://alice:s3cret@127.0.0.1:99999",
    "socks5h://alice:s3cret@[::1",
])
def test_a_refused_proxy_url_never_shows_its_password(bad: str) -> None:
    with pytest.raises(UsageError) as e:
        check_proxy(bad)
    assert "s3cret" not in str(e.value) and "alice:***@" in str(e.value)

"""A proxy given at `watch add --proxy` is kept with the watch and carries every request
made for it, API and media, on every later `poll` and `run`; `poll`/`run --proxy` and
`UNERASED_PROXY` apply to the watches without their own; a dead proxy fails closed (the
platform — our canary — sees no connection) without stopping the other watches; the
collector makes one client per distinct proxy; credentials in a proxy URL are never
printed. Real processes, real servers and proxies on loopback, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest

from cli_proc import jsonl, unerased_run
from net_servers import Site, http_proxy, mastodon_site, sites, socks5_proxy, status
from unerased import net
from unerased.store import Store
from unerased.watch.runner import RunContext, WatchConfig, add_watch, poll
from unerased.watch.uri import parse_uri

PROXIES: dict[str, Callable[[], AbstractContextManager[Any]]] = {
    "socks5h": socks5_proxy, "http": http_proxy}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("UNERASED_ALLOW_HOSTS", "UNERASED_PROXY", "HTTP_PROXY", "HTTPS_PROXY",
                 "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


def alice_site(username: str = "alice") -> Site:
    return mastodon_site([status(1, "with a picture", ["/media/a.png"]), status(2, "text")],
                         username=username)


def watch_add(home: Path, db_url: str | None, who: str, site: Site, *extra: str,
              env: dict[str, str] | None = None) -> dict[str, Any]:
    r = unerased_run(home, db_url, "watch", "add", f"mastodon:@{who}@social.example",
                     "--service", site.base, "--json", *extra, env=env)
    assert r.returncode == 0, r.stderr
    (acc,) = jsonl(r.stdout)
    return acc


@pytest.mark.parametrize("scheme", ["socks5h", "http"])
def test_a_watch_keeps_its_proxy_for_every_request(tmp_path: Path, db_url: str | None,
                                                   scheme: str) -> None:
    home = tmp_path / "home"
    with sites(alice_site()) as (site,), PROXIES[scheme]() as proxy:
        url = f"{scheme}://127.0.0.1:{proxy.port}"
        acc = watch_add(home, db_url, "alice", site, "--proxy", url)
        assert acc["proxy"] == url
        added = len(site.seen)
        r = unerased_run(home, db_url, "poll", "--once")  # no proxy named here
        assert r.returncode == 0, r.stderr
    paths = [s.path for s in site.seen[added:]]
    assert "/media/a.png" in paths and any(p.startswith("/api/v1/") for p in paths)
    assert set(site.peers) == {"127.0.0.3"}  # every request came from the proxy (before:
    assert len(proxy.relayed) == site.connections  # poll went direct, from 127.0.0.1)
    assert {(r.host, r.port) for r in proxy.relayed} == {("127.0.0.1", site.port)}


def test_a_dead_watch_proxy_fails_closed_and_the_other_watches_go_on(
        tmp_path: Path, db_url: str | None) -> None:
    home = tmp_path / "home"
    with sites(alice_site("alice"), alice_site("bob")) as (guarded, open_site):
        with socks5_proxy() as proxy:
            alice = watch_add(home, db_url, "alice", guarded, "--proxy",
                              f"socks5h://127.0.0.1:{proxy.port}")
        bob = watch_add(home, db_url, "bob", open_site)
        before = guarded.connections  # the proxy is dead now
        r = unerased_run(home, db_url, "poll", "--once", "--json")
    assert r.returncode == 1, r.stderr
    by = {c["account"]: c for c in jsonl(r.stdout)}
    assert by[alice["uri"]]["outcome"] == "error" and by[alice["uri"]]["requests"] >= 1
    assert by[bob["uri"]]["outcome"] == "ok"
    assert guarded.connections == before  # nothing went direct: fail closed
    assert set(guarded.peers) == {"127.0.0.3"}


def test_poll_proxy_and_unerased_proxy_serve_watches_without_their_own(
        tmp_path: Path, db_url: str | None) -> None:
    """A watch's own proxy beats `poll --proxy`, which beats `UNERASED_PROXY`."""
    home = tmp_path / "home"
    with sites(alice_site("alice"), alice_site("bob")) as (own_site, other_site), \
            socks5_proxy() as own, socks5_proxy() as cmd, socks5_proxy() as env:
        alice = watch_add(home, db_url, "alice", own_site, "--proxy",
                          f"socks5h://127.0.0.1:{own.port}")
        watch_add(home, db_url, "bob", other_site)
        other_direct = other_site.connections
        env_var = {"UNERASED_PROXY": f"socks5h://127.0.0.1:{env.port}"}
        r = unerased_run(home, db_url, "poll", "--once", "--proxy",
                         f"socks5h://127.0.0.1:{cmd.port}", env=env_var)
        assert r.returncode == 0, r.stderr
        assert {x.port for x in own.relayed} == {own_site.port}
        assert {x.port for x in cmd.relayed} == {other_site.port}
        assert env.relayed == []
        n_cmd = len(cmd.relayed)
        r = unerased_run(home, db_url, "poll", "--once", env=env_var)
        assert r.returncode == 0, r.stderr
        assert {x.port for x in env.relayed} == {other_site.port}
        assert len(cmd.relayed) == n_cmd
        assert {x.port for x in own.relayed} == {own_site.port}
    assert other_site.connections - other_direct == len(cmd.relayed) + len(env.relayed)
    assert set(own_site.peers) == {"127.0.0.3"}
    assert alice["proxy"] == f"socks5h://127.0.0.1:{own.port}"


def test_proxy_credentials_are_never_printed_and_re_adding_keeps_the_proxy(
        tmp_path: Path, db_url: str | None) -> None:
    home = tmp_path / "home"
    with sites(alice_site()) as (site,), http_proxy() as proxy:
        secret_url = f"http://someone:s3cr3t@127.0.0.1:{proxy.port}"
        r = unerased_run(home, db_url, "watch", "add", "mastodon:@alice@social.example",
                         "--service", site.base, "--proxy", secret_url, "--json")
        assert r.returncode == 0, r.stderr
        assert "s3cr3t" not in r.stdout + r.stderr
        (acc,) = jsonl(r.stdout)
        assert acc["proxy"] == f"http://someone:***@127.0.0.1:{proxy.port}"
        listed = unerased_run(home, db_url, "watch", "list", "--json")
        assert "s3cr3t" not in listed.stdout + listed.stderr
        assert jsonl(listed.stdout)[0]["proxy"] == acc["proxy"]
        n = len(proxy.relayed)
        again = watch_add(home, db_url, "alice", site, "--tag", "k=v")  # no --proxy
        assert again["proxy"] == acc["proxy"] and len(proxy.relayed) > n  # still proxied
        assert set(site.peers) == {"127.0.0.3"}
        gone = unerased_run(home, db_url, "watch", "remove", acc["uri"])
        assert gone.returncode == 0, gone.stderr
    store = Store.open(home, db_url)
    (row,) = store.list_accounts()
    store.close()
    assert row["proxy"] is None  # forgotten with the watch


def test_a_watch_proxy_env_with_no_environment_proxy_fails_that_watch_only(
        tmp_path: Path, db_url: str | None) -> None:
    home = tmp_path / "home"
    with sites(alice_site("alice"), alice_site("bob")) as (guarded, open_site), \
            socks5_proxy() as proxy:
        alice = watch_add(home, db_url, "alice", guarded, "--proxy", "env",
                          env={"ALL_PROXY": f"socks5h://127.0.0.1:{proxy.port}"})
        assert alice["proxy"] == "env"
        bob = watch_add(home, db_url, "bob", open_site)
        before = guarded.connections
        r = unerased_run(home, db_url, "poll", "--once", "--json")
    assert r.returncode == 1, r.stderr
    by = {c["account"]: c for c in jsonl(r.stdout)}
    assert "no ALL_PROXY, HTTPS_PROXY or HTTP_PROXY" in by[alice["uri"]]["error"]
    assert by[alice["uri"]]["requests"] == 0
    assert by[bob["uri"]]["outcome"] == "ok"
    assert guarded.connections == before


def test_one_client_per_distinct_proxy_not_one_per_check(store: Store) -> None:
    made: list[str | None] = []

    def counting(proxy: str | None, make: Callable[[], httpx.AsyncClient]
                 ) -> Callable[[], httpx.AsyncClient]:
        def counted() -> httpx.AsyncClient:
            made.append(proxy)
            return make()
        return counted

    with sites(*(alice_site(u) for u in ("a", "b", "c", "d"))) as all_sites, \
            socks5_proxy() as proxy:
        purl = f"socks5h://127.0.0.1:{proxy.port}"
        ctx = RunContext(store, counting(None, net.client_factory(env={})), WatchConfig(),
                         proxy_clients=lambda p: counting(p, net.client_factory(proxy=p,
                                                                                env={})))
        for who, site, own in zip("abcd", all_sites, (purl, purl, None, None), strict=True):
            asyncio.run(add_watch(ctx, parse_uri(f"mastodon:@{who}@social.example"),
                                  service=site.base, tags={}, proxy=own))
        made.clear()
        outs = asyncio.run(poll(ctx, once=True))
    assert [o.outcome for o in outs] == ["ok"] * 4
    assert sorted(made, key=str) == sorted([None, purl], key=str)  # before: 4 clients

"""The collector's network behaviour through the runner (``check_account`` as ``poll``
runs it), with real sockets on loopback: a bad URL in one post is that post's recorded
error, never a crash; redirects are evidence hop by hop; the environment's proxies are
not used; a bad proxy value is one line."""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import unerased
from net_servers import Site, canary, mastodon_site, redirect, sites, status
from unerased.errors import UsageError
from unerased.model import Capture
from unerased.store import Store
from unerased.watch.runner import (
    RunContext,
    WatchConfig,
    add_watch,
    check_account,
    default_client_factory,
)
from unerased.watch.uri import parse_uri

SRC = Path(unerased.__file__).resolve().parent.parent  # the unerased under test


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("UNERASED_ALLOW_HOSTS", "UNERASED_PROXY", "HTTP_PROXY", "HTTPS_PROXY",
                 "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)


def check_once(store: Store, site: Site) -> tuple[str | None, list[Capture]]:
    """watch add + one check_account, as `poll` does it; (the check's error, captures)."""
    now = datetime(2026, 3, 1, tzinfo=UTC)
    ctx = RunContext(store, default_client_factory(), WatchConfig(), now=lambda: now)
    asyncio.run(add_watch(ctx, parse_uri("mastodon:@alice@social.example"),
                          service=site.base, tags={}))
    (row,) = store.list_accounts(watched_only=True)
    ticks = itertools.count()  # a clock that moves: captures carry its time (Recorder's clock)
    ctx.now = lambda: now + timedelta(minutes=20, milliseconds=next(ticks))
    outcome = asyncio.run(check_account(ctx, row))
    return outcome.error, [c for c, *_ in store.iter_captures()]


def test_an_unparsable_media_url_is_that_posts_error_not_a_crash(store: Store) -> None:
    posts = [status(1, "before", ["/media/a.png"]),
             status(2, "bad IPv4", ["http://999.1.1.1/x"]),
             status(3, "bad IPv6", ["http://[::1/x"]),
             status(4, "after", ["/media/b.png"])]
    with sites(mastodon_site(posts)) as (site,):
        error, caps = check_once(store, site)
    assert error is None  # the check completed
    archived = {p["post_id"]: p for p in store.iter_posts()}
    assert set(archived) == {"1001", "1002", "1003", "1004"}
    for pid in ("1001", "1004"):
        (m,) = archived[pid]["media"]
        assert m["sha256"] and store.blobs.read(m["sha256"]).startswith(b"\x89PNG")
    bad = {c.url: c for c in caps if c.status is None}
    assert set(bad) == {"http://999.1.1.1/x", "http://[::1/x"}
    for cap in bad.values():
        assert (cap.error or "").startswith("unparsable URL:") and cap.body == b""
        assert "\n" not in (cap.error or "")


def test_a_redirect_is_recorded_hop_by_hop(store: Store) -> None:
    """Before: one capture of the first URL with status 200 and the target's body."""
    posts = [status(1, "moved picture", ["/media/old.png"])]
    extra = {"/media/old.png": redirect("/media/moved.png", 301),
             "/media/moved.png": redirect("/media/final.png", 302)}
    with sites(mastodon_site(posts, extra=extra)) as (site,):
        error, caps = check_once(store, site)
    assert error is None
    media_caps = [c for c in caps if "/media/" in c.url]
    assert [(c.url.removeprefix(site.base), c.status) for c in media_caps] == [
        ("/media/old.png", 301), ("/media/moved.png", 302), ("/media/final.png", 200)]
    first, second, last = media_caps
    assert dict(first.response_headers)["location"] == "/media/moved.png"
    assert dict(second.response_headers)["location"] == "/media/final.png"
    assert first.body == b"" and second.body == b""
    assert last.body == b"\x89PNG /media/final.png"
    (post,) = store.iter_posts()
    assert store.blobs.read(post["media"][0]["sha256"]) == last.body


def test_a_redirect_loop_stops_and_says_so(tmp_path: Path) -> None:
    posts = [status(1, "loop", ["/media/loop"])]
    with sites(mastodon_site(posts, extra={"/media/loop": redirect("/media/loop")})) as (site,):
        store = Store.open(tmp_path / "home")
        error, caps = check_once(store, site)
    assert error is None
    loop = [c for c in caps if c.url.endswith("/media/loop")]
    assert len(loop) == 11  # the first request and 10 hops, then it stops
    assert all(c.status == 302 for c in loop)
    assert "redirect not followed: more than 10 hops" in (loop[-1].error or "")
    (post,) = store.iter_posts()
    assert not post["media"][0].get("sha256")
    store.close()


def test_environment_proxies_are_not_used(monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    """HTTP(S)_PROXY/ALL_PROXY point at a canary: the collector must not go there."""
    trap = canary("127.0.0.2")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, trap.base)
    with sites(trap, mastodon_site([status(1, "hello")])) as (_, site):
        store = Store.open(tmp_path / "home")
        error, caps = check_once(store, site)
    assert trap.connections == 0
    assert error is None and all(c.status == 200 for c in caps)
    assert len(site.seen) == len(caps)  # every request went straight to the platform
    store.close()


def test_a_bad_proxy_value_is_a_usage_error() -> None:
    for bad in ("bogus://x", "ftp://127.0.0.1:21", "socks4://127.0.0.1:1080", "http://",
                "http://[::1", "socks5h://127.0.0.1:1080/path"):
        with pytest.raises(UsageError) as e:
            default_client_factory(bad)
        assert "\n" not in str(e.value)


def test_the_cli_says_one_line_for_a_bad_proxy(tmp_path: Path) -> None:
    """`watch add --proxy bogus://x`: exit 2, one line, no traceback (before: ValueError
    traceback from httpx)."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    r = subprocess.run(
        [sys.executable, "-c", "from unerased.cli import main; main()", "--home",
         str(tmp_path / "h"), "watch", "add", "rss:http://127.0.0.1:9/feed", "--proxy",
         "bogus://x"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "bogus" in lines[0]


def test_poll_with_an_unparsable_media_url_has_no_traceback(tmp_path: Path) -> None:
    """`unerased poll --once` as a user runs it (before: a traceback, every cycle)."""
    env = {k: v for k, v in os.environ.items() if "PROXY" not in k.upper()}
    env["PYTHONPATH"] = str(SRC)
    home = str(tmp_path / "h")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", "from unerased.cli import main; main()", "--home", home,
             *args], capture_output=True, text=True, env=env, timeout=120)

    posts = [status(1, "fine", ["/media/a.png"]), status(2, "bad", ["http://[::1/x"]),
             status(3, "bad too", ["http://999.1.1.1/x"])]
    with sites(mastodon_site(posts)) as (site,):
        added = cli("watch", "add", "mastodon:@alice@social.example", "--service", site.base)
        assert added.returncode == 0, added.stderr
        polled = cli("poll", "--once")
    assert polled.returncode == 0, polled.stderr
    assert "Traceback" not in polled.stderr + polled.stdout
    assert polled.stderr.startswith("mastodon:@alice@127.0.0.1:")  # the canonical form
    assert ": ok; " in polled.stderr


def test_a_feed_that_moved_keeps_working(store: Store) -> None:
    """The feed answers 301 to its new place: followed by the recorder, both hops kept."""
    feed = (b"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title>"
            b"<link>http://example.org/</link><description>d</description><item>"
            b"<title>a</title><link>http://example.org/a</link><guid>http://example.org/a</guid>"
            b"<pubDate>Sun, 01 Mar 2026 08:00:00 GMT</pubDate></item></channel></rss>")
    routes = {"/old.xml": redirect("/new.xml", 301),
              "/new.xml": lambda _s: (200, [("content-type", "application/rss+xml")], feed)}
    with sites(Site("127.0.0.1", routes)) as (site,):
        ctx = RunContext(store, default_client_factory(), WatchConfig())
        asyncio.run(add_watch(ctx, parse_uri(f"rss:{site.url('/old.xml')}"), service=None,
                              tags={}))
        (row,) = store.list_accounts(watched_only=True)
        outcome = asyncio.run(check_account(ctx, row))
    assert outcome.error is None
    assert [p["post_id"] for p in store.iter_posts()] == ["http://example.org/a"]
    caps = [(c.url.removeprefix(site.base), c.status) for c, *_ in store.iter_captures()]
    assert caps[:2] == [("/old.xml", 301), ("/new.xml", 200)]

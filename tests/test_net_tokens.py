"""Tokens go only to the service they are for: two Mastodon instances on loopback, both
watched; ``UNERASED_MASTODON_TOKEN`` reaches only its own. X's bearer token goes to the
API base only, never along a redirect to another origin."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from net_servers import Site, json_answer, mastodon_site, redirect, sites, status
from unerased.net import async_client, settings
from unerased.sources._base import Recorder
from unerased.sources.mastodon import MastodonSource, token_scope
from unerased.sources.x import XSource
from unerased.store import Store
from unerased.watch.runner import RunContext, WatchConfig, add_watch, default_client_factory, poll
from unerased.watch.uri import parse_uri

TOKEN = "mastodon-token-0123456789"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("UNERASED_ALLOW_HOSTS", "UNERASED_MASTODON_INSTANCE", "UNERASED_MASTODON_TOKEN",
                 "UNERASED_X_BEARER_TOKEN", "UNERASED_PROXY"):
        monkeypatch.delenv(name, raising=False)


def watch_both(tmp: Path, own: Site, other: Site, options: dict[str, Any]) -> list[Any]:
    store = Store.open(tmp / "home")
    now = [datetime(2026, 3, 1, tzinfo=UTC)]
    ctx = RunContext(store, default_client_factory(),
                     WatchConfig(source_options={"mastodon": options}), now=lambda: now[0])
    asyncio.run(add_watch(ctx, parse_uri("mastodon:@alice@own.example"), service=own.base,
                          tags={}))
    asyncio.run(add_watch(ctx, parse_uri("mastodon:@alice@other.example"), service=other.base,
                          tags={}))
    now[0] += timedelta(minutes=20)
    outcomes = asyncio.run(poll(ctx, once=True))
    caps = [c for c, *_ in store.iter_captures()]
    store.close()
    for cap in caps:
        assert TOKEN not in repr(cap.record())
    return outcomes


def auth(site: Site) -> set[str | None]:
    return {s.headers.get("authorization") for s in site.seen}


@pytest.mark.parametrize("how", ["option", "env"])
def test_the_mastodon_token_reaches_only_its_own_instance(
    how: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = mastodon_site([status(1, "mine")])
    other = mastodon_site([status(1, "theirs")])
    with sites(own, other):
        if how == "option":
            options = {"token": TOKEN, "instance": own.base}
        else:  # as the CLI passes it: the token option, the instance from the environment
            monkeypatch.setenv("UNERASED_MASTODON_INSTANCE", own.base)
            options = {"token": TOKEN}
        outcomes = watch_both(tmp_path, own, other, options)
    assert [o.error for o in outcomes] == [None, None]
    assert auth(own) == {f"Bearer {TOKEN}"} and len(own.seen) >= 3
    assert auth(other) == {None} and len(other.seen) >= 3


def test_a_token_without_an_instance_is_sent_nowhere_and_says_so(tmp_path: Path) -> None:
    def locked(_seen: Any) -> Any:
        return json_answer(401, {"error": "This API requires an authenticated user"})

    own = mastodon_site([status(1, "mine")])
    other = mastodon_site([status(1, "theirs")],
                          extra={"/api/v1/accounts/109/statuses": locked})
    with sites(own, other):
        outcomes = watch_both(tmp_path, own, other, {"token": TOKEN})

        async def listing() -> Any:
            async with async_client(settings(services=[other.base])) as c:
                src = MastodonSource(Recorder(c), service=other.base, token=TOKEN)
                return await src.list_posts(f"109@127.0.0.1:{other.port}", max_pages=1)

        refused = asyncio.run(listing())
    assert auth(own) == {None} and auth(other) == {None}
    assert [o.error for o in outcomes] == [None, None]
    assert refused.error is not None and "HTTP 401" in refused.error
    assert "UNERASED_MASTODON_TOKEN names no instance, so it is sent nowhere" in refused.error


def test_token_scope_forms() -> None:
    assert token_scope(None, None).token is None
    s = token_scope("mastodon.social=abc", None)
    assert (s.token, s.netloc) == ("abc", "mastodon.social")
    assert s.allows("https://mastodon.social") and not s.allows("http://mastodon.social")
    assert not s.allows("https://mastodon.social.evil.example")
    assert not s.allows("https://other.example")
    s = token_scope("abc", "http://127.0.0.1:3000/")
    assert s.allows("http://127.0.0.1:3000") and not s.allows("http://127.0.0.1:3001")
    none = token_scope("abc", None)
    assert none.token is None and none.note is not None
    assert "UNERASED_MASTODON_INSTANCE" in none.note and "\n" not in none.note
    assert token_scope("abc", "not a host!").token is None


def test_the_x_token_goes_to_the_api_only_never_along_a_redirect() -> None:
    elsewhere = Site("127.0.0.1", {"/2/users/12": lambda s: json_answer(200, {"data": {
        "id": "12", "username": "alice", "name": "A"}})})
    api = Site("127.0.0.1", {"/2/users/12": redirect(elsewhere.url("/2/users/12"), 307)})
    with sites(api, elsewhere):
        async def go() -> Recorder:
            net = settings(env={"UNERASED_ALLOW_HOSTS": elsewhere.base})
            async with async_client(net) as c:
                rec = Recorder(c)
                src = XSource(rec, service=api.base, token="x-bearer-0123456789")
                await src.check_account("12")
                await src.fetch_media(elsewhere.url("/media.jpg"))
                return rec

        rec = asyncio.run(go())
    assert auth(api) == {"Bearer x-bearer-0123456789"}
    assert auth(elsewhere) == {None} and len(elsewhere.seen) == 2
    for cap in rec.captures:
        assert "x-bearer-0123456789" not in repr(cap.record())


def test_host_equals_token_with_an_instance_too() -> None:
    s = token_scope("mastodon.social=abc", "http://127.0.0.1:3000")
    assert s.token == "abc" and s.allows("http://127.0.0.1:3000")
    assert not s.allows("https://mastodon.social")

"""The web tests' world (tests/test_web_*.py): a tiny archive with hostile text in it,
an app over it with cheap Argon2 parameters and an injected clock, and a synchronous
client speaking to the app in process (httpx.ASGITransport: no socket)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from unerased.model import AccountSnapshot, Event, EventType, MediaItem, PostSnapshot
from unerased.store import Store
from unerased.web import WebConfig, create_app, issue_login_link, make_hasher

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CHEAP = {"time_cost": 1, "memory_cost": 8, "parallelism": 1}
XSS = '<script>alert(1)</script><img src=x onerror="alert(2)">'
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(3)</script></svg>'
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32

ALICE = AccountSnapshot("bluesky", "did:plc:alice", handle="alice.test",
                        display_name="Alice " + XSS, url="javascript:alert(4)")
BOB = AccountSnapshot("mastodon", "109@social.example", handle="bob@social.example",
                      display_name="Bob", url="https://social.example/@bob")


def seed(store: Store) -> dict[str, Any]:
    """Two accounts (Alice's names hostile, watched, tagged), three posts (one deleted,
    one with an SVG and a PNG), events. Returns row ids."""
    with store.writer() as w:
        a = w.upsert_account(ALICE, "test")
        b = w.upsert_account(BOB, "test")
        w.update_account(a["id"], watched=True, tags_json='{"region": "fujian"}')
        posts = [
            PostSnapshot("bluesky", "did:plc:alice", "p1", "删除 of a post " + XSS,
                         created_at=T0 - timedelta(days=2),
                         url="https://bsky.app/profile/alice.test/post/p1"),
            PostSnapshot("bluesky", "did:plc:alice", "p2", "with media",
                         created_at=T0 - timedelta(days=1), media=[
                             MediaItem(filename="x.svg", mime="image/svg+xml", content=SVG,
                                       alt=XSS, kind="image"),
                             MediaItem(filename="y.png", mime="image/png", content=PNG,
                                       kind="image")]),
        ]
        w.add_posts(a, posts, "test")
        w.add_posts(b, [PostSnapshot("mastodon", "109@social.example", "m1", "bob's",
                                     created_at=T0)], "test")
        pks = w.post_pks(a["id"], ["p1", "p2"])
        w.update_post(pks["p1"], status="deleted", deleted_reason="user_deleted")
        for i in range(3):
            w.add_event(Event(EventType.POST_EDITED, T0 + timedelta(minutes=i), "mastodon",
                              "bob@social.example", "109@social.example", "m1"), b["id"])
        w.add_event(Event(EventType.POST_DELETED, T0 + timedelta(hours=1), "bluesky",
                          "alice.test", "did:plc:alice", "p1", detail={"reason": XSS}),
                    a["id"], pks["p1"])
    return {"alice": a["id"], "bob": b["id"], "p1": pks["p1"], "p2": pks["p2"]}


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Client:
    """httpx's AsyncClient on the app in process, used synchronously (one event loop)."""

    def __init__(self, app: Any, base_url: str = "http://127.0.0.1:8321") -> None:
        self.runner = asyncio.Runner()
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                      base_url=base_url, follow_redirects=False)

    def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        return self.runner.run(self.http.request(method, url, **kw))

    def get(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("POST", url, **kw)

    def csrf(self, page: str = "/login") -> str:
        """The CSRF token of the session, from a form of ``page``."""
        r = self.get(page)
        m = re.search(r'name="csrf" value="([^"]+)"', r.text)
        assert m is not None, f"no form on {page}: {r.status_code}"
        return m.group(1)

    def close(self) -> None:
        self.runner.run(self.http.aclose())
        self.runner.close()


@dataclass
class Web:
    store: Store
    config: WebConfig
    app: Any
    clock: Clock
    ids: dict[str, Any]
    clients: list[Client] = field(default_factory=list)

    def client(self, base_url: str = "http://127.0.0.1:8321") -> Client:
        c = Client(self.app, base_url)
        self.clients.append(c)
        return c

    def link(self, name: str, role: str = "viewer",
             lifetime: timedelta = timedelta(minutes=15)) -> str:
        """A one-time login link of a (new) user."""
        user = self.store.get_user(name) or self.store.add_user(name, role, self.clock())
        return "/login/link/" + issue_login_link(self.store, user["id"], self.clock(), lifetime)

    def logged_in(self, role: str = "viewer", name: str | None = None) -> Client:
        """A client with a session of a user of ``role``."""
        c = self.client()
        link = self.link(name or role, role)
        r = c.post(link, data={"csrf": c.csrf(link)})
        assert r.status_code == 303, r.text
        return c

    def close(self) -> None:
        for c in self.clients:
            c.close()
        self.store.close()


def make_web(home: Path, *, store: Store | None = None, **config: Any) -> Web:
    store = store or Store.open(home)
    ids = seed(store)
    clock = Clock()
    cfg = WebConfig(home=home, store=store, hasher=make_hasher(**CHEAP), clock=clock,
                    **config)
    return Web(store, cfg, create_app(cfg), clock, ids)

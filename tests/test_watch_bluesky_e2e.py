"""The real-PDS scenario of issue 3, end to end through the collector: `watch add` →
`poll` → events, against the reference PDS from npm and an in-memory did:plc directory.
Every event must be exactly right: no false alarm, nothing missed."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from pds_fixture import RunningPds, pds_server  # noqa: F401  (fixture "pds")
from test_source_bluesky import png
from unerased.sim.platform import demo_clock
from unerased.store import Store
from unerased.watch.runner import RunContext, WatchConfig, add_watch, poll
from unerased.watch.uri import parse_uri

pytestmark = pytest.mark.pds


def ctx_for(store: Store, pds: RunningPds, clock: Any) -> RunContext:
    def factory() -> httpx.AsyncClient:
        return httpx.AsyncClient(trust_env=False, timeout=15.0)

    opts = {"bluesky": {"plc_url": pds.plc_url, "handle_resolver": pds.url}}
    return RunContext(store, factory, WatchConfig(source_options=opts), now=clock)


def check(ctx: RunContext, clock: Any, n: int = 1) -> list[tuple[str, str, str | None]]:
    out: list[tuple[str, str, str | None]] = []
    for _ in range(n):
        clock.advance(timedelta(minutes=20))
        for res in asyncio.run(poll(ctx, once=True)):
            assert res.error is None, res.error
            out += [(e["type"], e["account"], e["post_id"]) for e in res.events]
    return out


def test_real_pds_scenario_yields_exactly_the_right_events(pds: RunningPds,
                                                            tmp_path: Path) -> None:
    adm = pds.admin
    alice = adm.create_account("e2ealice")
    bob = adm.create_account("e2ebob")
    carol = adm.create_account("e2ecarol")
    dave = adm.create_account("e2edave")
    image = png(7)
    a_posts = [adm.create_post(alice, f"第{i}条 网络审查 post {i}") for i in range(4)]
    pic = adm.create_post(alice, "带图 with a picture", images=[(image, "image/png", "alt")])
    for who in (bob, carol, dave):
        for i in range(3):
            adm.create_post(who, f"{who.handle} says {i}")

    store = Store.open(tmp_path / "home")
    clock = demo_clock()
    ctx = ctx_for(store, pds, clock)
    for who in (alice, bob, carol, dave):
        asyncio.run(add_watch(ctx, parse_uri(f"bluesky:{who.handle}"), service=None, tags={}))
    assert check(ctx, clock) == []
    assert len(list(store.iter_posts())) == 5 + 9
    (p,) = [p for p in store.iter_posts() if p["post_id"] == pic.uri]
    assert store.blobs.read(p["media"][0]["sha256"]) == image

    # a post deleted by its owner: declared only after a confirming check
    adm.delete_record(alice, a_posts[1].uri)
    assert check(ctx, clock) == []
    assert check(ctx, clock) == [("post_deleted", alice.handle, a_posts[1].uri)]
    (ev,) = list(store.iter_events(type="post_deleted"))
    assert ev["detail"]["reason"] == "user_deleted"

    # a record rewritten in place (putRecord, new CID) is an edit
    adm.edit_post(alice, a_posts[2].uri, "改过了 rewritten")
    assert check(ctx, clock) == [("post_edited", alice.handle, a_posts[2].uri)]
    assert [h["post_id"] for h in store.search("改过")] == [a_posts[2].uri]

    # deactivation by the owner, takedown by the platform, admin deletion:
    # one account event each, never a spray of post_deleted
    adm.deactivate(bob)
    adm.takedown_account(carol.did)
    adm.delete_account(dave.did)
    got = sorted(check(ctx, clock, 3))
    assert got == sorted([("account_deactivated", bob.handle, None),
                          ("account_suspended", carol.handle, None),
                          ("account_deleted", dave.handle, None)])
    adm.activate(bob)
    adm.restore_account(carol.did)
    got = sorted(check(ctx, clock, 3))
    assert got == sorted([("account_restored", bob.handle, None),
                          ("account_restored", carol.handle, None)])
    # a handle change is a rename of the same account (same DID)
    old_handle = alice.handle
    adm.update_handle(alice, "e2erenamed.test")
    assert check(ctx, clock) == [("account_renamed", "e2erenamed.test", None)]
    (ren,) = list(store.iter_events(type="account_renamed"))
    assert ren["detail"]["from"] == old_handle and ren["detail"]["to"] == "e2erenamed.test"
    assert [e["type"] for e in store.iter_events()].count("post_deleted") == 1
    # every event cites captures that are in the archive
    caps = {c.id for c, _ in store.iter_captures()}
    for e in store.iter_events():
        assert e["evidence"] and set(e["evidence"]) <= caps
    store.close()

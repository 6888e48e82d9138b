"""Checks made from a platform's stream (watch/streamcheck.py) against the simulated
Mastodon-like platform: a post written and erased between two polls is archived and
declared deleted in one check; a false stream message deletes nothing; an unconfirmed
announcement deletes nothing; an account event is checked at once."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from test_watch_runner import make_ctx, rounds, watch_alice, world
from unerased.errors import SourceError
from unerased.model import Capture, PostSnapshot, utcnow
from unerased.sim.platform import HOST, Flaky, SimPlatform, SimStatus
from unerased.sources.mastodon import status_snapshot
from unerased.store import Store
from unerased.watch.runner import Clients, Observation, RunContext, persist, poll
from unerased.watch.streamcheck import StreamEventLike, check_from_stream, observe_stream

STREAM_URL = f"wss://{HOST}/api/v1/streaming?stream=user"


@dataclass(frozen=True)
class Ev:
    """A stream event as ``unerased.streams.StreamEvent`` carries it (the fields a check
    uses: ``StreamEventLike``)."""

    kind: str
    account_id: str | None
    post_id: str | None = None
    snapshot: PostSnapshot | None = None
    status: str | None = None
    received_at: datetime = field(default_factory=utcnow)
    capture: Capture = field(default_factory=lambda: frame({"event": "x"}, utcnow()))


def frame(message: dict[str, Any], at: datetime) -> Capture:
    """A Mastodon streaming message as the stream keeps it: the raw frame."""
    return Capture(method="WS", url=STREAM_URL, started_at=at, status=101,
                   body=json.dumps(message).encode())


def created(sim: SimPlatform, st: SimStatus, at: datetime) -> Ev:
    entity = sim.status_json(st)
    acct = f"{st.account_id}@{HOST}"
    return Ev("create", acct, st.id, status_snapshot(entity, acct), received_at=at,
              capture=frame({"event": "update", "payload": json.dumps(entity)}, at))


def deleted(st: SimStatus, at: datetime) -> Ev:
    return Ev("delete", f"{st.account_id}@{HOST}", st.id, received_at=at,
              capture=frame({"event": "delete", "payload": st.id}, at))


def setup(store: Store, flaky: Flaky | None = None) -> tuple[SimPlatform, Any, RunContext,
                                                             dict[str, Any]]:
    sim, clock = world()
    ctx = make_ctx(store, sim, clock)
    watch_alice(ctx)
    assert rounds(ctx, clock) == []
    if flaky is not None:
        sim.flaky = flaky
    (row,) = store.list_accounts(watched_only=True)
    return sim, clock, ctx, row


def run(ctx: RunContext, row: dict[str, Any], events: list[StreamEventLike]) -> Any:
    return asyncio.run(check_from_stream(ctx, row, events))


def test_created_and_deleted_between_polls_is_archived_and_deleted_in_one_check(
        store: Store) -> None:
    sim, clock, ctx, row = setup(store)
    alice = sim.by_username("alice")
    t0 = clock()
    st = sim.post(alice, "写了又删 written, then erased", media=b"\x89PNG erased")
    ev_create = created(sim, st, t0)
    clock.advance(timedelta(minutes=2))
    sim.delete(st)
    ev_delete = deleted(st, clock())
    clock.advance(timedelta(seconds=3))
    res = run(ctx, row, [ev_create, ev_delete])
    assert res.outcome == "ok" and res.error is None
    assert [e["type"] for e in res.events] == ["post_deleted"]
    ev = res.events[0]
    assert ev["post_id"] == st.id and ev["detail"]["announced"] is True
    assert ev["detail"]["confirmations"] == 1
    assert ev["detail"]["last_seen"] == ev_create.received_at.isoformat().replace("+00:00", "Z")
    # the content, its image, and the evidence: the stream's frames and the 404
    post = store.get_post(st.id)
    assert post is not None and post["status"] == "deleted"
    assert post["text"] == "写了又删 written, then erased"
    assert store.blobs.read(post["media"][0]["sha256"]) == b"\x89PNG erased"
    caps = {c.id: c for c, _ in store.iter_captures()}
    assert {ev_create.capture.id, ev_delete.capture.id} <= set(ev["evidence"]) <= set(caps)
    assert any(caps[c].status == 404 for c in ev["evidence"])
    # not a poll: the poll schedule is not postponed, last_check untouched
    (after,) = store.list_accounts(watched_only=True)
    assert after["last_check"] == row["last_check"]
    assert after["next_check"] == row["next_check"]
    # the next polls say nothing more about it
    assert rounds(ctx, clock, 2) == []
    # nor does the create replayed after a reconnect: received before the deletion was
    # declared, it restores nothing (its capture is kept)
    assert run(ctx, row, [ev_create]).events == []
    assert store.get_post(st.id)["status"] == "deleted"  # type: ignore[index]
    assert [e["type"] for e in store.iter_events()] == ["post_deleted"]


def test_announced_but_present_is_a_false_alarm(store: Store) -> None:
    sim, clock, ctx, row = setup(store)
    st = sim.live_statuses(sim.by_username("alice"))[3]
    clock.advance(timedelta(minutes=1))
    res = run(ctx, row, [deleted(st, clock())])
    assert res.outcome == "ok" and res.events == []
    assert store.get_post(st.id)["status"] == "present"  # type: ignore[index]
    assert rounds(ctx, clock, 2) == []


def test_announced_but_unconfirmed_deletes_nothing_and_keeps_what_the_stream_showed(
        store: Store) -> None:
    sim, clock, ctx, row = setup(store, Flaky(timeout=1.0))
    alice = sim.by_username("alice")
    victim = sim.live_statuses(alice)[0]
    sim.delete(victim)  # really deleted, but the platform does not answer
    new = sim.post(alice, "新帖 a new post")
    res = run(ctx, row, [created(sim, new, clock()), deleted(victim, clock())])
    assert res.outcome == "error" and res.error and res.events == []
    assert store.get_post(victim.id)["status"] == "present"  # type: ignore[index]
    got = store.get_post(new.id)
    assert got is not None and got["text"] == "新帖 a new post"
    # the error brings the next poll forward; the poll then confirms as usual
    (after,) = store.list_accounts(watched_only=True)
    assert after["next_check"] < row["next_check"] and after["check_error"]
    sim.flaky = Flaky()
    assert rounds(ctx, clock) == []  # first GONE: a suspicion
    assert [e["type"] for e in rounds(ctx, clock)] == ["post_deleted"]


def test_an_account_event_is_checked_at_once(store: Store) -> None:
    sim, clock, ctx, row = setup(store)
    alice = sim.by_username("alice")
    alice.suspended = True
    ev = Ev("account", row["account_id"], status="suspended", received_at=clock(),
            capture=frame({"event": "account", "status": "suspended"}, clock()))
    res = run(ctx, row, [ev])
    assert [e["type"] for e in res.events] == ["account_suspended"]
    assert res.events[0]["detail"]["basis"] == "explicit"
    assert {ev.capture.id} <= {c.id for c, _ in store.iter_captures()}
    # an account event the platform does not confirm changes nothing
    alice.suspended = False
    assert [e["type"] for e in rounds(ctx, clock)] == ["account_restored"]
    res = run(ctx, row, [ev])
    assert res.events == []


def test_a_stream_check_older_than_a_stored_poll_is_stale_then_made_again(
        store: Store) -> None:
    sim, clock, ctx, row = setup(store)
    alice = sim.by_username("alice")
    st = sim.post(alice, "一闪而过 gone in a flash")
    events: list[StreamEventLike] = [created(sim, st, clock())]
    sim.delete(st)
    events.append(deleted(st, clock()))

    async def observe() -> Observation:
        async with Clients(ctx) as clients:
            return await observe_stream(ctx, row, events, clients)

    obs = asyncio.run(observe())
    clock.advance(timedelta(minutes=20))
    asyncio.run(poll(ctx, once=True))  # a poll stored meanwhile, at a later time
    assert persist(ctx, obs).outcome == "stale"
    assert {e.capture.id for e in events} <= {c.id for c, _ in store.iter_captures()}
    clock.advance(timedelta(seconds=5))
    res = run(ctx, row, events)  # made again on the fresh state: nothing lost
    assert [e["type"] for e in res.events] == ["post_deleted"]
    assert store.get_post(st.id)["text"] == "一闪而过 gone in a flash"  # type: ignore[index]


def test_events_of_another_account_are_refused(store: Store) -> None:
    sim, clock, ctx, row = setup(store)
    bob = sim.add_account("bob")
    st = sim.post(bob, "not alice's")
    with pytest.raises(SourceError, match="stream event"):
        run(ctx, row, [deleted(st, clock())])
    anonymous = replace(created(sim, st, clock()), account_id=None)  # its snapshot says whose
    with pytest.raises(SourceError, match="stream event"):
        run(ctx, row, [anonymous])
    assert store.get_post(st.id) is None



def test_no_usable_proxy_sends_nothing_but_keeps_what_the_stream_showed(store: Store) -> None:
    sim, clock, ctx, row = setup(store)
    alice = sim.by_username("alice")
    st = sim.post(alice, "代理坏了 the proxy is gone")
    events: list[StreamEventLike] = [created(sim, st, clock())]
    sim.delete(st)
    events.append(deleted(st, clock()))
    bad = replace(ctx, proxy="env", env={})  # 'env' but no proxy in the environment
    before = sim.requests
    res = run(bad, row, events)
    assert sim.requests == before  # fail closed: not one request
    assert res.outcome == "error" and "ALL_PROXY" in (res.error or "") and res.events == []
    kept = store.get_post(st.id)
    assert kept is not None and kept["text"] == "代理坏了 the proxy is gone"
    assert kept["status"] == "present"  # never deleted on the announcement alone

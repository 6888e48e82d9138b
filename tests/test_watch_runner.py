"""The collector end to end (source → detect → store) against the simulated platform,
which speaks the Mastodon API in process: deletions, edits, restorations, suspensions,
and the flaky-answer matrix that must produce no false deletion."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest

from unerased.model import parse_iso
from unerased.sim.platform import BASE, HOST, Flaky, SimPlatform, demo_clock
from unerased.store import Store
from unerased.watch.runner import (
    CheckOutcome,
    RunContext,
    WatchConfig,
    add_watch,
    check_account,
    due_accounts,
    poll,
)
from unerased.watch.uri import parse_uri


def make_ctx(store: Store, sim: SimPlatform, clock: Any) -> RunContext:
    def factory() -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=sim.transport())

    cfg = WatchConfig(source_options={"mastodon": {"clock": clock}})
    return RunContext(store, factory, cfg, now=clock)


def world(flaky: Flaky | None = None, seed: int = 1) -> tuple[SimPlatform, Any]:
    clock = demo_clock()
    sim = SimPlatform(seed=seed, flaky=flaky, clock=clock)
    alice = sim.add_account("alice", "Alice")
    for i in range(12):
        sim.post(alice, f"第{i}条：网络审查 post {i}", at=clock() - timedelta(hours=24 - i),
                 media=b"\x89PNG fake" if i == 3 else None)
    return sim, clock


def rounds(ctx: RunContext, clock: Any, n: int = 1) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for _ in range(n):
        clock.advance(timedelta(minutes=20))
        for res in asyncio.run(poll(ctx, once=True)):
            events += res.events
    return events


def watch_alice(ctx: RunContext) -> None:
    asyncio.run(add_watch(ctx, parse_uri(f"mastodon:@alice@{HOST}"), service=BASE, tags={}))


def test_watch_add_then_poll_archives_posts_and_media(store: Store) -> None:
    sim, clock = world()
    ctx = make_ctx(store, sim, clock)
    watch_alice(ctx)
    (acc,) = store.list_accounts(watched_only=True)
    assert acc["watch_uri"] == f"mastodon:@alice@{HOST}"
    assert rounds(ctx, clock) == []
    posts = list(store.iter_posts())
    assert len(posts) == 12
    with_media = [p for p in posts if p["media"]]
    assert len(with_media) == 1 and with_media[0]["media"][0]["sha256"]
    assert store.blobs.read(with_media[0]["media"][0]["sha256"]) == b"\x89PNG fake"
    assert len(list(store.iter_captures())) >= 3  # lookup, account, listing (+ media)


def test_deletion_needs_confirmation_then_restore(store: Store) -> None:
    sim, clock = world()
    ctx = make_ctx(store, sim, clock)
    watch_alice(ctx)
    rounds(ctx, clock)
    victim = sim.live_statuses(sim.by_username("alice"))[2]
    sim.delete(victim)
    assert rounds(ctx, clock) == []  # seen gone once: missing, not declared
    assert store.get_post(victim.id)["status"] == "missing"  # type: ignore[index]
    evs = rounds(ctx, clock)
    assert [e["type"] for e in evs] == ["post_deleted"]
    ev = evs[0]
    assert ev["post_id"] == victim.id and ev["platform"] == "mastodon"
    assert ev["detail"]["last_seen"] and ev["detail"]["first_missing"]
    assert ev["detail"]["last_seen"] < ev["detail"]["first_missing"]
    caps = {c.id: c for c, _ in store.iter_captures()}
    assert ev["evidence"] and all(cid in caps for cid in ev["evidence"])
    assert any(caps[c].status == 404 for c in ev["evidence"])
    assert rounds(ctx, clock, 2) == []  # no duplicate
    sim.restore(victim)
    assert [e["type"] for e in rounds(ctx, clock)] == ["post_restored"]
    assert store.get_post(victim.id)["status"] == "present"  # type: ignore[index]


def test_edit_becomes_version_and_event(store: Store) -> None:
    sim, clock = world()
    ctx = make_ctx(store, sim, clock)
    watch_alice(ctx)
    rounds(ctx, clock)
    st = sim.live_statuses(sim.by_username("alice"))[0]
    sim.edit(st, "改过的文字 edited")
    evs = rounds(ctx, clock)
    assert [e["type"] for e in evs] == ["post_edited"]
    p = store.get_post(st.id)
    assert p is not None and p["text"] == "改过的文字 edited" and len(p["versions"]) >= 2
    assert [h["post_id"] for h in store.search("改过")] == [st.id]


def test_suspension_is_one_account_event_not_a_spray(store: Store) -> None:
    sim, clock = world()
    ctx = make_ctx(store, sim, clock)
    watch_alice(ctx)
    rounds(ctx, clock)
    sim.by_username("alice").suspended = True
    evs = rounds(ctx, clock, 3)
    assert [e["type"] for e in evs] == ["account_suspended"]
    sim.by_username("alice").suspended = False
    evs = rounds(ctx, clock, 2)
    assert [e["type"] for e in evs] == ["account_restored"]
    assert all(p["status"] == "present" for p in store.iter_posts())


def test_all_posts_deleted_is_flagged_mass_deletion(store: Store) -> None:
    sim, clock = world()
    ctx = make_ctx(store, sim, clock)
    watch_alice(ctx)
    rounds(ctx, clock)
    for st in sim.live_statuses(sim.by_username("alice")):
        sim.delete(st)
    evs = rounds(ctx, clock, 3)
    assert len(evs) == 12 and {e["type"] for e in evs} == {"post_deleted"}
    assert all(e["detail"].get("mass_deletion", {}).get("count") == 12 for e in evs)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_flaky_matrix_no_false_deletion_and_real_one_found(store: Store, seed: int) -> None:
    flaky = Flaky(timeout=0.12, server_error=0.12, rate_limit=0.08, truncated=0.08, omit=0.25)
    sim, clock = world(flaky, seed=seed)
    ctx = make_ctx(store, sim, clock)
    sim.flaky = Flaky()
    watch_alice(ctx)
    sim.flaky = flaky
    events = rounds(ctx, clock, 12)
    assert [e for e in events if e["type"] == "post_deleted"] == []
    victim = sim.live_statuses(sim.by_username("alice"))[5]
    sim.delete(victim)
    events = rounds(ctx, clock, 20)
    deleted = [e["post_id"] for e in events if e["type"] == "post_deleted"]
    assert deleted == [victim.id]


def test_daemon_signs_checkpoints_and_archive_verifies(store: Store) -> None:
    from unerased.ledger.log import list_checkpoints
    from unerased.ledger.verify import verify_archive
    from unerased.watch.runner import run_forever

    sim, clock = world()
    ctx = make_ctx(store, sim, clock)
    ctx.config.checkpoint_every = timedelta(0)
    watch_alice(ctx)
    asyncio.run(run_forever(ctx, duration=0.6, tick=0.2))
    with store.reader() as conn:
        cps = list_checkpoints(conn)
    assert cps and cps[-1].size == store.ledger_size()
    report = verify_archive(store)
    assert report.ok, report.problems[:3]


def check_alice(ctx: RunContext) -> CheckOutcome:
    (row,) = ctx.store.list_accounts(watched_only=True)
    return asyncio.run(check_account(ctx, row))


def alice_row(store: Store) -> dict[str, Any]:
    (row,) = store.list_accounts(watched_only=True)
    return row


def until_due(ctx: RunContext, clock: Any) -> None:
    """Let time pass until alice is due again, checking the runner's schedule: due at
    ``next_check``, not a minute before."""
    due = parse_iso(alice_row(ctx.store)["next_check"])
    assert due is not None and due > clock()
    clock.advance(due - clock() - timedelta(minutes=1))
    assert due_accounts(ctx.store, clock(), all_watched=False) == []
    clock.advance(due - clock())
    assert [r["id"] for r in due_accounts(ctx.store, clock(), all_watched=False)] == [
        alice_row(ctx.store)["id"]]


def assert_recheck_soon(ctx: RunContext, clock: Any) -> None:
    """Rechecked at the confirmation pace (recheck_interval, plus at most 10% jitter), not
    at the 15-minute default."""
    cfg = ctx.config
    due = parse_iso(alice_row(ctx.store)["next_check"])
    assert due is not None
    assert cfg.recheck_interval <= due - clock() <= cfg.recheck_interval * 1.1
    assert cfg.recheck_interval >= cfg.detect.min_confirm_interval  # the recheck will count


@pytest.mark.parametrize("gone", ["404", "410"])
def test_account_gone_once_then_back_is_no_event(store: Store, gone: str) -> None:
    sim, clock = world()
    ctx = make_ctx(store, sim, clock)
    watch_alice(ctx)
    rounds(ctx, clock)
    alice = sim.by_username("alice")
    setattr(alice, "deleted" if gone == "404" else "legacy_suspended", True)
    clock.advance(timedelta(minutes=20))
    out = check_alice(ctx)
    assert out.events == [] and out.error is None
    assert out.captures == 1  # the account's answer; no listing, no lookup while pending
    row = alice_row(store)
    assert row["status"] == "active"  # nothing announced, not even in the account's row
    assert {p["status"] for p in store.iter_posts()} == {"present"}
    assert_recheck_soon(ctx, clock)
    setattr(alice, "deleted" if gone == "404" else "legacy_suspended", False)
    until_due(ctx, clock)
    assert check_alice(ctx).events == []
    due = parse_iso(alice_row(store)["next_check"])
    assert due is not None and due - clock() >= ctx.config.interval  # back to the usual pace
    assert rounds(ctx, clock, 2) == []
    assert list(store.iter_events()) == []


def test_account_that_stays_gone_is_one_account_deleted(store: Store) -> None:
    sim, clock = world()
    ctx = make_ctx(store, sim, clock)
    watch_alice(ctx)
    rounds(ctx, clock)
    sim.by_username("alice").deleted = True
    clock.advance(timedelta(minutes=20))
    assert check_alice(ctx).events == []
    assert_recheck_soon(ctx, clock)
    until_due(ctx, clock)
    evs = check_alice(ctx).events
    assert [e["type"] for e in evs] == ["account_deleted"]
    ev = evs[0]
    assert ev["detail"]["basis"] == "absence" and ev["detail"]["confirmations"] == 2
    assert ev["detail"]["last_seen"] < ev["detail"]["first_missing"]
    caps = {c.id: c for c, _ in store.iter_captures()}
    assert len(ev["evidence"]) == 2 and [caps[c].status for c in ev["evidence"]] == [404, 404]
    assert alice_row(store)["status"] == "deleted"
    assert rounds(ctx, clock, 3) == []  # announced once
    assert [e["type"] for e in store.iter_events()] == ["account_deleted"]
    assert {p["status"] for p in store.iter_posts()} == {"unavailable"}

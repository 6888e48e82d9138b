"""Two collectors on one home never check the same account at once, and the same
observation never yields two events: due accounts are claimed atomically with a lease
that expires (SQLite: one BEGIN IMMEDIATE ``UPDATE … RETURNING``; PostgreSQL: ``FOR
UPDATE SKIP LOCKED``), and the persist step compares the account's state version with
the one its check read. On SQLite and PostgreSQL, with real processes on loopback."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from cli_proc import jsonl, spawn, unerased_run
from sim_server import SimServer
from unerased.model import parse_iso
from unerased.refs import account_uri
from unerased.sim.platform import HOST, SimPlatform, demo_clock
from unerased.store import Store
from unerased.watch.runner import (
    RunContext,
    WatchConfig,
    add_watch,
    check_account,
    default_client_factory,
    observe,
    persist,
    poll,
)
from unerased.watch.uri import parse_uri

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
LEASE = timedelta(minutes=10)


def watched(store: Store, n: int) -> list[dict[str, Any]]:
    """``n`` watched accounts, written directly (no platform needed to claim them)."""
    from unerased.model import AccountSnapshot, AccountStatus

    with store.writer() as w:
        for i in range(n):
            snap = AccountSnapshot(platform="rss", account_id=f"http://127.0.0.1:9/{i}",
                                   handle=None, status=AccountStatus.ACTIVE, observed_at=T0)
            row = w.upsert_account(snap, "watch")
            w.update_account(row["id"], watched=True, watch_uri=f"rss:http://127.0.0.1:9/{i}",
                             next_check=None)
    return store.list_accounts(watched_only=True)


# ----------------------------------------------------------------- the store's claims


def test_a_claim_is_exclusive_until_it_is_released_or_expires(store: Store) -> None:
    rows = watched(store, 3)
    a = store.claim_accounts("collector-a", T0, LEASE, due_only=False)
    assert sorted(r["id"] for r in a.rows) == sorted(r["id"] for r in rows)
    assert all(r["claimed_by"] == "collector-a" for r in a.rows)
    b = store.claim_accounts("collector-b", T0 + timedelta(minutes=1), LEASE, due_only=False)
    assert b.rows == [] and sorted(r["id"] for r in b.busy) == sorted(r["id"] for r in rows)
    # released by the check that persists: claimable again at once
    with store.writer() as w:
        w.release_claim(rows[0]["id"], "collector-a")
    b = store.claim_accounts("collector-b", T0 + timedelta(minutes=2), LEASE, due_only=False)
    assert [r["id"] for r in b.rows] == [rows[0]["id"]]
    # a crashed collector's lease expires
    c = store.claim_accounts("collector-c", T0 + LEASE + timedelta(seconds=1), LEASE,
                             due_only=False)
    assert sorted(r["id"] for r in c.rows) == sorted(r["id"] for r in rows[1:])
    assert [r["id"] for r in c.busy] == [rows[0]["id"]]  # b's lease still runs


def test_another_collectors_release_never_frees_my_claim(store: Store) -> None:
    (row,) = watched(store, 1)
    store.claim_accounts("a", T0, LEASE, due_only=False)
    with store.writer() as w:
        w.release_claim(row["id"], "b")  # b's lease had expired and a claimed it since
    assert store.claim_accounts("c", T0, LEASE, due_only=False).rows == []


def test_renewing_keeps_a_long_check_claimed(store: Store) -> None:
    (row,) = watched(store, 1)
    store.claim_accounts("a", T0, LEASE, due_only=False)
    later = T0 + LEASE - timedelta(seconds=1)
    assert store.renew_claims("a", [row["id"]], later + LEASE) == 1
    assert store.renew_claims("b", [row["id"]], later + LEASE) == 0  # not b's to renew
    assert store.claim_accounts("b", T0 + LEASE + timedelta(minutes=1), LEASE,
                                due_only=False).rows == []


def test_only_due_accounts_are_claimed_unless_all_are_asked_for(store: Store) -> None:
    rows = watched(store, 2)
    with store.writer() as w:
        w.update_account(rows[0]["id"], next_check="2026-03-01T13:00:00Z")
        w.update_account(rows[1]["id"], next_check="2026-03-01T11:00:00Z")
    due = store.claim_accounts("a", T0, LEASE, due_only=True)
    assert [r["id"] for r in due.rows] == [rows[1]["id"]] and due.busy == []
    rest = store.claim_accounts("b", T0, LEASE, due_only=False)
    assert [r["id"] for r in rest.rows] == [rows[0]["id"]]


def test_concurrent_claims_never_share_an_account(store: Store) -> None:
    """Eight collectors claim at the same moment (threads, one connection each): every
    account goes to exactly one of them."""
    rows = watched(store, 60)
    start = threading.Barrier(8)
    got: dict[str, list[int]] = {}

    def collector(name: str) -> None:
        start.wait()
        got[name] = [r["id"] for r in store.claim_accounts(name, T0, LEASE,
                                                             due_only=False).rows]

    threads = [threading.Thread(target=collector, args=(f"c{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counts = Counter(pk for ids in got.values() for pk in ids)
    assert sorted(counts) == sorted(r["id"] for r in rows)
    assert set(counts.values()) == {1}


# ----------------------------------------------------------------- compare-and-set


def test_compare_and_set_refuses_a_stale_state_version(store: Store) -> None:
    (row,) = watched(store, 1)
    v = row["state_version"]
    with store.writer() as w:
        assert w.compare_and_set_state(row["id"], v) is True
    with store.writer() as w:  # a second result read the same version: refused
        assert w.compare_and_set_state(row["id"], v) is False
        fresh, _posts = w.check_state(row["id"])
        assert fresh["state_version"] == v + 1
        assert w.compare_and_set_state(row["id"], fresh["state_version"]) is True
    (after,) = store.list_accounts(watched_only=True)
    assert after["state_version"] == v + 2


def _sim_ctx(store: Store, transport: Callable[[], httpx.AsyncBaseTransport],
             clock: Any) -> RunContext:
    """A collector on the in-process platform (each client through a new
    ``transport()``) at ``clock``."""
    return RunContext(store, lambda: httpx.AsyncClient(transport=transport()),
                      WatchConfig(source_options={"mastodon": {"clock": clock}}), now=clock)


def _watch_alice(ctx: RunContext) -> None:
    asyncio.run(add_watch(ctx, parse_uri(f"mastodon:@alice@{HOST}"),
                          service=f"https://{HOST}", tags={}))


class SlowSim(httpx.AsyncBaseTransport):
    """The simulated platform, each answer after a real await: two checks interleave."""

    def __init__(self, sim: SimPlatform) -> None:
        self.sim = sim

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.01)
        return self.sim.handle(request)


def test_two_overlapping_checks_of_one_account_give_one_event(store: Store) -> None:
    """Two checks of one account read the same state and both see the same edit (a
    lease that expired mid-check): the edit is one post_edited, not two."""
    clock = demo_clock(T0)
    sim = SimPlatform(seed=4, clock=clock)
    alice = sim.add_account("alice", "Alice")
    sts = [sim.post(alice, f"post {i}", at=clock() - timedelta(hours=5 - i)) for i in range(5)]
    ctx = _sim_ctx(store, lambda: SlowSim(sim), clock)
    _watch_alice(ctx)
    (row,) = store.list_accounts(watched_only=True)
    asyncio.run(check_account(ctx, row))
    for rnd in range(3):
        clock.advance(timedelta(minutes=20))
        sim.edit(sts[rnd], f"edited {rnd}")
        (row,) = store.list_accounts(watched_only=True)

        async def both(r: dict[str, Any] = row) -> list[Any]:
            return list(await asyncio.gather(check_account(ctx, r), check_account(ctx, r)))

        outs = asyncio.run(both())
        assert sorted(o.outcome for o in outs) in (["ok", "stale"], ["ok", "ok"])
        assert sum(len(o.events) for o in outs) == 1, [o.events for o in outs]
    edits = [e for e in store.iter_events() if e["type"] == "post_edited"]
    assert sorted(e["post_id"] for e in edits) == sorted(st.id for st in sts[:3])


def _two_observations(store: Store) -> tuple[RunContext, Any, Any, str]:
    """Two checks of alice that read the same stored state: ``a`` saw her post as it
    was, ``b`` (20 minutes later) saw it edited. Neither is stored yet."""
    clock = demo_clock(T0)
    sim = SimPlatform(seed=5, clock=clock)
    alice = sim.add_account("alice", "Alice")
    st = sim.post(alice, "first words", at=clock() - timedelta(hours=1))
    ctx = _sim_ctx(store, lambda: SlowSim(sim), clock)
    _watch_alice(ctx)
    (row,) = store.list_accounts(watched_only=True)
    asyncio.run(check_account(ctx, row))
    (row,) = store.list_accounts(watched_only=True)
    clock.advance(timedelta(minutes=20))
    a = asyncio.run(observe(ctx, row))
    clock.advance(timedelta(minutes=20))
    sim.edit(st, "second words")
    b = asyncio.run(observe(ctx, row))
    return ctx, a, b, st.id


def test_an_older_result_stored_last_is_stale_and_undoes_nothing(store: Store) -> None:
    ctx, a, b, post_id = _two_observations(store)
    b_out = persist(ctx, b)
    n_caps = len(list(store.iter_captures()))
    a_out = persist(ctx, a)  # read the same version as b, and began before it
    assert b_out.outcome == "ok" and [e["type"] for e in b_out.events] == ["post_edited"]
    assert a_out.outcome == "stale" and a_out.events == []
    assert len(list(store.iter_captures())) == n_caps + a_out.captures  # evidence kept
    post = store.get_post(post_id)
    assert post is not None and post["text"] == "second words"  # not undone by a
    (row,) = store.list_accounts(watched_only=True)
    assert row["last_check"] == b_out.at


def test_a_newer_result_stored_last_is_judged_again_on_the_fresh_state(store: Store) -> None:
    """a stored first; b began later, read the same version: detection runs again on
    what a stored, and b's edit is found once (dropping b would lose it until the
    next check; writing it as it was would judge it against a state a replaced)."""
    ctx, a, b, post_id = _two_observations(store)
    a_out = persist(ctx, a)
    b_out = persist(ctx, b)
    assert a_out.outcome == "ok" and a_out.events == []
    assert b_out.outcome == "ok" and [e["type"] for e in b_out.events] == ["post_edited"]
    post = store.get_post(post_id)
    assert post is not None and post["text"] == "second words"
    assert [e["type"] for e in store.iter_events()] == ["post_edited"]
    (row,) = store.list_accounts(watched_only=True)
    assert row["last_check"] == b_out.at and row["state_version"] == a.row["state_version"] + 2


# ----------------------------------------------------------------- real processes


def _sim_world(n_accounts: int, posts: int) -> SimPlatform:
    sim = SimPlatform(seed=7)
    now = datetime.now(UTC)
    for a in range(n_accounts):
        acc = sim.add_account(f"user{a}", f"User {a}")
        for i in range(posts):
            sim.post(acc, f"account {a} post {i}", at=now - timedelta(hours=posts - i))
    return sim


def test_two_poll_processes_never_duplicate_an_event(tmp_path: Path,
                                                     db_url: str | None) -> None:
    """Two `unerased poll --once` started together on one home, round after round,
    while posts are edited: every edit is exactly one post_edited (before: both
    processes checked every account, and an edit was often announced twice)."""
    home = tmp_path / "home"
    sim = _sim_world(4, 4)
    rounds = 4
    with SimServer(sim, delay=0.03) as srv:
        store = Store.open(home, db_url)
        ctx = RunContext(store, default_client_factory(), WatchConfig())
        for acc in sim.accounts.values():
            asyncio.run(add_watch(ctx, parse_uri(f"mastodon:@{acc.username}@{HOST}"),
                                  service=srv.base, tags={}))
        store.close()
        first = unerased_run(home, db_url, "poll", "--once")
        assert first.returncode == 0, first.stderr
        edited: list[str] = []
        busy = 0
        for rnd in range(rounds):
            for acc in sim.accounts.values():
                with srv.lock:
                    st = sim.live_statuses(acc)[rnd % 4]
                    sim.edit(st, f"{acc.username} edit {rnd}")
                edited.append(st.id)
            procs = [spawn(home, db_url, "poll", "--once", "--json") for _ in range(2)]
            outs = [p.communicate(timeout=120) for p in procs]
            for p, (out, err) in zip(procs, outs, strict=True):
                assert p.returncode == 0, err
                assert "Traceback" not in err
                busy += sum(1 for c in jsonl(out) if c["outcome"] == "busy")
    store = Store.open(home, db_url)
    edits = [e for e in store.iter_events() if e["type"] == "post_edited"]
    store.close()
    keys = Counter((e["post_id"], e["detail"]["new_hash"]) for e in edits)
    assert [k for k, n in keys.items() if n > 1] == []  # no duplicate
    assert sorted(e["post_id"] for e in edits) == sorted(edited)  # and none missing
    assert busy > 0  # the second collector found accounts held by the first


def test_poll_once_skips_accounts_another_live_collector_holds(
        tmp_path: Path, db_url: str | None) -> None:
    home = tmp_path / "home"
    sim = _sim_world(2, 2)
    with SimServer(sim) as srv:
        store = Store.open(home, db_url)
        ctx = RunContext(store, default_client_factory(), WatchConfig())
        for acc in sim.accounts.values():
            asyncio.run(add_watch(ctx, parse_uri(f"mastodon:@{acc.username}@{HOST}"),
                                  service=srv.base, tags={}))
        held, free = store.list_accounts(watched_only=True)
        now = datetime.now(UTC)
        got = store.claim_accounts("someone-else", now, timedelta(hours=1), due_only=False)
        assert len(got.rows) == 2
        with store.writer() as w:
            w.release_claim(free["id"], "someone-else")
        store.close()
        r = unerased_run(home, db_url, "poll", "--once", "--json")
        assert r.returncode == 0, r.stderr
        checks = {c["account"]: c for c in jsonl(r.stdout)}
        free_uri, held_uri = (account_uri(a["platform"], a["handle"], a["account_id"])
                              for a in (free, held))  # the canonical form poll prints
        assert checks[free_uri]["outcome"] == "ok"
        assert checks[held_uri]["outcome"] == "busy"
        assert checks[held_uri]["requests"] == 0
        assert f"skipped {held_uri}" in r.stderr and "busy" in r.stderr
        store = Store.open(home, db_url)
        rows = {a["id"]: a for a in store.list_accounts(watched_only=True)}
        store.close()
        assert rows[held["id"]]["last_check"] is None  # not checked
        assert rows[free["id"]]["claimed_by"] is None  # released when it persisted
        assert parse_iso(rows[free["id"]]["last_check"]) is not None


def test_the_runner_releases_what_it_claimed(store: Store) -> None:
    clock = demo_clock(T0)
    sim = SimPlatform(seed=2, clock=clock)
    sim.add_account("alice")
    ctx = _sim_ctx(store, sim.transport, clock)
    _watch_alice(ctx)
    (out,) = asyncio.run(poll(ctx, once=True))
    assert out.outcome == "ok"
    (row,) = store.list_accounts(watched_only=True)
    assert row["claimed_by"] is None and row["claimed_until"] is None
    assert store.claim_accounts("other", clock(), LEASE, due_only=False).rows


def test_a_long_check_keeps_its_claim_alive(store: Store) -> None:
    """The lease is 1 s and the check takes longer: the running pass renews it, so a
    second collector asking after the first lease would have run out gets nothing."""
    from unerased.model import utcnow

    sim = SimPlatform(seed=3)
    alice = sim.add_account("alice")
    for i in range(3):
        sim.post(alice, f"post {i}", at=utcnow() - timedelta(hours=i + 1))

    class Slow(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            await asyncio.sleep(1.0)  # two requests at least: the check lasts > 2 s
            return sim.handle(request)

    ctx = RunContext(store, lambda: httpx.AsyncClient(transport=Slow()),
                     WatchConfig(lease=timedelta(seconds=1)))
    _watch_alice(ctx)

    async def both() -> tuple[list[Any], list[dict[str, Any]]]:
        async def other() -> list[dict[str, Any]]:
            await asyncio.sleep(1.3)  # the first lease ran out at 1.0 s
            return store.claim_accounts("other", utcnow(), LEASE, due_only=False).rows

        outs, got = await asyncio.gather(poll(ctx, once=True), other())
        return outs, got

    outs, got = asyncio.run(both())
    assert [o.outcome for o in outs] == ["ok"]
    assert got == []  # still claimed by the running pass (before renewing: taken over)
    (row,) = store.list_accounts(watched_only=True)
    assert row["claimed_by"] is None  # and released when stored


def test_an_interrupted_pass_gives_its_claims_back(store: Store) -> None:
    """Ctrl-C during `poll` (the pass is cancelled): the accounts it had not stored are
    released at once, not held until the lease runs out."""
    sim = SimPlatform(seed=3)
    sim.add_account("alice")

    class Hang(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            await asyncio.sleep(3600)
            raise AssertionError("not reached")

    ctx = RunContext(store, lambda: httpx.AsyncClient(transport=sim.transport()),
                     WatchConfig())
    _watch_alice(ctx)
    ctx.client_factory = lambda: httpx.AsyncClient(transport=Hang())

    async def interrupted() -> None:
        task = asyncio.create_task(poll(ctx, once=True))
        await asyncio.sleep(0.3)
        (row,) = store.list_accounts(watched_only=True)
        assert row["claimed_by"] == ctx.collector  # claimed while the check hangs
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(interrupted())
    (row,) = store.list_accounts(watched_only=True)
    assert row["claimed_by"] is None and row["claimed_until"] is None

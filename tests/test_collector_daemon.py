"""The collector daemon (``unerased.collector``): every store write on its one writer
thread; long-lived sources whose rate-limit state survives between checks; per-host
budgets that give back what they cannot pay for, due at the host's pace; 429 and
``Retry-After`` fed into the due time; heartbeats; claims with a limit that two
collectors never share (SQLite and PostgreSQL). Real loopback servers, an injected
clock: nothing here sleeps for a schedule, a lease or a back-off."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from collector_world import Clock, add_alice, clean_env  # noqa: F401 (autouse)
from net_servers import Seen, json_answer, mastodon_site, sites, status
from unerased.collector import Collector, WriteThread, budgets_from, host_of
from unerased.model import AccountSnapshot, AccountStatus, parse_iso
from unerased.store import Store
from unerased.watch.runner import RunContext, WatchConfig, default_client_factory

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def rss_rows(store: Store, n: int, port: int = 9) -> list[dict[str, Any]]:
    """``n`` watched feeds on one host (nothing listens there: each check fails fast)."""
    with store.writer() as w:
        for i in range(n):
            url = f"http://127.0.0.1:{port}/{i}"
            snap = AccountSnapshot(platform="rss", account_id=url, handle=None,
                                   status=AccountStatus.ACTIVE, observed_at=T0)
            row = w.upsert_account(snap, "watch")
            w.update_account(row["id"], watched=True, watch_uri=f"rss:{url}",
                             next_check="2026-03-01T11:59:00Z")
    return store.list_accounts(watched_only=True)


def test_the_writer_thread_runs_functions_in_order_and_finishes_a_started_one() -> None:
    order: list[int] = []
    gate, started = threading.Event(), threading.Event()

    async def go() -> list[Any]:
        async with WriteThread() as wt:
            first = asyncio.ensure_future(wt.run(
                lambda: (started.set(), gate.wait(5), order.append(1))))
            await asyncio.sleep(0)
            second = asyncio.ensure_future(wt.run(lambda: order.append(2)))
            assert await asyncio.to_thread(started.wait, 5)
            first.cancel()  # already running: it runs to its end all the same
            gate.set()
            res = await asyncio.gather(first, second, return_exceptions=True)
            ident = await wt.run(threading.get_ident)
            assert ident == wt.ident != threading.get_ident()
            return res

    res = asyncio.run(go())
    assert order == [1, 2]
    assert isinstance(res[0], asyncio.CancelledError) and res[1] is None


def test_every_store_write_of_the_daemon_runs_on_its_one_writer_thread(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    writes: list[tuple[str, int]] = []
    for name in ("writer", "claim_accounts", "defer_claims", "renew_claims",
                 "release_claims", "record_check_failure", "set_state"):
        original = getattr(store, name)

        def spy(*a: Any, _name: str = name, _f: Callable[..., Any] = original,
                **kw: Any) -> Any:
            writes.append((_name, threading.get_ident()))
            return _f(*a, **kw)

        monkeypatch.setattr(store, name, spy)
    site = mastodon_site([status(1, "hello")])
    with sites(site):
        clock = Clock(T0)
        add_alice(store, site.base, clock)
        writes.clear()
        clock.t = T0 + timedelta(minutes=1)
        ctx = RunContext(store, default_client_factory(), WatchConfig(), now=clock)
        col = Collector(ctx)

        async def go() -> None:
            assert await col.step() == 1
            await col.drain()
            await col.heartbeat()
            col.writer.close()

        asyncio.run(go())
    assert col.stats.ok == 1 and col.stats.checks == 1
    names = {n for n, _ in writes}
    assert {"claim_accounts", "writer", "set_state"} <= names
    assert {t for _, t in writes} == {col.writer.ident}
    beat = store.get_state(f"heartbeat:{ctx.collector}")
    assert beat["checks"] == 1 and beat["ok"] == 1 and beat["collector"] == ctx.collector
    assert parse_iso(beat["last_check_at"]) == clock.t
    (row,) = store.list_accounts(watched_only=True)
    assert row["claimed_by"] is None and row["last_check"] is not None


def test_a_429_keeps_its_host_waiting_across_checks_and_the_source_lives_on(
        store: Store) -> None:
    """The first check's listing answers 429 Retry-After: 600. The account is due again
    no earlier than that; forced due before it, it is given back unchecked (nothing
    sent); after it, it is checked by the same long-lived source."""
    clock = Clock(T0)
    throttled = [True]

    def listing(_seen: Seen) -> Any:
        if throttled[0]:
            return json_answer(429, {"error": "Too many requests"}, [("retry-after", "600")])
        return json_answer(200, [])

    site = mastodon_site([status(1, "hello")], extra={"/api/v1/accounts/109/statuses": listing})
    with sites(site):
        row = add_alice(store, site.base, clock)
        ctx = RunContext(store, default_client_factory(), WatchConfig(
            source_options={"mastodon": {"clock": clock}}), now=clock)
        col = Collector(ctx)
        host = host_of(row)

        async def go() -> None:
            clock.t = T0 + timedelta(seconds=1)
            assert await col.step() == 1
            await col.drain()
            (r,) = store.list_accounts(watched_only=True)
            assert parse_iso(r["next_check"]) >= T0 + timedelta(seconds=601)
            assert col.budgets.snapshot(clock.t)[host]["blocked_until"] is not None
            with store.writer() as w:  # forced due while the host still says wait
                w.update_account(r["id"], next_check="2026-03-01T12:01:00Z")
            sent = len(site.seen)
            clock.t = T0 + timedelta(minutes=2)
            assert await col.step() == 0
            assert len(site.seen) == sent and col.stats.deferred == 1
            (r,) = store.list_accounts(watched_only=True)
            assert r["claimed_by"] is None
            assert parse_iso(r["next_check"]) >= T0 + timedelta(seconds=601)
            throttled[0] = False
            clock.t = T0 + timedelta(minutes=11)
            assert await col.step() == 1
            await col.drain()
            assert len(col.pool) == 1  # one source for the host, all along
            col.writer.close()
            await col.pool.aclose()

        asyncio.run(go())
    assert col.stats.checks == 2
    (r,) = store.list_accounts(watched_only=True)
    assert r["check_error"] is None


def test_a_host_over_its_budget_gets_its_accounts_back_at_its_pace(store: Store) -> None:
    """A budget of one request a minute: of three due feeds on one host, one is checked;
    the two others are given back, due one minute apart from when a request may go."""
    rows = rss_rows(store, 3)
    clock = Clock(T0)
    ctx = RunContext(store, default_client_factory(), WatchConfig(fetch_media=False),
                     now=clock)
    col = Collector(ctx, budgets=budgets_from({"default": (300, 300.0),
                                               "127.0.0.1:9": (1, 60.0)}))

    async def go() -> None:
        assert await col.step() == 1
        await col.drain()
        col.writer.close()

    asyncio.run(go())
    after = {r["id"]: r for r in store.list_accounts(watched_only=True)}
    assert all(r["claimed_by"] is None for r in after.values())
    checked = [pk for pk, r in after.items() if r["last_check"]]
    assert len(checked) == 1 and col.stats.deferred == 2
    later = sorted(parse_iso(r["next_check"]) for pk, r in after.items() if pk not in checked)
    assert later == [T0 + timedelta(seconds=60), T0 + timedelta(seconds=120)]
    assert len(rows) == 3


def test_a_limited_claim_takes_the_longest_overdue_first(store: Store) -> None:
    rows = rss_rows(store, 4)
    with store.writer() as w:
        for i, r in enumerate(rows):
            w.update_account(r["id"], next_check=f"2026-03-01T11:0{5 - i}:00Z")
    got = store.claim_accounts("a", T0, timedelta(minutes=10), due_only=True, limit=2,
                               report_busy=False)
    assert [r["id"] for r in got.rows] == [rows[3]["id"], rows[2]["id"]]
    assert got.busy == []


def test_two_collectors_claiming_with_limits_never_hold_one_account(store: Store) -> None:
    """On SQLite and PostgreSQL (``FOR UPDATE SKIP LOCKED``): six collectors claim
    batches of five at once, round after round; no account is ever held by two."""
    rows = rss_rows(store, 40)
    holders: Counter[int] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(6)

    def collector(name: str) -> None:
        start.wait()
        for _ in range(3):
            got = store.claim_accounts(name, T0, timedelta(minutes=10), due_only=True,
                                       limit=5, report_busy=False)
            with lock:
                holders.update(r["id"] for r in got.rows)

    threads = [threading.Thread(target=collector, args=(f"c{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(holders.values()) == {1}
    assert len(holders) == len(rows)  # 6 x 3 x 5 = 90 slots for 40 accounts: all taken
    owners = Counter(r["claimed_by"] for r in store.list_accounts(watched_only=True))
    assert sum(owners.values()) == 40 and None not in owners


def test_a_restart_spreads_what_fell_overdue_instead_of_a_burst(store: Store) -> None:
    """Ten feeds overdue by hours after downtime, one just due, one never checked: the
    ten are spread over one interval from now (most overdue first); the others stay
    due now."""
    rows = rss_rows(store, 12)
    with store.writer() as w:
        for i, r in enumerate(rows[:10]):
            w.update_account(r["id"], next_check=f"2026-03-01T0{i % 10}:00:00Z")
        w.update_account(rows[10]["id"], next_check="2026-03-01T11:59:30Z")
        w.update_account(rows[11]["id"], next_check=None)
    clock = Clock(T0)
    ctx = RunContext(store, default_client_factory(), WatchConfig(), now=clock)
    col = Collector(ctx)

    async def go() -> int:
        n = await col.resume()
        col.writer.close()
        return n

    assert asyncio.run(go()) == 10
    after = {r["id"]: r for r in store.list_accounts(watched_only=True)}
    times = sorted(parse_iso(after[r["id"]]["next_check"]) for r in rows[:10])
    step = timedelta(minutes=15) / 10
    assert times == [T0 + i * step for i in range(10)]
    assert parse_iso(after[rows[0]["id"]]["next_check"]) == T0  # the most overdue first
    assert after[rows[10]["id"]]["next_check"] == "2026-03-01T11:59:30Z"
    assert after[rows[11]["id"]]["next_check"] is None


def test_the_daemon_keeps_its_id_across_restarts_unless_another_is_alive(
        store: Store) -> None:
    from unerased.collector import daemon_id

    beat = timedelta(minutes=1)
    assert daemon_id(store, T0, beat, host="box") == "box:run"
    store.set_state("heartbeat:box:run", {"at": "2026-03-01T11:59:30Z"}, T0)
    assert daemon_id(store, T0, beat, host="box") is None  # alive: a second daemon
    assert daemon_id(store, T0 + timedelta(minutes=5), beat, host="box") == "box:run"
    store.set_state("heartbeat:box:run", {"at": "2026-03-01T11:59:30Z", "stopped": True}, T0)
    assert daemon_id(store, T0, beat, host="box") == "box:run"  # stopped cleanly

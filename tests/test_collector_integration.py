"""The daemon with the other parts of issue 10: alerts enqueued and delivered each
round (a ``heartbeat`` rule receives the collector's heartbeat; the outbox writes made
on the writer thread), and stream events checked per account (content archived from
the event, a ``gap`` making the accounts due now, the cursor saved after what it
covers). Loopback receivers, an injected clock."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from collector_world import Clock, add_alice, clean_env  # noqa: F401 (autouse)
from net_servers import Site, json_answer, mastodon_site, sites, status
from unerased.collector import AlertPump, Collector, StreamPump
from unerased.model import Capture, PostSnapshot, parse_iso
from unerased.store import Store
from unerased.streams import StreamEvent
from unerased.watch.runner import RunContext, WatchConfig, default_client_factory

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
ALLOW = {"UNERASED_ALLOW_HOSTS": "127.0.0.1"}


def test_each_round_delivers_the_heartbeat_and_the_outbox_is_written_on_the_writer(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    receiver = Site("127.0.0.1")
    receiver.routes["/hook"] = lambda _seen: json_answer(204, {})
    site = mastodon_site([status(1, "hello")])
    with sites(site, receiver):
        clock = Clock(T0)
        add_alice(store, site.base, clock)
        store.add_alert_rule(receiver.url("/hook"), secret="5e" * 32, now=T0,
                             on_types=["heartbeat"], within_s=900)
        writes: list[tuple[str, int]] = []
        for name in ("claim_deliveries", "mark_delivered", "record_delivery_failure"):
            original = getattr(store, name)

            def spy(*a: Any, _n: str = name, _f: Callable[..., Any] = original,
                    **kw: Any) -> Any:
                writes.append((_n, threading.get_ident()))
                return _f(*a, **kw)

            monkeypatch.setattr(store, name, spy)
        clock.t = T0 + timedelta(minutes=1)
        ctx = RunContext(store, default_client_factory(), WatchConfig(), now=clock,
                         env=ALLOW)
        col = Collector(ctx)
        col.alerts = AlertPump(store, col.writer, ctx.collector, proxy=None, env=ALLOW,
                               clock=clock)
        failed: list[str] = []
        col.on_log = lambda r: failed.append(r.error or "") if r.outcome == "alert_failed" \
            else None

        async def go() -> None:
            await col.step()
            await col.drain()
            await col.alerts_once()
            await col.alerts_once()  # the same period: nothing more is sent
            col.writer.close()

        asyncio.run(go())
    assert failed == []
    assert [s.method for s in receiver.seen] == ["POST"]
    payload = json.loads(receiver.seen[0].body)
    assert payload["kind"] == "heartbeat"
    assert {n for n, _ in writes} >= {"claim_deliveries", "mark_delivered"}
    assert {t for _, t in writes} == {col.writer.ident}
    assert store.outbox_counts()["delivered"] == 1
    assert col.alerts.delivered == 1


class FakeStream:
    """What the pump uses of a stream client (the real clients are tested against real
    servers in tests/test_streams_*.py)."""

    platform = "mastodon"
    source = "mastodon"

    def __init__(self, cursor: str) -> None:
        self.cursor = cursor
        self.connects = 1
        self.watched: frozenset[str] = frozenset()


def _event(kind: str, row: dict[str, Any], at: datetime, **kw: Any) -> StreamEvent:
    cap = Capture(method="WS", url="ws://127.0.0.1:1/api/v1/streaming", started_at=at,
                  status=101, body=json.dumps({"event": kind}).encode())
    return StreamEvent(source="mastodon", kind=kind, platform="mastodon",
                       account_id=kw.pop("account_id", row["account_id"]),
                       post_id=kw.pop("post_id", None), snapshot=kw.pop("snapshot", None),
                       status=None, cursor=None, received_at=at, capture=cap, detail={})


def test_stream_events_are_checked_per_account_and_a_gap_makes_accounts_due(
        store: Store) -> None:
    site = mastodon_site([status(1, "hello")])
    with sites(site):
        clock = Clock(T0)
        row = add_alice(store, site.base, clock)
        ctx = RunContext(store, default_client_factory(), WatchConfig(), now=clock)
        col = Collector(ctx)

        async def first() -> None:  # a poll first: the account's state is known
            clock.t = T0 + timedelta(minutes=1)
            await col.step()
            await col.drain()

        asyncio.run(first())
        polled = store.list_accounts(watched_only=True)[0]
        assert parse_iso(polled["next_check"]) > clock.t + timedelta(minutes=10)
        clock.t = T0 + timedelta(minutes=2)
        snap = PostSnapshot(platform="mastodon", account_id=row["account_id"],
                            post_id="2002", text="written, to be erased in a minute",
                            created_at=clock.t, observed_at=clock.t)
        other = dict(row, account_id="999@elsewhere.example")
        batch = [_event("create", row, clock.t, post_id="2002", snapshot=snap),
                 _event("create", other, clock.t, post_id="1"),  # not watched: ignored
                 _event("gap", row, clock.t, account_id=None)]
        fake = FakeStream("c-2")
        pump = StreamPump(col, {"mastodon:test": fake},  # type: ignore[dict-item]
                          store.list_accounts(watched_only=True))

        async def go() -> None:
            await pump.handle("mastodon:test", fake, batch)  # type: ignore[arg-type]
            col.writer.close()

        asyncio.run(go())
    texts = {p["post_id"]: p["versions"][-1]["text"]
             for p in store.iter_posts(account_pk=row["id"])}
    assert texts["2002"] == "written, to be erased in a minute"  # archived from the event
    (acc,) = store.list_accounts(watched_only=True)
    assert parse_iso(acc["next_check"]) == clock.t  # the gap: re-list now
    assert store.get_state("stream:mastodon:test") == "c-2"
    assert pump.checks == 1 and col.stats.checks == 2
    st = col.streams["mastodon:test"]
    assert st["connected"] is True and st["events"] == 3 and st["cursor"] == "c-2"


def test_run_follows_jetstream_when_the_config_turns_it_on(store: Store) -> None:
    """The real Jetstream client against a loopback server replaying the relay window's
    real lines: the daemon started with ``streams.jetstream`` archives the watched
    account's posts from the stream (no request to its PDS) and keeps the cursor."""
    from shared_data import PLATFORMS
    from unerased.collector import make_streams
    from unerased.config import Settings, set_value
    from unerased.model import AccountSnapshot, AccountStatus
    from ws_replay import replay_server

    lines = (PLATFORMS / "bluesky" / "relay-2026-07-04" / "expected_v1.jsonl"
             ).read_bytes().splitlines()
    events = [json.loads(x) for x in lines]
    ops: dict[str, set[str]] = {}
    for e in events:
        if e["kind"] == "commit" and e["commit"]["collection"] == "app.bsky.feed.post":
            ops.setdefault(e["did"], set()).add(e["commit"]["operation"])
    did = next(d for d, o in sorted(ops.items()) if o == {"create"})
    texts = {e["commit"]["record"]["text"] for e in events
             if e["did"] == did and e["kind"] == "commit"
             and e["commit"]["collection"] == "app.bsky.feed.post"}
    with store.writer() as w:
        row = w.upsert_account(AccountSnapshot(platform="bluesky", account_id=did,
                                               handle=None, status=AccountStatus.ACTIVE,
                                               observed_at=T0), "watch")
        w.update_account(row["id"], watched=True, watch_uri=f"bluesky:{did}",
                         next_check="2100-01-01T00:00:00Z")  # no poll in this test

    async def go() -> Collector:
        async with replay_server(lambda _c, _n: list(lines), hold_open=True) as srv:
            s = set_value(set_value(Settings({}), "streams.jetstream", "true"),
                          "streams.jetstream_url", srv.ws)
            env = {"UNERASED_ALLOW_HOSTS": srv.http}
            clients = make_streams(s, store.list_accounts(watched_only=True), proxy=None,
                                   env=env, cursors=store.state_items("stream:"))
            assert list(clients) == ["jetstream"]
            ctx = RunContext(store, default_client_factory(), WatchConfig(), env=env)
            col = Collector(ctx, streams=clients)
            task = asyncio.create_task(col.run())
            for _ in range(400):  # until the stream's posts are stored (a real server)
                await asyncio.sleep(0.05)
                if store.get_state("stream:jetstream") == str(events[-1]["time_us"]):
                    break
            col.stop()
            await task
            return col

    col = asyncio.run(go())
    stored = {p["versions"][-1]["text"] for p in store.iter_posts(account_pk=row["id"])}
    assert stored == texts and texts
    assert store.get_state("stream:jetstream") == str(events[-1]["time_us"])
    st = col.streams["jetstream"]
    assert st["connected"] is True and st["lag_s"] is not None
    assert col.stats.errors == 0 and col.stats.checks >= 1


def test_a_failed_delivery_is_one_line_of_the_log(store: Store) -> None:
    receiver = Site("127.0.0.1")
    receiver.routes["/hook"] = lambda _seen: json_answer(503, {"error": "down"})
    with sites(receiver):
        store.add_alert_rule(receiver.url("/hook"), secret="5e" * 32, now=T0,
                             on_types=["heartbeat"], within_s=900)
        clock = Clock(T0)
        ctx = RunContext(store, default_client_factory(), WatchConfig(), now=clock, env=ALLOW)
        col = Collector(ctx)
        col.alerts = AlertPump(store, col.writer, ctx.collector, proxy=None, env=ALLOW,
                               clock=clock)
        lines: list[Any] = []
        col.on_log = lines.append

        async def go() -> None:
            await col.alerts_once()
            col.writer.close()

        asyncio.run(go())
    (line,) = lines
    assert line.outcome == "alert_failed" and line.account is None
    assert line.error.startswith("alert ") and "503" in line.error and "\n" not in line.error
    assert set(line.to_json()) == {"account", "account_id", "platform", "outcome", "error",
                                   "events", "requests", "at", "redacted_seen"}
    assert store.outbox_counts()["pending"] == 1  # kept, to be retried

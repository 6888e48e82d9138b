"""Jetstream: the relay window's real Jetstream lines replayed from a loopback server;
the fast filter, the hello/options_update handshake past 100 DIDs, reconnect from the
last cursor."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import parse_qs, urlsplit

from shared_data import PLATFORMS
from unerased.model import utcnow
from unerased.net import settings
from unerased.streams import JetstreamClient, JetstreamDecoder, StreamEvent
from ws_replay import FakeTime, loopback_net, replay_server

RELAY = PLATFORMS / "bluesky" / "relay-2026-07-04"
LINES = (RELAY / "expected_v1.jsonl").read_bytes().splitlines()
EVENTS = [json.loads(x) for x in LINES]
POST_DIDS = sorted({e["did"] for e in EVENTS if e["kind"] == "commit"
                    and e["commit"]["collection"] == "app.bsky.feed.post"})
LAST_POST = next(f"at://{e['did']}/app.bsky.feed.post/{e['commit']['rkey']}"
                 for e in reversed(EVENTS) if e["kind"] == "commit"
                 and e["commit"]["collection"] == "app.bsky.feed.post")
ACCOUNT_DID = next(e["did"] for e in EVENTS if e["kind"] == "account")


def _decode_all(watched: list[str]) -> tuple[JetstreamDecoder, list[StreamEvent]]:
    d = JetstreamDecoder("wss://jetstream.example/subscribe", watched)
    return d, [ev for line in LINES for ev in d.decode(line, utcnow())]


def test_the_relay_window_becomes_events_of_watched_dids_only() -> None:
    d, events = _decode_all(POST_DIDS + [ACCOUNT_DID])
    posts = [e for e in EVENTS if e["kind"] == "commit"
             and e["commit"]["collection"] == "app.bsky.feed.post"]
    assert [(e.kind, e.post_id) for e in events if e.kind in ("create", "update", "delete")] == [
        (p["commit"]["operation"],
         f"at://{p['did']}/app.bsky.feed.post/{p['commit']['rkey']}") for p in posts]
    creates = [e for e in events if e.kind == "create"]
    assert creates and all(e.snapshot is not None and e.snapshot.post_id == e.post_id
                           for e in creates)
    first = next(p for p in posts if p["commit"]["operation"] == "create")
    assert creates[0].snapshot is not None
    assert creates[0].snapshot.text == first["commit"]["record"]["text"]
    assert creates[0].snapshot.version_key == first["commit"]["cid"]
    assert creates[0].capture.body == LINES[EVENTS.index(first)]
    assert creates[0].capture.method == "WS" and creates[0].capture.status == 101
    account = [e for e in events if e.kind == "account"]
    assert len(account) == 1 and account[0].status == "active"
    assert d.time_us == EVENTS[-1]["time_us"]  # the cursor advanced over skipped lines too
    assert all(e.cursor is not None and e.source == "jetstream" for e in events)


def test_an_unwatched_event_is_never_parsed() -> None:
    d = JetstreamDecoder("wss://j/subscribe", ["did:plc:nobody"])
    broken = b'{"did":"did:plc:someoneelse","time_us":17,' + b"not json at all"
    assert d.decode(broken, utcnow()) == []
    assert d.time_us == 17
    _d, none = _decode_all([])
    assert none == []


def test_reconnects_from_the_last_cursor_with_backoff_from_the_injected_clock() -> None:
    half = len(LINES) // 2

    def script(_conn: object, n: int) -> list[bytes]:
        return list(LINES[:half]) if n == 0 else list(LINES[half:])

    async def run() -> tuple[list[StreamEvent], list[str], FakeTime, JetstreamClient]:
        t = FakeTime()
        async with replay_server(script) as srv:
            c = JetstreamClient(srv.ws, POST_DIDS, net=loopback_net(srv),
                                clock=t.clock, sleep=t.sleep, rand=lambda: 0.5)
            got: list[StreamEvent] = []
            async for ev in c.events():
                got.append(ev)
                if ev.post_id == LAST_POST or len(got) > 500:
                    break
            await c.close()
            return got, srv.paths, t, c

    got, paths, t, c = asyncio.run(run())
    assert len(paths) == 2
    q0, q1 = (parse_qs(urlsplit(p).query) for p in paths)
    assert q0 == {"wantedCollections": ["app.bsky.feed.post"]}  # no watch list sent
    assert q1["cursor"] == [str(EVENTS[half - 1]["time_us"])]
    assert t.slept == [0.75]  # 1 s base, jitter 0.5 -> 0.75, from the injected sleep
    assert c.connects == 2
    assert sum(1 for e in got if e.kind == "create") == sum(
        1 for e in EVENTS if e["kind"] == "commit" and e["commit"]["operation"] == "create"
        and e["commit"]["collection"] == "app.bsky.feed.post")


def test_more_than_100_dids_go_in_an_options_update_after_require_hello() -> None:
    many = POST_DIDS + [f"did:plc:{i:024d}" for i in range(150)]

    async def run() -> tuple[list[str], list[str | bytes], list[StreamEvent]]:
        async with replay_server(lambda _c, _n: list(LINES), wait_for_hello=True,
                                 hold_open=True) as srv:
            c = JetstreamClient(srv.ws, many, send_watch_list=True, net=loopback_net(srv))
            got: list[StreamEvent] = []
            async for ev in c.events():
                got.append(ev)
                if ev.post_id == LAST_POST:
                    break
            await c.close()
            return srv.paths, srv.received, got

    paths, received, got = asyncio.run(run())
    q = parse_qs(urlsplit(paths[0]).query)
    assert q["requireHello"] == ["true"] and "wantedDids" not in q
    hello = json.loads(received[0])
    assert hello["type"] == "options_update"
    assert sorted(hello["payload"]["wantedDids"]) == sorted(many)
    assert hello["payload"]["wantedCollections"] == ["app.bsky.feed.post"]
    assert got and all(e.account_id in many for e in got)


def test_up_to_100_dids_go_in_the_url_when_asked() -> None:
    c = JetstreamClient("wss://j.example", POST_DIDS[:3], send_watch_list=True,
                        net=settings(), cursor="42")
    q = parse_qs(urlsplit(c.connect_url()).query)
    assert q["wantedDids"] == sorted(POST_DIDS[:3]) and q["cursor"] == ["42"]
    assert "requireHello" not in q

"""Mastodon streaming: the recorded user stream (update, notification, status.update,
delete) replayed over a loopback WebSocket in the streaming API's message form; the
token only to its own instance, never in the URL; a gap after every connection."""

from __future__ import annotations

import asyncio
import json

from shared_data import PLATFORMS
from unerased.sources.mastodon import status_snapshot
from unerased.streams import MastodonStream, StreamEvent
from ws_replay import FakeTime, loopback_net, replay_server

REC = json.loads((PLATFORMS / "mastodon" / "streaming_user_update_statusupdate_delete.json")
                 .read_text())


def _sse_events(text: str) -> list[tuple[str, str]]:
    out = []
    for block in text.split("\n\n"):
        name = data = None
        for line in block.splitlines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
        if name and data is not None:
            out.append((name, data))
    return out


EVENTS = _sse_events(REC["response"]["body_text"])
MESSAGES = [json.dumps({"stream": ["user"], "event": n, "payload": d}) for n, d in EVENTS]


def test_the_recorded_user_stream_becomes_events() -> None:
    assert [n for n, _ in EVENTS] == ["update", "notification", "update", "notification",
                                      "status.update", "delete"]

    async def run() -> tuple[list[StreamEvent], list[str], list[dict[str, str]]]:
        t = FakeTime()
        async with replay_server(lambda _c, n: MESSAGES if n == 0 else []) as srv:
            c = MastodonStream(srv.http, token="secret-token-1234", token_instance=srv.http,
                               net=loopback_net(srv),
                               clock=t.clock, sleep=t.sleep, rand=lambda: 0.0)
            got: list[StreamEvent] = []
            async for ev in c.events():
                got.append(ev)
                if ev.kind == "gap" and c.connects == 2:
                    break
            await c.close()
            return got, srv.paths, srv.headers

    got, paths, headers = asyncio.run(run())
    assert [e.kind for e in got] == ["gap", "create", "create", "update", "delete", "gap"]
    assert [e.detail["reason"] for e in got if e.kind == "gap"] == ["connected", "reconnected"]
    assert all(e.account_id is None for e in got if e.kind == "gap")
    first = json.loads(EVENTS[0][1])
    want = status_snapshot(first, "x@h")
    create = got[1]
    assert create.snapshot is not None and want is not None
    assert create.snapshot.text == want.text and create.post_id == first["id"]
    assert create.account_id is not None and create.account_id.startswith(
        first["account"]["id"] + "@127.0.0.1:")
    edited = got[3]
    assert edited.snapshot is not None and edited.snapshot.edited_at is not None
    deleted = got[4]
    assert deleted.post_id == EVENTS[-1][1] == edited.post_id
    assert deleted.account_id == edited.account_id  # attributed from the earlier update
    assert deleted.capture.body == MESSAGES[-1].encode()
    # the token went in the header to its own instance, never in the URL or a capture
    assert headers[0]["authorization"] == "Bearer secret-token-1234"
    assert all("secret" not in p for p in paths) and paths[0] == "/api/v1/streaming?stream=user"
    assert all(b"secret" not in e.capture.body and "secret" not in e.capture.url for e in got)


def test_a_token_for_another_instance_is_not_sent_and_watched_filters() -> None:
    async def run() -> tuple[list[StreamEvent], list[dict[str, str]]]:
        async with replay_server(lambda _c, _n: MESSAGES, hold_open=True) as srv:
            c = MastodonStream(srv.http, token="other.example=secret-token-1234",
                               watched=["nobody@127.0.0.1"], net=loopback_net(srv))
            got: list[StreamEvent] = []
            async for ev in c.events():
                got.append(ev)
                if ev.kind == "delete":
                    break
            await c.close()
            return got, srv.headers

    got, headers = asyncio.run(run())
    assert "authorization" not in headers[0]
    assert [e.kind for e in got] == ["gap", "delete"]  # an unattributed delete still comes
    assert got[1].account_id is None

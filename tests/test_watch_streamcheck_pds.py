"""A deletion announced by the stream, confirmed at once by the real reference PDS's
direct lookup (RecordNotFound); and refuted by it when the record is still there. The
events are made here from what the PDS returns, as a Jetstream line would carry them."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pds_fixture import Account, Ref, RunningPds, pds_server  # noqa: F401  (fixture "pds")
from test_watch_bluesky_e2e import check, ctx_for
from unerased.model import Capture, PostSnapshot
from unerased.sim.platform import demo_clock
from unerased.sources.bluesky import post_from_record
from unerased.store import Store
from unerased.watch.runner import add_watch
from unerased.watch.streamcheck import check_from_stream
from unerased.watch.uri import parse_uri

pytestmark = pytest.mark.pds

JETSTREAM = "ws://127.0.0.1:6008/subscribe?wantedCollections=app.bsky.feed.post"


@dataclass(frozen=True)
class Ev:
    kind: str
    account_id: str | None
    post_id: str | None
    snapshot: PostSnapshot | None
    status: str | None
    received_at: datetime
    capture: Capture


def line(did: str, ref: Ref, operation: str, at: datetime,
         record: dict[str, Any] | None = None) -> Capture:
    """The Jetstream line of a commit, kept as the stream keeps it."""
    commit: dict[str, Any] = {"rev": "3l" + ref.rkey[:8], "operation": operation,
                              "collection": "app.bsky.feed.post", "rkey": ref.rkey}
    if record is not None:
        commit |= {"record": record, "cid": ref.cid}
    body = {"did": did, "time_us": int(at.timestamp() * 1e6), "kind": "commit", "commit": commit}
    return Capture(method="WS", url=JETSTREAM, started_at=at, status=101,
                   body=json.dumps(body).encode())


def created(pds: RunningPds, who: Account, ref: Ref, at: datetime) -> Ev:
    rec = pds.admin.get_record(ref.uri)
    snap = post_from_record(rec, pds=pds.url, observed_at=at)
    assert snap is not None and snap.post_id == ref.uri
    return Ev("create", who.did, ref.uri, snap, None, at,
              line(who.did, ref, "create", at, rec["value"]))


def deleted(who: Account, ref: Ref, at: datetime) -> Ev:
    return Ev("delete", who.did, ref.uri, None, None, at, line(who.did, ref, "delete", at))


def test_real_pds_announced_delete_with_record_not_found_is_deleted_at_once(
        pds: RunningPds, tmp_path: Path) -> None:
    adm = pds.admin
    who = adm.create_account("streamdel")
    kept = [adm.create_post(who, f"留下 kept {i}") for i in range(2)]
    store = Store.open(tmp_path / "home")
    clock = demo_clock()
    ctx = ctx_for(store, pds, clock)
    asyncio.run(add_watch(ctx, parse_uri(f"bluesky:{who.handle}"), service=None, tags={}))
    assert check(ctx, clock) == []
    (row,) = store.list_accounts(watched_only=True)

    # written and erased within seconds, between two polls: seen only by the stream
    clock.advance(timedelta(minutes=1))
    flash = adm.create_post(who, "几秒就删 erased within seconds")
    ev_create = created(pds, who, flash, clock())
    adm.delete_record(who, flash.uri)
    clock.advance(timedelta(seconds=4))
    ev_delete = deleted(who, flash, clock())
    # a known post announced deleted too, really deleted
    adm.delete_record(who, kept[0].uri)
    ev_kept = deleted(who, kept[0], clock())
    # and a false message: announced, but the record is there
    ev_false = deleted(who, kept[1], clock())
    clock.advance(timedelta(seconds=1))
    res = asyncio.run(check_from_stream(ctx, row, [ev_create, ev_delete, ev_kept, ev_false]))
    assert res.error is None, res.error
    got = sorted((e["type"], e["post_id"]) for e in res.events)
    assert got == sorted([("post_deleted", flash.uri), ("post_deleted", kept[0].uri)])
    for e in res.events:
        assert e["detail"]["announced"] is True and e["detail"]["reason"] == "user_deleted"
        assert "RecordNotFound" in e["detail"]["platform_detail"]
    flashed = store.get_post(flash.uri)
    assert flashed is not None and flashed["status"] == "deleted"
    assert flashed["text"] == "几秒就删 erased within seconds"
    assert store.get_post(kept[1].uri)["status"] == "present"  # type: ignore[index]
    caps = {c.id: c for c, _ in store.iter_captures()}
    for e, ev in ((x, y) for x in res.events for y in (ev_delete, ev_kept)
                  if x["post_id"] == y.post_id):
        assert ev.capture.id in e["evidence"] and set(e["evidence"]) <= set(caps)
        assert any("getRecord" in caps[c].url and caps[c].status == 400 for c in e["evidence"])
    # the polls that follow add nothing, and never "restore" what the stream saw
    assert check(ctx, clock, 2) == []
    assert len(list(store.iter_events(type="post_deleted"))) == 2
    store.close()

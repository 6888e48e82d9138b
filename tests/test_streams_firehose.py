"""The firehose: the real relay window (decoded, compared with production Jetstream's
view of the same events), the PDS's decoded frames, cursor errors, and the REAL
reference PDS's subscribeRepos (a post created and deleted within seconds)."""

from __future__ import annotations

import asyncio
import json
import struct
from typing import Any

import httpx
import libipld
import pytest
import zstandard

from pds_fixture import RunningPds, pds_server  # noqa: F401  (the "pds" fixture)
from shared_data import PLATFORMS
from unerased.model import utcnow
from unerased.net import settings
from unerased.streams import FirehoseClient, FirehoseDecoder, StreamEvent
from unerased.streams.commit import signed_commit, verify_commit
from unerased.streams.firehose import peek_commit
from ws_replay import FakeTime, loopback_net, replay_server

RELAY = PLATFORMS / "bluesky" / "relay-2026-07-04"


def _frames() -> list[bytes]:
    data = zstandard.ZstdDecompressor().decompressobj().decompress(
        (RELAY / "frames.bin.zst").read_bytes())
    out, i = [], 0
    while i < len(data):
        (n,) = struct.unpack_from("<I", data, i)
        out.append(data[i + 4:i + 4 + n])
        i += 4 + n
    return out


FRAMES = _frames()
MANIFEST = json.loads((RELAY / "manifest.json").read_text())
EXPECTED = [json.loads(x) for x in (RELAY / "expected_v1.jsonl").read_text().splitlines()]


def test_the_relay_window_decodes_to_what_production_jetstream_served() -> None:
    assert len(FRAMES) == MANIFEST["frames"]
    dids = {e["did"] for e in EXPECTED}
    d = FirehoseDecoder("wss://relay.example/xrpc/com.atproto.sync.subscribeRepos", dids)
    now = utcnow()
    events = [ev for f in FRAMES for ev in d.decode(f, now)]
    assert d.seq == MANIFEST["seq_last"]
    assert all(ev.received_at == now for ev in events)
    want = sorted((e["did"], e["commit"]["operation"], e["commit"]["rkey"],
                   e["commit"].get("cid"), json.dumps(e["commit"].get("record", {}).get("text")))
                  for e in EXPECTED if e["kind"] == "commit"
                  and e["commit"]["collection"] == "app.bsky.feed.post")
    got = sorted((ev.account_id, ev.kind, (ev.post_id or "").rsplit("/", 1)[-1],
                  ev.snapshot.version_key if ev.snapshot else None,
                  json.dumps(ev.snapshot.text if ev.snapshot else None))
                 for ev in events if ev.kind in ("create", "update", "delete"))
    assert got == want and len(got) > 10
    kinds = [ev.kind for ev in events if ev.kind in ("account", "identity")]
    assert sorted(kinds) == ["account", "identity"]
    acc = next(ev for ev in events if ev.kind == "account")
    assert acc.status == "active" and acc.cursor == str(MANIFEST["seq_last"])
    create = next(ev for ev in events if ev.kind == "create")
    # the capture is the whole frame: its CAR holds the signed commit block
    header, body = libipld.decode_dag_cbor_multi(create.capture.body)
    _root, blocks = libipld.decode_car(body["blocks"])
    commit = blocks[body["commit"]]
    assert "sig" in commit and commit["did"] == create.account_id
    assert create.detail["commit"] == libipld.encode_cid(body["commit"])
    assert create.detail["prevData"] and create.detail["rev"] == body["rev"]
    assert create.snapshot is not None and create.snapshot.post_id == create.post_id


def test_unwatched_frames_are_not_decoded_but_the_cursor_advances() -> None:
    assert sum(peek_commit(f) is not None for f in FRAMES) == MANIFEST["commit_frames"]
    for f in FRAMES:
        peek = peek_commit(f)
        if peek is not None:
            _h, body = libipld.decode_dag_cbor_multi(f)
            assert peek == (body["seq"], body["repo"].encode())
    d = FirehoseDecoder("wss://r", ["did:plc:nobody"])
    assert [ev for f in FRAMES for ev in d.decode(f, utcnow())] == []
    assert d.seq == MANIFEST["seq_last"]


def _body(rec: dict[str, Any]) -> dict[str, Any]:
    body = dict(rec["body"])
    if isinstance(body.get("blocks"), str):
        body["blocks"] = b""
    return body


def test_the_pds_frames_identity_account_sync_and_delete_with_prev() -> None:
    lines = [json.loads(x) for x in
             (PLATFORMS / "bluesky" / "firehose-subscribeRepos-decoded.jsonl").read_text()
             .splitlines()]
    dids = {r["body"].get("repo") or r["body"].get("did") for r in lines}
    d = FirehoseDecoder("ws://pds/xrpc/com.atproto.sync.subscribeRepos", dids)
    events = [ev for r in lines for ev in d.decode_message(r["header"], _body(r), b"x",
                                                           utcnow())]
    kinds = {ev.kind for ev in events}
    assert {"identity", "account", "sync", "gap", "create", "delete"} <= kinds
    deleted = [ev for ev in events if ev.kind == "delete"]
    assert deleted and all(ev.detail.get("prev") for ev in deleted)
    raw_deletes = [op for r in lines if r["header"]["t"] == "#commit"
                   for op in r["body"]["ops"] if op["action"] == "delete"
                   and op["path"].startswith("app.bsky.feed.post/")]
    assert [ev.detail["prev"] for ev in deleted] == [op["prev"] for op in raw_deletes]
    assert any(ev.kind == "account" and ev.status not in ("active", None) for ev in events)
    assert all(ev.kind != "gap" or ev.detail["reason"] == "#sync" for ev in events)


def test_outdated_and_future_cursors_are_gaps_and_future_restarts_from_live() -> None:
    info = libipld.encode_dag_cbor({"op": 1, "t": "#info"}) + libipld.encode_dag_cbor(
        {"name": "OutdatedCursor", "message": "too old"})
    future = libipld.encode_dag_cbor({"op": -1}) + libipld.encode_dag_cbor(
        {"error": "FutureCursor", "message": "cursor in the future"})

    async def run() -> tuple[list[StreamEvent], list[str]]:
        t = FakeTime()
        async with replay_server(lambda _c, n: [info, future] if n == 0 else [info]) as srv:
            c = FirehoseClient(srv.ws, ["did:plc:x"], net=loopback_net(srv), cursor="99",
                               clock=t.clock, sleep=t.sleep)
            got: list[StreamEvent] = []
            async for ev in c.events():
                got.append(ev)
                if len(got) == 3:
                    break
            await c.close()
            return got, srv.paths

    got, paths = asyncio.run(run())
    assert [(e.kind, e.account_id, e.detail["reason"]) for e in got] == [
        ("gap", None, "OutdatedCursor"), ("gap", None, "FutureCursor"),
        ("gap", None, "OutdatedCursor")]
    assert paths == ["/xrpc/com.atproto.sync.subscribeRepos?cursor=99",
                     "/xrpc/com.atproto.sync.subscribeRepos"]


@pytest.mark.pds
def test_the_reference_pds_streams_a_post_created_and_deleted_within_seconds(
        pds: RunningPds) -> None:
    alice = pds.admin.create_account("streamer")
    other = pds.admin.create_account("bystander")

    async def run() -> list[StreamEvent]:
        c = FirehoseClient(pds.url.replace("http://", "ws://"), [alice.did],
                           net=settings(), services=[pds.url], cursor="0", max_attempts=3)
        got: list[StreamEvent] = []

        async def act() -> None:
            while c.connects == 0:
                await asyncio.sleep(0.01)
            ref = await asyncio.to_thread(pds.admin.create_post, alice, "written, then gone")
            await asyncio.to_thread(pds.admin.create_post, other, "not watched")
            await asyncio.to_thread(pds.admin.delete_record, alice, ref.uri)
            await asyncio.to_thread(pds.admin.deactivate, alice)

        async def read() -> None:
            async for ev in c.events():
                got.append(ev)
                if ev.kind == "account" and ev.status == "deactivated":
                    break
            await c.close()

        await asyncio.wait_for(asyncio.gather(act(), read()), 60)
        return got

    got = asyncio.run(run())
    create = next(e for e in got if e.kind == "create")
    delete = next(e for e in got if e.kind == "delete")
    assert create.snapshot is not None and create.snapshot.text == "written, then gone"
    assert delete.post_id == create.post_id and delete.detail.get("prev") == \
        create.snapshot.version_key
    assert (delete.received_at - create.received_at).total_seconds() < 30
    assert all(e.account_id == alice.did for e in got)
    assert got[-1].kind == "account" and got[-1].status == "deactivated"
    assert int(got[-1].cursor or 0) > int(create.cursor or 0)
    # the create's capture is evidence: its commit is signed by alice's key
    doc = httpx.get(f"{pds.plc_url}/{alice.did}", timeout=10, trust_env=False).json()
    ((key, key_type),) = [(m["publicKeyMultibase"], m.get("type"))
                          for m in doc["verificationMethod"] if m["id"].endswith("#atproto")]
    assert verify_commit(create.capture.body, key, key_type)
    assert verify_commit(delete.capture.body, key, key_type)


def test_a_path_that_spells_a_repo_key_cannot_hide_a_watched_commit() -> None:
    watched = "did:plc:" + "w" * 24
    decoy = "app.bsky.feed.post/drepowdid:plc:abcdefghijklmno"  # "repo" + a 23-byte "DID"
    frame = libipld.encode_dag_cbor({"t": "#commit", "op": 1}) + libipld.encode_dag_cbor({
        "ops": [{"action": "delete", "path": decoy, "cid": None}], "rev": "3l", "seq": 2**40,
        "repo": watched, "time": "2026-07-04T14:38:07.517Z", "blobs": [], "since": None,
        "blocks": b"", "commit": None, "rebase": False, "tooBig": False})
    assert frame.startswith(b"\xa2atg#commitbop\x01") and b"drepowdid:" in frame
    assert peek_commit(frame) is None  # the stray key fails the check: decoded in full
    d = FirehoseDecoder("wss://r", [watched])
    (ev,) = d.decode(frame, utcnow())
    assert (ev.kind, ev.account_id, ev.post_id) == ("delete", watched, f"at://{watched}/{decoy}")
    assert d.seq == 2**40


def test_every_commit_capture_of_the_relay_window_carries_a_valid_signature() -> None:
    docs = json.loads(zstandard.ZstdDecompressor().decompressobj().decompress(
        (RELAY / "did_docs.json.zst").read_bytes()))

    def key(did: str) -> str:
        (k,) = [m["publicKeyMultibase"] for m in docs[did]["verificationMethod"]
                if m["id"].endswith("#atproto")]
        return str(k)

    commits = [(f, peek_commit(f)) for f in FRAMES]
    checked = [(f, p[1].decode()) for f, p in commits if p is not None]
    assert len(checked) == MANIFEST["commit_frames"]
    assert all(verify_commit(f, key(did)) for f, did in checked)
    frame, did = checked[0]
    other = next(d for _f, d in checked if key(d) != key(did))
    assert not verify_commit(frame, key(other))  # another account's key
    commit, raw = signed_commit(frame) or ({}, b"")
    sig = commit["sig"]
    forged = frame.replace(sig, bytes([sig[0] ^ 1]) + sig[1:])
    assert forged != frame and not verify_commit(forged, key(did))
    assert commit["did"] == did and raw in frame

"""BlueskySource classification against answers recorded from the reference PDS
(testdata/platforms/bluesky in the shared folder), served through httpx.MockTransport. No Node."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import httpx
import libipld
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared_data import PLATFORMS
from unerased.errors import SourceError
from unerased.model import AccountStatus, DeletionReason, LookupResult, StatusBasis
from unerased.sources._base import Recorder
from unerased.sources.bluesky import (
    BlueskySource,
    mst_lookup,
    normalize_ident,
    parse_at_uri,
    post_from_record,
    tid_time,
)

DATA = PLATFORMS / "bluesky" / "reference-pds-responses.jsonl"
PDS = "http://localhost:2583"  # what the recorded DID documents name
PLC = "https://plc.test"
T = TypeVar("T")


def _load() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for line in DATA.read_text().splitlines():
        entry = json.loads(line)
        out.setdefault(entry["label"], entry)
    return out


REC = _load()
ALICE = REC["createAccount alice"]["body"]["did"]
BOB = REC["createAccount bob"]["body"]["did"]
CAROL = REC["createAccount carol"]["body"]["did"]
DAVE = REC["createAccount dave"]["body"]["did"]
DOCS = {REC[f"createAccount {n}"]["body"]["did"]: REC[f"createAccount {n}"]["body"]["didDoc"]
        for n in ("alice", "bob", "carol", "dave")}
POST = "app.bsky.feed.post"
NOT_FOUND = (400, {"error": "RecordNotFound", "message": "Could not locate record"})

Answer = tuple[int, Any] | Callable[[httpx.Request], httpx.Response]


def answer(label: str) -> tuple[int, Any]:
    e = REC[label]
    return e["status"], e["body"]


def uri(did: str, rkey: str) -> str:
    return f"at://{did}/{POST}/{rkey}"


class Server:
    """Routes ``(host, nsid)`` (or the PLC path ``/DID``) to an answer; counts requests."""

    def __init__(self, routes: Mapping[str, Answer], plc: Mapping[str, tuple[int, Any]] | None = None):
        self.routes = dict(routes)
        self.plc = {did: (200, doc) for did, doc in DOCS.items()}
        self.plc.update(plc or {})
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        url = request.url
        if url.host == "plc.test":
            status, body = self.plc.get(url.path.lstrip("/"), (404, {"message": "DID not registered"}))
            return httpx.Response(status, json=body)
        nsid = url.path.removeprefix("/xrpc/")
        route = self.routes.get(nsid)
        if route is None and nsid == "com.atproto.repo.getRecord" and \
                request.url.params.get("collection") == "app.bsky.actor.profile":
            route = NOT_FOUND
        assert route is not None, f"unexpected request {request.method} {url}"
        if callable(route):
            return route(request)
        status, body = route
        if isinstance(body, bytes):
            return httpx.Response(status, content=body)
        return httpx.Response(status, json=body)


def run(server: Server, scenario: Callable[[BlueskySource], Awaitable[T]],
        **kw: Any) -> tuple[T, Recorder]:
    async def main() -> tuple[T, Recorder]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as client:
            rec = Recorder(client)
            src = BlueskySource(rec, plc_url=PLC, handle_resolver=PDS, **kw)
            return await scenario(src), rec
    return asyncio.run(main())


def check_captured(server: Server, rec: Recorder, *capture_lists: Any) -> None:
    """Every request the server saw is a capture; every capture id a result names exists."""
    assert len(rec.captures) == len(server.requests)
    assert [c.url for c in rec.captures] == [str(r.url) for r in server.requests]
    ids = {c.id for c in rec.captures}
    for caps in capture_lists:
        assert caps and set(caps) <= ids


# --- accounts --------------------------------------------------------------------------


def test_active_account_via_plc_directory() -> None:
    server = Server({
        "com.atproto.sync.getRepoStatus": answer("bob reactivated: sync.getRepoStatus"),
        "com.atproto.repo.describeRepo": answer("bob reactivated: describeRepo"),
    })
    check, rec = run(server, lambda s: s.check_account(BOB))
    snap = check.snapshot
    assert snap is not None and snap.status == AccountStatus.ACTIVE
    assert snap.account_id == BOB and snap.handle == "bob.test"
    assert snap.profile["pds"] == PDS and snap.profile["handle_is_correct"] is True
    assert str(server.requests[0].url) == f"{PLC}/{BOB}"
    check_captured(server, rec, check.capture_ids)
    assert len(check.capture_ids) == 4  # DID doc, getRepoStatus, describeRepo, profile


@pytest.mark.parametrize(("label", "did", "status", "basis"), [
    ("bob deactivated: sync.getRepoStatus", BOB, AccountStatus.DEACTIVATED, StatusBasis.EXPLICIT),
    ("carol takendown: sync.getRepoStatus", CAROL, AccountStatus.SUSPENDED, StatusBasis.EXPLICIT),
    # RepoNotFound: what an admin-deleted repo and a never-existing one both answer
    ("dave deleted: sync.getRepoStatus", DAVE, AccountStatus.DELETED, StatusBasis.ABSENCE),
])
def test_inactive_accounts_from_repo_status(label: str, did: str, status: AccountStatus,
                                            basis: StatusBasis) -> None:
    server = Server({"com.atproto.sync.getRepoStatus": answer(label)})
    check, rec = run(server, lambda s: s.check_account(did))
    assert check.snapshot is not None and check.snapshot.status == status
    assert check.snapshot.basis is basis
    assert check.snapshot.handle == DOCS[did]["alsoKnownAs"][0].removeprefix("at://")
    assert check.error is None
    check_captured(server, rec, check.capture_ids)


@pytest.mark.parametrize("body", [
    {"did": BOB, "active": False, "status": "suspended"},
    {"did": BOB, "active": False, "status": "deleted"},
])
def test_other_repo_statuses(body: dict[str, Any]) -> None:
    server = Server({"com.atproto.sync.getRepoStatus": (200, body)})
    check, _ = run(server, lambda s: s.check_account(BOB))
    want = AccountStatus.SUSPENDED if body["status"] == "suspended" else AccountStatus.DELETED
    assert check.snapshot is not None and check.snapshot.status == want
    assert check.snapshot.basis is StatusBasis.EXPLICIT  # the PDS names the status


def test_unknown_inactive_status_is_no_answer() -> None:
    server = Server({"com.atproto.sync.getRepoStatus":
                     (200, {"did": BOB, "active": False, "status": "throttled"})})
    check, _ = run(server, lambda s: s.check_account(BOB))
    assert check.snapshot is None and check.error and "throttled" in check.error


@pytest.mark.parametrize(("label", "did", "status", "basis"), [
    ("bob deactivated: describeRepo", BOB, AccountStatus.DEACTIVATED, StatusBasis.EXPLICIT),
    ("carol takendown: describeRepo", CAROL, AccountStatus.SUSPENDED, StatusBasis.EXPLICIT),
    ("dave deleted: describeRepo", DAVE, AccountStatus.DELETED, StatusBasis.ABSENCE),
])
def test_describe_repo_when_repo_status_is_not_implemented(
    label: str, did: str, status: AccountStatus, basis: StatusBasis
) -> None:
    server = Server({
        "com.atproto.sync.getRepoStatus":
            (501, {"error": "MethodNotImplemented", "message": "Method Not Implemented"}),
        "com.atproto.repo.describeRepo": answer(label),
    })
    check, _ = run(server, lambda s: s.check_account(did))
    assert check.snapshot is not None and check.snapshot.status == status
    assert check.snapshot.basis is basis


def test_describe_repo_takendown_wins_over_repo_status_active() -> None:
    server = Server({
        "com.atproto.sync.getRepoStatus": (200, {"did": CAROL, "active": True}),
        "com.atproto.repo.describeRepo": answer("carol takendown: describeRepo"),
    })
    check, _ = run(server, lambda s: s.check_account(CAROL))
    assert check.snapshot is not None and check.snapshot.status == AccountStatus.SUSPENDED
    assert check.snapshot.basis is StatusBasis.EXPLICIT


@pytest.mark.parametrize(("plc_answer", "status"), [
    ((410, {"message": "DID not available: did:plc:x"}), AccountStatus.DELETED),
    ((404, {"message": "DID not registered: did:plc:x"}), AccountStatus.DELETED),
])
def test_did_gone_from_directory(plc_answer: tuple[int, Any], status: AccountStatus) -> None:
    server = Server({}, plc={DAVE: plc_answer})
    check, rec = run(server, lambda s: s.check_account(DAVE))
    assert check.snapshot is not None and check.snapshot.status == status
    assert check.snapshot.basis is StatusBasis.ABSENCE  # a DID that no longer resolves
    assert str(plc_answer[0]) in check.snapshot.profile["reason"]
    check_captured(server, rec, check.capture_ids)


@pytest.mark.parametrize("failure", ["html404", "500", "timeout", "truncated"])
def test_account_no_usable_answer(failure: str) -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        if failure == "timeout":
            raise httpx.ReadTimeout("simulated", request=request)
        if failure == "500":
            return httpx.Response(500, text="Internal Server Error")
        if failure == "html404":
            return httpx.Response(404, text="<html>not here</html>")
        body = json.dumps(answer("bob reactivated: describeRepo")[1]).encode()
        return httpx.Response(200, content=body[: len(body) // 2])

    server = Server({"com.atproto.sync.getRepoStatus": broken,
                     "com.atproto.repo.describeRepo": broken})
    check, rec = run(server, lambda s: s.check_account(BOB))
    assert check.snapshot is None
    assert check.error and "\n" not in check.error
    check_captured(server, rec, check.capture_ids)
    if failure == "timeout":
        assert rec.captures[-1].status is None and rec.captures[-1].error


def test_bad_did_document_is_no_answer() -> None:
    server = Server({}, plc={BOB: (200, {"id": BOB, "service": []})})
    check, _ = run(server, lambda s: s.check_account(BOB))
    assert check.snapshot is None and "no #atproto_pds" in (check.error or "")
    server = Server({}, plc={BOB: (404, "<html>nope</html>")})
    check, _ = run(server, lambda s: s.check_account(BOB))
    assert check.snapshot is None  # an HTML 404 is a wrong directory, not "deleted"


# --- resolve ---------------------------------------------------------------------------


def test_resolve_handle_on_service() -> None:
    server = Server({
        "com.atproto.identity.resolveHandle": answer("bob reactivated: resolveHandle"),
        "com.atproto.sync.getRepoStatus": answer("bob reactivated: sync.getRepoStatus"),
        "com.atproto.repo.describeRepo": answer("bob reactivated: describeRepo"),
    })
    snap, _ = run(server, lambda s: s.resolve("@Bob.Test"), service=PDS + "/")
    assert snap.account_id == BOB and snap.status == AccountStatus.ACTIVE
    assert not any(r.url.host == "plc.test" for r in server.requests)  # --service: no directory
    assert server.requests[0].url.params["handle"] == "bob.test"


def test_resolve_errors_are_one_line() -> None:
    server = Server({"com.atproto.identity.resolveHandle":
                     answer("carol takendown: resolveHandle")})
    with pytest.raises(SourceError, match=r"handle carol\.test not found .*HandleNotFound"):
        run(server, lambda s: s.resolve("carol.test"))

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(SourceError, match="cannot reach"):
        run(Server({"com.atproto.identity.resolveHandle": refused}), lambda s: s.resolve("a.test"))
    html = Server({"com.atproto.identity.resolveHandle": (404, "<html>404</html>")})
    with pytest.raises(SourceError, match="does not answer as an AT Protocol server") as e:
        run(html, lambda s: s.resolve("a.test"))
    assert "\n" not in str(e.value)
    for bad in ("not a handle", "did:key:zabc", "-x.test"):
        with pytest.raises(SourceError):
            run(Server({}), partial(BlueskySource.resolve, ident=bad))


def test_resolve_deleted_account_raises() -> None:
    server = Server({"com.atproto.sync.getRepoStatus": answer("dave deleted: sync.getRepoStatus")})
    with pytest.raises(SourceError, match="not found"):
        run(server, lambda s: s.resolve(DAVE))


def test_bad_service_url_is_source_error() -> None:
    with pytest.raises(SourceError, match="--service"):
        BlueskySource(Recorder(httpx.AsyncClient()), service="ftp://x")
    with pytest.raises(SourceError, match="page_size"):
        BlueskySource(Recorder(httpx.AsyncClient()), page_size=500)


# --- posts -----------------------------------------------------------------------------


def test_listing_paginates_with_cursor() -> None:
    first = answer("listRecords alice")[1]
    last_rec = answer("getRecord alice[0]")[1]
    pages = {None: first,
             first["cursor"]: {"records": [last_rec], "cursor": "3n37txxazs22g"},
             "3n37txxazs22g": {"records": []}}

    def list_records(request: httpx.Request) -> httpx.Response:
        assert request.url.params["limit"] == "2" and request.url.params["repo"] == ALICE
        return httpx.Response(200, json=pages[request.url.params.get("cursor")])

    server = Server({"com.atproto.repo.listRecords": list_records})
    listing, rec = run(server, lambda s: s.list_posts(ALICE), page_size=2)
    assert listing.complete and listing.window_start is None and listing.error is None
    assert [p.text for p in listing.posts] == ["alice post 2", "alice post 1", "alice post 0"]
    assert all(p.version_key and p.version_key.startswith("bafyrei") for p in listing.posts)
    assert listing.posts[0].url == f"https://bsky.app/profile/{ALICE}/post/3n37txxgeos2g"
    check_captured(server, rec, listing.capture_ids)
    assert len(listing.capture_ids) == 4  # DID doc + 3 pages


def test_listing_stopped_by_page_limit_has_a_window() -> None:
    server = Server({"com.atproto.repo.listRecords": answer("listRecords alice")})
    listing, _ = run(server, lambda s: s.list_posts(ALICE, max_pages=1), page_size=2)
    assert listing.complete and len(listing.posts) == 2
    assert listing.window_start is not None
    assert listing.window_start <= min(p.created_at for p in listing.posts if p.created_at)


@pytest.mark.parametrize("label", ["bob deactivated: listRecords", "carol takendown: listRecords",
                                   "dave deleted: listRecords"])
def test_listing_of_gone_repo_is_incomplete(label: str) -> None:
    did = {"bob": BOB, "carol": CAROL, "dave": DAVE}[label.split()[0]]
    server = Server({"com.atproto.repo.listRecords": answer(label)})
    listing, _ = run(server, lambda s: s.list_posts(did))
    assert not listing.complete and listing.posts == []
    assert "Could not find repo" in (listing.error or "")


def test_listing_error_midway_keeps_what_it_saw() -> None:
    first = answer("listRecords alice")[1]

    def list_records(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("cursor"):
            return httpx.Response(502, text="bad gateway")
        return httpx.Response(200, json=first)

    server = Server({"com.atproto.repo.listRecords": list_records})
    listing, _ = run(server, lambda s: s.list_posts(ALICE), page_size=2)
    assert not listing.complete and len(listing.posts) == 2 and "502" in (listing.error or "")


def test_lookup_present_deleted_never_existed() -> None:
    present, deleted, never = (uri(ALICE, "3n37txxazs22g"), uri(ALICE, "3n37txxcio22g"),
                               uri(ALICE, "3zzzzzzzzzzzz"))
    rkeys = {"3n37txxazs22g": answer("getRecord alice[0]"),
             "3n37txxcio22g": answer("getRecord deleted"),
             "3zzzzzzzzzzzz": answer("getRecord never-existed rkey")}

    def get_record(request: httpx.Request) -> httpx.Response:
        status, body = rkeys[request.url.params["rkey"]]
        return httpx.Response(status, json=body)

    server = Server({"com.atproto.repo.getRecord": get_record,
                     "com.atproto.sync.getRecord": NOT_FOUND})
    found, rec = run(server, lambda s: s.lookup_posts(ALICE, [present, deleted, never]))
    assert [f.result for f in found] == [LookupResult.PRESENT, LookupResult.GONE, LookupResult.GONE]
    assert found[0].snapshot is not None and found[0].snapshot.text == "alice post 0"
    assert found[0].snapshot.post_id == present
    assert found[1].reason == DeletionReason.USER_DELETED
    assert "RecordNotFound" in (found[1].detail or "")
    check_captured(server, rec, *(f.capture_ids for f in found))


@pytest.mark.parametrize("label", ["bob deactivated: getRecord", "carol takendown: getRecord",
                                   "dave deleted: getRecord", "getRecord unknown repo"])
def test_lookup_in_gone_repo_is_account_gone_never_gone(label: str) -> None:
    server = Server({"com.atproto.repo.getRecord": answer(label)})
    ids = [uri(BOB, "3n37txxiyoc2g"), uri(BOB, "3n37txxi5dc2g"), uri(BOB, "3n37txxhaz22g")]
    found, rec = run(server, lambda s: s.lookup_posts(BOB, ids))
    assert [f.result for f in found] == [LookupResult.ACCOUNT_GONE] * 3
    assert [f.post_id for f in found] == ids
    assert len([r for r in server.requests if "getRecord" in r.url.path]) == 1  # short-circuit
    check_captured(server, rec, *(f.capture_ids for f in found))


def _cid(block: bytes) -> bytes:
    return b"\x01\x71\x12\x20" + hashlib.sha256(block).digest()


def _varint(n: int) -> bytes:
    out = b""
    while True:
        b, n = n & 0x7F, n >> 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def _node(entries: list[tuple[str, bytes, bytes | None]], left: bytes | None,
          blocks: list[bytes]) -> bytes:
    """An MST node (keys prefix-compressed as the spec does); returns its CID."""
    out, prev = [], b""
    for key, value, right in entries:
        k = key.encode()
        p = 0
        while p < min(len(k), len(prev)) and k[p] == prev[p]:
            p += 1
        out.append({"p": p, "k": k[p:], "v": value, "t": right})
        prev = k
    block = libipld.encode_dag_cbor({"l": left, "e": out})
    blocks.append(block)
    return _cid(block)


def _car(did: str, entries: list[tuple[str, bytes]], *, fanout: int = 0,
         drop_subtree: int | None = None) -> bytes:
    """A repo path CAR: commit → MST. ``fanout`` > 0 makes a two-level tree: every
    ``fanout``-th key goes up into the root, the runs between them into leaf subtrees.
    ``drop_subtree`` leaves that subtree's block out of the CAR."""
    blocks: list[bytes] = []
    items = sorted(entries)
    if fanout <= 0:
        root = _node([(k, v, None) for k, v in items], None, blocks)
    else:
        seps = items[fanout - 1::fanout]
        runs: list[list[tuple[str, bytes]]] = [[]]
        for item in items:
            if item in seps:
                runs.append([])
            else:
                runs[-1].append(item)
        subtrees: list[bytes | None] = []
        for i, run_ in enumerate(runs):
            if not run_:
                subtrees.append(None)
                continue
            cid = _node([(k, v, None) for k, v in run_], None, blocks)
            if i == drop_subtree:
                blocks.pop()
            subtrees.append(cid)
        root = _node([(k, v, subtrees[i + 1]) for i, (k, v) in enumerate(seps)],
                     subtrees[0], blocks)
    commit = libipld.encode_dag_cbor({"did": did, "version": 3, "data": root,
                                      "rev": "3n37txxazs22g", "prev": None, "sig": b"x" * 64})
    header = libipld.encode_dag_cbor({"roots": [_cid(commit)], "version": 1})
    body = _varint(len(header)) + header
    for block in (commit, *blocks):
        body += _varint(len(_cid(block)) + len(block)) + _cid(block) + block
    return body


def test_record_takedown_told_apart_from_deletion() -> None:
    record_cid = b"\x01\x71\x12\x20" + b"\x11" * 32
    held = _car(ALICE, [(f"{POST}/3n37txxcio22g", record_cid)])
    absent = _car(ALICE, [(f"{POST}/3n37txxgeos2g", record_cid)])
    for car, reason in ((held, DeletionReason.PLATFORM_REMOVED),
                        (absent, DeletionReason.USER_DELETED),
                        (b"garbage", DeletionReason.UNKNOWN)):
        server = Server({"com.atproto.repo.getRecord": answer("getRecord record-takendown"),
                         "com.atproto.sync.getRecord": (200, car)})
        found, _ = run(server, lambda s: s.lookup_posts(ALICE, [uri(ALICE, "3n37txxcio22g")]))
        assert found[0].result == LookupResult.GONE and found[0].reason == reason


@pytest.mark.parametrize("failure", ["500", "429", "timeout", "truncated", "html"])
def test_lookup_failures_are_error_never_gone(failure: str) -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        if failure == "timeout":
            raise httpx.ConnectTimeout("simulated", request=request)
        if failure == "truncated":
            return httpx.Response(200, content=b'{"uri": "at://did:plc:chmspdjqk7s6efzh2')
        if failure == "html":
            return httpx.Response(400, text="<html>Bad</html>")
        return httpx.Response(int(failure), json={"error": "RateLimitExceeded"})

    server = Server({"com.atproto.repo.getRecord": broken})
    found, rec = run(server, lambda s: s.lookup_posts(ALICE, [uri(ALICE, "3n37txxazs22g"),
                                                              "https://not-an-at-uri"]))
    assert [f.result for f in found] == [LookupResult.ERROR, LookupResult.ERROR]
    assert found[0].detail and "\n" not in found[0].detail
    check_captured(server, rec, found[0].capture_ids)


def test_lookup_wrong_record_or_other_invalid_request_is_error() -> None:
    other = answer("getRecord alice[0]")[1]
    server = Server({"com.atproto.repo.getRecord": (200, other)})
    found, _ = run(server, lambda s: s.lookup_posts(ALICE, [uri(ALICE, "3n37txxcio22g")]))
    assert found[0].result == LookupResult.ERROR
    server = Server({"com.atproto.repo.getRecord":
                     (400, {"error": "InvalidRequest", "message": "Input/rkey must be valid"})})
    found, _ = run(server, lambda s: s.lookup_posts(ALICE, [uri(ALICE, "3n37txxcio22g")]))
    assert found[0].result == LookupResult.ERROR


def test_rewritten_record_has_new_version_key() -> None:
    body = answer("getRecord alice[0]")[1]
    edited = {**body, "cid": "bafyreiedited" + "a" * 40,
              "value": {**body["value"], "text": "alice post 0 (edited)"}}
    a = post_from_record(body, pds=PDS)
    b = post_from_record(edited, pds=PDS)
    assert a is not None and b is not None
    assert a.post_id == b.post_id and a.version_key != b.version_key
    assert a.content_hash() != b.content_hash()


# --- record parsing ----------------------------------------------------------------------


def test_post_embeds_media_reply_quote() -> None:
    blob = {"$type": "blob", "ref": {"$link": "bafkreiabcdefghij"}, "mimeType": "image/jpeg",
            "size": 10}
    target = uri(BOB, "3n37txxiyoc2g")
    record = {"uri": uri(ALICE, "3n37txxazs22g"), "cid": "bafyreix", "value": {
        "$type": POST, "text": "look", "createdAt": "2026-11-26T14:08:54.000Z", "langs": ["zh"],
        "reply": {"root": {"uri": target, "cid": "c"}, "parent": {"uri": target, "cid": "c"}},
        "embed": {"$type": "app.bsky.embed.recordWithMedia",
                  "record": {"$type": "app.bsky.embed.record", "record": {"uri": target}},
                  "media": {"$type": "app.bsky.embed.images",
                            "images": [{"image": blob, "alt": "a cat"},
                                       {"image": {"cid": "bafkreilegacyform", "mimeType": "image/png"},
                                        "alt": ""}]}}}}
    snap = post_from_record(record, pds=PDS)
    assert snap is not None
    assert snap.kind == "reply" and snap.reply_to == target and snap.quote_of == target
    assert snap.lang == "zh" and snap.created_at == datetime(2026, 11, 26, 14, 8, 54, tzinfo=UTC)
    assert [(m.kind, m.alt, m.mime) for m in snap.media] == [
        ("image", "a cat", "image/jpeg"), ("image", None, "image/png")]
    q = urlsplit(snap.media[0].url or "")
    assert q.path == "/xrpc/com.atproto.sync.getBlob"
    assert dict(parse_qsl(q.query)) == {"did": ALICE, "cid": "bafkreiabcdefghij"}
    video = {**record, "value": {"text": "v", "embed": {
        "$type": "app.bsky.embed.video", "video": blob, "alt": "clip"}}}
    vs = post_from_record(video, pds=PDS)
    assert vs is not None and vs.kind == "post" and vs.media[0].kind == "video"
    assert vs.created_at is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                 max_size=5),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(value=json_values, text=json_values, embed=json_values, created=json_values)
def test_post_from_hostile_record_never_raises(value: Any, text: Any, embed: Any,
                                               created: Any) -> None:
    post_from_record(value, pds=PDS)
    snap = post_from_record({"uri": uri(ALICE, "3n37txxazs22g"), "cid": embed, "value": {
        "text": text, "embed": embed, "createdAt": created, "reply": embed, "langs": text}},
        pds=PDS)
    assert snap is not None and isinstance(snap.text, str)


@settings(max_examples=100, deadline=None)
@given(body=st.binary(max_size=300))
def test_mst_lookup_hostile_bytes(body: bytes) -> None:
    assert mst_lookup(body, ALICE, f"{POST}/3n37txxazs22g")[0] == "unknown"


@settings(max_examples=80, deadline=None)
@given(keys=st.sets(st.from_regex(r"app\.bsky\.feed\.post/[a-z2-7]{1,6}", fullmatch=True),
                    min_size=1, max_size=20),
       probe=st.from_regex(r"app\.bsky\.feed\.post/[a-z2-7]{1,6}", fullmatch=True),
       fanout=st.integers(min_value=0, max_value=4))
def test_mst_lookup_finds_exactly_the_keys_in_the_tree(keys: set[str], probe: str,
                                                        fanout: int) -> None:
    value = b"\x01\x71\x12\x20" + b"\x22" * 32
    car = _car(ALICE, [(k, value) for k in keys], fanout=fanout)
    for key in (probe, *keys):
        where, cid = mst_lookup(car, ALICE, key)
        assert where == ("present" if key in keys else "absent"), key
        if where == "present":
            assert cid == libipld.encode_cid(value)
    assert mst_lookup(car, BOB, probe)[0] == "unknown"  # a commit for another repo


def test_mst_lookup_missing_block_is_unknown() -> None:
    value = b"\x01\x71\x12\x20" + b"\x33" * 32
    keys = [f"{POST}/{c}" for c in "abcdefghij"]
    car = _car(ALICE, [(k, value) for k in keys], fanout=3, drop_subtree=0)
    assert mst_lookup(car, ALICE, keys[0])[0] == "unknown"  # its subtree is not in the CAR
    assert mst_lookup(car, ALICE, keys[2])[0] == "present"  # in the root
    assert mst_lookup(car, ALICE, keys[4])[0] == "present"  # in a subtree that is there


def test_small_helpers() -> None:
    assert normalize_ident("@Alice.Test") == "alice.test"
    assert normalize_ident("https://bsky.app/profile/did:plc:abc/post/x") == "did:plc:abc"
    assert normalize_ident("at://did:plc:abc") == "did:plc:abc"
    assert parse_at_uri(uri(ALICE, "3n37txxazs22g")) == (ALICE, POST, "3n37txxazs22g")
    for bad in ("at://x/y/z", "https://bsky.app", f"at://{ALICE}/{POST}", f"at://{ALICE}/x/y/z"):
        assert parse_at_uri(bad) is None
    created = datetime(2026, 11, 26, 14, 8, 54, tzinfo=UTC)
    t = tid_time("3n37txxazs22g")
    assert t is not None and abs((t - created).total_seconds()) < 2
    assert tid_time("not-a-tid") is None and tid_time("self") is None


def test_fetch_media_bytes_or_none() -> None:
    def blob(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("cid") == "bafkreiok":
            return httpx.Response(200, content=b"\x89PNG bytes")
        return httpx.Response(400, json={"error": "BlobNotFound"})

    server = Server({"com.atproto.sync.getBlob": blob})
    got, rec = run(server, lambda s: s.fetch_media(f"{PDS}/xrpc/com.atproto.sync.getBlob?did={ALICE}&cid=bafkreiok"))
    assert got == b"\x89PNG bytes" and len(rec.captures) == 1
    missing, _ = run(server, lambda s: s.fetch_media(f"{PDS}/xrpc/com.atproto.sync.getBlob?cid=x"))
    assert missing is None
    nothing, rec = run(Server({}), lambda s: s.fetch_media("file:///etc/passwd"))
    # not sent; the refusal is recorded (a capture with no status and the reason)
    (refused,) = rec.captures
    assert nothing is None and refused.status is None and refused.body == b""
    assert refused.error == "refused: not an http(s) URL (file:)"

"""BlueskySource against the REAL reference PDS (npm @atproto/pds) and an in-memory
did:plc directory, both on localhost (scripts/install-pds; fixture in pds_fixture.py)."""

from __future__ import annotations

import asyncio
import struct
import zlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest

from pds_fixture import Account, RunningPds, free_port, pds_server  # noqa: F401  (fixture "pds")
from unerased.errors import SourceError
from unerased.model import AccountStatus, DeletionReason, LookupResult
from unerased.sources._base import Recorder
from unerased.sources.bluesky import BlueskySource

pytestmark = pytest.mark.pds
T = TypeVar("T")


def png(seed: int) -> bytes:
    """A real 2x2 PNG, different per seed."""
    raw = b"".join(b"\x00" + bytes([seed % 256, 40, 200, 255]) * 2 for _ in range(2))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def run(pds: RunningPds, scenario: Callable[[BlueskySource], Awaitable[T]],
        **kw: Any) -> tuple[T, Recorder, list[httpx.Request]]:
    """Run one scenario with a fresh source (directory lookups by default; pass
    ``service=pds.url`` to name the server). Returns what it returned, the recorder, and
    every request that went on the wire."""
    sent: list[httpx.Request] = []
    recorders: list[Recorder] = []

    async def hook(request: httpx.Request) -> None:
        sent.append(request)

    async def main() -> T:
        async with httpx.AsyncClient(trust_env=False, timeout=15.0,
                                     event_hooks={"request": [hook]}) as client:
            recorders.append(Recorder(client))
            kw.setdefault("plc_url", pds.plc_url)
            kw.setdefault("handle_resolver", pds.url)
            return await scenario(BlueskySource(recorders[0], **kw))

    result = asyncio.run(main())
    return result, recorders[0], sent


def all_captured(rec: Recorder, sent: list[httpx.Request], *capture_lists: Any) -> None:
    assert len(rec.captures) == len(sent) and len(sent) > 0
    assert [c.url for c in rec.captures] == [str(r.url) for r in sent]
    ids = {c.id for c in rec.captures}
    for caps in capture_lists:
        assert caps and set(caps) <= ids


def status_of(pds: RunningPds, did: str, **kw: Any) -> AccountStatus:
    check, rec, sent = run(pds, lambda s: s.check_account(did), **kw)
    assert check.snapshot is not None, check.error
    all_captured(rec, sent, check.capture_ids)
    return check.snapshot.status


def lookup(pds: RunningPds, did: str, ids: list[str], **kw: Any) -> list[Any]:
    found, rec, sent = run(pds, lambda s: s.lookup_posts(did, ids), **kw)
    all_captured(rec, sent, *(f.capture_ids for f in found))
    return found


# --- identity -----------------------------------------------------------------------------


def test_resolve_handle_through_directory_and_service(pds: RunningPds) -> None:
    alice = pds.admin.create_account("alice")
    pds.admin.set_profile(alice, display_name="Alice A.", description="writes things",
                          avatar=(png(1), "image/png"))
    snap, rec, sent = run(pds, lambda s: s.resolve(alice.handle))
    assert snap.account_id == alice.did and snap.handle == alice.handle
    assert snap.status == AccountStatus.ACTIVE and snap.display_name == "Alice A."
    assert snap.profile["pds"] == pds.url and snap.profile["description"] == "writes things"
    assert str(snap.profile["avatar"]).startswith(f"{pds.url}/xrpc/com.atproto.sync.getBlob?")
    assert any(r.url.host == "localhost" and r.url.path == f"/{alice.did}" for r in sent)
    all_captured(rec, sent)

    # --service: the named server answers everything; the directory is never asked
    dead_plc = f"http://localhost:{free_port()}"
    snap2, _, sent2 = run(pds, lambda s: s.resolve(f"@{alice.handle}"), service=pds.url,
                          plc_url=dead_plc)
    assert snap2.account_id == alice.did and snap2.status == AccountStatus.ACTIVE
    assert not any(str(r.url).startswith(dead_plc) for r in sent2)
    by_did, _, _ = run(pds, lambda s: s.resolve(alice.did))
    assert by_did.handle == alice.handle


def test_resolve_errors(pds: RunningPds) -> None:
    with pytest.raises(SourceError, match="nobody.test not found") as e:
        run(pds, lambda s: s.resolve("nobody.test"))
    assert "\n" not in str(e.value)
    # the did:plc directory is no AT Protocol server: a wrong --service
    with pytest.raises(SourceError, match="does not answer as an AT Protocol server"):
        run(pds, lambda s: s.resolve("alice.test"), service=pds.plc_url)
    with pytest.raises(SourceError, match="cannot reach"):
        run(pds, lambda s: s.resolve("alice.test"), service=f"http://localhost:{free_port()}")
    with pytest.raises(SourceError, match="not found"):
        run(pds, lambda s: s.resolve("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"))


def test_handle_change_is_seen(pds: RunningPds) -> None:
    acct = pds.admin.create_account("renamer")
    pds.admin.update_handle(acct, "renamed-x.test")
    for kw in ({}, {"service": pds.url}):
        check, _, _ = run(pds, lambda s: s.check_account(acct.did), **kw)
        assert check.snapshot is not None and check.snapshot.handle == "renamed-x.test"
    with pytest.raises(SourceError):
        run(pds, lambda s: s.resolve("renamer.test"), service=pds.url)


# --- posts --------------------------------------------------------------------------------


def test_listing_paginates(pds: RunningPds) -> None:
    acct = pds.admin.create_account("lister")
    refs = [pds.admin.create_post(acct, f"post {i}") for i in range(7)]
    listing, rec, sent = run(pds, lambda s: s.list_posts(acct.did), page_size=3)
    assert listing.complete and listing.window_start is None and listing.error is None
    assert [p.post_id for p in listing.posts] == [r.uri for r in reversed(refs)]
    assert [p.version_key for p in listing.posts] == [r.cid for r in reversed(refs)]
    pages = [r for r in sent if r.url.path.endswith("listRecords")]
    assert len(pages) == 4  # 3 + 3 + 1, then the empty page that ends it
    assert pages[0].url.params["limit"] == "3" and "cursor" in pages[1].url.params
    all_captured(rec, sent, listing.capture_ids)

    short, _, _ = run(pds, lambda s: s.list_posts(acct.did, max_pages=1), page_size=3)
    assert short.complete and len(short.posts) == 3 and short.window_start is not None
    assert all(p.created_at and p.created_at >= short.window_start for p in short.posts)


def test_lookup_present_deleted_never_existed_and_edited(pds: RunningPds) -> None:
    acct = pds.admin.create_account("looker")
    keep = pds.admin.create_post(acct, "stays", langs=["en"])
    gone = pds.admin.create_post(acct, "goes away")
    edited = pds.admin.create_post(acct, "first words")
    never = f"at://{acct.did}/app.bsky.feed.post/3zzzzzzzzzzzz"
    pds.admin.delete_record(acct, gone.uri)
    new = pds.admin.edit_post(acct, edited.uri, "second words")
    assert new.uri == edited.uri and new.cid != edited.cid

    found = lookup(pds, acct.did, [keep.uri, gone.uri, never, edited.uri])
    assert [f.result for f in found] == [LookupResult.PRESENT, LookupResult.GONE,
                                         LookupResult.GONE, LookupResult.PRESENT]
    assert found[0].snapshot.text == "stays" and found[0].snapshot.version_key == keep.cid
    assert found[0].snapshot.lang == "en"
    assert found[1].reason == DeletionReason.USER_DELETED
    assert found[2].reason == DeletionReason.USER_DELETED
    assert "RecordNotFound" in found[1].detail
    assert found[3].snapshot.text == "second words"
    assert found[3].snapshot.version_key == new.cid != edited.cid


def test_record_takedown_is_platform_removed_and_reversible(pds: RunningPds) -> None:
    acct = pds.admin.create_account("censored")
    ref = pds.admin.create_post(acct, "inconvenient truth")
    pds.admin.takedown_record(ref)
    found = lookup(pds, acct.did, [ref.uri])
    assert found[0].result == LookupResult.GONE
    assert found[0].reason == DeletionReason.PLATFORM_REMOVED
    listing, _, _ = run(pds, lambda s: s.list_posts(acct.did))
    assert listing.complete and ref.uri not in [p.post_id for p in listing.posts]
    pds.admin.takedown_record(ref, applied=False)
    assert lookup(pds, acct.did, [ref.uri])[0].result == LookupResult.PRESENT


def test_media_reply_quote_and_blob_bytes(pds: RunningPds) -> None:
    acct = pds.admin.create_account("painter")
    image = png(7)
    first = pds.admin.create_post(acct, "a picture", images=[(image, "image/png", "two by two")])
    reply = pds.admin.create_post(acct, "a reply", reply_to=first)
    quote = pds.admin.create_post(acct, "a quote", quote=first,
                                  images=[(png(8), "image/png", "")])
    listing, _, _ = run(pds, lambda s: s.list_posts(acct.did))
    posts = {p.post_id: p for p in listing.posts}
    pic = posts[first.uri]
    assert pic.kind == "post" and len(pic.media) == 1
    assert pic.media[0].alt == "two by two" and pic.media[0].mime == "image/png"
    assert posts[reply.uri].kind == "reply" and posts[reply.uri].reply_to == first.uri
    assert posts[quote.uri].kind == "quote" and posts[quote.uri].quote_of == first.uri
    assert len(posts[quote.uri].media) == 1
    url = pic.media[0].url
    assert url is not None
    got, rec, sent = run(pds, lambda s: s.fetch_media(url))
    assert got == image
    all_captured(rec, sent)
    assert rec.captures[0].body == image


# --- account states -----------------------------------------------------------------------


def _gone_everywhere(pds: RunningPds, acct: Account, post: str) -> None:
    found = lookup(pds, acct.did, [post, post + "x"])
    assert [f.result for f in found] == [LookupResult.ACCOUNT_GONE] * 2
    listing, _, _ = run(pds, lambda s: s.list_posts(acct.did))
    assert not listing.complete and listing.posts == [] and listing.error


def test_deactivate_and_reactivate(pds: RunningPds) -> None:
    acct = pds.admin.create_account("sleeper")
    ref = pds.admin.create_post(acct, "before")
    pds.admin.deactivate(acct)
    assert status_of(pds, acct.did) == AccountStatus.DEACTIVATED
    assert status_of(pds, acct.did, service=pds.url) == AccountStatus.DEACTIVATED
    _gone_everywhere(pds, acct, ref.uri)
    pds.admin.activate(acct)
    assert status_of(pds, acct.did) == AccountStatus.ACTIVE
    assert lookup(pds, acct.did, [ref.uri])[0].result == LookupResult.PRESENT


def test_takedown_and_reversal(pds: RunningPds) -> None:
    acct = pds.admin.create_account("dissident")
    ref = pds.admin.create_post(acct, "speaks up")
    pds.admin.takedown_account(acct.did)
    assert status_of(pds, acct.did) == AccountStatus.SUSPENDED
    _gone_everywhere(pds, acct, ref.uri)
    snap, _, _ = run(pds, lambda s: s.resolve(acct.did))  # watchable while suspended
    assert snap.status == AccountStatus.SUSPENDED and snap.handle == acct.handle
    pds.admin.restore_account(acct.did)
    assert status_of(pds, acct.did) == AccountStatus.ACTIVE
    assert lookup(pds, acct.did, [ref.uri])[0].result == LookupResult.PRESENT


def test_admin_deleted_account(pds: RunningPds) -> None:
    acct = pds.admin.create_account("erased")
    ref = pds.admin.create_post(acct, "last words")
    pds.admin.delete_account(acct.did)
    assert status_of(pds, acct.did) == AccountStatus.DELETED
    assert status_of(pds, acct.did, service=pds.url) == AccountStatus.DELETED
    _gone_everywhere(pds, acct, ref.uri)
    with pytest.raises(SourceError, match="not found"):
        run(pds, lambda s: s.resolve(acct.did))


def test_pds_start_time_is_reasonable(pds: RunningPds) -> None:
    assert 0 < pds.start_seconds < 30
    assert pds.process.poll() is None

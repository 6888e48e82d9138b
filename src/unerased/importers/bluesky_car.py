"""Import a Bluesky repository CAR file (what ``com.atproto.sync.getRepo`` returns).

The file is CAR v1: a varint-prefixed DAG-CBOR header ``{version: 1, roots: [cid]}``
followed by sections ``varint(len) CID block``. The root is the signed commit
``{did, version, data, rev, prev, sig}``; ``data`` is the root of the Merkle Search
Tree (atproto repository spec) whose leaves map ``collection/rkey`` to record CIDs.

Everything in the file is hostile input. The CAR framing is parsed here (so every
block can be checked against its CID's sha256 before it is trusted); blocks are
decoded with ``libipld``. The file is memory-mapped and only a compact offset index
is kept (``_car_index``: under 30 bytes a block, less than the smallest block), so
memory stays below the file's size, and the file size under ``max_bytes``. Any problem — bad framing, a missing block, a cycle or a wrong type in
the tree — raises :class:`ArchiveError` with one line, never another exception.
Blobs (images, video) are not part of a repository CAR, so media items carry the blob
CID as ``filename`` and no content.
"""

from __future__ import annotations

import base64
import hashlib
import math
import mmap
import os
import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import libipld

from ..errors import exception_line
from ..model import AccountSnapshot, MediaItem, PostSnapshot
from ..text.hostile import safe_datetime, safe_str
from ._car_index import BlockIndex
from ._errors import ArchiveError
from ._meter import Meter

__all__ = [
    "DEFAULT_MAX_BYTES",
    "RepoRecord",
    "iter_bluesky_car",
    "iter_repo_records",
]

DEFAULT_MAX_BYTES = 4 << 30
"""Largest CAR accepted by default (4 GiB). The file is memory-mapped, not read."""

POST = "app.bsky.feed.post"
REPOST = "app.bsky.feed.repost"
PROFILE = "app.bsky.actor.profile"
_PROFILE_KEY = PROFILE + "/self"

_CODEC_DAG_CBOR = 0x71
_HASH_SHA256 = 0x12
_MAX_NESTING = 64  # records deeper than this are not real Bluesky records
_DID_RE = re.compile(r"did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]")
_KEY_PART = r"[a-zA-Z0-9._:~-]{1,512}"
_KEY_RE = re.compile(rf"({_KEY_PART})/({_KEY_PART})")

Progress = Callable[[int, int], None]
"""``progress(bytes_done, bytes_total)``, as for the other importers."""


_Meter = Meter


@dataclass(frozen=True, slots=True)
class RepoRecord:
    """One record of a repository, in MST key order."""

    collection: str  # NSID, e.g. app.bsky.feed.post
    rkey: str
    cid: str  # the record's CID (base32 string)
    value: Any  # decoded DAG-CBOR: links and byte strings come out as ``bytes``


class _Car:
    """An index over a memory-mapped CAR v1 file: CID bytes -> block span."""

    def __init__(self, path: Path, data: mmap.mmap | bytes) -> None:
        self.path = path
        self.data = data
        self.size = len(data)
        self.index = BlockIndex(data)  # CID -> block (compact: see _car_index)
        self.root = b""
        self.meter = _Meter(self.size, None)
        self._index()

    def fail(self, problem: str) -> ArchiveError:
        return ArchiveError(str(self.path), problem)

    # -- framing ------------------------------------------------------------

    def _varint(self, pos: int, end: int) -> tuple[int, int]:
        result = 0
        shift = 0
        while True:
            if pos >= end:
                raise self.fail("not a CAR file: truncated length prefix")
            byte = self.data[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result, pos
            shift += 7
            if shift > 63:
                raise self.fail("not a CAR file: length prefix too long")

    def _cid_end(self, pos: int, end: int) -> int:
        """Where the binary CID starting at ``pos`` ends (within ``end``)."""
        if end - pos >= 2 and self.data[pos] == 0x12 and self.data[pos + 1] == 0x20:
            stop = pos + 34  # CIDv0: a bare sha256 multihash
        else:
            version, p = self._varint(pos, end)
            if version != 1:
                raise self.fail(f"bad CID at byte {pos}: version {version}")
            _codec, p = self._varint(p, end)
            _hcode, p = self._varint(p, end)
            hlen, p = self._varint(p, end)
            if hlen > 64:
                raise self.fail(f"bad CID at byte {pos}: digest of {hlen} bytes")
            stop = p + hlen
        if stop > end:
            raise self.fail(f"truncated CID at byte {pos}")
        return stop

    def _index(self) -> None:
        if self.size >= 11 and bytes(self.data[:11]) == bytes.fromhex("0aa16776657273696f6e02"):
            raise self.fail("CAR v2 files are not supported (expected CAR v1 from getRepo)")
        hlen, pos = self._varint(0, self.size)
        if hlen == 0 or pos + hlen > self.size:
            raise self.fail("not a CAR file: header length out of range")
        header = self.decode(bytes(self.data[pos : pos + hlen]), "CAR header")
        if not isinstance(header, dict) or header.get("version") != 1:
            raise self.fail("not a CAR v1 file: bad header")
        roots = header.get("roots")
        if not isinstance(roots, list) or not roots or not isinstance(roots[0], bytes):
            raise self.fail("CAR header has no root")
        root = roots[0]
        if _cid_string(root) is None:
            raise self.fail("CAR header root is not a CID")
        self.root = root
        pos += hlen
        while pos < self.size:
            slen, body = self._varint(pos, self.size)
            end = body + slen
            if slen == 0 or end > self.size:
                raise self.fail(f"truncated block at byte {pos}")
            cid_end = self._cid_end(body, end)
            self.index.add(body, cid_end, end)
            pos = end
        self.index.seal()

    # -- blocks -------------------------------------------------------------

    def decode(self, raw: bytes, what: str) -> Any:
        try:
            return libipld.decode_dag_cbor(raw)
        except (KeyboardInterrupt, SystemExit, GeneratorExit):  # pragma: no cover
            raise
        except BaseException as e:  # libipld may raise ValueError, RecursionError, or panic
            raise self.fail(f"{what} is not valid DAG-CBOR ({exception_line(e)})") from None

    def block(self, cid: bytes, what: str) -> Any:
        name = _cid_string(cid)
        if name is None:
            raise self.fail(f"{what}: link is not a CID")
        i = self.index.find(cid)
        if i is None:
            raise self.fail(f"{what}: block {name} is missing from the CAR")
        span = self.index.span(i)
        info = libipld.decode_cid(cid)
        if info["codec"] != _CODEC_DAG_CBOR:
            raise self.fail(f"{what}: block {name} is not DAG-CBOR")
        raw = bytes(self.data[span[0] : span[1]])
        self.meter.add(len(raw))
        digest = info["hash"]
        if digest["code"] != _HASH_SHA256 or digest["size"] != 32:
            raise self.fail(f"{what}: block {name} uses an unsupported hash")
        if hashlib.sha256(raw).digest() != digest["digest"]:
            raise self.fail(f"{what}: block {name} does not match its CID")
        return self.decode(raw, f"{what} ({name})")


def _cid_string(value: Any) -> str | None:
    """The base32 string of a binary CID link, or None if ``value`` is not exactly one."""
    if isinstance(value, str):
        if not 8 <= len(value) <= 128:
            return None
        try:
            libipld.decode_cid(value)
        except ValueError:
            return None
        return value
    if not isinstance(value, bytes) or len(value) < 34:
        return None
    try:
        info = libipld.decode_cid(value)
        size = info["hash"]["size"]
    except (ValueError, KeyError, TypeError):
        return None
    # decode_cid ignores trailing bytes; a link must be exactly one CID.
    if info["version"] == 0:
        expected = 34
    else:
        expected = len(_uvarint(1) + _uvarint(info["codec"]) + _uvarint(info["hash"]["code"]))
        expected += len(_uvarint(size)) + size
    if expected != len(value):
        return None
    try:
        return libipld.encode_cid(value)
    except ValueError:
        return None


def _uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _open(path: Path, max_bytes: int) -> tuple[Any, mmap.mmap | bytes]:
    try:
        fh = path.open("rb")
    except OSError as e:
        raise ArchiveError(str(path), f"cannot open: {e.strerror or e}") from None
    try:
        size = os.fstat(fh.fileno()).st_size
        if size > max_bytes:
            raise ArchiveError(str(path), f"CAR is {size} bytes, over the {max_bytes}-byte limit")
        if size == 0:
            raise ArchiveError(str(path), "not a CAR file: empty")
        return fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    except ArchiveError:
        fh.close()
        raise
    except (OSError, ValueError) as e:
        fh.close()
        raise ArchiveError(str(path), f"cannot read: {e}") from None


# -- the Merkle Search Tree ------------------------------------------------------


def _walk_mst(car: _Car, root: bytes) -> Iterator[tuple[str, bytes]]:
    """Every (key, record CID) of the tree, in key order. Iterative, so hostile depth
    cannot exhaust the stack; every node may be visited once, so cycles and shared
    subtrees (impossible in a valid MST) are reported instead of looping."""
    seen = bytearray(len(car.index))  # by block number: one byte per block
    # Stack of pending work, popped from the end: ("n", cid) visits a node,
    # ("e", key, cid) yields an entry.
    stack: list[tuple[str, bytes, bytes]] = [("n", root, b"")]
    last: bytes | None = None
    while stack:
        op, a, b = stack.pop()
        if op == "e":
            if last is not None and a <= last:
                raise car.fail("MST keys are out of order")
            last = a
            yield a.decode("ascii"), b
            continue
        i = car.index.find(a)
        if i is not None:
            if seen[i]:
                raise car.fail("MST node is referenced twice (cycle or shared subtree)")
            seen[i] = 1
        node = car.block(a, "MST node")
        stack.extend(reversed(_node_items(car, node)))


def _node_items(car: _Car, node: Any) -> list[tuple[str, bytes, bytes]]:
    if not isinstance(node, dict) or not isinstance(node.get("e"), list):
        raise car.fail("MST node is not a {l, e} map")
    items: list[tuple[str, bytes, bytes]] = []
    left = node.get("l")
    if left is not None:
        if not isinstance(left, bytes):
            raise car.fail("MST node has a bad left link")
        items.append(("n", left, b""))
    prev = b""
    for entry in node["e"]:
        if not isinstance(entry, dict):
            raise car.fail("MST entry is not a map")
        p, k, v, t = entry.get("p"), entry.get("k"), entry.get("v"), entry.get("t")
        if (
            not isinstance(p, int)
            or isinstance(p, bool)
            or not 0 <= p <= len(prev)
            or not isinstance(k, bytes)
            or not isinstance(v, bytes)
            or not (t is None or isinstance(t, bytes))
        ):
            raise car.fail("MST entry has wrong types")
        key = prev[:p] + k
        if len(key) > 1100 or _KEY_RE.fullmatch(key.decode("latin-1")) is None:
            raise car.fail(f"MST key is not collection/rkey: {key[:80]!r}")
        prev = key
        items.append(("e", key, v))
        if t is not None:
            items.append(("n", t, b""))
    return items


# -- public API ------------------------------------------------------------------


def _load_commit(car: _Car) -> tuple[str, bytes]:
    commit = car.block(car.root, "commit")
    if not isinstance(commit, dict):
        raise car.fail("root block is not a commit")
    did, version, data = commit.get("did"), commit.get("version"), commit.get("data")
    if not isinstance(did, str) or len(did) > 2048 or not _DID_RE.fullmatch(did):
        raise car.fail("commit has no valid did")
    if version not in (2, 3) or isinstance(version, bool):
        raise car.fail(f"unsupported repo version {version!r}")
    if not isinstance(data, bytes):
        raise car.fail("commit has no data link")
    return did, data


def _records(
    car: _Car, data_root: bytes, collections: Collection[str] | None
) -> Iterator[RepoRecord]:
    for key, cid in _walk_mst(car, data_root):
        collection, _, rkey = key.partition("/")
        if collections is not None and collection not in collections:
            i = car.index.find(cid)
            if i is not None:
                start, end = car.index.span(i)
                car.meter.add(end - start)
            continue
        value = car.block(cid, f"record {key}")
        if not isinstance(value, dict):
            raise car.fail(f"record {key} is not a map")
        yield RepoRecord(collection, rkey, _cid_string(cid) or "", value)


def iter_repo_records(
    path: str | Path,
    *,
    collections: Collection[str] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Iterator[RepoRecord]:
    """Every record of the repository in ``path`` (optionally only some collections),
    in key order. Raises :class:`ArchiveError` on any problem with the file."""
    p = Path(path)
    fh, data = _open(p, max_bytes)
    try:
        car = _Car(p, data)
        _did, root = _load_commit(car)
        yield from _records(car, root, collections)
    finally:
        if isinstance(data, mmap.mmap):
            data.close()
        fh.close()


def iter_bluesky_car(
    path: str | Path,
    *,
    progress: Progress | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    pds: str | None = None,
) -> Iterator[AccountSnapshot | PostSnapshot]:
    """Snapshots from a repository CAR: first the :class:`AccountSnapshot` (account_id =
    the DID, profile from ``app.bsky.actor.profile/self``), then one
    :class:`PostSnapshot` per post and repost record, in record-key order.

    Blobs are not in a CAR: media items name the blob CID as ``filename``, with no
    content; with ``pds`` (the account's PDS base URL) their ``url`` (and the profile's
    avatar/banner) is the PDS's ``getBlob`` address, as the Bluesky source writes it.

    ``progress(bytes_done, bytes_total)`` is called as the tree and its records are
    walked (about every MiB, and once at the end). Raises :class:`ArchiveError` only.
    """
    p = Path(path)
    fh, data = _open(p, max_bytes)
    try:
        car = _Car(p, data)
        car.meter = _Meter(car.size, progress)
        did, root = _load_commit(car)
        account_sent = False
        for rec in _records(car, root, (POST, REPOST, PROFILE)):
            key = f"{rec.collection}/{rec.rkey}"
            if not account_sent and key >= _PROFILE_KEY:
                yield _account(did, rec if key == _PROFILE_KEY else None, pds)
                account_sent = True
            if rec.collection == PROFILE:
                continue
            yield _post(car, did, rec, pds)
        if not account_sent:
            yield _account(did, None, pds)
        car.meter.finish()
    finally:
        if isinstance(data, mmap.mmap):
            data.close()
        fh.close()


# -- mapping records to snapshots --------------------------------------------------


def _json(car: _Car, value: Any, depth: int = 0) -> Any:
    """A decoded record as atproto JSON: links as {"$link"}, bytes as {"$bytes"}."""
    if depth > _MAX_NESTING:
        raise car.fail("record is nested too deeply")
    if isinstance(value, dict):
        return {str(k): _json(car, v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_json(car, v, depth + 1) for v in value]
    if isinstance(value, bytes):
        link = _cid_string(value)
        if link is not None:
            return {"$link": link}
        return {"$bytes": base64.b64encode(value).decode("ascii").rstrip("=")}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _uri_of(value: Any) -> str | None:
    """``{uri, cid}`` strong ref -> uri."""
    if isinstance(value, dict):
        return safe_str(value.get("uri"))
    return None


def _blob_cid(blob: Any) -> tuple[str, str | None] | None:
    if not isinstance(blob, dict):
        return None
    mime = safe_str(blob.get("mimeType"))
    if blob.get("$type") == "blob":
        ref = blob.get("ref")
        cid = _cid_string(ref)
        if cid is None and isinstance(ref, dict):  # JSON-style {"$link": ...}
            cid = _cid_string(ref.get("$link"))
        return (cid, mime) if cid else None
    legacy = _cid_string(blob.get("cid"))  # legacy blob: {cid: "bafk…", mimeType}
    return (legacy, mime) if legacy else None


def _blob_url(pds: str | None, did: str, cid: str) -> str | None:
    """Where the account's PDS serves a blob (as the Bluesky source writes it)."""
    if pds is None:
        return None
    return f"{pds.rstrip('/')}/xrpc/com.atproto.sync.getBlob?" + urlencode({"did": did, "cid": cid})


def _embed_media(embed: Any, did: str, pds: str | None) -> list[MediaItem]:
    """Media of a post embed, the way the Bluesky source lists them (images, video,
    a link card's thumbnail, the media half of a quote-with-media)."""
    out: list[MediaItem] = []
    if not isinstance(embed, dict):
        return out

    def add(blob: Any, kind: str, alt: Any) -> None:
        ref = _blob_cid(blob)
        if ref is not None:
            out.append(MediaItem(url=_blob_url(pds, did, ref[0]), filename=ref[0], mime=ref[1],
                                 alt=safe_str(alt) or None, kind=kind))

    etype = embed.get("$type")
    if etype == "app.bsky.embed.images":
        images = embed.get("images")
        for img in images if isinstance(images, list) else []:
            if isinstance(img, dict):
                add(img.get("image"), "image", img.get("alt"))
    elif etype == "app.bsky.embed.video":
        add(embed.get("video"), "video", embed.get("alt"))
    elif etype == "app.bsky.embed.external":
        external = embed.get("external")
        if isinstance(external, dict):
            add(external.get("thumb"), "image", None)
    elif etype == "app.bsky.embed.recordWithMedia":
        out.extend(_embed_media(embed.get("media"), did, pds))
    return out


def _post(car: _Car, did: str, rec: RepoRecord, pds: str | None) -> PostSnapshot:
    value: dict[str, Any] = rec.value
    post_id = f"at://{did}/{rec.collection}/{rec.rkey}"
    # the record as com.atproto.repo.getRecord / listRecords give it (JSON form)
    raw = {"uri": post_id, "cid": rec.cid, "value": _json(car, value)}
    created = safe_datetime(value.get("createdAt"))
    if rec.collection == REPOST:
        return PostSnapshot(
            platform="bluesky", account_id=did, post_id=post_id, text="",
            created_at=created, kind="repost", repost_of=_uri_of(value.get("subject")),
            version_key=rec.cid, raw=raw,
        )
    langs = value.get("langs")
    lang = next((x for x in langs if isinstance(x, str)), None) if isinstance(langs, list) else None
    reply = value.get("reply")
    reply_to = _uri_of(reply.get("parent")) if isinstance(reply, dict) else None
    quote_of: str | None = None
    embed = value.get("embed")
    if isinstance(embed, dict):
        etype = embed.get("$type")
        if etype == "app.bsky.embed.record":
            quote_of = _uri_of(embed.get("record"))
        elif etype == "app.bsky.embed.recordWithMedia":
            inner = embed.get("record")
            quote_of = _uri_of(inner.get("record")) if isinstance(inner, dict) else None
    return PostSnapshot(
        platform="bluesky", account_id=did, post_id=post_id, text=safe_str(value.get("text")) or "",
        created_at=created, url=f"https://bsky.app/profile/{did}/post/{rec.rkey}",
        kind="reply" if reply_to else ("quote" if quote_of else "post"),
        reply_to=reply_to, quote_of=quote_of, lang=lang, version_key=rec.cid,
        media=tuple(_embed_media(embed, did, pds)), raw=raw,
    )


def _account(did: str, rec: RepoRecord | None, pds: str | None) -> AccountSnapshot:
    profile: dict[str, Any] = {}
    display_name: str | None = None
    created: datetime | None = None
    if pds is not None:
        profile["pds"] = pds
    if rec is not None:
        value: dict[str, Any] = rec.value
        display_name = safe_str(value.get("displayName"))
        created = safe_datetime(value.get("createdAt"))
        if (desc := safe_str(value.get("description"))) is not None:
            profile["description"] = desc
        for field in ("avatar", "banner"):
            ref = _blob_cid(value.get(field))
            if ref is not None:
                profile[field] = _blob_url(pds, did, ref[0]) or ref[0]
        if (pinned := _uri_of(value.get("pinnedPost"))) is not None:
            profile["pinned_post"] = pinned
        profile["record_cid"] = rec.cid
    return AccountSnapshot(
        platform="bluesky", account_id=did, handle=None, display_name=display_name,
        profile=profile, url=f"https://bsky.app/profile/{did}", created_at=created,
    )

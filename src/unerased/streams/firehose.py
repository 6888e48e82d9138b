"""The AT Protocol firehose: ``com.atproto.sync.subscribeRepos`` (a relay's or a PDS's).

Each WebSocket message is two DAG-CBOR values, a header ``{op, t}`` and a body
(libipld's ``decode_dag_cbor_multi``). What becomes a :class:`StreamEvent`:

- ``#commit`` of a watched repo: each op on ``app.bsky.feed.post`` — ``create`` and
  ``update`` with the record (found in the commit's CAR by the op's CID, parsed by
  :func:`unerased.sources.bluesky.post_from_record`, the Bluesky source's own parser),
  ``delete`` with ``prev`` (the deleted record's CID) when the relay sends it. The
  detail carries ``rev``, ``since``, ``commit``, ``prevData``. The capture is the whole
  frame: its CAR holds the signed commit block. ``tooBig`` → a ``gap`` for the repo.
- ``#account`` → ``account`` (``status``: the stream's word, ``active`` when active);
  ``#identity`` → ``identity`` (``handle`` in the detail); ``#sync`` → ``sync`` and a
  ``gap`` for the repo (its state was reset: re-list and diff).
- ``#info OutdatedCursor`` → a ``gap`` for everyone (the relay no longer has what
  the cursor asked for); error ``FutureCursor`` → a ``gap`` for everyone and a restart
  from live (no cursor); any other error frame → a ``gap`` and a reconnect.

Filtering is cheap: for a ``#commit`` the repo's DID is read from the frame's bytes
(canonical DAG-CBOR puts ``seq`` then ``repo`` before the blocks) and only a watched
repo's frame is decoded at all; the cursor (``seq``) advances for every frame.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import libipld

from ..model import Capture
from ..sources.bluesky import post_from_record
from ._base import StreamClient
from .event import StreamEvent

SUBSCRIBE_REPOS = "/xrpc/com.atproto.sync.subscribeRepos"
POST_COLLECTION = "app.bsky.feed.post"
DEFAULT_PDS = "https://bsky.social"
"""Where blob URLs point when no ``pds_for`` is given (media are fetched later through
the source, which resolves the account's real PDS)."""

_COMMIT_HEADER = b"\xa2atg#commitbop\x01"
# canonical DAG-CBOR orders keys by length: ops, rev, seq, repo, …, blocks. A record
# path cannot hold the control bytes of seq's integer head, so "seq" + head + "repo"
# is the real key (a stray "drepo" in a path fails the check: the frame is decoded)
_CID_PREFIXES = (b"\x01q\x12 ", b"\x01U\x12 ")


_UINT_HEADS = ((9, 0x1b), (5, 0x1a), (3, 0x19), (2, 0x18))


def peek_commit(frame: bytes) -> tuple[int, bytes] | None:
    """``(seq, repo DID bytes)`` of a ``#commit`` frame read without decoding it; None
    when the frame is not a canonical commit frame (then decode it fully)."""
    if not frame.startswith(_COMMIT_HEADER):
        return None
    at = frame.find(b"drepo", 16)
    if at < 0:
        return None
    seq = -1  # seq's integer head and the "seq" key must come right before "repo"
    for size, head in _UINT_HEADS:
        if frame[at - size] == head and frame[at - size - 4:at - size] == b"cseq":
            seq = int.from_bytes(frame[at - size + 1:at], "big")
            break
    else:
        if frame[at - 1] <= 0x17 and frame[at - 5:at - 1] == b"cseq":
            seq = frame[at - 1]
    if seq < 0:
        return None
    b = frame[at + 5]
    if 0x60 <= b <= 0x77:
        n, start = b - 0x60, at + 6
    elif b == 0x78:
        n, start = frame[at + 6], at + 7
    else:
        return None
    did = frame[start:start + n]
    if len(did) != n or not did.startswith(b"did:"):
        return None
    return seq, did


def cid_str(value: Any) -> str | None:
    """A CID as libipld decodes it (bytes) or as a string → its base32 string."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes) and value:
        try:
            return str(libipld.encode_cid(value))
        except ValueError:
            return None
    return None


def json_form(value: Any) -> Any:
    """A decoded DAG-CBOR record in the AT Protocol's JSON form (CID links as
    ``{"$link": …}``, bytes as ``{"$bytes": …}``): what ``getRecord`` would answer."""
    if isinstance(value, dict):
        return {str(k): json_form(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_form(v) for v in value]
    if isinstance(value, bytes):
        if len(value) == 36 and value.startswith(_CID_PREFIXES):
            return {"$link": cid_str(value)}
        return {"$bytes": base64.b64encode(value).decode("ascii").rstrip("=")}
    return value


class FirehoseDecoder:
    """Frames → events for a set of watched DIDs (pure; the client and the benchmark
    share it). ``pds_for``: the PDS URL blob links of a DID's media point to."""

    source = "firehose"
    platform = "bluesky"

    def __init__(self, url: str, watched: Iterable[str] = (), *,
                 pds_for: Callable[[str], str] | None = None,
                 web: str = "https://bsky.app") -> None:
        self.url = url
        self.pds_for = pds_for or (lambda _did: DEFAULT_PDS)
        self.web = web
        self._seq: int | None = None
        self._skipped: tuple[bytes, int] | None = None  # (frame, "repo" key offset)
        self.future_cursor = False
        self.watched: frozenset[str] = frozenset()
        self._watched_b: frozenset[bytes] = frozenset()
        self.watch(watched)

    @property
    def seq(self) -> int | None:
        """The last frame's ``seq`` (the cursor); read lazily for a skipped frame."""
        if self._skipped is not None:
            frame, at = self._skipped
            self._skipped = None
            self._seq = int.from_bytes(frame[at - 8:at], "big")
        return self._seq

    @seq.setter
    def seq(self, value: int | None) -> None:
        self._skipped = None
        self._seq = value

    def watch(self, dids: Iterable[str]) -> None:
        """Replace the watched set."""
        self.watched = frozenset(dids)
        self._watched_b = frozenset(d.encode() for d in self.watched)

    def capture(self, frame: bytes, at: datetime) -> Capture:
        return Capture(method="WS", url=self.url, started_at=at, status=101,
                       reason="Switching Protocols", body=frame)

    def _ev(self, kind: str, at: datetime, cap: Capture, account_id: str | None,
            **kw: Any) -> StreamEvent:
        return StreamEvent(source=self.source, kind=kind, platform=self.platform,
                           account_id=account_id, post_id=kw.get("post_id"),
                           snapshot=kw.get("snapshot"), status=kw.get("status"),
                           cursor=None if self.seq is None else str(self.seq),
                           received_at=at, capture=cap, detail=kw.get("detail") or {})

    def decode(self, frame: bytes, at: datetime) -> list[StreamEvent]:
        """The events of one frame about watched DIDs (and gaps); :attr:`seq`
        advances for every frame."""
        if frame.startswith(_COMMIT_HEADER):
            # the fast path (a production relay: seq > 2**32): "seq" + 8-byte head,
            # then "repo" and a 24-255 byte DID; unwatched: skipped, seq read if asked
            k = frame.find(b"drepo", 16)
            if (k > 13 and frame[k - 13:k - 8] == b"cseq\x1b" and frame[k + 5] == 0x78
                    and frame[k + 7:k + 11] == b"did:"
                    and frame[k + 7:k + 7 + frame[k + 6]] not in self._watched_b):
                self._skipped = (frame, k)
                return []
        peek = peek_commit(frame)
        if peek is not None:
            self.seq = peek[0]
            if peek[1] not in self._watched_b:
                return []
        try:
            header, body = libipld.decode_dag_cbor_multi(frame)
        except (ValueError, TypeError):
            return [self._ev("gap", at, self.capture(frame, at), None,
                             detail={"reason": "undecodable frame"})]
        if not isinstance(header, dict) or not isinstance(body, dict):
            return []
        return self.decode_message(header, body, frame, at)

    def decode_message(self, header: dict[str, Any], body: dict[str, Any], frame: bytes,
                       at: datetime) -> list[StreamEvent]:
        """The events of a decoded ``header``/``body`` (``frame``: the raw bytes kept
        as the capture)."""
        seq = body.get("seq")
        if isinstance(seq, int) and not isinstance(seq, bool):
            self.seq = seq
        cap = self.capture(frame, at)
        if header.get("op") == -1:
            name = str(body.get("error") or "error")
            detail = {"reason": name, "message": str(body.get("message") or "")[:500]}
            if name == "FutureCursor":
                self.seq = None
                self.future_cursor = True
            return [self._ev("gap", at, cap, None, detail=detail)]
        t = header.get("t")
        if t == "#info":
            name = str(body.get("name") or "")
            if name == "OutdatedCursor":
                return [self._ev("gap", at, cap, None, detail={
                    "reason": name, "message": str(body.get("message") or "")[:500]})]
            return []
        did = body.get("repo") if t == "#commit" else body.get("did")
        if not isinstance(did, str) or did not in self.watched:
            return []
        if t == "#commit":
            return self._commit(did, body, cap, at)
        if t == "#account":
            active = body.get("active") is True
            status = body.get("status")
            word = str(status) if isinstance(status, str) else "active" if active else "inactive"
            return [self._ev("account", at, cap, did, status=word,
                             detail={"active": active, "time": body.get("time")})]
        if t == "#identity":
            return [self._ev("identity", at, cap, did, detail={
                "handle": body.get("handle"), "time": body.get("time")})]
        if t == "#sync":
            sync: dict[str, Any] = {"rev": body.get("rev"), "time": body.get("time")}
            return [self._ev("sync", at, cap, did, detail=sync),
                    self._ev("gap", at, cap, did, detail={"reason": "#sync", **sync})]
        return []

    def _commit(self, did: str, body: dict[str, Any], cap: Capture,
                at: datetime) -> list[StreamEvent]:
        base = {"rev": body.get("rev"), "since": body.get("since"),
                "commit": cid_str(body.get("commit")), "time": body.get("time")}
        if body.get("prevData") is not None:
            base["prevData"] = cid_str(body.get("prevData"))
        if body.get("tooBig") is True:
            return [self._ev("gap", at, cap, did, detail={"reason": "tooBig", **base})]
        ops = [op for op in body.get("ops") or () if isinstance(op, dict)
               and str(op.get("path") or "").startswith(POST_COLLECTION + "/")]
        if not ops:
            return []
        blocks: dict[Any, Any] = {}
        raw_blocks = body.get("blocks")
        if any(op.get("action") in ("create", "update") for op in ops) and raw_blocks:
            try:
                blocks = libipld.decode_car(raw_blocks)[1]
            except (ValueError, TypeError):
                blocks = {}
        out: list[StreamEvent] = []
        for op in ops:
            action = op.get("action")
            uri = f"at://{did}/{op.get('path')}"
            detail = dict(base)
            if op.get("prev") is not None:
                detail["prev"] = cid_str(op.get("prev"))
            if action == "delete":
                out.append(self._ev("delete", at, cap, did, post_id=uri, detail=detail))
                continue
            if action not in ("create", "update"):
                continue
            cid = op.get("cid")
            record = blocks.get(cid) if isinstance(cid, bytes) else None
            snap = None
            if record is not None:
                snap = post_from_record(
                    {"uri": uri, "cid": cid_str(cid), "value": json_form(record)},
                    pds=self.pds_for(did), web=self.web, observed_at=at)
            else:
                detail["record"] = "missing from the commit's blocks"
            out.append(self._ev(str(action), at, cap, did, post_id=uri, snapshot=snap,
                                detail=detail))
        return out


class FirehoseClient(StreamClient):
    """``com.atproto.sync.subscribeRepos`` of ``service`` (a relay, ``wss://…``, or a
    PDS), filtered to ``watched`` DIDs, resumed from ``cursor`` (a seq)."""

    source = "firehose"
    platform = "bluesky"

    def __init__(self, service: str, watched: Iterable[str] = (), *,
                 pds_for: Callable[[str], str] | None = None, web: str = "https://bsky.app",
                 **kw: Any) -> None:
        url = service.rstrip("/")
        if not url.endswith(SUBSCRIBE_REPOS):
            url += SUBSCRIBE_REPOS
        super().__init__(url, **kw)
        self.decoder = FirehoseDecoder(self.url, watched, pds_for=pds_for, web=web)
        if self._cursor is not None:
            self.decoder.seq = int(self._cursor)

    @property
    def cursor(self) -> str | None:
        return None if self.decoder.seq is None else str(self.decoder.seq)

    def connect_url(self) -> str:
        c = self.cursor
        return self.url if c is None else f"{self.url}?{urlencode({'cursor': c})}"

    def decode(self, message: bytes, received_at: datetime) -> list[StreamEvent]:
        events = self.decoder.decode(message, received_at)
        if self.decoder.future_cursor:
            self.decoder.future_cursor = False
            self.request_restart(cursor=None)
        return events


__all__ = ["DEFAULT_PDS", "SUBSCRIBE_REPOS", "FirehoseClient", "FirehoseDecoder", "cid_str",
           "json_form", "peek_commit"]

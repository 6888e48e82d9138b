"""Jetstream: the firehose as JSON over a WebSocket (bluesky-social/jetstream).

``/subscribe?wantedCollections=app.bsky.feed.post[&cursor=TIME_US]``; each message is
one JSON event ``{did, time_us, kind, commit|identity|account}``. The cursor is
``time_us`` (microseconds), resumed from on every reconnect.

What it reveals: by default **no** ``wantedDids`` is sent — every post of the network
arrives and is filtered here, so the operator does not learn the watch list. With
``send_watch_list=True`` the DIDs are sent (up to 100 in the URL; more in an
``options_update`` message after ``requireHello=true``): less traffic, but the
operator then holds the watch list. See ``docs/streams.md``.

The filter is fast: an event of an unwatched DID is recognised from its first bytes
(``{"did":"…"``) and never parsed; only watched events go through orjson. The cursor
of a skipped event is read from its bytes only when it is asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import orjson
from websockets.asyncio.client import ClientConnection

from ..model import Capture
from ..sources.bluesky import post_from_record
from ._base import StreamClient
from .event import StreamEvent
from .firehose import DEFAULT_PDS, POST_COLLECTION

URL_DIDS_MAX = 100
"""At most this many DIDs go in the URL; more are sent in an ``options_update``."""

_DID_PREFIX = b'{"did":"'
_TIME_KEY = b'"time_us":'


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class JetstreamDecoder:
    """Jetstream lines → events for a set of watched DIDs (pure; the client and the
    benchmark share it)."""

    source = "jetstream"
    platform = "bluesky"

    def __init__(self, url: str, watched: Iterable[str] = (), *,
                 pds_for: Callable[[str], str] | None = None,
                 web: str = "https://bsky.app") -> None:
        self.url = url
        self.pds_for = pds_for or (lambda _did: DEFAULT_PDS)
        self.web = web
        self._time_us: int | None = None
        self._skipped: bytes | None = None  # the last line skipped unparsed
        self.watched: frozenset[str] = frozenset()
        self._watched_b: frozenset[bytes] = frozenset()
        self.watch(watched)

    def watch(self, dids: Iterable[str]) -> None:
        self.watched = frozenset(dids)
        self._watched_b = frozenset(d.encode() for d in self.watched)

    @property
    def time_us(self) -> int | None:
        """The last event's ``time_us`` (the cursor), read lazily for skipped lines."""
        if self._skipped is not None:
            line, self._skipped = self._skipped, None
            i = line.find(_TIME_KEY)
            if i >= 0:
                j = i + len(_TIME_KEY)
                k = j
                while k < len(line) and 48 <= line[k] <= 57:
                    k += 1
                if k > j:
                    self._time_us = int(line[j:k])
        return self._time_us

    @time_us.setter
    def time_us(self, value: int | None) -> None:
        self._skipped = None
        self._time_us = value

    def skips(self, line: bytes) -> bool:
        """True when ``line`` is an event of an unwatched DID (recognised unparsed)."""
        if line.startswith(_DID_PREFIX):
            end = line.find(b'"', 8)
            if end > 8 and line[8:end] not in self._watched_b:
                self._skipped = line
                return True
        return False

    def decode(self, line: bytes, at: datetime) -> list[StreamEvent]:
        if self.skips(line):
            return []
        try:
            ev = orjson.loads(line)
        except orjson.JSONDecodeError:
            return []
        if not isinstance(ev, dict):
            return []
        t = ev.get("time_us")
        if isinstance(t, int) and not isinstance(t, bool):
            self.time_us = t
        did = ev.get("did")
        if not isinstance(did, str) or did not in self.watched:
            return []
        return self.events_of(ev, line, at)

    def events_of(self, ev: dict[str, Any], line: bytes, at: datetime) -> list[StreamEvent]:
        """The event(s) of one parsed Jetstream event of a watched DID."""
        did = str(ev.get("did"))
        cap = Capture(method="WS", url=self.url, started_at=at, status=101,
                      reason="Switching Protocols", body=line)
        cursor = None if self._time_us is None else str(self._time_us)

        def make(kind: str, **kw: Any) -> StreamEvent:
            return StreamEvent(source=self.source, kind=kind, platform=self.platform,
                               account_id=did, post_id=kw.get("post_id"),
                               snapshot=kw.get("snapshot"), status=kw.get("status"),
                               cursor=cursor, received_at=at, capture=cap,
                               detail=kw.get("detail") or {})

        kind = ev.get("kind")
        if kind == "commit":
            c = ev.get("commit")
            if not isinstance(c, dict) or c.get("collection") != POST_COLLECTION:
                return []
            op = c.get("operation")
            uri = f"at://{did}/{POST_COLLECTION}/{c.get('rkey')}"
            detail = {"rev": c.get("rev")}
            if op == "delete":
                return [make("delete", post_id=uri, detail=detail)]
            if op not in ("create", "update"):
                return []
            snap = post_from_record({"uri": uri, "cid": c.get("cid"), "value": c.get("record")},
                                    pds=self.pds_for(did), web=self.web, observed_at=at)
            return [make(str(op), post_id=uri, snapshot=snap, detail=detail)]
        if kind == "account":
            a = _dict(ev.get("account"))
            active = a.get("active") is True
            status = a.get("status")
            word = str(status) if isinstance(status, str) else "active" if active else "inactive"
            return [make("account", status=word,
                         detail={"active": active, "seq": a.get("seq"), "time": a.get("time")})]
        if kind == "identity":
            i = _dict(ev.get("identity"))
            return [make("identity", detail={"handle": i.get("handle"), "seq": i.get("seq"),
                                             "time": i.get("time")})]
        return []


class JetstreamClient(StreamClient):
    """A Jetstream instance's ``/subscribe``, filtered here to ``watched`` DIDs, from
    ``cursor`` (``time_us``). ``send_watch_list``: also ask the operator to filter
    (reveals the watch list to it; off by default)."""

    source = "jetstream"
    platform = "bluesky"

    def __init__(self, service: str, watched: Iterable[str] = (), *,
                 send_watch_list: bool = False,
                 pds_for: Callable[[str], str] | None = None, web: str = "https://bsky.app",
                 **kw: Any) -> None:
        url = service.rstrip("/")
        if not url.endswith("/subscribe"):
            url += "/subscribe"
        super().__init__(url, **kw)
        self.send_watch_list = send_watch_list
        self.decoder = JetstreamDecoder(self.url, watched, pds_for=pds_for, web=web)
        if self._cursor is not None:
            self.decoder.time_us = int(self._cursor)

    @property
    def cursor(self) -> str | None:
        t = self.decoder.time_us
        return None if t is None else str(t)

    def _dids(self) -> list[str]:
        return sorted(self.decoder.watched) if self.send_watch_list else []

    def connect_url(self) -> str:
        params: list[tuple[str, str]] = [("wantedCollections", POST_COLLECTION)]
        dids = self._dids()
        if len(dids) > URL_DIDS_MAX:
            params.append(("requireHello", "true"))
        else:
            params += [("wantedDids", d) for d in dids]
        c = self.cursor
        if c is not None:
            params.append(("cursor", c))
        return f"{self.url}?{urlencode(params)}"

    def options_update(self) -> bytes:
        """The ``options_update`` message that sends more than 100 DIDs."""
        return orjson.dumps({"type": "options_update", "payload": {
            "wantedCollections": [POST_COLLECTION], "wantedDids": self._dids(),
            "maxMessageSizeBytes": 0}})

    async def on_open(self, ws: ClientConnection) -> None:
        if len(self._dids()) > URL_DIDS_MAX:
            await ws.send(self.options_update().decode())

    def decode(self, message: bytes, received_at: datetime) -> list[StreamEvent]:
        return self.decoder.decode(message, received_at)


__all__ = ["URL_DIDS_MAX", "JetstreamClient", "JetstreamDecoder"]

"""Mastodon streaming: ``/api/v1/streaming`` over a WebSocket.

Each message is ``{"stream": [...], "event": NAME, "payload": TEXT}``; the payload of
``update`` and ``status.update`` is a Status as JSON *inside* the JSON string, parsed by
:func:`unerased.sources.mastodon.status_snapshot` (the Mastodon source's own parser);
the payload of ``delete`` is the bare status id. ``account_id`` is ``<id>@<host>`` and
``post_id`` the status id on the streamed instance, exactly as ``MastodonSource``
stores them when it lists that instance. A ``delete`` names no account: its
``account_id`` is the one an earlier ``update`` of the same status showed, else None
(the collector looks the post id up).

The stream has no cursor: after **every** (re)connection a ``gap`` for all watched
accounts is yielded, and the collector fills it over REST (``since_id``).

The access token (a user stream needs one) goes in the ``Authorization`` header, and
only to the instance it is for (:func:`unerased.sources.mastodon.token_scope`); it is
never put in the URL, so never in a capture.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson

from ..net import http_equivalent
from ..sources.mastodon import status_snapshot, token_scope
from ._base import StreamClient
from .event import StreamEvent

STREAMING_PATH = "/api/v1/streaming"
_REMEMBERED = 10_000  # status id -> account id, to attribute deletes


class MastodonStream(StreamClient):
    """One Mastodon stream (``stream``: ``user`` (default: the token's home timeline),
    ``list`` with ``list_id``, ``public``, ``public:local``, ``hashtag``…) of
    ``instance`` (``https://host``; ``streaming_url``: the instance's own streaming
    origin when it differs), filtered to ``watched`` account ids (``id@host``; None:
    every account the stream shows). ``token``/``token_instance``: the access token
    and the instance it is for, as the Mastodon source takes them (``HOST=TOKEN`` also
    works): sent only when the stream is on that instance."""

    source = "mastodon"
    platform = "mastodon"

    def __init__(self, instance: str, *, token: str | None = None,
                 token_instance: str | None = None, stream: str = "user",
                 list_id: str | None = None, watched: Iterable[str] | None = None,
                 streaming_url: str | None = None, **kw: Any) -> None:
        base = (streaming_url or instance).rstrip("/")
        for http, ws in (("https://", "wss://"), ("http://", "ws://")):
            if base.startswith(http):
                base = ws + base[len(http):]
        super().__init__(base + STREAMING_PATH, **kw)
        self.instance = instance.rstrip("/")
        self.netloc = (urlsplit(self.instance).netloc or self.instance).lower()
        self.tokens = token_scope(token, token_instance)
        self.stream = stream
        self.list_id = list_id
        self.watched = None if watched is None else frozenset(watched)
        self._authors: OrderedDict[str, str] = OrderedDict()

    def connect_url(self) -> str:
        params = {"stream": self.stream}
        if self.list_id:
            params["list"] = self.list_id
        return f"{self.url}?{urlencode(params)}"

    def headers(self) -> Mapping[str, str]:
        tok = self.tokens.token
        if tok and self.tokens.allows(http_equivalent(self.url)):
            return {"Authorization": f"Bearer {tok}"}
        return {}

    def on_connected(self, received_at: datetime) -> list[StreamEvent]:
        return [self.gap(received_at, "connected" if self.connects == 1 else "reconnected")]

    def _remember(self, status_id: str, account_id: str) -> None:
        self._authors[status_id] = account_id
        self._authors.move_to_end(status_id)
        while len(self._authors) > _REMEMBERED:
            self._authors.popitem(last=False)

    def decode(self, message: bytes, received_at: datetime) -> list[StreamEvent]:
        try:
            msg = orjson.loads(message)
        except orjson.JSONDecodeError:
            return []
        if not isinstance(msg, dict):
            return []
        name, payload = msg.get("event"), msg.get("payload")
        cap = self.capture(message, received_at)
        if name == "delete":
            sid = str(payload) if isinstance(payload, str | int) else None
            if not sid:
                return []
            author = self._authors.get(sid)
            if author is not None and self.watched is not None and author not in self.watched:
                return []
            return [self.event("delete", received_at, cap, account_id=author, post_id=sid,
                               detail={"stream": msg.get("stream")})]
        if name not in ("update", "status.update") or not isinstance(payload, str):
            return []
        try:
            st = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return []
        acc = st.get("account") if isinstance(st, dict) else None
        aid = acc.get("id") if isinstance(acc, dict) else None
        if not isinstance(aid, str | int):
            return []
        account_id = f"{aid}@{self.netloc}"
        if self.watched is not None and account_id not in self.watched:
            return []
        snap = status_snapshot(st, account_id, observed_at=received_at)
        if snap is None:
            return []
        self._remember(snap.post_id, account_id)
        kind = "create" if name == "update" else "update"
        return [self.event(kind, received_at, cap, account_id=account_id,
                           post_id=snap.post_id, snapshot=snap,
                           detail={"stream": msg.get("stream")})]


__all__ = ["STREAMING_PATH", "MastodonStream"]

"""The one base of every stream client: connect (through :func:`unerased.net.ws_connect`:
the fetch guard, the configured proxy or explicitly none), read, reconnect with
exponential back-off and full jitter (clock, sleep and randomness injected), resume
from the cursor, close cleanly. A subclass only says which URL to open, what to send
once open, and how one message becomes :class:`~unerased.streams.StreamEvent`\\ s
(the atproto SDK's websocket client is the model: one base, subclasses decode frames).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, ClassVar

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import WebSocketException

from ..errors import FetchRefused, SourceError, one_line
from ..model import Capture, PostSnapshot, utcnow
from ..net import DEFAULT_MAX_MESSAGE, NetSettings, ws_connect
from .event import StreamEvent

Sleep = Callable[[float], Awaitable[None]]
Connect = Callable[..., Awaitable[ClientConnection]]

BACKOFF_BASE = 1.0
"""Seconds before the first reconnect; doubled each failed attempt…"""
BACKOFF_CAP = 120.0
"""…up to this; each delay is drawn uniformly from [delay/2, delay] (jitter)."""


def backoff_delay(attempt: int, rand: float, base: float = BACKOFF_BASE,
                  cap: float = BACKOFF_CAP) -> float:
    """The delay before reconnect number ``attempt`` (1, 2, …): ``base * 2**(attempt-1)``
    capped at ``cap``, scaled by ``0.5 + rand/2`` (``rand`` in [0, 1): the jitter that
    keeps many collectors from reconnecting in step)."""
    delay: float = min(cap, base * 2.0 ** max(0, min(attempt - 1, 30)))
    return delay * (0.5 + max(0.0, min(rand, 1.0)) / 2)


class StreamClient:
    """One long-lived stream. Iterate :meth:`events` (an async iterator that reconnects
    by itself until :meth:`close`); read :attr:`cursor` to persist where to resume.

    ``net``: the network settings (proxy, allow-list) every connection goes through;
    ``services``: the stream's own origins, allowed like a watched service's (a PDS on
    the local network); ``clock``/``sleep``/``rand``: injected time, waiting and jitter
    (tests never sleep); ``max_attempts``: give up (SourceError) after this many
    failed connection attempts in a row (None: never); ``connect``: the connector
    (:func:`unerased.net.ws_connect`; tests may wrap it to count connections).
    """

    source: ClassVar[str] = ""
    platform: ClassVar[str] = ""
    text_as_bytes: ClassVar[bool] = True

    def __init__(
        self,
        url: str,
        *,
        net: NetSettings,
        services: Iterable[str] = (),
        cursor: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        sleep: Sleep = asyncio.sleep,
        rand: Callable[[], float] = random.random,
        backoff: tuple[float, float] = (BACKOFF_BASE, BACKOFF_CAP),
        max_attempts: int | None = None,
        max_message: int = DEFAULT_MAX_MESSAGE,
        connect: Connect = ws_connect,
        resolve: Callable[[str, int], Awaitable[Any]] | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.net = net
        self.services = tuple(services)
        self._cursor = cursor
        self.clock = clock
        self.sleep = sleep
        self.rand = rand
        self.backoff = backoff
        self.max_attempts = max_attempts
        self.max_message = max_message
        self._connect = connect
        self._resolve = resolve
        self.connects = 0
        """Connections opened so far (the first is 1; every later one is a reconnect)."""
        self.delays: list[float] = []
        """Every back-off delay waited, in order (for status and tests)."""
        self.last_error: str | None = None
        self._ws: ClientConnection | None = None
        self._closed = False
        self._restart = False

    # --- what a subclass says ------------------------------------------------------

    @property
    def cursor(self) -> str | None:
        """Where to resume from (the last message's position), None: from live."""
        return self._cursor

    def connect_url(self) -> str:
        """The URL to open now (with the cursor, when there is one)."""
        return self.url

    def headers(self) -> Mapping[str, str]:
        """Headers for the handshake (a Mastodon token: only to its own instance)."""
        return {}

    async def on_open(self, ws: ClientConnection) -> None:
        """Called once a connection is open, before reading (Jetstream's options)."""

    def on_connected(self, received_at: datetime) -> list[StreamEvent]:
        """Events to yield once connected (``connects`` already counts this one): a
        ``gap`` where events may have been missed."""
        return []

    def decode(self, message: bytes, received_at: datetime) -> list[StreamEvent]:
        """The events in one message about watched accounts (none for others); a
        subclass also advances :attr:`cursor`."""
        raise NotImplementedError

    # --- helpers for subclasses ----------------------------------------------------

    def request_restart(self, *, cursor: str | None) -> None:
        """Close this connection after the current message and reconnect from
        ``cursor`` (None: from live)."""
        self._cursor = cursor
        self._restart = True

    def capture(self, body: bytes, received_at: datetime) -> Capture:
        """The raw message as evidence: method WS, the stream URL (no query, no
        secret), status 101, the frame's bytes."""
        return Capture(method="WS", url=self.url, started_at=received_at, status=101,
                       reason="Switching Protocols", body=body)

    def event(
        self, kind: str, received_at: datetime, capture: Capture, *,
        account_id: str | None = None, post_id: str | None = None,
        snapshot: PostSnapshot | None = None, status: str | None = None,
        cursor: str | None = None, detail: Mapping[str, Any] | None = None,
    ) -> StreamEvent:
        return StreamEvent(source=self.source, kind=kind, platform=self.platform,
                           account_id=account_id, post_id=post_id, snapshot=snapshot,
                           status=status, cursor=cursor, received_at=received_at,
                           capture=capture, detail=dict(detail or {}))

    def gap(self, received_at: datetime, reason: str, account_id: str | None = None,
            body: bytes = b"", cursor: str | None = None) -> StreamEvent:
        """A ``gap``: events may have been missed for ``account_id`` (None: all)."""
        return self.event("gap", received_at, self.capture(body, received_at),
                          account_id=account_id, cursor=cursor, detail={"reason": reason})

    # --- the loop ------------------------------------------------------------------

    async def events(self) -> AsyncIterator[StreamEvent]:
        """Every event until :meth:`close`; reconnects by itself (back-off, jitter,
        from :attr:`cursor`). A refusal by the fetch guard is raised at once (it will
        not change by retrying); so is SourceError after ``max_attempts`` failures."""
        attempt = 0
        while not self._closed:
            try:
                ws = await self._connect(
                    self.connect_url(), self.net, services=self.services,
                    headers=self.headers(), max_size=self.max_message,
                    resolve=self._resolve)
            except FetchRefused:
                raise
            except (OSError, WebSocketException, TimeoutError) as e:
                attempt += 1
                self.last_error = one_line(f"{type(e).__name__}: {e}", 300)
                if self.max_attempts is not None and attempt >= self.max_attempts:
                    raise SourceError(f"{self.source}: could not connect to {self.url} "
                                      f"({attempt} attempts): {self.last_error}") from None
                await self._wait(attempt)
                continue
            self._ws = ws
            self.connects += 1
            self._restart = False
            try:
                await self.on_open(ws)
                for ev in self.on_connected(self.clock()):
                    yield ev
                while not self._closed and not self._restart:
                    message = await ws.recv(decode=not self.text_as_bytes)
                    attempt = 0
                    body = message.encode() if isinstance(message, str) else bytes(message)
                    for ev in self.decode(body, self.clock()):
                        yield ev
            except (OSError, WebSocketException, TimeoutError) as e:
                self.last_error = one_line(f"{type(e).__name__}: {e}", 300)
            finally:
                self._ws = None
                await ws.close()
            if self._closed:
                return
            attempt += 1
            await self._wait(attempt)

    async def _wait(self, attempt: int) -> None:
        delay = backoff_delay(attempt, self.rand(), *self.backoff)
        self.delays.append(delay)
        await self.sleep(delay)

    async def close(self) -> None:
        """Stop: the open connection is closed cleanly and :meth:`events` ends."""
        self._closed = True
        ws = self._ws
        if ws is not None:
            await ws.close()


__all__ = ["BACKOFF_BASE", "BACKOFF_CAP", "StreamClient", "backoff_delay"]

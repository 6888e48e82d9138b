"""A WebSocket server on loopback for the stream tests: it replays given messages to
each connection (a function of the connection's request), records what clients asked
and sent, and can close a connection after N messages (to test reconnects)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from websockets.asyncio.server import ServerConnection, serve

from unerased.net import NetSettings, settings

Script = Callable[[ServerConnection, int], Sequence[bytes | str]]
"""(connection, connection number from 0) -> the messages to send it."""


@dataclass
class Replay:
    port: int
    paths: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    received: list[str | bytes] = field(default_factory=list)
    peers: list[str] = field(default_factory=list)

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


@asynccontextmanager
async def replay_server(script: Script, *, wait_for_hello: bool = False,
                        hold_open: bool = False) -> AsyncIterator[Replay]:
    """Serve ``script``; ``wait_for_hello``: read one client message before sending
    (Jetstream's requireHello); ``hold_open``: keep the connection open after the last
    message (else close it: the client must reconnect)."""
    state = Replay(0)

    async def handler(conn: ServerConnection) -> None:
        n = len(state.paths)
        assert conn.request is not None
        state.paths.append(conn.request.path)
        state.peers.append(str(conn.remote_address[0]))
        state.headers.append({k.lower(): v for k, v in conn.request.headers.raw_items()})
        if wait_for_hello:
            state.received.append(await conn.recv())
        for msg in script(conn, n):
            await conn.send(msg)
        if hold_open:
            await conn.wait_closed()

    async with serve(handler, "127.0.0.1", 0, compression=None) as server:
        state.port = next(iter(server.sockets)).getsockname()[1]
        yield state


def loopback_net(replay: Replay) -> NetSettings:
    """Direct connections (no proxy), the replay server allowed like a service."""
    return settings(env={"UNERASED_ALLOW_HOSTS": replay.http})


class FakeTime:
    """An injected clock and sleep: sleeping advances the clock, never waits."""

    def __init__(self) -> None:
        self.now = datetime(2026, 7, 4, 14, 38, tzinfo=UTC)
        self.slept: list[float] = []

    def clock(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)
        await asyncio.sleep(0)

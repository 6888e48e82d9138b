"""WebSockets through unerased.net: judged like HTTP, a dead proxy fails closed (zero
direct connections, seen by a loopback canary), no environment proxy."""

from __future__ import annotations

import asyncio
import socket

import pytest

from net_servers import Relayed, http_proxy, socks5_proxy
from unerased.errors import SourceError
from unerased.net import Refused, http_equivalent, settings, ws_connect, ws_proxy
from unerased.streams import FirehoseClient, JetstreamClient, StreamEvent, backoff_delay
from ws_replay import FakeTime, loopback_net, replay_server


class Canary:
    """A loopback listener that counts every connection made to it."""

    def __init__(self) -> None:
        self.hits = 0
        self.port = 0
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> Canary:
        async def on(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.hits += 1
            writer.close()
        self.server = await asyncio.start_server(on, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_ws_urls_are_judged_like_their_http_twins() -> None:
    assert http_equivalent("wss://bsky.network/x?y=1") == "https://bsky.network/x?y=1"
    assert http_equivalent("ws://h:1/") == "http://h:1/"
    assert ws_proxy("socks5://127.0.0.1:9050") == "socks5h://127.0.0.1:9050"

    async def run() -> list[str]:
        out = []
        async with Canary() as canary:
            for url in (f"ws://127.0.0.1:{canary.port}/", "ws://localhost/",
                        "wss://169.254.169.254/", "http://example.org/", "ws://10.0.0.1/"):
                with pytest.raises(Refused) as e:
                    await ws_connect(url, settings())
                out.append(str(e.value))
            assert canary.hits == 0
        return out

    reasons = asyncio.run(run())
    assert all(r.startswith("refused") for r in reasons)


@pytest.mark.parametrize("scheme", ["socks5h", "socks5", "http"])
def test_a_dead_proxy_fails_closed_no_direct_connection(
        scheme: str, monkeypatch: pytest.MonkeyPatch) -> None:
    dead = _dead_port()

    async def run() -> tuple[int, list[float]]:
        async with Canary() as canary:
            monkeypatch.setenv("ALL_PROXY", "")  # the environment is never read anyway
            net = settings(proxy=f"{scheme}://127.0.0.1:{dead}",
                           env={"UNERASED_ALLOW_HOSTS": f"http://127.0.0.1:{canary.port}"})
            with pytest.raises(OSError):
                await ws_connect(f"ws://127.0.0.1:{canary.port}/", net)
            t = FakeTime()
            c = FirehoseClient(f"ws://127.0.0.1:{canary.port}", net=net, max_attempts=3,
                               clock=t.clock, sleep=t.sleep, rand=lambda: 1.0)
            with pytest.raises(SourceError, match="3 attempts"):
                async for _ev in c.events():
                    pass
            return canary.hits, t.slept

    hits, slept = asyncio.run(run())
    assert hits == 0
    assert slept == [1.0, 2.0]  # exponential back-off from the injected sleep


def test_an_environment_proxy_is_never_used(monkeypatch: pytest.MonkeyPatch) -> None:
    dead = _dead_port()

    async def run() -> int:
        async with Canary() as canary:
            monkeypatch.setenv("ALL_PROXY", f"socks5h://127.0.0.1:{dead}")
            monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{dead}")
            net = settings(env={"UNERASED_ALLOW_HOSTS": f"http://127.0.0.1:{canary.port}"})
            with pytest.raises(Exception):  # noqa: B017  the canary is no WebSocket server
                await ws_connect(f"ws://127.0.0.1:{canary.port}/", net)
            return canary.hits

    assert asyncio.run(run()) == 1  # straight to the judged address, not the env proxy


def test_backoff_doubles_to_a_cap_with_jitter() -> None:
    assert [backoff_delay(a, 1.0) for a in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert backoff_delay(30, 1.0) == 120.0 and backoff_delay(1, 0.0) == 0.5


@pytest.mark.parametrize("scheme", ["socks5h", "socks5", "http"])
def test_a_working_proxy_carries_the_stream_by_name(scheme: str) -> None:
    line = (b'{"did":"did:plc:a","time_us":5,"kind":"account","account":'
            b'{"active":false,"did":"did:plc:a","seq":1,"status":"takendown"}}')
    make = http_proxy if scheme == "http" else socks5_proxy

    async def run(port_box: list[int]) -> list[StreamEvent]:
        async with replay_server(lambda _c, _n: [line], hold_open=True) as srv:
            port_box.append(srv.port)
            with make(hosts={"jetstream.example": "127.0.0.1"}) as proxy:
                net = settings(proxy=f"{scheme}://127.0.0.1:{proxy.port}")
                c = JetstreamClient(f"ws://jetstream.example:{srv.port}", ["did:plc:a"],
                                    net=net, max_attempts=1)
                got = []
                async for ev in c.events():
                    got.append(ev)
                    break
                await c.close()
                relayed.extend(proxy.relayed)
                peers.extend(srv.peers)
            return got

    relayed: list[Relayed] = []
    peers: list[str] = []
    port: list[int] = []
    got = asyncio.run(run(port))
    assert [(e.kind, e.status) for e in got] == [("account", "takendown")]
    assert [(r.host, r.port) for r in relayed] == [("jetstream.example", port[0])]
    if scheme != "http":
        assert [r.kind for r in relayed] == ["domain"]  # the name went to the proxy
    assert peers == ["127.0.0.3"]  # the server saw the proxy, not us


def test_a_message_over_the_cap_is_dropped_with_its_connection() -> None:
    big = b'{"did":"did:plc:a","time_us":7,"kind":"account","account":{"active":true,' \
        + b'"pad":"' + b"x" * 500 + b'"}}'

    async def run() -> tuple[list[StreamEvent], JetstreamClient]:
        async with replay_server(lambda _c, _n: [big], hold_open=True) as srv:
            c: JetstreamClient

            async def stop_instead_of_sleeping(_seconds: float) -> None:
                await c.close()

            c = JetstreamClient(srv.ws, ["did:plc:a"], net=loopback_net(srv), max_message=200,
                                sleep=stop_instead_of_sleeping)
            return [ev async for ev in c.events()], c

    got, c = asyncio.run(run())
    assert got == [] and c.connects == 1 and c.cursor is None
    assert c.last_error is not None and "1009" in c.last_error

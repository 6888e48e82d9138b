"""Tor-only mode (``require_proxy``): nothing leaves the machine except through the
configured ``socks5h://`` proxy. Every network path the tool has is pointed at a
loopback **canary** (a listener that counts connections) with a **dead proxy port**
configured: each path fails, and the canary sees zero connections. Without a proxy each
path is refused at its decision point (nothing sent). The paths (docs/network.md):

1. HTTP sources — a check of a watched feed (``poll``: the collector's clients, media
   and redirects are fetched by the same ``Recorder`` through the same client);
2. handle resolution — ``watch add`` (``add_watch``);
3. firehose, Jetstream and Mastodon streams — ``ws_connect`` under each stream client;
4. webhook alerts — ``deliver_due``;
5. SMTP alerts — ``send_mail`` (the SMTP connector);
6. RFC 3161 timestamps — ``make_checkpoint(timestamp_url=…)``;
7. the command line — ``--require-proxy`` and the ``require_proxy`` setting stop a
   network command without a proxy (one line, exit 2); ``socks5://`` is taken as
   ``socks5h://``, an HTTP proxy refused.

``demo`` is exempt: its platforms are in-process transports, no socket is opened.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cli_world import cli_run, one_error_line
from unerased.alerts import Backoff, SmtpSettings, deliver_due, send_mail
from unerased.errors import LedgerError, SourceError, UsageError
from unerased.ledger import log
from unerased.model import AccountSnapshot, PostSnapshot
from unerased.net import (
    NO_PROXY,
    Refused,
    client_factory,
    effective_proxy,
    required_proxy,
    settings,
    ws_connect,
)
from unerased.store import Store
from unerased.streams import FirehoseClient, JetstreamClient, MastodonStream
from unerased.watch import parse_uri
from unerased.watch.runner import RunContext, WatchConfig, add_watch, poll

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


class Canary:
    """A loopback listener (its own thread) that counts every connection made to it."""

    def __init__(self) -> None:
        self.hits = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.port = int(self.sock.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.hits += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@contextmanager
def canary() -> Iterator[Canary]:
    c = Canary()
    try:
        yield c
    finally:
        c.close()


def dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def dead() -> str:
    return f"socks5h://127.0.0.1:{dead_port()}"


def _allow(port: int) -> dict[str, str]:
    return {"UNERASED_ALLOW_HOSTS": f"http://127.0.0.1:{port}"}


# ------------------------------------------------------------------- the decision


def test_the_decision_socks5h_only_and_never_none() -> None:
    assert required_proxy("socks5://127.0.0.1:9050") == "socks5h://127.0.0.1:9050"
    assert required_proxy("socks5h://u:p@127.0.0.1:9050") == "socks5h://u:p@127.0.0.1:9050"
    with pytest.raises(UsageError, match="no proxy is configured"):
        required_proxy(None)
    with pytest.raises(UsageError, match="not a SOCKS5 proxy") as e:
        required_proxy("http://u:S3cr3t@127.0.0.1:3128")
    assert "S3cr3t" not in str(e.value)
    on = {"require_proxy": True}
    with pytest.raises(UsageError, match="no proxy is configured"):
        effective_proxy(None, None, {}, on)
    # per-watch proxies (several vantage points) stay allowed, each a SOCKS5 proxy
    assert effective_proxy("socks5://10.0.0.1:1080", "socks5h://127.0.0.1:9050", {},
                           on) == "socks5h://10.0.0.1:1080"
    with pytest.raises(UsageError, match="not a SOCKS5"):
        effective_proxy("http://10.0.0.1:3128", "socks5h://127.0.0.1:9050", {}, on)
    assert effective_proxy(None, None, {"UNERASED_PROXY": "socks5://h:1"}, on) \
        == "socks5h://h:1"
    with pytest.raises(UsageError):  # the factory itself refuses: no direct client
        client_factory(require_proxy=True)
    with pytest.raises(UsageError):
        settings(require_proxy=True)


def test_no_proxy_is_refused_at_every_decision_nothing_sent(tmp_path: Path) -> None:
    net = settings()  # made before Tor-only mode was on, then used under it
    tor = type(net)(None, net.policy, net.timeout, net.max_body, True)
    with canary() as c:
        with pytest.raises(Refused, match="no proxy"):
            asyncio.run(ws_connect(f"ws://127.0.0.1:{c.port}/", tor,
                                   services=[f"ws://127.0.0.1:{c.port}"]))
        from unerased.net import async_client, sync_client

        with pytest.raises(Refused):
            async_client(tor)
        with pytest.raises(Refused):
            sync_client(tor)
        smtp = SmtpSettings("127.0.0.1", c.port, starttls=False)
        out = send_mail(smtp, "a@b.example", b"{}", "d1", "k", "s", proxy=None,
                        require_proxy=True)
        assert not out.ok and "no proxy is configured" in (out.error or "")
        st = Store.open(tmp_path / "h")
        try:
            ctx = RunContext(st, client_factory(), settings={"require_proxy": True})
            with pytest.raises(Refused):
                ctx.maker(None)
        finally:
            st.close()
        assert c.hits == 0


# ------------------------------------------------------------------- every path


def _feed_watch(st: Store, port: int) -> None:
    url = f"http://127.0.0.1:{port}/feed.xml"
    with st.writer() as w:
        row = w.upsert_account(AccountSnapshot("rss", url, handle=url, url=url), "test")
        w.add_posts(row, [PostSnapshot("rss", url, "p1", "kept")], "test")
        w.update_account(row["id"], watched=True, watch_uri=f"rss:{url}",
                         next_check="2000-01-01T00:00:00Z")


def test_http_sources_and_handle_resolution(tmp_path: Path, dead: str) -> None:
    st = Store.open(tmp_path / "h")
    try:
        with canary() as c:
            _feed_watch(st, c.port)
            env = _allow(c.port)
            # the direct factory is the one that would reach the canary: never used
            ctx = RunContext(st, client_factory(env=env), WatchConfig(), now=lambda: NOW,
                             env=env, settings={"require_proxy": True, "proxy": dead})
            got = asyncio.run(poll(ctx, once=True))
            assert len(got) == 1 and got[0].error, got
            with pytest.raises((SourceError, OSError)):
                asyncio.run(add_watch(ctx, parse_uri(f"rss:http://127.0.0.1:{c.port}/b.xml"),
                                      service=None, tags={}))
            # a watch's own proxy is used (and upgraded), never a direct connection
            ctx2 = RunContext(st, client_factory(env=env), WatchConfig(), now=lambda: NOW,
                              env=env, settings={"require_proxy": True, "proxy": dead})
            with pytest.raises((SourceError, OSError)):
                asyncio.run(add_watch(ctx2, parse_uri(f"rss:http://127.0.0.1:{c.port}/c"),
                                      service=None, tags={},
                                      proxy=dead.replace("socks5h", "socks5")))
            assert c.hits == 0
    finally:
        st.close()


@pytest.mark.parametrize("kind", ["firehose", "jetstream", "mastodon"])
def test_streams(kind: str, dead: str) -> None:
    async def run(c: Canary) -> None:
        base = f"ws://127.0.0.1:{c.port}"
        http = f"http://127.0.0.1:{c.port}"
        net = settings(proxy=dead.replace("socks5h", "socks5"), env=_allow(c.port),
                       require_proxy=True)
        assert net.proxy == dead
        client: FirehoseClient | JetstreamClient | MastodonStream
        if kind == "firehose":
            client = FirehoseClient(base, net=net, max_attempts=1)
        elif kind == "jetstream":
            client = JetstreamClient(base, ["did:plc:a"], net=net, max_attempts=1)
        else:
            client = MastodonStream(http, token="tok", net=net, services=[http],
                                    max_attempts=1)
        with pytest.raises((SourceError, OSError)):
            async for _ev in client.events():
                pass

    with canary() as c:
        asyncio.run(run(c))
        assert c.hits == 0


def test_webhook_and_smtp_alerts(tmp_path: Path, dead: str) -> None:
    st = Store.open(tmp_path / "h")
    try:
        with canary() as c:
            for target in (f"http://127.0.0.1:{c.port}/hook", "mailto:a@b.example"):
                st.add_alert_rule(target, secret="k" * 32, now=NOW)
                st.enqueue_alert(f"d-{target[:4]}", None, "test", {"summary": "x"}, NOW)
            smtp = SmtpSettings("127.0.0.1", c.port, starttls=False)
            rep = asyncio.run(deliver_due(st, NOW, proxy=dead, env=_allow(c.port), smtp=smtp,
                                          backoff=Backoff(max_attempts=1),
                                          require_proxy=True))
            assert rep.delivered == 0 and len(rep.errors) == 2, rep
            with pytest.raises(UsageError, match="no proxy"):
                asyncio.run(deliver_due(st, NOW, proxy=None, env=_allow(c.port), smtp=smtp,
                                        require_proxy=True))
            out = send_mail(smtp, "a@b.example", b"{}", "d2", "k", "s", proxy=dead,
                            require_proxy=True)
            assert not out.ok
            assert c.hits == 0
    finally:
        st.close()


def test_timestamping(tmp_path: Path, dead: str) -> None:
    st = Store.open(tmp_path / "h")
    try:
        _feed_watch(st, 1)
        with canary() as c:
            url = f"http://127.0.0.1:{c.port}/tsa"
            with pytest.raises(LedgerError, match="cannot be reached"):
                log.make_checkpoint(st, timestamp_url=url, proxy=dead, require_proxy=True)
            with pytest.raises(UsageError, match="no proxy"):
                log.make_checkpoint(st, timestamp_url=url, proxy=None, require_proxy=True)
            assert c.hits == 0
    finally:
        st.close()


# ------------------------------------------------------------------- the command line


@pytest.mark.parametrize("how", ["flag", "config"])
def test_network_commands_stop_without_a_proxy(tmp_path: Path, how: str) -> None:
    home = tmp_path / "h"
    st = Store.open(home)
    with canary() as c:
        _feed_watch(st, c.port)
        st.add_alert_rule(f"http://127.0.0.1:{c.port}/hook", secret="k" * 32, now=NOW)
        st.close()
        pre: list[str] = ["--require-proxy"] if how == "flag" else []
        if how == "config":
            assert cli_run(home, None, "config", "require_proxy", "true").exit_code == 0
        env = {**_allow(c.port), "UNERASED_PROXY": "", "ALL_PROXY": ""}
        for args in (["watch", "add", f"rss:http://127.0.0.1:{c.port}/x"], ["poll"],
                     ["run", "--for", "1"], ["alert", "test", "1"],
                     ["checkpoint", "--timestamp-url", f"http://127.0.0.1:{c.port}/"]):
            r = cli_run(home, None, *pre, *args, env=env)
            err = one_error_line(r, 2)
            assert NO_PROXY in err, (args, err)
        r = cli_run(home, None, *pre, "--proxy", f"http://127.0.0.1:{dead_port()}", "poll",
                    env=env)
        assert "not a SOCKS5 proxy" in one_error_line(r, 2)
        # with the dead proxy: the commands run, fail, and still nothing reaches the canary
        r = cli_run(home, None, *pre, "--proxy", f"socks5://127.0.0.1:{dead_port()}",
                    "poll", env=env)
        assert r.exit_code in (0, 1), r.output
        # the daemon: its checks, its Jetstream and its alerts, all through the dead proxy
        st = Store.open(home)
        with st.writer() as w:
            row = w.upsert_account(AccountSnapshot("bluesky", "did:plc:watched",
                                                   handle="w.example"), "test")
            w.update_account(row["id"], watched=True, watch_uri="bluesky:did:plc:watched",
                             service=f"http://127.0.0.1:{c.port}",
                             next_check="2000-01-01T00:00:00Z")
        st.close()
        for k, v in (("streams.jetstream", "true"),
                     ("streams.jetstream_url", f"ws://127.0.0.1:{c.port}")):
            assert cli_run(home, None, "config", k, v).exit_code == 0
        r = cli_run(home, None, *pre, "--proxy", f"socks5://127.0.0.1:{dead_port()}",
                    "run", "--for", "1", env=env)
        assert r.exit_code in (0, 1), r.output
        assert c.hits == 0


def test_smtp_through_tor_carries_the_mail_and_hides_the_host_name() -> None:
    """The working path: a socks5:// proxy upgraded and used, the EHLO name not the
    machine's (smtplib would send socket.getfqdn())."""
    from aiosmtpd.controller import Controller

    from net_servers import socks5_proxy

    seen: list[str] = []

    class Inbox:
        async def handle_DATA(self, server: object, session: object,  # noqa: N802
                              envelope: object) -> str:
            seen.append(str(getattr(session, "host_name", "")))
            return "250 OK"

    port = dead_port()
    ctl = Controller(Inbox(), hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        with socks5_proxy() as proxy:
            out = send_mail(SmtpSettings("127.0.0.1", port, starttls=False), "a@b.example",
                            b"{}", "d3", "k", "s", proxy=f"socks5://127.0.0.1:{proxy.port}",
                            require_proxy=True)
            relayed = [(r.host, r.port) for r in proxy.relayed]
    finally:
        ctl.stop()
    assert out.ok, out.error
    assert relayed == [("127.0.0.1", port)]  # through the proxy
    assert seen == ["localhost"] and socket.gethostname() not in seen


@pytest.mark.parametrize("proxied", [False, True])
def test_the_web_uis_watch_add_under_tor_only_mode(tmp_path: Path, proxied: bool) -> None:
    """``serve --require-proxy``: adding a watch from the web UI takes the same decision
    (no proxy: 400, one line; a dead one: 502), and nothing reaches the canary."""
    import re
    import time

    import httpx

    from cli_proc import spawn

    home = tmp_path / "h"
    Store.open(home).close()
    port = dead_port()
    with canary() as c:
        via = ["--proxy", f"socks5://127.0.0.1:{dead_port()}"] if proxied else []
        proc = spawn(home, None, "--require-proxy", *via, "serve", "--port", str(port),
                     env=_allow(c.port))
        try:
            assert proc.stdout is not None
            link = proc.stdout.readline().strip()
            base = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=base, trust_env=False) as web:
                for _ in range(100):
                    try:
                        page = web.get(link.removeprefix(base))
                        break
                    except httpx.ConnectError:
                        time.sleep(0.1)
                token = re.search(r'name="csrf" value="([^"]+)"', page.text)
                assert token is not None
                assert web.post(link.removeprefix(base),
                                data={"csrf": token.group(1)}).status_code == 303
                token = re.search(r'name="csrf" value="([^"]+)"', web.get("/accounts").text)
                assert token is not None
                r = web.post("/accounts/watch", data={
                    "csrf": token.group(1), "uri": f"rss:http://127.0.0.1:{c.port}/f.xml"})
                if proxied:
                    assert r.status_code == 502, r.text
                else:
                    assert r.status_code == 400, r.text
                    assert "no proxy is configured" in r.text
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        assert c.hits == 0

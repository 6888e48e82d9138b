"""Real servers on loopback for the network tests: a canary that counts every connection
made to it, small HTTP sites with routes (fake platforms), an HTTP proxy and a SOCKS5
proxy that record what they relay. Threads, real sockets, nothing beyond loopback."""

from __future__ import annotations

import json
import select
import socket
import struct
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Seen:
    """One request a site received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    peer: str
    body: bytes = b""


Answer = tuple[int, list[tuple[str, str]], bytes]
NO_LENGTH = "x-test-no-length"  # a route header: send the body without Content-Length
Route = Callable[[Seen], Answer]


def json_answer(status: int, body: Any, headers: list[tuple[str, str]] | None = None) -> Answer:
    return status, [("content-type", "application/json"), *(headers or [])], json.dumps(body).encode()


def redirect(location: str, status: int = 302) -> Route:
    return lambda _seen: (status, [("location", location)], b"")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], site: Site) -> None:
        self.address_family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        self.site = site
        super().__init__(addr, _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, peer = super().get_request()
        with self.site.lock:
            self.site.connections += 1
            self.site.peers.append(str(peer[0]))
        return conn, peer


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence
        pass

    def _any(self) -> None:
        site = self.server.site
        parts = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        seen = Seen(self.command, parts.path, dict(parse_qsl(parts.query)),
                    {k.lower(): v for k, v in self.headers.items()}, self.client_address[0],
                    body)
        with site.lock:
            site.seen.append(seen)
        route = site.routes.get(parts.path) or site.fallback
        status, headers, body = route(seen)
        self.send_response(status)
        for k, v in headers:
            if k != NO_LENGTH:
                self.send_header(k, v)
        if not any(k.lower() in ("content-length", NO_LENGTH) for k, _ in headers):
            self.send_header("content-length", str(len(body)))
        self.send_header("connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_HEAD = _any


def _not_found(_seen: Seen) -> Answer:
    return json_answer(404, {"error": "Not Found"})


class Site:
    """An HTTP/1.0-style server (one request per connection) on ``host``, answering by
    path from ``routes``; counts connections and keeps every request it saw."""

    def __init__(self, host: str = "127.0.0.1", routes: Mapping[str, Route] | None = None,
                 fallback: Route = _not_found) -> None:
        self.routes: dict[str, Route] = dict(routes or {})
        self.fallback = fallback
        self.lock = threading.Lock()
        self.connections = 0
        self.peers: list[str] = []
        self.seen: list[Seen] = []
        self._server = _Server((host, 0), self)
        self.host = host
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,),
                                        daemon=True)
        self._thread.start()

    @property
    def base(self) -> str:
        h = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{h}:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base + path

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def canary(host: str = "127.0.0.2") -> Site:
    """A site that answers 200 to anything: any connection it counts is a leak."""
    return Site(host, fallback=lambda _s: (200, [("content-type", "image/png")], b"CANARY"))


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def closed_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on (bound, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


# --- a fake Mastodon instance -------------------------------------------------------


ACCOUNT_ID = "109"


def mastodon_site(statuses: list[dict[str, Any]], *, host: str = "127.0.0.1",
                  username: str = "alice", extra: Mapping[str, Route] | None = None) -> Site:
    """Serves lookup, the account, its statuses (``statuses``, newest first), each status,
    and ``/media/*`` (PNG bytes). Status dicts need ``id``, ``content``, ``created_at``
    and may carry ``media`` (a list of URLs; a path is on this site)."""
    site = Site(host)

    def account(_seen: Seen) -> Answer:
        return json_answer(200, {"id": ACCOUNT_ID, "username": username, "acct": username,
                                 "display_name": username.title(), "note": "",
                                 "url": f"{site.base}/@{username}",
                                 "created_at": "2020-01-01T00:00:00.000Z"})

    def status_json(st: dict[str, Any]) -> dict[str, Any]:
        return {"id": st["id"], "created_at": st["created_at"], "content": st["content"],
                "url": f"{site.base}/@{username}/{st['id']}", "visibility": "public",
                "media_attachments": [{"id": f"{st['id']}{i}", "type": "image",
                                       "url": site.base + u if u.startswith("/") else u,
                                       "description": None}
                                      for i, u in enumerate(st.get("media", []))]}

    def listing(_seen: Seen) -> Answer:
        return json_answer(200, [status_json(s) for s in statuses])

    site.routes.update({
        "/api/v1/accounts/lookup": account,
        f"/api/v1/accounts/{ACCOUNT_ID}": account,
        f"/api/v1/accounts/{ACCOUNT_ID}/statuses": listing,
    })
    for st in statuses:
        site.routes[f"/api/v1/statuses/{st['id']}"] = (
            lambda _seen, st=st: json_answer(200, status_json(st)))

    def media(seen: Seen) -> Answer:
        return 200, [("content-type", "image/png")], b"\x89PNG " + seen.path.encode()

    site.fallback = lambda seen: media(seen) if seen.path.startswith("/media/") else _not_found(seen)
    site.routes.update(extra or {})
    return site


def status(n: int, text: str, media: list[str] | None = None) -> dict[str, Any]:
    return {"id": str(1000 + n), "content": f"<p>{text}</p>",
            "created_at": f"2026-01-01T00:{n:02d}:00.000Z", "media": media or []}


# --- proxies ------------------------------------------------------------------------


def _pipe(a: socket.socket, b: socket.socket) -> None:
    socks = [a, b]
    try:
        while True:
            ready, _, _ = select.select(socks, [], [], 10)
            if not ready:
                return
            for s in ready:
                data = s.recv(65536)
                if not data:
                    return
                (b if s is a else a).sendall(data)
    except OSError:
        return
    finally:
        a.close()
        b.close()


@dataclass
class Relayed:
    """What a test proxy was asked: the target as the client named it."""

    host: str
    port: int
    kind: str  # "domain", "ipv4", "ipv6" (SOCKS) or "http" (forwarded request)


@dataclass
class _Proxy:
    hosts: Mapping[str, str]  # names the proxy itself resolves (its own "DNS")
    source: str  # the address it connects from: what the target sees
    relayed: list[Relayed] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def connect(self, host: str, port: int) -> socket.socket:
        addr = self.hosts.get(host, host)
        return socket.create_connection((addr, port), timeout=10,
                                        source_address=(self.source, 0))


class _ProxyServer:
    def __init__(self, proxy: _Proxy, handle: Callable[[_Proxy, socket.socket], None]) -> None:
        self.proxy = proxy
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.port = int(self._sock.getsockname()[1])
        self._handle = handle
        self._stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        try:
            self._handle(self.proxy, conn)
        except OSError:
            conn.close()

    @property
    def relayed(self) -> list[Relayed]:
        return self.proxy.relayed

    def close(self) -> None:
        """Stop listening: shut down first (a bare close() leaves the socket accepting
        while the serving thread is blocked in accept())."""
        self._stop = True
        with suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        part = conn.recv(n - len(buf))
        if not part:
            raise OSError("closed")
        buf += part
    return buf


def _socks5(proxy: _Proxy, conn: socket.socket) -> None:
    ver, nmethods = _recv_exact(conn, 2)
    _recv_exact(conn, nmethods)
    conn.sendall(b"\x05\x00")
    ver, cmd, _rsv, atyp = _recv_exact(conn, 4)
    if atyp == 1:
        host, kind = socket.inet_ntop(socket.AF_INET, _recv_exact(conn, 4)), "ipv4"
    elif atyp == 4:
        host, kind = socket.inet_ntop(socket.AF_INET6, _recv_exact(conn, 16)), "ipv6"
    else:
        (n,) = _recv_exact(conn, 1)
        host, kind = _recv_exact(conn, n).decode(), "domain"
    (port,) = struct.unpack("!H", _recv_exact(conn, 2))
    with proxy.lock:
        proxy.relayed.append(Relayed(host, port, kind))
    try:
        up = proxy.connect(host, port)
    except OSError:
        conn.sendall(b"\x05\x05\x00\x01" + b"\x00" * 6)
        conn.close()
        return
    conn.sendall(b"\x05\x00\x00\x01" + b"\x00" * 6)
    _pipe(conn, up)


def _http_proxy(proxy: _Proxy, conn: socket.socket) -> None:
    head = b""
    while b"\r\n\r\n" not in head:
        part = conn.recv(65536)
        if not part:
            conn.close()
            return
        head += part
    line, rest = head.split(b"\r\n", 1)
    method, target, version = line.decode().split(" ", 2)
    if method == "CONNECT":
        host, _, port = target.rpartition(":")
        with proxy.lock:
            proxy.relayed.append(Relayed(host.strip("[]"), int(port), "connect"))
        up = proxy.connect(host.strip("[]"), int(port))
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        _pipe(conn, up)
        return
    u = urlsplit(target)
    host, port = u.hostname or "", u.port or 80
    with proxy.lock:
        proxy.relayed.append(Relayed(host, port, "http"))
    up = proxy.connect(host, port)
    path = (u.path or "/") + (f"?{u.query}" if u.query else "")
    up.sendall(f"{method} {path} {version}\r\n".encode() + rest)
    _pipe(conn, up)


@contextmanager
def socks5_proxy(hosts: Mapping[str, str] | None = None,
                 source: str = "127.0.0.3") -> Iterator[_ProxyServer]:
    server = _ProxyServer(_Proxy(dict(hosts or {}), source), _socks5)
    try:
        yield server
    finally:
        server.close()


@contextmanager
def http_proxy(hosts: Mapping[str, str] | None = None,
               source: str = "127.0.0.3") -> Iterator[_ProxyServer]:
    server = _ProxyServer(_Proxy(dict(hosts or {}), source), _http_proxy)
    try:
        yield server
    finally:
        server.close()


@contextmanager
def sites(*made: Site) -> Iterator[tuple[Site, ...]]:
    try:
        yield made
    finally:
        for s in made:
            s.close()

"""The simulated platform (``unerased.sim.platform``, the Mastodon API) served over a real
loopback socket, so that real ``unerased`` processes can watch it: every request is
handed to ``SimPlatform.handle`` under a lock, and the simulator's own base URL in its
answers (links to the next page, media URLs) is rewritten to this server's. ``delay``
slows every answer down (two collectors then overlap for sure)."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from unerased.sim.platform import BASE, SimPlatform


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    sim_server: SimServer


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence
        pass

    def _any(self) -> None:
        srv = self.server.sim_server
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        req = httpx.Request(self.command, BASE + self.path, content=body)
        if srv.delay:
            time.sleep(srv.delay)
        with srv.lock:
            srv.requests.append(self.path)
            try:
                resp = srv.sim.handle(req)
            except httpx.TimeoutException:  # a simulated timeout: no answer at all
                self.close_connection = True
                return
        data = resp.content.replace(BASE.encode(), srv.base.encode())
        self.send_response(resp.status_code)
        for k, v in resp.headers.items():
            if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(k, v.replace(BASE, srv.base))
        self.send_header("content-length", str(len(data)))
        self.send_header("connection", "close")
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _any


class SimServer:
    """``SimPlatform`` on ``http://127.0.0.1:PORT``; ``with SimServer(sim) as srv``."""

    def __init__(self, sim: SimPlatform, *, delay: float = 0.0) -> None:
        self.sim = sim
        self.delay = delay
        self.lock = threading.Lock()
        self.requests: list[str] = []
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.sim_server = self
        self.port = int(self._server.server_address[1])
        self.base = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,),
                                        daemon=True)
        self._thread.start()

    def __enter__(self) -> SimServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

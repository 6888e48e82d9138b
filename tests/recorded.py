"""Serve recorded platform exchanges (``testdata/platforms`` in the shared folder, see shared_data.py) to a source
through ``httpx.MockTransport``.

    replay = Replay()
    replay.add(load("mastodon/account_lookup_200.json"))          # route from the recording
    replay.add(load("x/tweets_lookup_withheld_in_IN.json"), query={"ids": "1388424788171841537"})
    async with replay.client() as client: ...

Routing is by method + path + query: a route matches a request when the method and
path are equal and every query parameter the route names has that value (parameters
it does not name are ignored, so a source may ask for more fields than the recording
did). The most specific matching route wins (a tie fails the test). A request nothing matches fails the test
with an AssertionError naming it.

What is served: the recorded status and headers, and ``body_text`` encoded as UTF-8
(or, for recordings that kept only the parsed ``body``, that body re-serialised with
``json.dumps``; for RSS/Atom the body file byte-for-byte). ``content-length``,
``content-encoding`` and ``transfer-encoding`` are dropped from the served headers:
the recorded ones describe the original (compressed or differently serialised) bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from shared_data import PLATFORMS

TESTDATA = PLATFORMS

_DROP = frozenset({"content-length", "content-encoding", "transfer-encoding"})


@dataclass(frozen=True)
class Exchange:
    """One recorded answer (and the request it answered)."""

    method: str
    url: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    name: str = ""

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k == name.lower():
                return v
        return None

    def with_headers(self, **changes: str | None) -> Exchange:
        """A copy with headers set (``x_rate_limit_remaining="0"``) or removed (None)."""
        wanted = {k.replace("_", "-").lower(): v for k, v in changes.items()}
        kept = [(k, v) for k, v in self.headers if k not in wanted]
        kept += [(k, v) for k, v in wanted.items() if v is not None]
        return replace(self, headers=tuple(kept))

    def with_body(self, body: bytes) -> Exchange:
        return replace(self, body=body)

    def with_status(self, status: int) -> Exchange:
        return replace(self, status=status)

    def json(self) -> Any:
        return json.loads(self.body)

    def response(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            self.status, headers=list(self.headers), content=self.body, request=request
        )


def _headers(raw: Mapping[str, Any] | None) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    for k, v in (raw or {}).items():
        if k.lower() in _DROP:
            continue
        for item in v if isinstance(v, list) else [v]:
            out.append((k.lower(), str(item)))
    return tuple(out)


def load(name: str) -> Exchange:
    """A recorded exchange by its path under the testdata folder, e.g.
    ``"mastodon/account_lookup_200.json"`` or ``"rss/gnusocial_quitter.no_user_timeline.atom"``
    (a feed: its ``.source.json`` sidecar gives status and headers)."""
    path = TESTDATA / name
    if path.suffix in (".atom", ".rss", ".xml"):
        side = json.loads(path.with_name(path.name + ".source.json").read_text("utf-8"))
        resp = side["response"]
        return Exchange(
            method=side["request"]["method"],
            url=side["request"]["url"],
            status=int(resp["status"]),
            headers=_headers(resp.get("headers")),
            body=path.read_bytes(),
            name=name,
        )
    data = json.loads(path.read_text("utf-8"))
    resp = data["response"]
    if "body_text" in resp and resp["body_text"] is not None:
        body = str(resp["body_text"]).encode("utf-8")
    elif "body" in resp:
        body = json.dumps(resp["body"], ensure_ascii=False).encode("utf-8")
    else:
        body = b""
    return Exchange(
        method=data["request"]["method"],
        url=data["request"]["url"],
        status=int(resp["status"]),
        headers=_headers(resp.get("headers")),
        body=body,
        name=name,
    )


def make(
    status: int,
    body: bytes | str | Any = b"",
    *,
    headers: Iterable[tuple[str, str]] = (),
    method: str = "GET",
    url: str = "/",
    name: str = "hand-built",
) -> Exchange:
    """An exchange built by hand, for cases never recorded (say so where it is used)."""
    if isinstance(body, str):
        raw = body.encode("utf-8")
    elif isinstance(body, bytes):
        raw = body
    else:
        raw = json.dumps(body).encode("utf-8")
    return Exchange(method, url, status, tuple((k.lower(), v) for k, v in headers), raw, name)


Handler = Callable[[httpx.Request], httpx.Response]


@dataclass
class Route:
    method: str
    path: str
    query: dict[str, str]
    answers: list[Exchange | Handler]
    hits: int = 0

    def matches(self, request: httpx.Request) -> bool:
        if request.method != self.method or request.url.path != self.path:
            return False
        got = dict(request.url.params.multi_items())
        return all(got.get(k) == v for k, v in self.query.items())

    def answer(self, request: httpx.Request) -> httpx.Response:
        i = min(self.hits, len(self.answers) - 1)
        self.hits += 1
        a = self.answers[i]
        return a.response(request) if isinstance(a, Exchange) else a(request)


@dataclass
class Replay:
    """A routing table of recorded answers, served through ``httpx.MockTransport``."""

    routes: list[Route] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)

    def add(
        self,
        *answers: Exchange | Handler,
        method: str | None = None,
        path: str | None = None,
        query: Mapping[str, str] | None = None,
    ) -> Route:
        """Route one or more answers (served in order, the last one repeated). Method,
        path and query default to the first recorded exchange's request."""
        first = answers[0]
        if isinstance(first, Exchange):
            parts = urlsplit(first.url)
            method = method or first.method
            path = path or parts.path
            if query is None:
                query = dict(parse_qsl(parts.query, keep_blank_values=True))
        if method is None or path is None:
            raise ValueError("give method and path for a handler route")
        route = Route(method, path, dict(query or {}), list(answers))
        self.routes.append(route)
        return route

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        found = [r for r in self.routes if r.matches(request)]
        if not found:
            known = ", ".join(f"{r.method} {r.path} {r.query}" for r in self.routes)
            raise AssertionError(f"no recorded answer for {request.method} {request.url} (routes: {known})")
        most = max(len(r.query) for r in found)
        best = [r for r in found if len(r.query) == most]
        if len(best) > 1:
            raise AssertionError(f"ambiguous routes for {request.method} {request.url}")
        return best[0].answer(request)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self.transport())


def raising(exc: type[httpx.TransportError], message: str = "simulated") -> Handler:
    """A handler that fails the way the network does (timeout, refused)."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise exc(message, request=request)

    return handler


def truncated(ex: Exchange, keep: float = 0.5) -> Exchange:
    """The same answer with its body cut short (a dropped connection the server did not
    announce with content-length)."""
    return ex.with_body(ex.body[: max(1, int(len(ex.body) * keep))])


def paths(requests: Sequence[httpx.Request]) -> list[str]:
    return [r.url.path for r in requests]

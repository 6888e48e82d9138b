"""What every source shares: the recorder that keeps each HTTP exchange as a
:class:`~unerased.model.Capture`, the source protocol and its errors."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import httpx

from ..errors import one_line
from ..model import AccountCheck, AccountSnapshot, Capture, Listing, PostLookup, utcnow
from ..net import (
    DEFAULT_MAX_BODY,
    SERVICE_EXTENSION,
    BodyTooLarge,
    Refused,
    origin_of,
    parse_target,
)

DEFAULT_MAX_REDIRECTS = 10
"""Redirect hops the recorder follows before it stops (the last 3xx is the answer)."""

_SECRET_HEADERS = frozenset({"authorization", "cookie", "x-csrf-token", "proxy-authorization"})
_SECRET_PARAM = re.compile(
    r"(?i)^(access_?token|token|api_?key|apikey|secret|client_secret|password|passwd|auth|"
    r"bearer)$")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_REDIRECT_DROP = frozenset({"host", "content-length", "transfer-encoding", "cookie"})
_BODY_HEADERS = frozenset({"content-type", "content-length", "transfer-encoding"})
_READ_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


class Recorder:
    """Wraps an injected ``httpx.AsyncClient``; every exchange, failed ones included,
    is kept as a Capture in ``self.captures`` (the runner stores them).

    Redirects are followed here, hop by hop (at most ``max_redirects``): each hop is its
    own request — judged again by the fetch guard of a client from ``unerased.net`` —
    and its own capture (a 3xx keeps its status and ``Location``); the last capture is
    the one with the body. Credentials (``Authorization``, cookies) are not sent to
    another origin on a redirect, and never kept in captures (headers redacted; a
    secret in a URL's query or user-info is replaced by ``[redacted]``).

    A URL that cannot be parsed, a request the guard refuses and a body over
    ``max_body`` are captures with an ``error`` (``unparsable URL: …``, ``refused: …``),
    never exceptions: the response is None.

    :meth:`serve` (or ``service=True`` on a request) names the watched service's own
    origins; requests to them may go where the service is (loopback included), anything
    else a post names must be public.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        max_redirects: int = DEFAULT_MAX_REDIRECTS,
        max_body: int = DEFAULT_MAX_BODY,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.client = client
        self.clock = clock  # when each capture started (a simulated clock in the demo)
        self.captures: list[Capture] = []
        self.max_redirects = max(0, max_redirects)
        self.max_body = max_body
        self.services: set[str] = set()
        self._secrets: set[str] = set()

    def serve(self, url: str) -> None:
        """Name ``url``'s origin as the watched service's own (ignored if unparsable)."""
        o = origin_of(url)
        if o is not None:
            self.services.add(o)

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        service: bool = False,
    ) -> tuple[httpx.Response | None, Capture]:
        """Send one request, following redirects. Returns (the final response, or None
        when there is no usable answer; its capture). Never raises for network errors or
        bad URLs: the failure is itself recorded."""
        if service:
            self.serve(url)
        for k, v in (headers or {}).items():
            if k.lower() in _SECRET_HEADERS and v:
                self._secrets.add(v)
                self._secrets.update(p for p in v.split() if len(p) >= 8)
        started = self.clock()
        target = parse_target(str(url))
        if isinstance(target, str):
            return None, self._failed(method, str(url), started, {}, b"",
                                      f"unparsable URL: {target}")
        if target.scheme not in ("http", "https"):
            return None, self._failed(method, str(url), started, {}, b"",
                                      f"refused: not an http(s) URL ({target.scheme or 'none'}:)")
        try:
            req = self.client.build_request(method, url, params=params, headers=headers,
                                            json=json, extensions=self._extensions())
        except (httpx.InvalidURL, ValueError, TypeError, UnicodeError) as e:
            return None, self._failed(method, str(url), started, {}, b"",
                                      f"unparsable URL: {_why(e)}")
        hops = 0
        while True:
            resp, cap = await self._send(req, started)
            if resp is None or not (resp.status_code in _REDIRECTS and "location" in resp.headers):
                return resp, cap
            if hops >= self.max_redirects:
                cap = replace(cap, error=f"redirect not followed: more than "
                                         f"{self.max_redirects} hops")
                self.captures[-1] = cap
                return resp, cap
            hops += 1
            started = self.clock()
            nxt = self._next_hop(req, resp)
            if isinstance(nxt, str):
                return None, self._failed(req.method, resp.headers.get("location", ""),
                                          started, {}, b"", nxt)
            req = nxt

    async def get(
        self, url: str, *, params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None, service: bool = False,
    ) -> tuple[httpx.Response | None, Capture]:
        return await self.request("GET", url, params=params, headers=headers, service=service)

    # --- plumbing ---------------------------------------------------------------------

    def _extensions(self) -> dict[str, Any]:
        return {SERVICE_EXTENSION: tuple(sorted(self.services))} if self.services else {}

    def _redact_headers(self, req: httpx.Request) -> dict[str, str]:
        return {k.lower(): ("[redacted]" if k.lower() in _SECRET_HEADERS else v)
                for k, v in req.headers.items()}

    def _redact_url(self, url: str) -> str:
        """``url`` with secrets out: the user-info password, query parameters named like
        a credential, and any credential value this recorder sent in a header."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            url = url.replace(secret, "[redacted]")
        try:
            parts = urlsplit(url)
        except ValueError:
            return url
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hostport = netloc.rpartition("@")
            user = userinfo.split(":", 1)[0]
            netloc = f"{user}:[redacted]@{hostport}" if ":" in userinfo else netloc
        query = parts.query
        if query:
            pairs = []
            for item in query.split("&"):
                name, eq, _value = item.partition("=")
                pairs.append(f"{name}=[redacted]" if eq and _SECRET_PARAM.match(name) else item)
            query = "&".join(pairs)
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))

    def _failed(
        self, method: str, url: str, started: datetime, req_headers: Mapping[str, str],
        req_body: bytes, error: str, *, resp: httpx.Response | None = None,
    ) -> Capture:
        cap = Capture(
            method=method,
            url=self._redact_url(url[:4000]),
            started_at=started,
            request_headers=dict(req_headers),
            request_body=req_body,
            status=resp.status_code if resp is not None else None,
            reason=resp.reason_phrase if resp is not None else None,
            response_headers=[(k.lower(), v) for k, v in resp.headers.multi_items()]
            if resp is not None else (),
            error=one_line(error, 500),
            http_version=resp.http_version if resp is not None else "HTTP/1.1",
        )
        self.captures.append(cap)
        return cap

    async def _send(
        self, req: httpx.Request, started: datetime
    ) -> tuple[httpx.Response | None, Capture]:
        req_headers = self._redact_headers(req)
        body_sent = req.content or b""
        url = str(req.url)
        try:
            resp = await self.client.send(req, stream=True, follow_redirects=False)
        except Refused as e:
            return None, self._failed(req.method, url, started, req_headers, body_sent, e.reason)
        except httpx.RemoteProtocolError as e:
            # httpx reads a 3xx's Location even when it does not follow it, and gives
            # up on one it cannot parse (the answer itself is then lost)
            why = str(e)
            if why.startswith("Invalid URL in location header"):
                why = f"unparsable URL: the redirect's Location: {why.split(':', 1)[1].strip()}"
            else:
                why = _why(e)
            return None, self._failed(req.method, url, started, req_headers, body_sent, why)
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as e:
            return None, self._failed(req.method, url, started, req_headers, body_sent, _why(e))
        try:
            chunks: list[bytes] = []
            size = 0
            async for chunk in resp.aiter_bytes():
                size += len(chunk)
                if size > self.max_body:
                    raise BodyTooLarge(self.max_body, request=req)
                chunks.append(chunk)
            body = b"".join(chunks)
        except (httpx.HTTPError, httpx.StreamError) as e:
            # the status line came, the body did not (whole): an error, not evidence
            return None, self._failed(req.method, url, started, req_headers, body_sent,
                                      _why(e), resp=resp)
        finally:
            await resp.aclose()
        cap = Capture(
            method=req.method,
            url=self._redact_url(url),
            started_at=started,
            request_headers=req_headers,
            request_body=body_sent,
            status=resp.status_code,
            reason=resp.reason_phrase,
            response_headers=[(k.lower(), v) for k, v in resp.headers.multi_items()],
            body=body,
            http_version=resp.http_version,
        )
        self.captures.append(cap)
        # the answer as read: the decoded body, without the headers that described
        # its encoding on the wire
        answer = httpx.Response(
            resp.status_code,
            headers=[(k, v) for k, v in resp.headers.multi_items()
                     if k.lower() not in _READ_HEADERS],
            content=body, request=req, extensions=resp.extensions,
        )
        return answer, cap

    def _next_hop(self, req: httpx.Request, resp: httpx.Response) -> httpx.Request | str:
        """The request a redirect asks for, as httpx would build it (303, and 301/302
        after a POST, become GET without a body) — without credentials when it leaves
        the origin; or why it cannot be followed."""
        location = resp.headers.get("location", "")
        try:
            target = req.url.join(location)
        except (httpx.InvalidURL, ValueError, TypeError, UnicodeError) as e:
            return f"unparsable URL: redirect to {location[:200]!r}: {_why(e)}"
        method = req.method
        if (resp.status_code in (302, 303) and method != "HEAD") or (
            resp.status_code == 301 and method == "POST"
        ):
            method = "GET"
        keep_body = method == req.method
        same_origin = origin_of(str(target)) == origin_of(str(req.url))
        headers = [
            (k, v) for k, v in req.headers.multi_items()
            if k.lower() not in _REDIRECT_DROP
            and (keep_body or k.lower() not in _BODY_HEADERS)
            and (same_origin or k.lower() not in _SECRET_HEADERS)
        ]
        try:
            return self.client.build_request(
                method, target, headers=headers,
                content=(req.content or None) if keep_body else None,
                extensions=self._extensions())
        except (httpx.InvalidURL, ValueError, TypeError, UnicodeError) as e:
            return f"unparsable URL: redirect to {location[:200]!r}: {_why(e)}"


def _why(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__


class Source(Protocol):
    """One platform. Constructed as ``Cls(recorder, service=None, **config)``."""

    platform: str
    recorder: Recorder
    """Where the source's requests go (and are kept). A long-lived source is used for
    one check through a shallow copy holding that check's recorder
    (:func:`unerased.watch.runner` / the collector): what it learnt — rate-limit
    back-off, endpoints — is shared, its captures are the check's own."""

    async def resolve(self, ident: str) -> AccountSnapshot:
        """Turn what the user typed (handle, @user@host, URL, username) into an account;
        raise SourceError with one clear line when it cannot."""
        ...

    async def check_account(self, account_id: str) -> AccountCheck: ...

    async def list_posts(
        self, account_id: str, *, since: datetime | None = None, max_pages: int = 10
    ) -> Listing: ...

    async def lookup_posts(self, account_id: str, post_ids: Sequence[str]) -> list[PostLookup]: ...

    async def fetch_media(self, url: str) -> bytes | None:
        """Fetch one media file (recorded as a capture too); None when it cannot."""
        ...

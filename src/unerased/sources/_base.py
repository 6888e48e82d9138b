"""What every source shares: the recorder that keeps each HTTP exchange as a
:class:`~unerased.model.Capture`, the source protocol and its errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

import httpx

from ..model import AccountCheck, AccountSnapshot, Capture, Listing, PostLookup, utcnow


class Recorder:
    """Wraps an injected ``httpx.AsyncClient``; every exchange, failed ones included,
    is kept as a Capture in ``self.captures`` (the runner stores them)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.captures: list[Capture] = []

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> tuple[httpx.Response | None, Capture]:
        """Send one request. Returns (response or None on transport failure, capture).
        Never raises for network errors: the failure is itself recorded."""
        started = utcnow()
        req = self.client.build_request(method, url, params=params, headers=headers, json=json)
        # Do not keep credentials in the evidence.
        req_headers = {
            k.lower(): ("[redacted]" if k.lower() in _SECRET_HEADERS else v)
            for k, v in req.headers.items()
        }
        try:
            resp = await self.client.send(req)
            body = resp.content  # reads it fully
        except httpx.HTTPError as e:
            cap = Capture(
                method=method,
                url=str(req.url),
                started_at=started,
                request_headers=req_headers,
                request_body=req.content or b"",
                status=None,
                error=f"{type(e).__name__}: {e}" if str(e) else type(e).__name__,
            )
            self.captures.append(cap)
            return None, cap
        cap = Capture(
            method=method,
            url=str(req.url),
            started_at=started,
            request_headers=req_headers,
            request_body=req.content or b"",
            status=resp.status_code,
            reason=resp.reason_phrase,
            response_headers=[(k.lower(), v) for k, v in resp.headers.multi_items()],
            body=body,
            http_version=resp.http_version,
        )
        self.captures.append(cap)
        return resp, cap

    async def get(
        self, url: str, *, params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[httpx.Response | None, Capture]:
        return await self.request("GET", url, params=params, headers=headers)


_SECRET_HEADERS = frozenset({"authorization", "cookie", "x-csrf-token"})


class Source(Protocol):
    """One platform. Constructed as ``Cls(recorder, service=None, **config)``."""

    platform: str

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

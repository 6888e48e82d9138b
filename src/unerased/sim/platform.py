"""A simulated platform speaking the Mastodon REST API, in process.

It serves the real API shapes (the recorded answers in shared/testdata/platforms/mastodon
were the model) through an ``httpx.MockTransport`` handler, keeps its own state (accounts,
statuses, edits, suspensions) and can be made flaky: timeouts, 5xx, 429 with
``Retry-After``, truncated bodies and listings that omit posts — the answers that make
naive trackers cry wolf. Used by ``unerased demo``, the watch tests and the benchmarks.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx

HOST = "sim.unerased.invalid"
BASE = f"https://{HOST}"


@dataclass
class Flaky:
    """Probabilities of each bad answer, per request."""

    timeout: float = 0.0
    server_error: float = 0.0
    rate_limit: float = 0.0
    truncated: float = 0.0
    omit: float = 0.0  # a listing leaves out a post it should show

    @classmethod
    def mild(cls) -> Flaky:
        return cls(timeout=0.03, server_error=0.03, rate_limit=0.02, truncated=0.02, omit=0.05)


@dataclass
class SimAccount:
    id: str
    username: str
    display_name: str
    note: str = ""
    created_at: datetime = datetime(2015, 1, 1, tzinfo=UTC)
    suspended: bool = False
    limited: bool = False
    deleted: bool = False  # its profile answers 404 {"error": "Record not found"}
    legacy_suspended: bool = False  # suspended on Mastodon 2.4-3.2: 410 Gone, no body


@dataclass
class SimStatus:
    id: str
    account_id: str
    text: str
    created_at: datetime
    edited_at: datetime | None = None
    history: list[tuple[str, datetime]] = field(default_factory=list)
    deleted: bool = False
    media: bytes | None = None


class SimPlatform:
    def __init__(self, *, seed: int = 0, flaky: Flaky | None = None,
                 clock: Any = None) -> None:
        self.rng = random.Random(seed)
        self.flaky = flaky or Flaky()
        self.clock = clock or (lambda: datetime.now(UTC))
        self.accounts: dict[str, SimAccount] = {}
        self.statuses: dict[str, SimStatus] = {}
        self._of: dict[str, list[SimStatus]] = {}  # account id -> its statuses
        self._next = 110000000000000000
        self.requests = 0

    # -------------------------------------------------------------- world changes

    def _id(self) -> str:
        self._next += self.rng.randint(1, 5000)
        return str(self._next)

    def add_account(self, username: str, display_name: str | None = None) -> SimAccount:
        acc = SimAccount(self._id(), username, display_name or username)
        self.accounts[acc.id] = acc
        return acc

    def post(self, acc: SimAccount, text: str, *, at: datetime | None = None,
             media: bytes | None = None, id: str | None = None) -> SimStatus:
        """A new status (``id``: the one to serve, e.g. a campaign's snowflake)."""
        st = SimStatus(id or self._id(), acc.id, text, at or self.clock(), media=media)
        st.history.append((text, st.created_at))
        self.statuses[st.id] = st
        self._of.setdefault(acc.id, []).append(st)
        return st

    def edit(self, st: SimStatus, text: str) -> None:
        st.text = text
        st.edited_at = self.clock()
        st.history.append((text, st.edited_at))

    def delete(self, st: SimStatus) -> None:
        st.deleted = True

    def restore(self, st: SimStatus) -> None:
        st.deleted = False

    def by_username(self, username: str) -> SimAccount:
        return next(a for a in self.accounts.values() if a.username == username)

    def live_statuses(self, acc: SimAccount) -> list[SimStatus]:
        return sorted((s for s in self._of.get(acc.id, ()) if not s.deleted),
                      key=lambda s: int(s.id), reverse=True)

    # -------------------------------------------------------------- API shapes

    def account_json(self, a: SimAccount) -> dict[str, Any]:
        blank = a.suspended
        return {
            "id": a.id, "username": a.username, "acct": a.username,
            "display_name": "" if blank else a.display_name,
            "locked": False, "bot": False, "discoverable": True, "group": False,
            "created_at": a.created_at.strftime("%Y-%m-%dT00:00:00.000Z"),
            "note": "" if blank else f"<p>{a.note}</p>",
            "url": f"{BASE}/@{a.username}", "uri": f"{BASE}/users/{a.username}",
            "avatar": f"{BASE}/avatars/original/missing.png",
            "header": f"{BASE}/headers/original/missing.png",
            "followers_count": 0 if blank else 10, "following_count": 0,
            "statuses_count": 0 if blank else len(self.live_statuses(a)),
            "last_status_at": None, "emojis": [], "fields": [],
            **({"suspended": True} if a.suspended else {}),
            **({"limited": True} if a.limited else {}),
        }

    def status_json(self, s: SimStatus) -> dict[str, Any]:
        a = self.accounts[s.account_id]
        media: list[dict[str, Any]] = []
        if s.media is not None:
            media.append({
                "id": s.id + "1", "type": "image", "url": f"{BASE}/media/{s.id}.png",
                "preview_url": f"{BASE}/media/{s.id}.png", "remote_url": None,
                "description": "an image", "meta": {}, "blurhash": None,
            })
        return {
            "id": s.id, "created_at": _ts(s.created_at), "in_reply_to_id": None,
            "in_reply_to_account_id": None, "sensitive": False, "spoiler_text": "",
            "visibility": "public", "language": "zh",
            "uri": f"{BASE}/users/{a.username}/statuses/{s.id}",
            "url": f"{BASE}/@{a.username}/{s.id}", "replies_count": 0, "reblogs_count": 0,
            "favourites_count": 0, "edited_at": _ts(s.edited_at) if s.edited_at else None,
            "content": "<p>" + _esc(s.text) + "</p>", "reblog": None,
            "account": self.account_json(a), "media_attachments": media, "mentions": [],
            "tags": [], "emojis": [], "card": None, "poll": None,
        }

    # -------------------------------------------------------------- HTTP

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        f = self.flaky
        r = self.rng.random()
        if r < f.timeout:
            raise httpx.ReadTimeout("simulated timeout", request=request)
        r -= f.timeout
        if r < f.server_error:
            return httpx.Response(self.rng.choice([500, 502, 503]), text="<html>Bad Gateway</html>")
        r -= f.server_error
        if r < f.rate_limit:
            return _json(429, {"error": "Too many requests"}, {"retry-after": "1"})
        resp = self._route(request)
        r -= f.rate_limit
        if r < f.truncated and resp.status_code == 200:
            body = resp.content
            return httpx.Response(200, content=body[: len(body) // 2],
                                  headers={"content-type": "application/json"})
        return resp

    def _route(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        q = {k: v[-1] for k, v in parse_qs(request.url.query.decode()).items()}
        if path == "/api/v1/accounts/lookup":
            acct = q.get("acct", "").split("@")[0]
            for a in self.accounts.values():
                if a.username == acct and not a.deleted:
                    return _json(200, self.account_json(a))
            return _json(404, {"error": "Record not found"})
        if m := re.fullmatch(r"/api/v1/accounts/(\d+)", path):
            found = self.accounts.get(m.group(1))
            if found is not None and found.legacy_suspended:
                return httpx.Response(410)
            if found is None or found.deleted:
                return _json(404, {"error": "Record not found"})
            return _json(200, self.account_json(found))
        if m := re.fullmatch(r"/api/v1/accounts/(\d+)/statuses", path):
            return self._statuses(request, m.group(1), q)
        if m := re.fullmatch(r"/api/v1/statuses/(\d+)", path):
            st = self.statuses.get(m.group(1))
            if st is None or st.deleted or self._hidden(st):
                return _json(404, {"error": "Record not found"})
            return _json(200, self.status_json(st))
        if m := re.fullmatch(r"/api/v1/statuses/(\d+)/history", path):
            st = self.statuses.get(m.group(1))
            if st is None or st.deleted or self._hidden(st):
                return _json(404, {"error": "Record not found"})
            aj = self.account_json(self.accounts[st.account_id])
            return _json(200, [
                {"content": "<p>" + _esc(t) + "</p>", "spoiler_text": "", "sensitive": False,
                 "created_at": _ts(at), "account": aj, "media_attachments": [], "emojis": []}
                for t, at in st.history
            ])
        if m := re.fullmatch(r"/media/(\d+)\.png", path):
            st = self.statuses.get(m.group(1))
            if st is None or st.media is None:
                return httpx.Response(404)
            return httpx.Response(200, content=st.media, headers={"content-type": "image/png"})
        return _json(404, {"error": "Not Found"})

    def _hidden(self, st: SimStatus) -> bool:
        a = self.accounts[st.account_id]
        return a.suspended or a.deleted or a.legacy_suspended

    def _statuses(self, request: httpx.Request, aid: str, q: dict[str, str]) -> httpx.Response:
        a = self.accounts.get(aid)
        if a is not None and a.legacy_suspended:
            return httpx.Response(410)
        if a is None or a.deleted:
            return _json(404, {"error": "Record not found"})
        if a.suspended:
            return _json(200, [])
        limit = min(int(q.get("limit", "20")), 40)
        items = self.live_statuses(a)
        if "max_id" in q:
            items = [s for s in items if int(s.id) < int(q["max_id"])]
        page = items[:limit]
        shown = [s for s in page if self.rng.random() >= self.flaky.omit]
        headers = {}
        if len(items) > limit and page:
            nxt = f"{BASE}/api/v1/accounts/{aid}/statuses?limit={limit}&max_id={page[-1].id}"
            headers["link"] = f'<{nxt}>; rel="next"'
        return _json(200, [self.status_json(s) for s in shown], headers)


def _ts(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _esc(t: str) -> str:
    return t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    h = {"content-type": "application/json; charset=utf-8", **(headers or {})}
    return httpx.Response(status, content=json.dumps(body).encode(), headers=h)


def demo_clock(start: datetime | None = None) -> Any:
    """A clock that advances by a step each call (for tests needing time to pass)."""
    t = [start or datetime(2026, 1, 1, tzinfo=UTC)]

    def now() -> datetime:
        return t[0]

    def advance(delta: timedelta) -> None:
        t[0] = t[0] + delta

    now.advance = advance  # type: ignore[attr-defined]
    return now

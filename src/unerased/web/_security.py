"""The app's outer layers, as plain ASGI middleware (outermost first):

- :class:`SecurityHeaders`: on every response, a Content-Security-Policy without inline
  script, ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin`` (not
  ``no-referrer``: under it a browser sends ``Origin: null`` with the app's own forms,
  which the Origin check must refuse; other sites still get no referrer), no
  framing, and ``Cache-Control: no-store`` outside ``/static`` (a response that sets
  its own CSP, a download's ``sandbox``, keeps it);
- :class:`HostCheck`: the Host header must name this server (DNS rebinding: a hostile
  page's domain pointed at 127.0.0.1 is refused), and an unsafe method with an
  ``Origin`` naming another site is refused;
- :class:`SignedSession`: the session in a signed cookie (itsdangerous), HttpOnly,
  SameSite=Strict, Secure when the request came over https. It holds a CSRF token and
  the random id of a server-side session row (``web_sessions``: logout ends it);
- :class:`Authenticate`: who is asking (a session, or ``Authorization: Bearer TOKEN``),
  looked up off the event loop; without anyone, a 401 under ``/api`` and a redirect to
  ``/login`` elsewhere. Only ``/static/`` and the login pages are open.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from ..store import Store
    from ._config import WebConfig

__all__ = ["CSP", "COOKIE", "LOCAL_ADMIN", "Authenticate", "HostCheck", "SecurityHeaders",
           "SignedSession", "csrf_token", "csrf_valid", "current_user", "digest",
           "host_name", "new_secret"]

CSP = ("default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'; form-action 'self'")
COOKIE = "unerased_session"
USER_KEY = "unerased.user"
BEARER_KEY = "unerased.bearer"
LOCAL_ADMIN: dict[str, Any] = {"id": 0, "name": "local", "role": "admin",
                               "has_password": False, "created_at": None}
PUBLIC_PREFIXES = ("/static/", "/login/link/")
PUBLIC_PATHS = frozenset({"/login"})


def digest(secret: str) -> str:
    """What the store keeps of a random secret (a session id, a token): its SHA-256."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_secret() -> str:
    """A random secret for a URL or a header: 256 bits."""
    return secrets.token_urlsafe(32)


def current_user(scope_or_request: Any) -> dict[str, Any] | None:
    scope = getattr(scope_or_request, "scope", scope_or_request)
    user: dict[str, Any] | None = scope.get(USER_KEY)
    return user


def csrf_token(scope_or_request: Any) -> str:
    """The session's CSRF token, made on first use (every form carries it)."""
    scope = getattr(scope_or_request, "scope", scope_or_request)
    session: dict[str, Any] = scope["session"]
    token = session.get("csrf")
    if not isinstance(token, str) or len(token) < 32:
        token = new_secret()
        session["csrf"] = token
    return token


def csrf_valid(scope_or_request: Any, sent: str | None) -> bool:
    """True when ``sent`` is the session's CSRF token, or the request was authenticated
    by a bearer token (no cookie involved: nothing a hostile site can make a browser
    send)."""
    scope = getattr(scope_or_request, "scope", scope_or_request)
    if scope.get(BEARER_KEY):
        return True
    token = scope["session"].get("csrf")
    if not isinstance(token, str) or not isinstance(sent, str) or not sent:
        return False
    return hmac.compare_digest(token.encode(), sent.encode())


def host_name(value: str) -> str:
    """The name in a Host header (or an Origin's netloc), without the port or brackets."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                h = MutableHeaders(scope=message)
                if "content-security-policy" not in h:
                    h["Content-Security-Policy"] = CSP
                h["X-Content-Type-Options"] = "nosniff"
                h["Referrer-Policy"] = "same-origin"
                h["X-Frame-Options"] = "DENY"
                h["Cross-Origin-Opener-Policy"] = "same-origin"
                h["Cross-Origin-Resource-Policy"] = "same-origin"
                if not static and "cache-control" not in h:
                    h["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


class HostCheck:
    def __init__(self, app: ASGIApp, allowed: frozenset[str]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if host_name(headers.get("host", "")) not in self.allowed:
            await PlainTextResponse("unknown Host header (see --allow-host)", 400)(
                scope, receive, send)
            return
        origin = headers.get("origin")
        if scope["method"] not in ("GET", "HEAD", "OPTIONS") and origin is not None:
            netloc = urlsplit(origin).netloc
            if origin == "null" or host_name(netloc) not in self.allowed:
                await PlainTextResponse("cross-site request refused", 403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class SignedSession:
    def __init__(self, app: ASGIApp, secret: bytes, max_age: int) -> None:
        self.app = app
        self.serializer = URLSafeTimedSerializer(secret, salt="unerased.session")
        self.max_age = max_age

    def _load(self, raw: str | None) -> dict[str, Any]:
        if not raw:
            return {}
        try:
            data = self.serializer.loads(raw, max_age=self.max_age)
        except BadSignature:
            return {}
        return data if isinstance(data, dict) else {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from starlette.requests import HTTPConnection

        raw = HTTPConnection(scope).cookies.get(COOKIE)
        scope["session"] = self._load(raw)
        before = json.dumps(scope["session"], sort_keys=True)

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                now = scope["session"]
                if json.dumps(now, sort_keys=True) != before:
                    flags = "; Path=/; HttpOnly; SameSite=Strict"
                    if scope.get("scheme") == "https":
                        flags += "; Secure"
                    if now:
                        value = f"{self.serializer.dumps(now)}; Max-Age={self.max_age}"
                    else:
                        value = "; Max-Age=0"
                    MutableHeaders(scope=message).append("Set-Cookie", f"{COOKIE}={value}{flags}")
            await send(message)

        await self.app(scope, receive, send_with_cookie)


class Authenticate:
    def __init__(self, app: ASGIApp, config: WebConfig, store: Store) -> None:
        self.app = app
        self.config = config
        self.store = store

    def _lookup(self, bearer: str | None, sid: str | None) -> dict[str, Any] | None:
        if bearer is not None:
            return self.store.user_for_token(digest(bearer))
        if sid is not None:
            return self.store.user_for_session(digest(sid), self.config.clock())
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith("/static/"):  # open, and nobody to look up for it
            await self.app(scope, receive, send)
            return
        public = path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)
        user: dict[str, Any] | None
        if not self.config.auth:
            user = LOCAL_ADMIN
        else:
            authz = Headers(scope=scope).get("authorization", "")
            bearer: str | None = None
            if authz:
                kind, _, value = authz.partition(" ")
                if kind.lower() != "bearer" or not value.strip() or len(value) > 200:
                    await _refuse(scope, receive, send, api=True, why="unusable Authorization")
                    return
                bearer = value.strip()
                scope[BEARER_KEY] = True
            sid = scope["session"].get("sid")
            sid = sid if isinstance(sid, str) and len(sid) <= 200 else None
            user = await run_in_threadpool(self._lookup, bearer, sid)
            if bearer is not None and user is None:
                await _refuse(scope, receive, send, api=True, why="unknown token")
                return
            if user is None and sid is not None:
                scope["session"].pop("sid", None)  # ended or expired: forget it
        scope[USER_KEY] = user
        if user is None and not public:
            api = path == "/api" or path.startswith("/api/")
            await _refuse(scope, receive, send, api=api, why="login required")
            return
        await self.app(scope, receive, send)


async def _refuse(scope: Scope, receive: Receive, send: Send, *, api: bool, why: str) -> None:
    response: Response
    if api:
        response = JSONResponse({"error": why}, 401,
                                headers={"WWW-Authenticate": 'Bearer realm="unerased"'})
    else:
        target = scope["path"]
        if scope.get("query_string") and scope["method"] == "GET":
            target += "?" + scope["query_string"].decode("latin-1")
        where = "/login" if scope["method"] != "GET" else "/login?next=" + quote(target, safe="")
        response = RedirectResponse(where, 303)
    await response(scope, receive, send)



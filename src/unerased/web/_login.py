"""Signing in and out: ``/login`` (name and password), ``/login/link/{token}`` (a
one-time login link: the GET shows a button, only the POST uses the link, so that a
link preview cannot spend it), ``/logout``, ``/settings/password``. Every form carries
the session's CSRF token."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ._app import read_form, web_of
from ._auth import check_password, hash_password
from ._registry import N_, Problem
from ._security import current_user, digest, new_secret

__all__ = ["MIN_PASSWORD", "Throttle", "routes", "safe_next"]

MIN_PASSWORD = 12
MAX_FAILURES = 10  # wrong passwords for one name within FAILURE_WINDOW, then 429
FAILURE_WINDOW = timedelta(minutes=15)
MAX_NAMES = 10_000  # names the throttle remembers at most


class Throttle:
    """Failed logins per name within a window (in memory, per app, on its clock): past
    the limit, that name is refused (429) until the oldest failure leaves the window,
    whatever the password: guessing is slow even where Argon2 is made cheap."""

    def __init__(self, limit: int = MAX_FAILURES, window: timedelta = FAILURE_WINDOW) -> None:
        self.limit, self.window = limit, window
        self.failures: dict[str, list[datetime]] = {}
        self.lock = threading.Lock()

    def _recent(self, name: str, now: datetime) -> list[datetime]:
        kept = [t for t in self.failures.get(name, []) if now - t < self.window]
        if kept:
            self.failures[name] = kept
        else:
            self.failures.pop(name, None)
        return kept

    def blocked(self, name: str, now: datetime) -> bool:
        with self.lock:
            return len(self._recent(name, now)) >= self.limit

    def failed(self, name: str, now: datetime) -> None:
        with self.lock:
            self.failures[name] = [*self._recent(name, now), now]
            if len(self.failures) > MAX_NAMES:  # many names tried: forget the stale ones
                for other in list(self.failures):
                    self._recent(other, now)
                while len(self.failures) > MAX_NAMES:  # then the longest-standing
                    self.failures.pop(next(iter(self.failures)))


def safe_next(value: Any) -> str:
    """Where to go after signing in: a path of this site only (never ``//host`` or a
    URL of another site)."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//") \
            or "\\" in value or any(ord(c) < 0x20 for c in value) or len(value) > 2000:
        return "/"
    return value


async def _start_session(request: Request, user: dict[str, Any]) -> None:
    web = web_of(request)
    now = web.config.clock()
    sid = new_secret()
    await run_in_threadpool(web.store.add_session, digest(sid), user["id"], now,
                            now + web.config.session_lifetime)
    old = request.session.get("sid")
    if isinstance(old, str):
        await run_in_threadpool(web.store.end_session, digest(old))
    request.session.clear()  # a new CSRF token too: nothing from before the login
    request.session["sid"] = sid
    request.session["csrf"] = new_secret()


def _gated_check(web: Any, stored: str | None, password: str) -> bool:
    with web.password_gate:
        return check_password(web.hasher, stored, password)


async def login_form(request: Request) -> Response:
    web = web_of(request)
    nxt = safe_next(request.query_params.get("next"))
    if current_user(request) is not None:
        return RedirectResponse(nxt, 303)
    return web.render(request, "login.html", {"next": nxt, "error": None})


async def login_post(request: Request) -> Response:
    web = web_of(request)
    if not web.config.auth:
        return RedirectResponse("/", 303)
    fields = await read_form(request)
    name, password = fields.get("name", "")[:64], fields.get("password", "")[:1024]
    now = web.config.clock()
    if web.throttle.blocked(name, now):
        return web.render(request, "login.html", {
            "next": safe_next(fields.get("next")),
            "error": web.gettext(request, N_(
                "too many failed logins for this name: wait a few minutes"))}, 429)
    found = await run_in_threadpool(web.store.password_hash, name)
    stored = found[1] if found is not None else None
    ok = await run_in_threadpool(_gated_check, web, stored, password)
    nxt = safe_next(fields.get("next"))
    if not ok or found is None:
        web.throttle.failed(name, now)
        return web.render(request, "login.html",
                          {"next": nxt, "error": web.gettext(
                              request, N_("wrong name or password"))}, 401)
    await _start_session(request, found[0])
    return RedirectResponse(nxt, 303)


async def link_form(request: Request) -> Response:
    web = web_of(request)
    token = request.path_params["token"]
    valid = len(token) <= 200 and await run_in_threadpool(
        web.store.login_link_valid, digest(token), web.config.clock())
    if not valid:
        raise Problem(404, N_("this login link is used, expired or unknown"))
    return web.render(request, "login_link.html", {"token": token})


async def link_post(request: Request) -> Response:
    web = web_of(request)
    await read_form(request)
    token = request.path_params["token"]
    user = None if len(token) > 200 else await run_in_threadpool(
        web.store.use_login_link, digest(token), web.config.clock())
    if user is None:
        raise Problem(404, N_("this login link is used, expired or unknown"))
    await _start_session(request, user)
    return RedirectResponse("/" if user["has_password"] else "/settings/password", 303)


async def logout(request: Request) -> Response:
    web = web_of(request)
    await read_form(request)
    sid = request.session.get("sid")
    if isinstance(sid, str):
        await run_in_threadpool(web.store.end_session, digest(sid))
    request.session.clear()
    return RedirectResponse("/login", 303)


async def password_form(request: Request) -> Response:
    return web_of(request).render(request, "password.html", {"error": None, "done": False})


async def password_post(request: Request) -> Response:
    web = web_of(request)
    fields = await read_form(request)
    user = current_user(request)
    if user is None or not user["id"]:
        raise Problem(400, N_("there are no users without a login (--no-auth)"))
    new, again = fields.get("password", ""), fields.get("again", "")
    error = None
    if len(new) < MIN_PASSWORD:
        error = web.gettext(request, N_("at least %(n)s characters"), n=MIN_PASSWORD)
    elif len(new) > 1024:
        error = web.gettext(request, N_("at most %(n)s characters"), n=1024)
    elif new != again:
        error = web.gettext(request, N_("the two passwords differ"))
    if error is not None:
        return web.render(request, "password.html", {"error": error, "done": False}, 400)
    hashed = await run_in_threadpool(_gated_hash, web, new)
    await run_in_threadpool(web.store.set_password_hash, user["id"], hashed)
    return web.render(request, "password.html", {"error": None, "done": True})


def _gated_hash(web: Any, password: str) -> str:
    with web.password_gate:
        return hash_password(web.hasher, password)


def routes() -> list[BaseRoute]:
    return [
        Route("/login", login_form, methods=["GET"], name="login"),
        Route("/login", login_post, methods=["POST"], name="login_post"),
        Route("/login/link/{token}", link_form, methods=["GET"], name="login_link"),
        Route("/login/link/{token}", link_post, methods=["POST"], name="login_link_post"),
        Route("/logout", logout, methods=["POST"], name="logout"),
        Route("/settings/password", password_form, methods=["GET"], name="password"),
        Route("/settings/password", password_post, methods=["POST"], name="password_post"),
    ]

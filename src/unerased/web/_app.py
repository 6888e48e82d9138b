"""The app factory: :func:`create_app` turns the registered views and actions into
routes (HTML at the path, JSON at ``/api`` + path), adds the login pages, OpenAPI, the
package's static files, and the security layers of :mod:`._security`."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from jinja2 import Environment
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from ._auth import load_secret, make_hasher
from ._config import WebConfig
from ._i18n import LANGUAGE_NAMES, LOCALES, I18n, Preferences, prefs_of
from ._openapi import openapi_document
from ._registry import N_, ROLE_RANK, Action, Problem, View, ViewRequest, parse_params
from ._render import json_body
from ._security import (
    CSP,
    Authenticate,
    HostCheck,
    SecurityHeaders,
    SignedSession,
    csrf_token,
    csrf_valid,
    current_user,
)

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["WebApp", "create_app", "is_api"]

MAX_FORM_FIELDS = 50
MAX_PATH_PARAM = 200
MAX_FORM_BYTES = 256 * 1024  # the pages' forms are small (an upload route sets its own)
MAX_FORM_PART = 64 * 1024


@dataclass
class WebApp:
    """What every endpoint shares (``request.app.state.web``): no globals."""

    config: WebConfig
    store: Store
    env: Environment
    hasher: Any
    views: tuple[View, ...]
    actions: tuple[Action, ...]
    owns_store: bool
    # at most this many password hashes at once: each takes Argon2's memory (64 MiB by
    # default), and a flood of logins must not take all of it
    password_gate: threading.BoundedSemaphore = field(
        default_factory=lambda: threading.BoundedSemaphore(2))
    throttle: Any = None  # the login throttle (_login.Throttle), made by create_app
    i18n: I18n = field(default_factory=I18n.load)  # languages: envs, catalogs, zones

    def nav(self) -> list[dict[str, str]]:
        return [{"path": v.path, "name": v.name, "title": v.summary} for v in self.views
                if "{" not in v.path and v.template.endswith(".html") and v.role == "viewer"]

    def view_request(self, request: Request, params: dict[str, Any]) -> ViewRequest:
        user = current_user(request)
        assert user is not None
        path = dict(request.path_params)
        for name, value in path.items():  # as /api/openapi.json declares them
            if not isinstance(value, str) or not 0 < len(value) <= MAX_PATH_PARAM \
                    or any(ord(ch) < 0x20 or ord(ch) == 0x7f for ch in value):
                raise Problem(400, N_("%(name)s: not a usable id"), name=name)
        return ViewRequest(self.store, params, path, user, self.config, self.config.clock(),
                           lang=prefs_of(request).lang)

    def gettext(self, request: Request, message: str, **args: Any) -> str:
        """``message`` (marked with ``N_``) in the request's language, ``%(name)s``
        filled from ``args``: plain text, for a template to escape."""
        return self.i18n.gettext(prefs_of(request).lang, message, **args)

    def render(self, request: Request, template: str, context: dict[str, Any],
               status: int = 200, media_type: str = "text/html; charset=utf-8") -> Response:
        body = self.render_text(request, template, context)
        return Response(body, status, media_type=media_type)

    def render_text(self, request: Request, template: str, context: dict[str, Any]) -> str:
        user = current_user(request)
        prefs = prefs_of(request)
        full = {"user": user, "csrf_token": csrf_token(request), "path": request.url.path,
                "nav": self.nav(), "auth": self.config.auth, "lang": prefs.lang,
                "tz": prefs.tz, "languages": language_links(request),
                "base_url": str(request.base_url).rstrip("/"),
                "request_query": request.url.query, **context}
        return self.i18n.env(prefs.lang).get_template(template).render(full)

    async def render_async(self, request: Request, template: str, context: dict[str, Any],
                           status: int = 200,
                           media_type: str = "text/html; charset=utf-8") -> Response:
        """Like :meth:`render`, the template rendered in a worker thread (big pages)."""
        token = csrf_token(request)  # the session is touched on the loop, not the thread
        body = await run_in_threadpool(self.render_text, request, template,
                                       {"csrf_token": token, **context})
        return Response(body, status, media_type=media_type)


def language_links(request: Request) -> list[dict[str, Any]]:
    """The switch to each language: this page with ``?lang=TAG`` (its other query
    parameters kept), the current one marked."""
    current = prefs_of(request).lang
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    out = []
    for tag in LOCALES:
        query = urlencode([*kept, ("lang", tag)])
        out.append({"tag": tag, "name": LANGUAGE_NAMES[tag], "current": tag == current,
                    "href": f"{request.url.path}?{query}"})
    return out


def is_api(request: Request) -> bool:
    p = request.url.path
    return p == "/api" or p.startswith("/api/")


def web_of(request: Request) -> WebApp:
    web: WebApp = request.app.state.web
    return web


def require_role(request: Request, role: str) -> dict[str, Any]:
    user = current_user(request)
    if user is None:
        raise Problem(401, N_("login required"))
    if ROLE_RANK.get(user["role"], 0) < ROLE_RANK[role]:
        raise Problem(403, N_("this needs the %(role)s role"), role=role)
    return user


async def read_form(request: Request, max_bytes: int = MAX_FORM_BYTES) -> dict[str, str]:
    """A posted form's text fields after its CSRF token is checked (403 otherwise). A
    body over ``max_bytes`` is refused (413) before it is all read."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > max_bytes):
        raise Problem(413, N_("the form is too large"))
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > max_bytes:
            raise Problem(413, N_("the form is too large"))
        chunks.append(chunk)
    request._body = b"".join(chunks)  # what request.form() parses
    try:
        form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS,
                                  max_part_size=MAX_FORM_PART)
    except HTTPException as e:
        raise Problem(400, N_("unusable form: %(why)s"), why=str(e.detail)) from None
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    if not csrf_valid(request, fields.get("csrf")):
        raise Problem(403, N_("the form's CSRF token is missing or wrong: reload the page"))
    return fields


def _html_endpoint(view: View) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        web = web_of(request)
        require_role(request, view.role)
        params = parse_params(view.params, request.query_params)
        vr = web.view_request(request, params)
        data = await run_in_threadpool(view.data, vr)
        context = {"data": data, "view": view.name, "params": params,
                   "api_path": "/api" + request.url.path if view.api else None}
        return await web.render_async(request, view.template, context,
                                      media_type=view.media_type)
    return endpoint


def _json_endpoint(view: View) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        web = web_of(request)
        require_role(request, view.role)
        params = parse_params(view.params, request.query_params)
        data = await run_in_threadpool(view.data, web.view_request(request, params))
        return Response(json_body(data), media_type="application/json")
    return endpoint


def _action_endpoint(action: Action) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        web = web_of(request)
        require_role(request, action.role)
        fields = await read_form(request)
        got = await run_in_threadpool(action.handle, web.view_request(request, {}), fields)
        if isinstance(got, str):
            return RedirectResponse(got, 303)
        if action.template is None:
            raise TypeError(f"action {action.name} returned data but has no template")
        return await web.render_async(request, action.template,
                                      {"data": got, "view": action.name, "params": {}})
    return endpoint


async def _openapi(request: Request) -> Response:
    web = web_of(request)
    return Response(json_body(openapi_document(web.views)), media_type="application/json")


async def _problem(request: Request, exc: Exception) -> Response:
    if isinstance(exc, Problem):
        status, message = exc.status, exc.message
    elif isinstance(exc, HTTPException):
        status, message = exc.status_code, str(exc.detail)
    else:  # pragma: no cover - registered for Problem and HTTPException only
        status, message = 500, "internal error"
    if status == 405:
        message = N_("method not allowed")
    elif status == 404 and not isinstance(exc, Problem):
        message = N_("Not Found")
    if is_api(request):
        return Response(json_body({"error": message}), status, media_type="application/json")
    web = web_of(request)
    if isinstance(exc, Problem):  # its sentence in the reader's language
        message = web.gettext(request, exc.template, **exc.args_) if exc.args_ \
            else web.gettext(request, message)
    else:
        message = web.gettext(request, message)
    return web.render(request, "error.html", {"status": status, "message": message}, status)


async def _unerased_error(request: Request, exc: Exception) -> Response:
    """An error of unerased's tree from a view (a reference that names nothing, a
    database that cannot be read): its one line, with the status it means."""
    from ..errors import NotFound, StoreError, UsageError

    status = (400 if isinstance(exc, UsageError) else 404 if isinstance(exc, NotFound)
              else 503 if isinstance(exc, StoreError) else 500)
    return await _problem(request, Problem(status, str(exc)))


async def _crash(request: Request, exc: Exception) -> Response:
    """A bug: one line, no traceback, and the security headers (this handler runs
    outside the other middleware)."""
    return PlainTextResponse("internal error", 500, headers={
        "Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin", "Cache-Control": "no-store"})


def create_app(config: WebConfig) -> Starlette:
    """The web app over ``config``'s archive (docs/web.md)."""
    from ..errors import UnerasedError
    from ..store import Store
    from . import _downloads, _login, _settings
    from .views import all_actions, all_routes, all_views

    owns = config.store is None
    store = config.store or Store.open(config.home, config.db_url, create=False)
    secret = config.secret or load_secret(config.home)
    views, actions = tuple(all_views()), tuple(all_actions())
    i18n = I18n.load()
    web = WebApp(config, store, i18n.env("en"), config.hasher or make_hasher(), views,
                 actions, owns, i18n=i18n)
    routes: list[BaseRoute] = []
    for v in views:
        routes.append(Route(v.path, _html_endpoint(v), methods=["GET"], name=v.name))
        if v.api:
            routes.append(Route("/api" + v.path, _json_endpoint(v), methods=["GET"],
                                name="api:" + v.name))
    for a in actions:
        routes.append(Route(a.path, _action_endpoint(a), methods=["POST"], name=a.name))
    routes += _login.routes()
    routes += _settings.routes()
    routes += _downloads.routes()
    routes += all_routes()
    routes.append(Route("/api/openapi.json", _openapi, methods=["GET"], name="openapi"))
    routes.append(Mount("/static", app=StaticFiles(packages=[("unerased.web", "static")]),
                        name="static"))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if owns:
                store.close()

    middleware = [
        Middleware(SecurityHeaders),
        Middleware(HostCheck, allowed=config.allowed_hosts()),
        Middleware(Preferences, zones=i18n.zones),
        Middleware(SignedSession, secret=secret,
                   max_age=int(config.session_lifetime.total_seconds())),
        Middleware(Authenticate, config=config, store=store),
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan,
                    exception_handlers={Problem: _problem, HTTPException: _problem,
                                        UnerasedError: _unerased_error, Exception: _crash})
    web.throttle = _login.Throttle()
    app.state.web = web
    return app

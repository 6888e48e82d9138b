"""``/settings/display``: the reader's language and time zone, kept in two cookies
(``lang``, ``tz``) of this browser. The form carries the session's CSRF token like
every form; the language can also be switched by the links on every page
(``?lang=TAG``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ._app import read_form, web_of
from ._i18n import LANG_COOKIE, LANGUAGE_NAMES, TZ_COOKIE, cookie_header, match_language
from ._i18n import prefs_of as _prefs_of
from ._registry import N_, Problem

__all__ = ["routes"]


async def display_form(request: Request) -> Response:
    web = web_of(request)
    prefs = _prefs_of(request)
    return web.render(request, "settings.html", {
        "view": "settings", "saved": request.query_params.get("saved") == "1",
        "choices": [{"tag": t, "name": n} for t, n in LANGUAGE_NAMES.items()],
        "zones": web.i18n.zone_options(prefs.lang), "current_lang": prefs.lang,
        "current_tz": prefs.tz})


async def display_post(request: Request) -> Response:
    web = web_of(request)
    fields = await read_form(request)
    lang = match_language(fields.get("lang"))
    tz = fields.get("tz", "")
    if lang is None:
        raise Problem(400, N_("lang: one of %(choices)s"), choices=", ".join(LANGUAGE_NAMES))
    if tz not in web.i18n.zones:
        raise Problem(400, N_("tz: not a time zone name (such as Asia/Shanghai)"))
    response = RedirectResponse("/settings/display?saved=1", 303)
    response.headers.append("Set-Cookie", cookie_header(LANG_COOKIE, lang, request.scope))
    response.headers.append("Set-Cookie", cookie_header(TZ_COOKIE, tz, request.scope))
    return response


def routes() -> list[BaseRoute]:
    return [
        Route("/settings/display", display_form, methods=["GET"], name="display"),
        Route("/settings/display", display_post, methods=["POST"], name="display_post"),
    ]

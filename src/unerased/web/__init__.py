"""The web UI and JSON API (``unerased serve``; docs/web.md).

``create_app(WebConfig(home=...)) -> Starlette`` makes the app: server-rendered pages
that work without JavaScript, each with a JSON twin under ``/api``, the OpenAPI
document at ``/api/openapi.json``, the package's own static files at ``/static/``
(nothing from elsewhere), and the security layers (Host check, login, signed session
cookie, CSRF, CSP and the other headers; see ``_security.py``).

**Adding a page** (datasette's pattern: one data dict, two renderers). Write a module
under ``web/views/`` and list it in ``views.MODULES``::

    # web/views/things.py
    from .._paging import CURSOR_PARAM, LIMIT_PARAM, decode_cursor, page_of
    from .._registry import Param, Problem, View, ViewRequest
    from ._schemas import obj

    __all__ = ["VIEWS"]

    def things(r: ViewRequest) -> dict[str, Any]:
        # runs in a worker thread: read the store (r.store) freely; r.params holds the
        # parsed query parameters, r.path the path's, r.user the user, r.now the time
        if r.params["kind"] == "none":
            raise Problem(404, "no such things")   # an HTML error page / {"error": …}
        return {"items": [...], "next": None}

    VIEWS = [View("/things", "things", things, "things.html", summary="Things",
                  params=(Param("kind", description="…", max_length=32), LIMIT_PARAM),
                  schema=obj(("items", "next"), items={"type": "array"}, next=...))]

- the HTML is ``templates/things.html`` (extends ``base.html``; autoescape is on:
  show archive text with ``{{ value }}`` or ``|text``, post HTML only with
  ``|post_html`` (nh3), URLs into ``href`` only with ``|href``, links to other sites
  with the ``ext_link`` macro of ``_macros.html``; the data dict is ``data``, the
  parameters ``params``; no inline script or style: a script is a file under
  ``static/``);
- every text a reader sees is marked: ``{{ _('Post %(id)s', id=p.post_id) }}`` in
  templates (values as arguments: they are escaped), ``N_("…")`` in Python (a
  Problem's message, a View's summary); dates through ``|when`` (the reader's language
  and time zone; import macros ``with context``), archive words (statuses, event
  types) through ``|label``; then ``scripts/i18n`` and translate (docs/web.md);
- the JSON is the same dict at ``/api/things`` (so: JSON types only), described in
  ``/api/openapi.json`` by ``params`` and ``schema``;
- ``role`` says who may see it (viewer, editor, admin); every route but ``/static/``
  and the login pages needs a login (or ``--no-auth`` on loopback);
- ``api=False`` and ``media_type``: a page without a JSON twin (a feed);
- a form posts to an :class:`Action` (module-level ``ACTIONS``): its handler gets the
  form's fields after the CSRF token was checked (every form carries
  ``<input type="hidden" name="csrf" value="{{ csrf_token }}">``) and returns where
  to redirect, or a dict its ``template`` shows;
- a route that is neither a page nor a form (an upload streamed in): the module's
  ``ROUTES`` (Starlette routes, behind the same layers; they check role and CSRF
  themselves with ``_app.require_role`` and ``_app.read_form``/``_security.csrf_valid``);
- pagination is by cursor (``_paging``: ``decode_cursor``, ``page_of``);
- captured bodies and media go out only through ``_downloads`` (``/blobs/{sha256}``
  always a download; ``/media/{sha256}`` inline only for plain image/video/audio).
"""

from __future__ import annotations

from ._app import WebApp, create_app
from ._auth import (
    LINK_LIFETIME_ADD,
    LINK_LIFETIME_SERVE,
    check_password,
    hash_password,
    issue_api_token,
    issue_login_link,
    load_secret,
    make_hasher,
)
from ._config import WebConfig, is_loopback
from ._downloads import INLINE_MEDIA, download_response, media_response
from ._paging import CursorPage, decode_cursor, encode_cursor, page_of
from ._registry import Action, Param, Problem, View, ViewRequest
from ._render import post_html, safe_href, text_html
from ._security import CSP

__all__ = [
    "CSP",
    "INLINE_MEDIA",
    "LINK_LIFETIME_ADD",
    "LINK_LIFETIME_SERVE",
    "Action",
    "CursorPage",
    "Param",
    "Problem",
    "View",
    "ViewRequest",
    "WebApp",
    "WebConfig",
    "check_password",
    "create_app",
    "decode_cursor",
    "download_response",
    "encode_cursor",
    "hash_password",
    "is_loopback",
    "issue_api_token",
    "issue_login_link",
    "load_secret",
    "make_hasher",
    "media_response",
    "page_of",
    "post_html",
    "safe_href",
    "text_html",
]

"""The pages: one module per page (or a few related ones), each naming its
:class:`~unerased.web.View` list ``VIEWS`` and, when it has forms, its
:class:`~unerased.web.Action` list ``ACTIONS``; a route that is neither (an upload
streamed in, a download) goes in its list ``ROUTES`` of Starlette routes (behind the
same login, Host check and headers; it checks its role and CSRF token itself, with
``_app.require_role`` and ``_app.read_form`` or ``_security.csrf_valid``). A new page
is a new module here, listed in :data:`MODULES` (see the package's docstring)."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import Any

from .._registry import Action, View
from . import (
    account,
    accounts,
    events,
    evidence,
    feeds,
    overview,
    post,
    search,
    status,
    users,
)

__all__ = ["MODULES", "all_actions", "all_routes", "all_views"]

MODULES: tuple[ModuleType, ...] = (
    overview, accounts, account, post, evidence, events, search, status, feeds, users,
)


def all_views() -> Iterator[View]:
    for m in MODULES:
        yield from getattr(m, "VIEWS", ())


def all_actions() -> Iterator[Action]:
    for m in MODULES:
        yield from getattr(m, "ACTIONS", ())


def all_routes() -> Iterator[Any]:
    for m in MODULES:
        yield from getattr(m, "ROUTES", ())

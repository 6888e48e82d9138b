"""The pages: one module per page (or a few related ones), each naming its
:class:`~unerased.web.View` list ``VIEWS`` and, when it has forms, its
:class:`~unerased.web.Action` list ``ACTIONS``. A new page is a new module here, listed
in :data:`MODULES` (see the package's docstring). A module may also name ``ROUTES``:
Starlette routes of its own (an upload, which a small form's :class:`Action` cannot
take)."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

from starlette.routing import BaseRoute

from .._registry import Action, View
from . import (
    account,
    accounts,
    events,
    feeds,
    imports,
    overview,
    post,
    search,
    status,
    users,
)

__all__ = ["MODULES", "all_actions", "all_routes", "all_views"]

MODULES: tuple[ModuleType, ...] = (
    overview, accounts, account, post, events, search, status, feeds, users, imports,
)


def all_views() -> Iterator[View]:
    for m in MODULES:
        yield from m.VIEWS


def all_actions() -> Iterator[Action]:
    for m in MODULES:
        yield from getattr(m, "ACTIONS", ())


def all_routes() -> Iterator[BaseRoute]:
    for m in MODULES:
        yield from getattr(m, "ROUTES", ())

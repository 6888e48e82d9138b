"""``/users`` (admins): the users; forms add one (showing its one-time login link once)
and remove one."""

from __future__ import annotations

import re
from typing import Any

from ...errors import UsageError
from .._auth import LINK_LIFETIME_ADD, issue_login_link
from .._registry import N_, Action, Problem, View, ViewRequest
from ._schemas import obj

__all__ = ["ACTIONS", "NAME", "VIEWS"]

NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def users(r: ViewRequest) -> dict[str, Any]:
    return {"users": r.store.list_users()}


def add_user(r: ViewRequest, form: dict[str, str]) -> dict[str, Any]:
    name, role = form.get("name", "").strip(), form.get("role", "viewer")
    if not NAME.fullmatch(name):
        raise Problem(400, N_("a name is 1 to 64 letters, digits, '.', '_' or '-'"))
    try:
        user = r.store.add_user(name, role, r.now)
    except UsageError as e:
        raise Problem(400, str(e)) from None
    token = issue_login_link(r.store, user["id"], r.now, LINK_LIFETIME_ADD)
    return {"user": user, "link": f"/login/link/{token}",
            "expires_hours": int(LINK_LIFETIME_ADD.total_seconds() // 3600)}


def remove_user(r: ViewRequest, form: dict[str, str]) -> str | dict[str, Any]:
    name = form.get("name", "")
    if name == r.user["name"]:
        raise Problem(400, N_("you cannot remove yourself"))
    if not r.store.remove_user(name):
        raise Problem(404, N_("no user by that name"))
    return "/users"


VIEWS = [View(
    "/users", "users", users, "users.html", summary=N_("Users"), role="admin",
    schema=obj(("users",), users={"type": "array", "items": obj(
        ("name", "role"), name={"type": "string"}, role={"type": "string"},
        has_password={"type": "boolean"}, tokens={"type": "integer"})}),
)]
ACTIONS = [
    Action("/users/add", "user_add", add_user, role="admin", fields=("name", "role"),
           template="user_added.html"),
    Action("/users/remove", "user_remove", remove_user, role="admin", fields=("name",)),
]

"""``/accounts``: the accounts, a cursor page at a time; editors add and remove watched
accounts (forms posting to ``/accounts/watch`` and ``/accounts/unwatch``)."""

from __future__ import annotations

from typing import Any

from ...errors import UnerasedError
from ...model import AccountStatus
from .._paging import CURSOR_PARAM, LIMIT_PARAM, decode_cursor, page_of
from .._registry import N_, Action, Param, Problem, View, ViewRequest
from ._filters import TAG_PARAM, account_pks
from ._schemas import ACCOUNT, NULLABLE_STRING, obj
from ._schemas import page_of as page_schema

__all__ = ["ACTIONS", "STATUSES", "VIEWS", "watch_context"]

STATUSES = [s.value for s in AccountStatus]


def accounts(r: ViewRequest) -> dict[str, Any]:
    key = decode_cursor(r.params["cursor"])
    after = key[0] if key and isinstance(key[0], int) else None
    if key is not None and after is None:
        raise Problem(400, N_("cursor: not a cursor of this page"))
    limit = r.params["limit"]
    pks = account_pks(r)
    rows = r.store.accounts_page(after=after, limit=limit + 1,
                                 watched_only=r.params["watched"], status=r.params["status"],
                                 account_pks=pks)
    page = page_of(rows, limit, lambda a: [a["id"]])
    return {**page.as_dict(), "can_edit": r.user["role"] in ("editor", "admin"),
            "statuses": STATUSES, "tag_keys": r.store.tag_keys()}


def watch_context(r: ViewRequest) -> Any:
    """The collector's context for a watch added from the web: ``config.extra
    ["run_context"]`` (a function of the store, set by ``unerased serve``; tests inject
    one whose clients reach only loopback)."""
    make = r.config.extra.get("run_context")
    if make is None:
        raise Problem(503, N_("adding watches is not set up on this server"))
    return make(r.store)


def add_watch(r: ViewRequest, form: dict[str, str]) -> str:
    import anyio.from_thread

    from ...watch import add_watch as add
    from ...watch import parse_uri

    tags: dict[str, str] = {}
    for part in form.get("tags", "").split(","):
        if part.strip():
            if "=" not in part:
                raise Problem(400, N_("a tag must be KEY=VALUE, not %(tag)r"), tag=part.strip())
            k, v = part.split("=", 1)
            tags[k.strip()] = v.strip()
    service = form.get("service", "").strip() or None
    try:
        uri = parse_uri(form.get("uri", "").strip())
        ctx = watch_context(r)
        row = anyio.from_thread.run(lambda: add(ctx, uri, service=service, tags=tags))
    except UnerasedError as e:
        raise Problem(400 if e.exit_code == 2 else 502, str(e)) from None
    return f"/accounts/{row['id']}"


def remove_watch(r: ViewRequest, form: dict[str, str]) -> str:
    from ...watch import remove_watch as remove

    raw = form.get("id", "")
    if not raw.isdigit():
        raise Problem(400, N_("id: not an account id"))
    found = r.store.find_accounts(f"row:{raw}")
    if not found or not found[0]["watched"]:
        raise Problem(404, N_("no watched account by that id"))
    remove(r.store, found[0]["id"])
    return "/accounts"


_ROW = obj(tuple(ACCOUNT["required"]), **ACCOUNT["properties"],
           deleted_posts={"type": "integer"})
_ROW["properties"].update(last_check=NULLABLE_STRING, check_error=NULLABLE_STRING)
_SCHEMA = obj(("items", "next", "can_edit"), **page_schema(_ROW)["properties"],
              can_edit={"type": "boolean"},
              statuses={"type": "array", "items": {"type": "string"}},
              tag_keys={"type": "array", "items": {"type": "string"}})

VIEWS = [View(
    "/accounts", "accounts", accounts, "accounts.html", summary=N_("Accounts"),
    params=(CURSOR_PARAM, LIMIT_PARAM,
            Param("watched", "boolean", "Only watched accounts.", default=False),
            Param("status", description="Only accounts of this status.", max_length=32),
            TAG_PARAM),
    schema=_SCHEMA,
)]
ACTIONS = [
    Action("/accounts/watch", "watch_add", add_watch, role="editor",
           fields=("uri", "service", "tags")),
    Action("/accounts/unwatch", "watch_remove", remove_watch, role="editor", fields=("id",)),
]

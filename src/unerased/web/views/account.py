"""``/accounts/{id}``: one account (its row id, or any reference ``posts`` takes): its
timeline (posts newest first, a cursor page at a time; deleted posts with their
reason and the ``last_seen``–``first_missing`` interval, edited posts flagged), its
status history and its latest events."""

from __future__ import annotations

from typing import Any

from ...errors import UnerasedError
from .._paging import CURSOR_PARAM, LIMIT_PARAM, decode_cursor, page_of
from .._registry import N_, Problem, View, ViewRequest
from ._schemas import ACCOUNT, EVENT, NULLABLE_STRING, obj

__all__ = ["VIEWS", "find_account"]

EVENTS = 50


def find_account(r: ViewRequest, ref: str) -> dict[str, Any]:
    """The account row ``ref`` names (a row id, or a reference of ``unerased posts``);
    404 when none, 400 when it names several or cannot be read."""
    if ref.isascii() and ref.isdigit():  # a row id: 0 or past the last names nothing
        if not 0 < int(ref) < 2**63:
            raise Problem(404, N_("no account by that id"))
        ref = f"row:{ref}"
    try:
        found = r.store.find_accounts(ref)
    except UnerasedError as e:
        raise Problem(400, str(e)) from None
    if not found:
        raise Problem(404, N_("no account by that id"))
    if len(found) > 1:
        raise Problem(400, N_("that names several accounts: use its row id"))
    return found[0]


def account(r: ViewRequest) -> dict[str, Any]:
    row = find_account(r, r.path["id"])
    key = decode_cursor(r.params["cursor"])
    before: tuple[str, int] | None = None
    if key is not None:
        if len(key) != 2 or not isinstance(key[0], str) or not isinstance(key[1], int):
            raise Problem(400, N_("cursor: not a cursor of this page"))
        before = (key[0], key[1])
    limit = r.params["limit"]
    posts = r.store.account_timeline(row["id"], before=before, limit=limit + 1)
    page = page_of(posts, limit, lambda p: [p["sort_at"], p["id"]])
    for p in page.items:
        del p["sort_at"]
    return {"account": r.store.account_json(row),
            "timeline": page.as_dict(),
            "status_history": r.store.account_status_history(row["id"]),
            "events": r.store.events_page(before=None, limit=EVENTS, account_pk=row["id"])}


_INT = {"type": "integer"}
TIMELINE_POST = obj(
    ("id", "post_id", "status", "text", "versions", "edited"), id=_INT,
    post_id={"type": "string"}, url=NULLABLE_STRING, created_at=NULLABLE_STRING,
    kind={"type": "string"}, status={"type": "string"}, text={"type": "string"},
    versions=_INT, edited={"type": "boolean"}, first_seen={"type": "string"},
    last_seen=NULLABLE_STRING, first_missing=NULLABLE_STRING, deleted_at=NULLABLE_STRING,
    deleted_reason=NULLABLE_STRING)
STATUS_ROW = obj(("at", "status"), id=_INT, at={"type": "string"}, status={"type": "string"},
                 handle=NULLABLE_STRING, display_name=NULLABLE_STRING,
                 source={"type": "string"})

VIEWS = [View(
    "/accounts/{id}", "account", account, "account.html", summary=N_("An account"),
    params=(CURSOR_PARAM, LIMIT_PARAM),
    schema=obj(("account", "timeline", "status_history", "events"), account=ACCOUNT,
               timeline=obj(("items", "next"),
                            items={"type": "array", "items": TIMELINE_POST},
                            next=NULLABLE_STRING),
               status_history={"type": "array", "items": STATUS_ROW},
               events={"type": "array", "items": EVENT}),
)]

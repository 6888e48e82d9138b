"""``/search?q=``: posts matching a query, as ``unerased search`` finds them; by
account, tag, status and creation time; a cursor page at a time, with the total
(counted up to :data:`TOTAL_CAP`: beyond, "10,000+")."""

from __future__ import annotations

from typing import Any

from ...errors import UnerasedError
from ...model import PostStatus
from .._highlight import snippet_pieces
from .._paging import CURSOR_PARAM, LIMIT_PARAM, decode_cursor, page_of
from .._registry import N_, Param, Problem, View, ViewRequest
from ._filters import (
    ACCOUNT_PARAM,
    SINCE_PARAM,
    TAG_PARAM,
    UNTIL_PARAM,
    account_pks,
    iso_param,
    key_of,
)
from ._schemas import NULLABLE_STRING, POST, obj

__all__ = ["TOTAL_CAP", "VIEWS"]

TOTAL_CAP = 10_000
STATUSES = [s.value for s in PostStatus]


def search(r: ViewRequest) -> dict[str, Any]:
    q = (r.params["q"] or "").strip()
    empty = {"q": q, "results": [], "next": None, "order": "created", "total": 0,
             "total_capped": False, "statuses": STATUSES}
    if not q:
        return empty
    cursor = decode_cursor(r.params["cursor"])
    filters: dict[str, Any] = {"account_pks": account_pks(r), "status": r.params["status"],
                               "since": iso_param(r, "since"), "until": iso_param(r, "until")}
    limit = r.params["limit"]
    try:
        # a page goes on in the order of the first (its cursor says which)
        if cursor is None:
            order = r.store.search_order(q, TOTAL_CAP)
        else:
            order = "archived" if len(cursor) == 1 else "created"
        if order == "archived":
            if cursor is not None and type(cursor[0]) is not int:
                raise Problem(400, N_("cursor: not a cursor of this page"))
            found = r.store.search_archived(q, limit=limit + 1,
                                            before=None if cursor is None else cursor[0],
                                            **filters)
        else:
            found = r.store.search(q, limit=limit + 1, before=key_of(cursor), **filters)
        total = r.store.search_total(q, cap=TOTAL_CAP + 1, **filters)
    except UnerasedError as e:
        raise Problem(400, str(e)) from None
    if order == "archived":
        page = page_of(found, limit, lambda p: [p["match_version"]])
    else:
        page = page_of(found, limit, lambda p: [p["created_at"] or "", p["id"]])
    for p in page.items:
        p.pop("match_version", None)
        p["snippet_marked"] = [list(x) for x in snippet_pieces(p.get("snippet") or "")]
    return {**empty, "results": page.items, "next": page.next, "order": order,
            "total": min(total, TOTAL_CAP), "total_capped": total > TOTAL_CAP}


_RESULT = obj(tuple(POST["required"]), **POST["properties"], snippet={"type": "string"},
              snippet_marked={"type": "array", "description": "the snippet as [kind, text] "
                              "pairs, kind `mark` for a match, else empty",
                              "items": {"type": "array", "items": {"type": "string"}}})

VIEWS = [View(
    "/search", "search", search, "search.html", summary=N_("Search"),
    params=(Param("q", description="Words to find (as `unerased search`).", max_length=500),
            CURSOR_PARAM, LIMIT_PARAM, ACCOUNT_PARAM, TAG_PARAM,
            Param("status", description="Only posts of this status (present, missing, "
                  "deleted, unavailable).", max_length=32),
            SINCE_PARAM, UNTIL_PARAM),
    schema=obj(("q", "results", "next", "total", "total_capped"), q={"type": "string"},
               results={"type": "array", "items": _RESULT}, next=NULLABLE_STRING,
               order={"type": "string", "enum": ["created", "archived"],
                      "description": "`created`: newest `created_at` first (when at most "
                      f"{TOTAL_CAP} versions match); `archived`: the post with the newest "
                      "stored matching version first (more match: sorting them all would "
                      "cost seconds). Later pages keep the first page's order."},
               total={"type": "integer", "description": f"at most {TOTAL_CAP}"},
               total_capped={"type": "boolean", "description": "more than `total` match"},
               statuses={"type": "array", "items": {"type": "string"}}),
)]

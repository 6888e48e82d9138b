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
    empty = {"q": q, "results": [], "next": None, "total": 0, "total_capped": False,
             "statuses": STATUSES}
    if not q:
        return empty
    before = key_of(decode_cursor(r.params["cursor"]))
    filters: dict[str, Any] = {"account_pks": account_pks(r), "status": r.params["status"],
                               "since": iso_param(r, "since"), "until": iso_param(r, "until")}
    limit = r.params["limit"]
    try:
        found = r.store.search(q, limit=limit + 1, before=before, **filters)
        total = r.store.search_total(q, cap=TOTAL_CAP + 1, **filters)
    except UnerasedError as e:
        raise Problem(400, str(e)) from None
    page = page_of(found, limit, lambda p: [p["created_at"] or "", p["id"]])
    for p in page.items:
        p["snippet_marked"] = [list(x) for x in snippet_pieces(p.get("snippet") or "")]
    return {**empty, "results": page.items, "next": page.next,
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
               total={"type": "integer", "description": f"at most {TOTAL_CAP}"},
               total_capped={"type": "boolean", "description": "more than `total` match"},
               statuses={"type": "array", "items": {"type": "string"}}),
)]

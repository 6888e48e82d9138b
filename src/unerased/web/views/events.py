"""``/events``: events, newest first, a cursor page at a time, by type."""

from __future__ import annotations

from typing import Any

from .._paging import CURSOR_PARAM, LIMIT_PARAM, decode_cursor, page_of
from .._registry import Param, Problem, View, ViewRequest
from ._schemas import EVENT, obj
from ._schemas import page_of as page_schema

__all__ = ["VIEWS"]


def events(r: ViewRequest) -> dict[str, Any]:
    key = decode_cursor(r.params["cursor"])
    before: tuple[str, int] | None = None
    if key is not None:
        if len(key) != 2 or not isinstance(key[0], str) or not isinstance(key[1], int):
            raise Problem(400, "cursor: not a cursor of this page")
        before = (key[0], key[1])
    limit = r.params["limit"]
    rows = r.store.events_page(before=before, limit=limit + 1, type=r.params["type"])
    return page_of(rows, limit, lambda e: [e["at"], e["id"]]).as_dict()


_ROW = obj(tuple(EVENT["required"]), **EVENT["properties"], id={"type": "integer"})

VIEWS = [View(
    "/events", "events", events, "events.html", summary="Events",
    params=(CURSOR_PARAM, LIMIT_PARAM,
            Param("type", description="Only events of this type.", max_length=32)),
    schema=page_schema(_ROW),
)]

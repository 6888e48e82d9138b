"""``/events``: events, newest first, a cursor page at a time; by type, account, tag
and time."""

from __future__ import annotations

from typing import Any

from ...model import EventType
from .._paging import CURSOR_PARAM, LIMIT_PARAM, decode_cursor, page_of
from .._registry import N_, Param, View, ViewRequest
from ._filters import ACCOUNT_PARAM, SINCE_PARAM, TAG_PARAM, account_pks, iso_param, key_of
from ._schemas import EVENT, obj
from ._schemas import page_of as page_schema

__all__ = ["VIEWS"]

TYPES = [t.value for t in EventType]


def events(r: ViewRequest) -> dict[str, Any]:
    before = key_of(decode_cursor(r.params["cursor"]))
    limit = r.params["limit"]
    pks = account_pks(r)
    since = iso_param(r, "since")
    rows = [] if pks == [] else r.store.events_page(
        before=before, limit=limit + 1, type=r.params["type"], account_pks=pks, since=since)
    return {**page_of(rows, limit, lambda e: [e["at"], e["id"]]).as_dict(), "types": TYPES}


_ROW = obj(tuple(EVENT["required"]), **EVENT["properties"], id={"type": "integer"},
           account_pk={"type": "integer"}, post_pk={"type": ["integer", "null"]})
_SCHEMA = page_schema(_ROW)
_SCHEMA["properties"]["types"] = {"type": "array", "items": {"type": "string"}}

VIEWS = [View(
    "/events", "events", events, "events.html", summary=N_("Events"),
    params=(CURSOR_PARAM, LIMIT_PARAM,
            Param("type", description="Only events of this type.", max_length=32),
            ACCOUNT_PARAM, TAG_PARAM, SINCE_PARAM),
    schema=_SCHEMA,
)]

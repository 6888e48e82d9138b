"""``/``: the overview: counts and the latest events (charts come later)."""

from __future__ import annotations

from typing import Any

from .._registry import View, ViewRequest
from ._schemas import EVENT, obj

__all__ = ["VIEWS"]

LATEST = 20


def overview(r: ViewRequest) -> dict[str, Any]:
    return {"counts": r.store.overview_counts(),
            "latest_events": r.store.events_page(before=None, limit=LATEST)}


VIEWS = [View(
    "/", "overview", overview, "overview.html", summary="Overview",
    schema=obj(("counts", "latest_events"),
               counts=obj(("accounts", "watched", "posts", "deleted_posts", "events"),
                          accounts={"type": "integer"}, watched={"type": "integer"},
                          posts={"type": "integer"}, deleted_posts={"type": "integer"},
                          events={"type": "integer"}),
               latest_events={"type": "array", "items": EVENT}),
)]

"""``/``: the overview: counts, events over time by type and account closures by a
tag (``?by=province``, any tag key) as server-side SVG charts, the latest events."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from .._registry import N_, Param, View, ViewRequest
from ._schemas import EVENT, obj

__all__ = ["VIEWS"]

LATEST = 20
DEFAULT_TAG = "province"


def _days(r: ViewRequest) -> list[str]:
    today = r.now.date()
    n = r.params["days"]
    return [(today - timedelta(days=n - 1 - i)).isoformat() for i in range(n)]


def overview(r: ViewRequest) -> dict[str, Any]:
    days = _days(r)
    counts = r.store.event_counts_by_day(days[0] + "T00:00:00")
    types = sorted({t for _, t, _ in counts})
    by_type = {t: [0] * len(days) for t in types}
    index = {d: i for i, d in enumerate(days)}
    for day, kind, n in counts:
        if day in index:
            by_type[kind][index[day]] += n
    keys = r.store.tag_keys()
    by = r.params["by"] or (DEFAULT_TAG if DEFAULT_TAG in keys or not keys else keys[0])
    closures = r.store.closures_by_tag(by)
    totals = sorted(((sum(t.values()), v) for v, t in closures.items()),
                    key=lambda x: (-x[0], x[1]))
    rows = [{"value": v, "total": n, "by_type": closures[v]} for n, v in totals]
    return {"counts": r.store.overview_counts(),
            "events_by_day": {"days": days, "by_type": by_type},
            "closures": {"by": by, "tag_keys": keys, "rows": rows},
            "latest_events": r.store.events_page(before=None, limit=LATEST)}


_COUNT = {"type": "integer"}
_INTS = {"type": "object", "additionalProperties": _COUNT}

VIEWS = [View(
    "/", "overview", overview, "overview.html", summary=N_("Overview"),
    params=(Param("by", description="The tag key closures are counted by (default: "
                  "`province` when some account has it).", max_length=100),
            Param("days", "integer", "Days of events in the chart.", default=30, minimum=1,
                  maximum=366)),
    schema=obj(("counts", "events_by_day", "closures", "latest_events"),
               counts=obj(("accounts", "watched", "posts", "deleted_posts", "events"),
                          accounts=_COUNT, watched=_COUNT, posts=_COUNT,
                          deleted_posts=_COUNT, events=_COUNT,
                          accounts_by_status=_INTS, posts_by_status=_INTS,
                          events_by_type=_INTS),
               events_by_day=obj(("days", "by_type"),
                                 days={"type": "array", "items": {"type": "string"}},
                                 by_type={"type": "object", "additionalProperties": {
                                     "type": "array", "items": _COUNT}}),
               closures=obj(("by", "tag_keys", "rows"), by={"type": "string"},
                            tag_keys={"type": "array", "items": {"type": "string"}},
                            rows={"type": "array", "items": obj(
                                ("value", "total", "by_type"), value={"type": "string"},
                                total=_COUNT, by_type=_INTS)}),
               latest_events={"type": "array", "items": EVENT}),
)]

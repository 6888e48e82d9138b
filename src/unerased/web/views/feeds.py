"""``/feeds/deletions.atom`` (``?tag=K=V``): deleted posts as an Atom feed."""

from __future__ import annotations

from typing import Any

from .._registry import Param, View, ViewRequest

__all__ = ["VIEWS"]

ENTRIES = 50


def deletions(r: ViewRequest) -> dict[str, Any]:
    rows = r.store.events_page(before=None, limit=ENTRIES, type="post_deleted")
    tag = r.params["tag"]
    if tag:
        key, _, value = tag.partition("=")
        keep = {a["id"] for a in r.store.list_accounts()
                if _tags(a).get(key) == value}
        rows = [e for e in rows if e["account_pk"] in keep]
    updated = rows[0]["at"] if rows else r.now.isoformat().replace("+00:00", "Z")
    return {"entries": rows, "tag": tag, "updated": updated}


def _tags(a: dict[str, Any]) -> dict[str, Any]:
    import json

    got = json.loads(a.get("tags_json") or "{}")
    return got if isinstance(got, dict) else {}


VIEWS = [View(
    "/feeds/deletions.atom", "feed_deletions", deletions, "deletions.atom",
    summary="Deleted posts (Atom)", api=False, media_type="application/atom+xml",
    params=(Param("tag", description="Only accounts with this tag, KEY=VALUE.",
                  max_length=200),),
)]

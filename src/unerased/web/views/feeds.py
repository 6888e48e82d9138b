"""``/feeds/deletions.atom`` (``?tag=K=V``): deleted posts as an Atom feed."""

from __future__ import annotations

from typing import Any

from .._registry import N_, Param, Problem, View, ViewRequest

__all__ = ["VIEWS"]

ENTRIES = 50


def deletions(r: ViewRequest) -> dict[str, Any]:
    tag = r.params["tag"]
    pks = None
    if tag:
        key, sep, value = tag.partition("=")
        if not sep or not key:
            raise Problem(400, N_("tag: KEY=VALUE"))
        pks = r.store.accounts_tagged(key, value)
    rows = r.store.events_page(before=None, limit=ENTRIES, type="post_deleted",
                               account_pks=pks)
    updated = rows[0]["at"] if rows else r.now.isoformat().replace("+00:00", "Z")
    return {"entries": rows, "tag": tag, "updated": updated}


VIEWS = [View(
    "/feeds/deletions.atom", "feed_deletions", deletions, "deletions.atom",
    summary=N_("Deleted posts (Atom)"), api=False, media_type="application/atom+xml",
    params=(Param("tag", description="Only accounts with this tag, KEY=VALUE.",
                  max_length=200),),
)]

"""``/search?q=``: posts matching a query, as ``unerased search`` finds them."""

from __future__ import annotations

from typing import Any

from ...errors import UnerasedError
from .._registry import Param, Problem, View, ViewRequest
from ._schemas import POST, obj

__all__ = ["VIEWS"]


def search(r: ViewRequest) -> dict[str, Any]:
    q = (r.params["q"] or "").strip()
    if not q:
        return {"q": "", "results": []}
    try:
        found = r.store.search(q, limit=r.params["limit"])
    except UnerasedError as e:
        raise Problem(400, str(e)) from None
    return {"q": q, "results": found}


VIEWS = [View(
    "/search", "search", search, "search.html", summary="Search",
    params=(Param("q", description="Words to find (as `unerased search`).", max_length=500),
            Param("limit", "integer", "Results on the page.", default=50, minimum=1,
                  maximum=500)),
    schema=obj(("q", "results"), q={"type": "string"},
               results={"type": "array", "items": POST}),
)]

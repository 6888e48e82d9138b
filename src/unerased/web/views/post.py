"""``/posts/{id}``: one post (row id or platform id) and its versions and media."""

from __future__ import annotations

from typing import Any

from .._registry import Problem, View, ViewRequest
from ._schemas import POST, obj

__all__ = ["VIEWS"]


def post(r: ViewRequest) -> dict[str, Any]:
    got = r.store.get_post(r.path["id"])
    if got is None:
        raise Problem(404, "no post by that id")
    return {"post": got}


VIEWS = [View("/posts/{id}", "post", post, "post.html", summary="A post",
              schema=obj(("post",), post=POST))]

"""Cursor pagination: a page's position as an opaque string (URL-safe base64 of a JSON
list of the sort key of its last row), never an offset (a deep page costs what the
first does, and rows added meanwhile shift nothing)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson

from ._registry import N_, Param, Problem

__all__ = ["CURSOR_PARAM", "LIMIT_PARAM", "CursorPage", "decode_cursor", "encode_cursor",
           "page_of"]

T = TypeVar("T")

CURSOR_PARAM = Param("cursor", description="Where the page starts: `next` of the page before.",
                     max_length=400)
LIMIT_PARAM = Param("limit", "integer", "Rows on a page.", default=50, minimum=1, maximum=500)


def encode_cursor(key: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(key))).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> list[Any] | None:
    """The sort key in ``cursor``; None for none. A malformed cursor is a 400."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = orjson.loads(raw)
    except (binascii.Error, ValueError):
        raise Problem(400, N_("cursor: not a cursor of this server")) from None
    if not isinstance(key, list) or not all(isinstance(k, (str, int, float)) or k is None
                                            for k in key):
        raise Problem(400, N_("cursor: not a cursor of this server"))
    return key


@dataclass
class CursorPage:
    items: list[Any]
    next: str | None  # the cursor of the next page; None: this is the last

    def as_dict(self) -> dict[str, Any]:
        return {"items": self.items, "next": self.next}


def page_of(rows: Iterable[T], limit: int, key: Callable[[T], Sequence[Any]]) -> CursorPage:
    """The first ``limit`` of ``rows`` (give it ``limit + 1`` to know whether there is
    more) and the cursor after the last one."""
    items: list[Any] = []
    more = False
    for r in rows:
        if len(items) == limit:
            more = True
            break
        items.append(r)
    return CursorPage(items, encode_cursor(key(items[-1])) if more and items else None)

"""JSON schema pieces the views share (for ``/api/openapi.json``)."""

from __future__ import annotations

from typing import Any

__all__ = ["ACCOUNT", "EVENT", "NULLABLE_STRING", "POST", "obj", "page_of"]

NULLABLE_STRING: dict[str, Any] = {"type": ["string", "null"]}


def obj(required: tuple[str, ...] = (), **props: Any) -> dict[str, Any]:
    """An object schema with these properties (more are allowed)."""
    out: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        out["required"] = list(required)
    return out


def page_of(item: dict[str, Any]) -> dict[str, Any]:
    """A cursor page: ``items`` and ``next`` (the cursor of the next page, or null)."""
    return obj(("items", "next"), items={"type": "array", "items": item},
               next=NULLABLE_STRING)


ACCOUNT = obj(("id", "platform", "uri", "status"), id={"type": "integer"},
              platform={"type": "string"}, uri={"type": "string"},
              account=NULLABLE_STRING, account_id={"type": "string"},
              display_name=NULLABLE_STRING, status={"type": "string"},
              watched={"type": "boolean"}, tags={"type": "object"})

EVENT = obj(("type", "at", "platform", "account_uri"), type={"type": "string"},
            at={"type": "string"}, platform={"type": "string"},
            account_uri={"type": "string"}, post_id=NULLABLE_STRING,
            detail={"type": "object"}, evidence={"type": "array"})

POST = obj(("id", "platform", "post_id", "status", "text", "versions"),
           id={"type": "integer"}, platform={"type": "string"}, post_id={"type": "string"},
           account_uri={"type": "string"}, status={"type": "string"}, text={"type": "string"},
           url=NULLABLE_STRING, created_at=NULLABLE_STRING,
           versions={"type": "array", "items": {"type": "object"}},
           media={"type": "array", "items": {"type": "object"}})

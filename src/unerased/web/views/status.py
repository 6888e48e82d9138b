"""``/status``: the archive and its collectors (their heartbeats)."""

from __future__ import annotations

from typing import Any

from .._registry import View, ViewRequest
from ._schemas import obj

__all__ = ["VIEWS"]


def status(r: ViewRequest) -> dict[str, Any]:
    beats = r.store.state_items("heartbeat:")
    return {"now": r.now.isoformat().replace("+00:00", "Z"),
            "ledger_size": r.store.ledger_size(),
            "collectors": [{"id": k.removeprefix("heartbeat:"), "heartbeat": v}
                           for k, v in sorted(beats.items())]}


VIEWS = [View(
    "/status", "status", status, "status.html", summary="Status",
    schema=obj(("now", "ledger_size", "collectors"), now={"type": "string"},
               ledger_size={"type": "integer"},
               collectors={"type": "array", "items": {"type": "object"}}),
)]

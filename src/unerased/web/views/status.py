"""``/status``: the collector's health, the report ``unerased status --json`` prints
(:func:`unerased.health.status_report`, with the home's settings): accounts watched,
due and overdue, the latest check errors, the collectors' heartbeats, budgets, streams,
the alert outbox; and the ledger's size."""

from __future__ import annotations

from typing import Any

from ... import config
from ...errors import UnerasedError
from ...health import status_report
from .._registry import N_, View, ViewRequest
from ._schemas import NULLABLE_STRING, obj

__all__ = ["VIEWS", "report"]

ERRORS = 10
HEARTBEAT_S = 60.0  # when the home's settings cannot say
INTERVAL_S = 900.0


def _intervals(r: ViewRequest) -> tuple[float, float]:
    """The schedule's interval and the heartbeat's, from the home's settings."""
    try:
        settings = config.load(r.config.home)
        return float(settings["schedule.interval"]), float(settings["heartbeat.interval"])
    except (UnerasedError, OSError, KeyError, TypeError, ValueError):
        return INTERVAL_S, HEARTBEAT_S


def report(r: ViewRequest) -> dict[str, Any]:
    interval, beat = _intervals(r)
    rep = status_report(r.store, r.now, interval_s=interval, heartbeat_s=beat, errors=ERRORS)
    return {"report": rep, "source": "collector", "ledger_size": r.store.ledger_size()}


_INT_OR_NULL = {"type": ["integer", "null"]}
REPORT = obj(("at", "accounts", "errors", "collectors"), at={"type": "string"},
             last_check_at=NULLABLE_STRING,
             accounts=obj(("watched", "due"), watched={"type": "integer"},
                          due={"type": "integer"}, overdue=_INT_OR_NULL,
                          claimed=_INT_OR_NULL),
             errors={"type": "array", "items": obj(("account", "error"),
                                                   account={"type": "string"},
                                                   error={"type": "string"},
                                                   at=NULLABLE_STRING)},
             collectors={"type": "array", "items": obj(("collector", "state"),
                                                       collector={"type": "string"},
                                                       state={"type": "string"},
                                                       at=NULLABLE_STRING)},
             budgets={"type": "object"}, streams={"type": "object"},
             alerts={"type": "object"})

VIEWS = [View(
    "/status", "status", report, "status.html", summary=N_("Status"),
    schema=obj(("report", "source", "ledger_size"), report=REPORT,
               source={"type": "string", "enum": ["collector", "store"]},
               ledger_size={"type": "integer"}),
)]

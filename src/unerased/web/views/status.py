"""``/status``: the collector's health, as ``unerased status --json`` reports it
(``unerased.collector.status_report`` with the home's settings, when this install has
the collector), else the same report made here from what the store holds: accounts
watched and due, the latest check errors, the collectors' heartbeats, the alert
outbox; and the ledger's size."""

from __future__ import annotations

import importlib
from datetime import timedelta
from typing import Any

from ...model import iso, parse_iso
from .._registry import N_, View, ViewRequest
from ._schemas import NULLABLE_STRING, obj

__all__ = ["VIEWS", "report"]

ERRORS = 10
HEARTBEAT_S = 60.0  # when the home's settings cannot say
INTERVAL_S = 900.0


def _collector_report(r: ViewRequest) -> dict[str, Any] | None:
    """``unerased status --json``'s report, when this install has the collector."""
    try:
        collector = importlib.import_module("unerased.collector")
    except ImportError:
        return None
    make = getattr(collector, "status_report", None)
    if make is None:
        return None
    interval, beat = INTERVAL_S, HEARTBEAT_S
    try:
        settings = importlib.import_module("unerased.config").load(r.config.home)
        interval = float(settings["schedule.interval"])
        beat = float(settings["heartbeat.interval"])
    except (ImportError, AttributeError, KeyError, TypeError, ValueError):
        pass
    got: dict[str, Any] = make(r.store, r.now, interval_s=interval, heartbeat_s=beat,
                               errors=ERRORS)
    return got


def _heartbeat_report(r: ViewRequest) -> dict[str, Any]:
    """The report from the store alone (an install without the collector package)."""
    now = iso(r.now) or ""
    alive_for = timedelta(seconds=max(120.0, 3 * HEARTBEAT_S))
    collectors = []
    for key, beat in sorted(r.store.state_items("heartbeat:").items()):
        if not isinstance(beat, dict):
            beat = {"at": beat if isinstance(beat, str) else None}
        try:
            at = parse_iso(beat.get("at")) if isinstance(beat.get("at"), str) else None
        except ValueError:
            at = None
        state = ("stopped" if beat.get("stopped") else
                 "alive" if at is not None and r.now - at <= alive_for else "stale")
        collectors.append({"collector": key.removeprefix("heartbeat:"), "state": state,
                           **{k: beat.get(k) for k in (
                               "at", "host", "pid", "last_check_at", "checks", "errors",
                               "events", "in_flight", "last_error")}})
    errors = r.store.failing_accounts(ERRORS)
    accounts = r.store.due_counts(now)
    return {"at": now, "last_check_at": None,
            "accounts": {**accounts, "overdue": None, "claimed": None},
            "errors": [{k: e[k] for k in ("account", "error", "at")} for e in errors],
            "collectors": collectors, "budgets": {}, "streams": {},
            "alerts": r.store.outbox_counts()}


def report(r: ViewRequest) -> dict[str, Any]:
    rep = _collector_report(r)
    return {"report": rep if rep is not None else _heartbeat_report(r),
            "source": "collector" if rep is not None else "store",
            "ledger_size": r.store.ledger_size()}


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

"""What ``unerased status`` reports: the archive's watch as the store holds it and the
collectors' heartbeats say (read only: nothing here writes).

- accounts watched, due (``next_check`` has come, or never checked) and overdue (past
  due by more than a tenth of the account's interval: the schedule's own interval from
  ``schedule_json``, else ``schedule.interval``), and held by a live claim;
- the latest errors (per account, newest first);
- every collector's heartbeat (``heartbeat:<id>`` in ``collector_state``): alive when it
  beat within three heartbeat intervals (at least two minutes), stale otherwise, stopped
  when it said so; its counts, its budgets per host (spent, remaining) and streams;
- the stream cursors (``stream:<name>``);
- the alert outbox (pending, delivered, failed, the oldest pending, the last error).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from .errors import redact_secrets
from .model import iso, parse_iso
from .store import Store, lease_time

__all__ = ["last_checked", "status_report"]

OVERDUE_SHARE = 0.1


def _interval(row: Mapping[str, Any], default: float) -> float:
    try:
        got = json.loads(row.get("schedule_json") or "{}").get("interval_s")
    except (ValueError, AttributeError):
        got = None
    return float(got) if isinstance(got, int | float) and got > 0 else default


def status_report(store: Store, now: datetime, *, interval_s: float, heartbeat_s: float,
                  errors: int = 10) -> dict[str, Any]:
    """The report ``unerased status --json`` prints (one JSON object)."""
    rows = store.list_accounts(watched_only=True)
    t, lease_now = iso(now) or "", lease_time(now)
    due = overdue = claimed = 0
    for r in rows:
        nxt = parse_iso(r.get("next_check"))
        if nxt is None or nxt <= now:
            due += 1
        if nxt is not None and (now - nxt).total_seconds() > \
                OVERDUE_SHARE * _interval(r, interval_s):
            overdue += 1
        if r.get("claimed_until") and str(r["claimed_until"]) >= lease_now:
            claimed += 1
    failed = sorted((r for r in rows if r.get("check_error")),
                    key=lambda r: str(r.get("last_check") or ""), reverse=True)
    from .refs import account_uri

    last_errors = [{"account": redact_secrets(account_uri(r["platform"], r.get("handle"),
                                                          r["account_id"])),
                    "error": redact_secrets(str(r["check_error"])), "at": r.get("last_check")}
                   for r in failed[:max(0, errors)]]
    alive_for = timedelta(seconds=max(120.0, 3 * heartbeat_s))
    collectors = []
    budgets: dict[str, Any] = {}
    streams: dict[str, Any] = {}
    for key, beat in sorted(store.state_items("heartbeat:").items()):
        if not isinstance(beat, dict):
            continue
        at = parse_iso(beat.get("at"))
        state = ("stopped" if beat.get("stopped") else
                 "alive" if at is not None and now - at <= alive_for else "stale")
        collectors.append({
            "collector": key.removeprefix("heartbeat:"), "state": state, "at": beat.get("at"),
            "host": beat.get("host"), "pid": beat.get("pid"),
            "last_check_at": beat.get("last_check_at"), "checks": beat.get("checks"),
            "errors": beat.get("errors"), "events": beat.get("events"),
            "in_flight": beat.get("in_flight"), "last_error": beat.get("last_error"),
            "due_checks": beat.get("due_checks"), "on_time": beat.get("on_time")})
        if state == "alive":
            for host, b in (beat.get("budgets") or {}).items():
                budgets[host] = b
            for name, st in (beat.get("streams") or {}).items():
                streams[name] = st
    cursors = {k.removeprefix("stream:"): v for k, v in store.state_items("stream:").items()}
    for name, cursor in cursors.items():
        streams.setdefault(name, {"connected": False})["cursor"] = cursor
    checked = [x for x in (parse_iso(r.get("last_check")) for r in rows) if x is not None]
    return {
        "at": t,
        "last_check_at": iso(max(checked)) if checked else None,
        "accounts": {"watched": len(rows), "due": due, "overdue": overdue, "claimed": claimed},
        "errors": last_errors,
        "collectors": collectors,
        "budgets": budgets,
        "streams": streams,
        "alerts": store.outbox_counts(),
    }


def last_checked(report: Mapping[str, Any]) -> datetime | None:
    """The latest time any collector checked an account (for the dead-man check): the
    heartbeats' and the accounts' own ``last_check``."""
    times = [parse_iso(c.get("last_check_at")) for c in report.get("collectors", [])]
    times.append(parse_iso(report.get("last_check_at")))
    got = [x for x in times if x is not None]
    return max(got) if got else None

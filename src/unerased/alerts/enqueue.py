"""From the archive to the outbox: :func:`enqueue_new`, which the collector calls.

One transaction (:meth:`~unerased.store.Store.alert_batch`) reads the events after the
cursor ``alerts.event_cursor`` (``collector_state``), asks the pure rules
(:mod:`unerased.alerts.rules`) for alerts, enqueues them and moves the cursor: a crash
before the commit leaves both as they were, so an event is turned into alerts once.
Enqueueing is idempotent by delivery id, so two collectors doing it at once enqueue
each alert once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..model import iso, parse_iso
from .rules import (
    HEARTBEAT,
    MASS_DELETION,
    Alert,
    Rule,
    collector_silent_alerts,
    event_alerts,
    heartbeat_alerts,
    mass_alerts,
    silent_alerts,
)

if TYPE_CHECKING:
    from ..store import AlertBatch, Store

__all__ = ["CURSOR_KEY", "enqueue_new", "load_rules"]

CURSOR_KEY = "alerts.event_cursor"
SILENCE_KEY = "alerts.silence_checked"
_BATCH = 1000
_SILENCE_EVERY = timedelta(hours=1)  # silences are counted in days: hourly is enough


def _due(store: Store, key: str, now: datetime, every: timedelta) -> bool:
    """Whether the periodic work under ``key`` is due at ``now`` (then it is marked
    done): the newest-post scan of every watched account need not run at every call."""
    last = parse_iso(store.get_state(key))
    if last is not None and timedelta(0) <= now - last < every:
        return False
    store.set_state(key, iso(now), now)
    return True


def load_rules(store: Store) -> list[Rule]:
    """The enabled rules of the archive."""
    return [Rule.from_row(r) for r in store.alert_rules(enabled_only=True)]


def _mass(tx: AlertBatch, rules: Sequence[Rule], events: Sequence[dict[str, Any]],
          cursor: int, now: datetime) -> list[Alert]:
    mass_rules = [r for r in rules if MASS_DELETION in r.kinds]
    accounts = {e["account_pk"]: e for e in events if e["type"] == "post_deleted"}
    if not mass_rules or not accounts:
        return []
    # one read for every rule: each keeps the deletions made since it was (mass_alerts)
    since = iso(min(r.created_at for r in mass_rules) - timedelta(seconds=1)) or ""
    deletions = tx.deletions_of(accounts, since)
    out: list[Alert] = []
    for pk, ev in accounts.items():
        acc = {k: ev.get(k) for k in ("platform", "account", "account_id", "account_uri",
                                      "tags")}
        for rule in mass_rules:
            out += mass_alerts(rule, acc, deletions[pk], cursor, now)
    return out


def _enqueue(tx: AlertBatch, alerts: Sequence[Alert], now: datetime) -> int:
    return tx.enqueue_many(((a.delivery_id, a.rule_id, a.kind, a.payload) for a in alerts),
                           now)


def enqueue_new(store: Store, now: datetime, *, collector: str | None = None,
                batch: int = _BATCH) -> int:
    """Turn what happened since the last call into pending deliveries; the number
    enqueued (an alert already in the outbox is not counted again).

    - the events after ``alerts.event_cursor``: per-event rules and mass deletions,
      with the cursor moved in the same transaction;
    - ``account_silent``: every watched account's newest post against ``now`` (at most
      hourly: ``alerts.silence_checked``);
    - ``collector_silent``: every ``heartbeat:<id>`` in ``collector_state`` against
      ``now`` (another collector of the archive, or ``status`` run elsewhere, tells of
      a dead one);
    - ``heartbeat``: one per rule and period (``collector`` names the sender); the
      delivered ones older than a day are dropped from the outbox.
    """
    rules = load_rules(store)
    if not rules:
        with store.alert_batch() as tx:  # nothing to alert on: the cursor follows
            end = tx.max_event_id()
            if tx.get_state(CURSOR_KEY) != end:
                tx.set_state(CURSOR_KEY, end, now)
        return 0
    n = 0
    while True:
        with store.alert_batch() as tx:
            cursor = int(tx.get_state(CURSOR_KEY) or 0)
            events = tx.events_after(cursor, batch)
            if events:
                alerts = event_alerts(rules, events, now) + _mass(tx, rules, events, cursor, now)
                n += _enqueue(tx, alerts, now)
                tx.set_state(CURSOR_KEY, max(e["id"] for e in events), now)
        if len(events) < batch:
            break
    others: list[Alert] = []
    if any(r.silent_days for r in rules) and _due(store, SILENCE_KEY, now, _SILENCE_EVERY):
        others += silent_alerts(rules, store.last_posts(), now)
    others += collector_silent_alerts(rules, store.state_items("heartbeat:"), now)
    beats = heartbeat_alerts(rules, now, collector)
    if beats:  # a day of delivered heartbeats is kept, older ones dropped
        store.prune_outbox(HEARTBEAT, now - timedelta(days=1))
    others += beats
    if others:
        with store.alert_batch() as tx:
            n += _enqueue(tx, others, now)
    return n

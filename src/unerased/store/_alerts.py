"""Alert rules and the alert outbox (``alert_rules``, ``alert_outbox``).

- **Rules** are rows (``unerased alert add``): several collectors on one archive share
  them.
- **The outbox** holds every alert until it is delivered or has failed for good. An
  alert is enqueued once: ``delivery_id`` is unique and an insert of one already there
  does nothing (``INSERT … ON CONFLICT DO NOTHING``), so an alert made twice (a restart,
  two collectors) is one row. :meth:`AlertQueries.alert_batch` reads new events and
  enqueues their alerts and the event cursor (``collector_state``) in one transaction.
- **A claim** on a due delivery is its ``next_attempt`` moved to the end of a lease, in
  one statement (SQLite: ``UPDATE … RETURNING`` inside ``BEGIN IMMEDIATE``; PostgreSQL:
  ``FOR UPDATE SKIP LOCKED`` then the update), with ``attempts`` counted then: two
  collectors never send one delivery at once while its lease runs, and a collector that
  dies mid-send leaves a delivery that is due again when the lease ends (at least once).
  The sender then marks it delivered, or records the failure and the next attempt (or
  ``failed``).

Like claims, this is coordination, not evidence: short transactions of their own,
outside :meth:`Store.writer`, no ledger leaf.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from ..errors import DatabaseError
from ..model import storable_json
from ..refs import account_uri
from . import _schema as s
from . import _state
from ._claims import lease_time

__all__ = ["AlertBatch", "AlertQueries"]

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


def _one_line(e: BaseException) -> str:
    msg = str(getattr(e, "orig", None) or e).strip().splitlines()
    return msg[0] if msg else type(e).__name__


def _account_json(r: Any) -> dict[str, Any]:
    return {"pk": r["account_pk"], "platform": r["platform"], "account": r["handle"],
            "account_id": r["account_id"],
            "account_uri": account_uri(r["platform"], r["handle"], r["account_id"]),
            "tags": json.loads(r["tags_json"] or "{}")}


class AlertBatch:
    """One transaction of :meth:`AlertQueries.alert_batch`: read the events after a
    cursor and what the rules need about their accounts, enqueue alerts, move the
    cursor. Everything commits together or not at all."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get_state(self, key: str) -> Any | None:
        return _state.get_state(self._conn, key)

    def set_state(self, key: str, value: Any, now: datetime) -> None:
        _state.set_state(self._conn, key, value, now)

    def _events(self, cond: Any, order: Sequence[Any], limit: int | None) -> list[dict[str, Any]]:
        e, a = s.events, s.accounts.c
        q = (select(e, a.handle.label("acc_handle"), a.tags_json)
             .join_from(e, s.accounts, a.id == e.c.account_pk, isouter=True)
             .where(cond).order_by(*order))
        if limit is not None:
            q = q.limit(limit)
        out = []
        for r in self._conn.execute(q).mappings():
            out.append({
                "id": int(r["id"]), "type": r["type"], "at": r["at"], "platform": r["platform"],
                "account": r["account"], "account_id": r["account_id"],
                "account_pk": int(r["account_pk"]),
                "account_uri": account_uri(r["platform"], r["acc_handle"] or r["account"],
                                           r["account_id"]),
                "post_id": r["post_id"], "detail": json.loads(r["detail_json"]),
                "evidence": json.loads(r["evidence_json"]),
                "tags": json.loads(r["tags_json"] or "{}"),
            })
        return out

    def events_after(self, cursor: int, limit: int) -> list[dict[str, Any]]:
        """Events with an id above ``cursor`` (at most ``limit``, by id), each as event
        JSON with its ``id``, ``account_pk``, ``account_uri`` and the account's current
        ``tags``."""
        e = s.events.c
        return self._events(e.id > cursor, [e.id], limit)

    def deletions_of(self, account_pks: Iterable[int], since: str
                     ) -> dict[int, list[dict[str, Any]]]:
        """The ``post_deleted`` events (as :meth:`events_after` gives them) of each of
        ``account_pks`` at or after ``since``, in time order: what a mass-deletion rule
        counts. One query."""
        e = s.events.c
        pks = sorted(set(account_pks))
        out: dict[int, list[dict[str, Any]]] = {pk: [] for pk in pks}
        for k in range(0, len(pks), 500):
            for ev in self._events(and_(e.account_pk.in_(pks[k:k + 500]),
                                        e.type == "post_deleted", e.at >= since),
                                   [e.at, e.id], None):
                out[ev["account_pk"]].append(ev)
        return out

    def max_event_id(self) -> int:
        return int(self._conn.execute(select(func.max(s.events.c.id))).scalar() or 0)

    def enqueue(self, delivery_id: str, rule_id: int | None, kind: str,
                payload: Mapping[str, Any], now: datetime) -> bool:
        """Add a pending delivery, due at once; False (and nothing changed) when one with
        this ``delivery_id`` is there already."""
        return enqueue(self._conn, delivery_id, rule_id, kind, payload, now)

    def enqueue_many(self, alerts: Iterable[tuple[str, int | None, str, Mapping[str, Any]]],
                     now: datetime) -> int:
        """:meth:`enqueue` for many ``(delivery_id, rule_id, kind, payload)`` at once
        (those already in the outbox skipped); the number added."""
        o = s.alert_outbox
        todo = {a[0]: a for a in alerts}
        ids = sorted(todo)
        for k in range(0, len(ids), 500):
            for (there,) in self._conn.execute(
                    select(o.c.delivery_id).where(o.c.delivery_id.in_(ids[k:k + 500]))):
                todo.pop(there, None)
        if not todo:
            return 0
        at = lease_time(now)
        rows = [{"delivery_id": d, "rule_id": r, "kind": kind,
                 "payload": storable_json(p, sort_keys=True), "state": PENDING,
                 "attempts": 0, "next_attempt": at, "created_at": at}
                for d, r, kind, p in todo.values()]
        ins = (pg_insert if self._conn.dialect.name == "postgresql" else sqlite_insert)(o)
        self._conn.execute(ins.on_conflict_do_nothing(index_elements=[o.c.delivery_id]), rows)
        return len(rows)


def enqueue(conn: Connection, delivery_id: str, rule_id: int | None, kind: str,
            payload: Mapping[str, Any], now: datetime) -> bool:
    at = lease_time(now)
    row = {"delivery_id": delivery_id, "rule_id": rule_id, "kind": kind,
           "payload": storable_json(payload, sort_keys=True), "state": PENDING,
           "attempts": 0, "next_attempt": at, "created_at": at}
    ins = (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(s.alert_outbox)
    added = conn.execute(ins.values(**row).on_conflict_do_nothing(
        index_elements=[s.alert_outbox.c.delivery_id]).returning(s.alert_outbox.c.id)).first()
    return added is not None


def _rule_json(r: Any) -> dict[str, Any]:
    d = dict(r)
    d["on_types"] = None if r["on_types"] is None else json.loads(r["on_types"])
    d["enabled"] = bool(r["enabled"])
    return d


class AlertQueries:
    """The alerts side of :class:`~unerased.store.Store` (a mixin: it needs ``engine``
    and ``reader``)."""

    engine: Engine

    def reader(self) -> AbstractContextManager[Connection]:  # provided by Store
        raise NotImplementedError

    @contextmanager
    def _alert_transaction(self) -> Iterator[Connection]:
        try:
            conn_cm = self.engine.connect().execution_options(sqlite_begin="BEGIN IMMEDIATE")
            with conn_cm as conn, conn.begin():
                yield conn
        except SQLAlchemyError as e:
            raise DatabaseError("the database cannot be written", _one_line(e)) from None

    # ------------------------------------------------------------------ rules

    def add_alert_rule(
        self, target: str, *, secret: str, now: datetime, on_types: Sequence[str] | None = None,
        tag: tuple[str, str] | None = None, min_posts: int | None = None,
        within_s: int | None = None, silent_days: int | None = None,
    ) -> dict[str, Any]:
        """A new rule (enabled); its row as :meth:`alert_rules` gives it."""
        values = {"target": target, "secret": secret, "created_at": lease_time(now),
                  "on_types": None if on_types is None else json.dumps(list(on_types)),
                  "tag_key": tag[0] if tag else None, "tag_value": tag[1] if tag else None,
                  "min_posts": min_posts, "within_s": within_s, "silent_days": silent_days,
                  "enabled": True}
        t = s.alert_rules
        with self._alert_transaction() as conn:
            rid = conn.execute(insert(t).values(**values).returning(t.c.id)).scalar_one()
            row = conn.execute(select(t).where(t.c.id == rid)).mappings().one()
        return _rule_json(row)

    def alert_rules(self, *, enabled_only: bool = False) -> list[dict[str, Any]]:
        """Every rule (``on_types`` decoded), by id."""
        t = s.alert_rules
        q = select(t).order_by(t.c.id)
        if enabled_only:
            q = q.where(t.c.enabled.is_(True))
        with self.reader() as conn:
            return [_rule_json(r) for r in conn.execute(q).mappings()]

    def alert_rule(self, rule_id: int) -> dict[str, Any] | None:
        t = s.alert_rules
        with self.reader() as conn:
            r = conn.execute(select(t).where(t.c.id == rule_id)).mappings().first()
        return None if r is None else _rule_json(r)

    def remove_alert_rule(self, rule_id: int) -> bool:
        """Remove the rule and its pending deliveries (delivered and failed ones stay, as
        the record of what was sent); False when there is no such rule."""
        t, o = s.alert_rules, s.alert_outbox
        with self._alert_transaction() as conn:
            n = int(conn.execute(delete(t).where(t.c.id == rule_id)).rowcount or 0)
            if n:
                conn.execute(delete(o).where(o.c.rule_id == rule_id, o.c.state == PENDING))
        return n == 1

    # ------------------------------------------------------------------ input of the rules

    @contextmanager
    def alert_batch(self) -> Iterator[AlertBatch]:
        """One short write transaction (``BEGIN IMMEDIATE`` on SQLite) to turn new events
        into alerts: see :class:`AlertBatch`."""
        with self._alert_transaction() as conn:
            yield AlertBatch(conn)

    def last_posts(self) -> list[dict[str, Any]]:
        """Every watched account (as alert JSON: ``pk``, ``platform``, ``account``,
        ``account_id``, ``account_uri``, ``tags``) with ``last_post``: the creation time
        of its newest stored post (None when none is stored)."""
        a, p = s.accounts, s.posts
        newest = (select(p.c.account_pk, func.max(p.c.created_at).label("last_post"))
                  .group_by(p.c.account_pk).subquery())
        q = (select(a.c.id.label("account_pk"), a.c.platform, a.c.handle, a.c.account_id,
                    a.c.tags_json, newest.c.last_post)
             .join_from(a, newest, newest.c.account_pk == a.c.id, isouter=True)
             .where(a.c.watched.is_(True)).order_by(a.c.id))
        with self.reader() as conn:
            return [{**_account_json(r), "last_post": r["last_post"]}
                    for r in conn.execute(q).mappings()]

    def enqueue_alert(self, delivery_id: str, rule_id: int | None, kind: str,
                      payload: Mapping[str, Any], now: datetime) -> bool:
        """:meth:`AlertBatch.enqueue` in a transaction of its own (``alert test``)."""
        with self._alert_transaction() as conn:
            return enqueue(conn, delivery_id, rule_id, kind, payload, now)

    # ------------------------------------------------------------------ the outbox

    def claim_deliveries(self, now: datetime, lease: timedelta, *, limit: int = 100,
                         delivery_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Claim pending deliveries that are due (``next_attempt`` ≤ ``now``): their
        ``next_attempt`` becomes ``now + lease`` and ``attempts`` one more, atomically.
        Each comes with its rule's ``target`` and ``secret`` (None when the rule was
        removed). ``delivery_ids``: only these deliveries."""
        o, r = s.alert_outbox, s.alert_rules
        due = and_(o.c.state == PENDING,
                   or_(o.c.next_attempt.is_(None), o.c.next_attempt <= lease_time(now)))
        if delivery_ids is not None:
            due = and_(due, o.c.delivery_id.in_(sorted(set(delivery_ids))))
        values = {"next_attempt": lease_time(now + lease), "attempts": o.c.attempts + 1}
        with self._alert_transaction() as conn:
            if conn.dialect.name == "postgresql":
                picked = list(conn.execute(select(o.c.id).where(due).order_by(o.c.id)
                                           .limit(limit).with_for_update(skip_locked=True))
                              .scalars())
            else:  # BEGIN IMMEDIATE: no other writer between this read and the update
                picked = list(conn.execute(select(o.c.id).where(due).order_by(o.c.id)
                                           .limit(limit)).scalars())
            if not picked:
                return []
            conn.execute(update(o).where(o.c.id.in_(picked)).values(**values))
            rows = conn.execute(
                select(o, r.c.target, r.c.secret)
                .join_from(o, r, r.c.id == o.c.rule_id, isouter=True)
                .where(o.c.id.in_(picked)).order_by(o.c.id)).mappings()
            return [dict(x) for x in rows]

    def release_deliveries(self, outbox_ids: Iterable[int], now: datetime) -> None:
        """Give back claimed deliveries that were not attempted (the claim's lease was
        running out): due again at ``now``, the attempt uncounted."""
        ids = sorted(set(outbox_ids))
        if not ids:
            return
        o = s.alert_outbox
        with self._alert_transaction() as conn:
            conn.execute(update(o).where(o.c.id.in_(ids), o.c.state == PENDING).values(
                next_attempt=lease_time(now), attempts=o.c.attempts - 1))

    def mark_delivered(self, outbox_id: int, now: datetime) -> None:
        """The receiver answered 2xx (the SMTP server accepted the message)."""
        o = s.alert_outbox
        with self._alert_transaction() as conn:
            conn.execute(update(o).where(o.c.id == outbox_id).values(
                state=DELIVERED, delivered_at=lease_time(now), next_attempt=None,
                last_error=None))

    def record_delivery_failure(self, outbox_id: int, error: str,
                                next_attempt: datetime | None) -> None:
        """An attempt failed: try again at ``next_attempt``, or never (None: ``failed``)."""
        o = s.alert_outbox
        values: dict[str, Any] = {"last_error": error[:1000]}
        if next_attempt is None:
            values.update(state=FAILED, next_attempt=None)
        else:
            values["next_attempt"] = lease_time(next_attempt)
        with self._alert_transaction() as conn:
            conn.execute(update(o).where(o.c.id == outbox_id).values(**values))

    def prune_outbox(self, kind: str, before: datetime) -> int:
        """Delete delivered deliveries of ``kind`` made before ``before`` (heartbeats:
        once received they are of no use, and there are many); the number deleted."""
        o = s.alert_outbox
        with self._alert_transaction() as conn:
            return int(conn.execute(delete(o).where(
                o.c.kind == kind, o.c.state == DELIVERED,
                o.c.created_at < lease_time(before))).rowcount or 0)

    def outbox_counts(self) -> dict[str, Any]:
        """For ``unerased status``: deliveries by state, the oldest pending one's
        creation time, and the last failed delivery's error."""
        o = s.alert_outbox
        with self.reader() as conn:
            counts = {str(st): int(n) for st, n in conn.execute(
                select(o.c.state, func.count()).group_by(o.c.state))}
            oldest = conn.execute(select(func.min(o.c.created_at))
                                  .where(o.c.state == PENDING)).scalar()
            last = conn.execute(select(o.c.last_error).where(o.c.last_error.is_not(None))
                                .order_by(o.c.id.desc()).limit(1)).scalar()
        return {PENDING: counts.get(PENDING, 0), DELIVERED: counts.get(DELIVERED, 0),
                FAILED: counts.get(FAILED, 0), "oldest_pending": oldest, "last_error": last}

    def outbox(self, *, state: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Outbox rows, newest first (``payload`` decoded)."""
        o = s.alert_outbox
        q = select(o).order_by(o.c.id.desc()).limit(limit)
        if state is not None:
            q = q.where(o.c.state == state)
        with self.reader() as conn:
            return [{**dict(r), "payload": json.loads(r["payload"])}
                    for r in conn.execute(q).mappings()]

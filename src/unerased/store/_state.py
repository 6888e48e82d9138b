"""A collector's key/value state (``collector_state``), kept across restarts.

Keys in use: ``alerts.event_cursor`` (the last event id turned into alerts),
``stream:<name>`` (a stream's resume cursor), ``heartbeat:<collector id>`` (when a
collector last proved alive; the dead-man alert reads them). Values are JSON.

Read and written outside the ledger (coordination, not evidence): ``store.get_state``,
``store.state_items``, ``store.set_state`` (a short transaction of its own), and inside a
:meth:`Store.writer` transaction ``w.set_state`` — so a cursor commits together with
what it covers (the alerts enqueued for the events up to it, the posts a stream
brought), or not at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from ..errors import DatabaseError
from ..model import storable_json
from . import _schema as s
from ._claims import lease_time

__all__ = ["StateQueries", "StateWrites", "get_state", "set_state", "state_items"]


def _like_escaped(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def get_state(conn: Connection, key: str) -> Any | None:
    t = s.collector_state
    raw = conn.execute(select(t.c.value).where(t.c.key == key)).scalar()
    return None if raw is None else json.loads(raw)


def state_items(conn: Connection, prefix: str) -> dict[str, Any]:
    t = s.collector_state
    q = select(t.c.key, t.c.value).order_by(t.c.key)
    if prefix:
        q = q.where(t.c.key.like(_like_escaped(prefix) + "%", escape="\\"))
    return {k: json.loads(v) for k, v in conn.execute(q)}


def set_state(conn: Connection, key: str, value: Any, now: datetime) -> None:
    """Insert or replace ``key`` (one statement: ``INSERT … ON CONFLICT DO UPDATE``)."""
    row = {"key": key, "value": storable_json(value, sort_keys=True),
           "updated_at": lease_time(now)}
    ins = (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(s.collector_state)
    conn.execute(ins.values(**row).on_conflict_do_update(
        index_elements=[s.collector_state.c.key],
        set_={"value": row["value"], "updated_at": row["updated_at"]}))


class StateQueries:
    """The state side of :class:`~unerased.store.Store` (a mixin: it needs ``engine``
    and ``reader``)."""

    engine: Engine

    def reader(self) -> AbstractContextManager[Connection]:  # provided by Store
        raise NotImplementedError

    @contextmanager
    def _state_transaction(self) -> Iterator[Connection]:
        try:
            conn_cm = self.engine.connect().execution_options(sqlite_begin="BEGIN IMMEDIATE")
            with conn_cm as conn, conn.begin():
                yield conn
        except SQLAlchemyError as e:
            msg = str(getattr(e, "orig", None) or e).strip().splitlines()
            raise DatabaseError("the database cannot be written",
                                msg[0] if msg else type(e).__name__) from None

    def get_state(self, key: str) -> Any | None:
        """The JSON value kept under ``key``; None when there is none."""
        with self.reader() as conn:
            return get_state(conn, key)

    def state_items(self, prefix: str) -> dict[str, Any]:
        """Every key starting with ``prefix`` (``"heartbeat:"``) and its value."""
        with self.reader() as conn:
            return state_items(conn, prefix)

    def set_state(self, key: str, value: Any, now: datetime) -> None:
        """Keep ``value`` (JSON-able) under ``key``, in a short transaction of its own."""
        with self._state_transaction() as conn:
            set_state(conn, key, value, now)


class StateWrites:
    """The state methods of the :class:`~unerased.store.Writer` (a mixin)."""

    @property
    def _connection(self) -> Connection:  # provided by Writer
        raise NotImplementedError

    def set_state(self, key: str, value: Any, now: datetime) -> None:
        """Keep ``value`` under ``key`` in this transaction (committed with it)."""
        set_state(self._connection, key, value, now)

    def get_state(self, key: str) -> Any | None:
        """The value under ``key`` as this transaction sees it."""
        return get_state(self._connection, key)

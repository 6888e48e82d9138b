"""Bulk inserts on a background thread, inside the writer's one transaction.

SQLite (and libpq) run a statement with the GIL released, so while a batch of rows goes
into the B-trees on this thread the writer keeps building the next batch in Python.
Only this thread touches the connection between :meth:`BulkInserter.submit` and
:meth:`BulkInserter.sync`; the writer syncs before any other use of it (its ``conn``
property does so), so statements still run in the order they were issued and every
read sees every earlier write. A failed insert is raised in the writer at its next
submit or sync, and the transaction rolls back as before. A failed ``COPY`` (which runs
on the driver's own cursor, beneath SQLAlchemy) is raised as SQLAlchemy's error, like
every other statement's, so that the store's edge turns it into one line — never the
driver's message with the row it was copying.
"""

from __future__ import annotations

import functools
import queue
import threading
from collections.abc import Sequence
from itertools import chain
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

_DEPTH = 4  # batches queued at most: bounds memory, keeps the thread fed


class BulkInserter:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._jobs: queue.Queue[tuple[str, Sequence[Any]] | None] = queue.Queue(_DEPTH)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="unerased-bulk", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is None:
                    return
                if self._error is None:  # after a failure, drain without executing
                    execute_rows(self._conn, job[0], job[1])
            except BaseException as e:  # noqa: BLE001 - re-raised in the writer's thread
                self._error = e
            finally:
                self._jobs.task_done()

    def submit(self, sql: str, rows: Sequence[Any]) -> None:
        self._check()
        self._jobs.put((sql, rows))

    def sync(self) -> None:
        """Wait until every submitted statement has run; raise the first failure."""
        self._jobs.join()
        self._check()

    def close(self) -> None:
        """Stop the thread (after the statements already submitted). Idempotent."""
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join()

    def cancel(self) -> None:
        """Stop the thread, skipping statements not yet run (the transaction is failing)."""
        if self._error is None:
            self._error = _Cancelled()
        self.close()

    def _check(self) -> None:
        if self._error is not None:
            raise self._error


class _Cancelled(Exception):
    pass


_MAX_PARAMS = {"sqlite": 32766, "postgresql": 65535}  # bound parameters per statement


def execute_rows(conn: Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """Run ``sql`` for each row. A one-row ``INSERT … VALUES (…)`` runs as multi-row
    INSERTs (``VALUES (…), (…), …``): one statement and one round of binding per chunk
    of rows instead of one per row, which also lets SQLite run a whole chunk with the
    GIL released. Anything else goes to the driver's ``executemany``."""
    if len(rows) < 2 or not sql.startswith("INSERT INTO ") or " VALUES (" not in sql:
        conn.exec_driver_sql(sql, list(rows))
        return
    if conn.dialect.name == "postgresql":
        copy = _pg_copy(sql)
        if copy is not None:  # COPY: no statement to parse and plan per chunk
            dbapi_error = conn.dialect.loaded_dbapi.Error
            cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                with cur.copy(copy) as cp:
                    for row in rows:
                        cp.write_row(row)
            except dbapi_error as e:
                raise DBAPIError.instance(copy, None, e, dbapi_error) from None
            finally:
                cur.close()
            return
    per = max(1, _MAX_PARAMS.get(conn.dialect.name, 999) // len(rows[0]))
    for i in range(0, len(rows), per):
        chunk = rows[i : i + per]
        conn.exec_driver_sql(_multi(sql, len(chunk)), tuple(chain.from_iterable(chunk)))


@functools.lru_cache(maxsize=256)
def _pg_copy(sql: str) -> str | None:
    """``COPY t (cols) FROM STDIN`` for a plain ``INSERT INTO t (cols) VALUES (%s, …)``;
    None when a value is an expression (``to_tsvector(…)``)."""
    head, group = sql.split(" VALUES ", 1)
    if group.replace("%s", "").strip("(), ") != "":
        return None
    return f"COPY {head[len('INSERT INTO '):]} FROM STDIN"


@functools.lru_cache(maxsize=256)
def _multi(sql: str, n: int) -> str:
    head, group = sql.split(" VALUES ", 1)
    return f"{head} VALUES {', '.join([group] * n)}"

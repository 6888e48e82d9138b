"""The archive store: the only package that knows SQL.

``Store.open(home, db_url)`` opens (and migrates) the database and the blob store;
``with store.writer() as w:`` is one transaction that also appends ledger leaves;
``Store`` itself answers the read side (:class:`Queries`: accounts, posts, search,
events). The ledger's code reads through typed views on a connection of
``store.reader()`` or ``store.snapshot()``: :class:`LedgerTables` (head, leaves, nodes,
checkpoints, meta), :class:`ArchiveScan` (what ``verify`` reads) and
:class:`ReceiptRows` (what a receipt covers), :class:`PublishRows` (what ``export site``
reads beyond the public queries). A database failure becomes a
:class:`~unerased.errors.DatabaseError` (one line: the driver's message, never the
statement or its parameters) at this package's edge.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from .._files import os_reason
from ..errors import BlobError, DatabaseError, MissingExtra, StoreError, UsageError, WriteConflict
from ..ledger.records import capture_record
from ..model import Capture, parse_iso, utcnow
from . import _schema as schema
from ._alerts import AlertBatch, AlertQueries
from ._blobs import BlobStore
from ._claims import Claimed, ClaimQueries, KnownPost, display_proxy, lease_time
from ._engine import SQLITE_FILE, driver_detail, make_engine, migrate, prepare_home
from ._ledger import CheckpointRow, LeafRow, LedgerTables
from ._pages import PageQueries
from ._publish_queries import PublishRows
from ._queries import Queries
from ._receipt_queries import ReceiptRows
from ._state import StateQueries
from ._users import ROLES, UserQueries
from ._verify_queries import LEAFED, ArchiveScan
from ._web import WebQueries
from ._writer import PostResult, Writer

__all__ = [
    "LEAFED",
    "AlertBatch",
    "AlertQueries",
    "ArchiveScan",
    "BlobError",
    "BlobStore",
    "CheckpointRow",
    "ClaimQueries",
    "Claimed",
    "Connection",
    "DatabaseError",
    "KnownPost",
    "LeafRow",
    "LedgerTables",
    "PageQueries",
    "ROLES",
    "PostResult",
    "PublishRows",
    "Queries",
    "ReceiptRows",
    "StateQueries",
    "Store",
    "StoreError",
    "UserQueries",
    "WebQueries",
    "WriteConflict",
    "Writer",
    "display_proxy",
    "lease_time",
]


class Store(Queries, ClaimQueries, StateQueries, AlertQueries, UserQueries,
            WebQueries, PageQueries):
    def __init__(self, engine: Engine, blobs: BlobStore, home: Path) -> None:
        self.engine = engine
        self.blobs = blobs
        self.home = home

    @classmethod
    def open(cls, home: Path, db_url: str | None = None, *, create: bool = True) -> Store:
        """The archive at ``home`` (its SQLite file, or the database ``db_url``), migrated
        to the newest schema. ``create`` False: it must exist already — StoreError ``no
        archive at …`` and nothing created otherwise (for commands that only read)."""
        home = Path(home)
        if not create:
            return cls._open_existing(home, db_url)
        try:
            prepare_home(home, sqlite=db_url is None)  # owner-only, whatever the umask
        except OSError as e:
            raise StoreError(f"cannot create the archive home {home}: {os_reason(e)}") from None
        url = db_url or f"sqlite:///{(home / SQLITE_FILE).resolve()}"
        engine: Engine | None = None
        try:
            engine = _engine(url)
            migrate(engine)
        except SQLAlchemyError as e:
            if engine is not None:  # its pooled connections closed now, not by the collector
                engine.dispose()
            raise StoreError(f"cannot open the database: {_first_line(e)}") from None
        return cls(engine, BlobStore(home / "blobs"), home)

    @classmethod
    def _open_existing(cls, home: Path, db_url: str | None) -> Store:
        """Open without creating anything: the SQLite file must be there and the
        database must hold unerased's tables (a schema of an older version is migrated)."""
        url = db_url or f"sqlite:///{(home / 'unerased.sqlite').resolve()}"
        where = f"at {home}" if db_url is None else f"in the database {_redacted(db_url)}"
        path = _sqlite_path(url)
        if path is not None and not path.is_file():
            where = f"at {home}" if db_url is None else f"at {path}"
            raise StoreError(f"no archive {where} (`unerased import` or `unerased watch add` "
                             "make one)")
        if home.is_dir():  # owner-only at every open, not only at creation
            with contextlib.suppress(OSError):
                prepare_home(home, sqlite=db_url is None)
        engine = _engine(url)
        try:
            if not set(inspect(engine).get_table_names()) & _MARKS:  # damaged is not absent
                engine.dispose()
                raise StoreError(f"no archive {where} (it has no unerased tables)")
            migrate(engine)
        except SQLAlchemyError as e:
            engine.dispose()
            raise StoreError(f"cannot open the database: {_first_line(e)}") from None
        return cls(engine, BlobStore(home / "blobs"), home)

    @contextmanager
    def writer(self) -> Iterator[Writer]:
        """One write transaction. Commits when the block ends, rolls back on error."""
        try:
            conn_cm = self.engine.connect().execution_options(sqlite_begin="BEGIN IMMEDIATE")
            with conn_cm as conn, conn.begin():
                w = Writer(self, conn)
                try:
                    yield w
                    w.finish()
                except BaseException:
                    w.abort()
                    raise
        except SQLAlchemyError as e:
            raise DatabaseError("the database cannot be written", _first_line(e)) from None

    @contextmanager
    def reader(self) -> Iterator[Connection]:
        """One read transaction."""
        try:
            with self.engine.connect() as conn, conn.begin():
                yield conn
        except SQLAlchemyError as e:
            raise DatabaseError("the database cannot be read", _first_line(e)) from None

    @contextmanager
    def snapshot(self) -> Iterator[Connection]:
        """One read transaction that sees one state of the database throughout, however
        long it lasts and whatever is written meanwhile (REPEATABLE READ on PostgreSQL;
        a SQLite read transaction always does)."""
        try:
            conn = self.engine.connect()
            try:
                if conn.dialect.name == "postgresql":
                    conn = conn.execution_options(isolation_level="REPEATABLE READ")
                with conn.begin():
                    yield conn
            finally:
                conn.close()
        except SQLAlchemyError as e:
            raise DatabaseError("the database cannot be read", _first_line(e)) from None

    def ledger_size(self) -> int:
        with self.reader() as conn:
            return int(
                conn.execute(select(schema.ledger_head.c.size)).scalar_one()
            )

    def iter_captures(self) -> Iterator[tuple[Capture, bytes]]:
        """Every raw HTTP capture with its body, in the order they were stored."""
        last = 0
        while True:
            with self.reader() as conn:
                rows = list(
                    conn.execute(
                        select(schema.captures).where(schema.captures.c.seq > last)
                        .order_by(schema.captures.c.seq).limit(500)
                    ).mappings()
                )
            if not rows:
                return
            for r in rows:
                cap = capture_from_row(r, self.blobs)
                yield cap, cap.body
            last = rows[-1]["seq"]

    def close(self) -> None:
        self.engine.dispose()


def capture_from_row(r: Any, blobs: BlobStore) -> Capture:
    rec = capture_record(r)
    req_body = b""
    if rec["request_body_sha256"] != _EMPTY_SHA:
        req_body = blobs.read(rec["request_body_sha256"])
    return Capture(
        method=rec["method"], url=rec["url"], started_at=parse_iso(rec["started_at"]) or utcnow(),
        request_headers=rec["request_headers"], request_body=req_body, status=rec["status"],
        reason=rec["reason"], response_headers=[tuple(h) for h in rec["response_headers"]],
        body=blobs.read(rec["body_sha256"]), error=rec["error"], http_version=rec["http_version"],
    )


_MARKS = {"alembic_version", "accounts", "posts", "ledger_head", "ledger_leaves"}  # any: ours
_EMPTY_SHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def _engine(url: str) -> Engine:
    """An engine for ``url``: a URL that is not SQLite or PostgreSQL is a UsageError, a
    missing PostgreSQL driver a MissingExtra naming the pip command. The URL is never
    repeated in a message with its password."""
    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError:
        raise UsageError("--db (UNERASED_DB): not a database URL; use sqlite:///PATH or "
                         "postgresql://USER@HOST/DB") from None
    if backend not in ("sqlite", "postgresql", "postgres"):
        raise UsageError(f"--db (UNERASED_DB): unsupported database {_redacted(url)!r}; use "
                         "sqlite:///PATH or postgresql://USER@HOST/DB")
    try:
        return make_engine(url)
    except ModuleNotFoundError as e:
        if (e.name or "").split(".")[0] in ("psycopg", "psycopg2", "psycopg_binary"):
            raise MissingExtra("a PostgreSQL database (--db postgresql://…)", "postgres") from None
        raise
    except ArgumentError as e:
        raise UsageError(f"--db (UNERASED_DB): {_redacted(url)!r} cannot be used: "
                         f"{type(e).__name__}") from None


def _sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for another database, or SQLite in memory)."""
    try:
        u = make_url(url)
    except ArgumentError:
        return None
    if u.get_backend_name() != "sqlite":
        return None
    return Path(u.database or ":memory:")  # in memory: no file, so no archive


def _redacted(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparsable)"


def _first_line(e: BaseException) -> str:
    return driver_detail(e)

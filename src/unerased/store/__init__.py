"""The archive store: the only package that knows SQL.

``Store.open(home, db_url)`` opens (and migrates) the database and the blob store;
``with store.writer() as w:`` is one transaction that also appends ledger leaves;
``Store`` itself answers the read side (:class:`Queries`: accounts, posts, search,
events). The ledger's code reads through typed views on a connection of
``store.reader()`` or ``store.snapshot()``: :class:`LedgerTables` (head, leaves, nodes,
checkpoints, meta), :class:`ArchiveScan` (what ``verify`` reads) and
:class:`ReceiptRows` (what a receipt covers). A database failure becomes a
:class:`~unerased.errors.DatabaseError` (one line: the driver's message, never the
statement or its parameters) at this package's edge.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import SQLAlchemyError

from ..errors import BlobError, DatabaseError, StoreError, WriteConflict
from ..ledger.records import capture_record
from ..model import Capture, parse_iso, utcnow
from . import _schema as schema
from ._blobs import BlobStore
from ._claims import Claimed, ClaimQueries, KnownPost, display_proxy, lease_time
from ._engine import make_engine, migrate
from ._ledger import CheckpointRow, LeafRow, LedgerTables
from ._queries import Queries
from ._receipt_queries import ReceiptRows
from ._verify_queries import LEAFED, ArchiveScan
from ._writer import PostResult, Writer

__all__ = [
    "LEAFED",
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
    "PostResult",
    "Queries",
    "ReceiptRows",
    "Store",
    "StoreError",
    "WriteConflict",
    "Writer",
    "display_proxy",
    "lease_time",
]


class Store(Queries, ClaimQueries):
    def __init__(self, engine: Engine, blobs: BlobStore, home: Path) -> None:
        self.engine = engine
        self.blobs = blobs
        self.home = home

    @classmethod
    def open(cls, home: Path, db_url: str | None = None) -> Store:
        home = Path(home)
        try:
            home.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"cannot create the archive home {home}: {e.strerror}") from None
        url = db_url or f"sqlite:///{(home / 'unerased.sqlite').resolve()}"
        try:
            engine = make_engine(url)
            migrate(engine)
        except SQLAlchemyError as e:
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


_EMPTY_SHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def _first_line(e: BaseException) -> str:
    msg = str(getattr(e, "orig", None) or e).strip().splitlines()
    return msg[0] if msg else type(e).__name__

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

An encrypted home (docs/encryption.md) is opened with its unlocked keys
(``Store.open(..., keys=HomeKeys)``): SQLCipher for the SQLite database, sealed blobs,
the key lock held shared while the store is open.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from .._files import os_reason
from ..errors import (
    BlobError,
    DatabaseError,
    KeyLocked,
    MissingExtra,
    StoreError,
    UsageError,
    WriteConflict,
)
from ..ledger.records import capture_record
from ..model import Capture, parse_iso, utcnow
from . import _schema as schema
from ._alerts import AlertBatch, AlertQueries
from ._backup import PG_BIN_ENV, backup_database, database_is_empty, restore_database
from ._blobs import BlobStore
from ._claims import Claimed, ClaimQueries, KnownPost, display_proxy, lease_time
from ._engine import (
    SQLITE_FILE,
    driver_detail,
    make_engine,
    migrate,
    prepare_home,
    sqlcipher_key_of,
    sqlcipher_module,
)
from ._ledger import CheckpointRow, LeafRow, LedgerTables
from ._pages import PageQueries
from ._publish_queries import PublishRows
from ._queries import Queries
from ._receipt_queries import ReceiptRows
from ._redact import RedactedError, Redaction, RedactQueries
from ._rekey import rotate_keys
from ._state import StateQueries
from ._users import ROLES, UserQueries
from ._verify_queries import LEAFED, ArchiveScan
from ._web import WebQueries
from ._writer import PostResult, Writer

if TYPE_CHECKING:
    from ..vault import HomeKeys, HomeLock

log = logging.getLogger("unerased.store")

__all__ = [
    "LEAFED",
    "PG_BIN_ENV",
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
    "RedactedError",
    "Redaction",
    "StateQueries",
    "Store",
    "StoreError",
    "UserQueries",
    "WebQueries",
    "WriteConflict",
    "Writer",
    "database_is_empty",
    "display_proxy",
    "lease_time",
    "require_sqlcipher",
    "restore_database",
    "rotate_keys",
]


class Store(Queries, ClaimQueries, StateQueries, AlertQueries, UserQueries,
            WebQueries, PageQueries, RedactQueries):
    def __init__(self, engine: Engine, blobs: BlobStore, home: Path, *,
                 lock: HomeLock | None = None, db_key: bytes | None = None) -> None:
        self.engine = engine
        self.blobs = blobs
        self.home = home
        self.db_key = db_key  # the SQLCipher key in use (None: not encrypted)
        self._lock = lock

    @classmethod
    def open(cls, home: Path, db_url: str | None = None, *, create: bool = True,
             keys: HomeKeys | None = None) -> Store:
        """The archive at ``home`` (its SQLite file, or the database ``db_url``), migrated
        to the newest schema. ``create`` False: it must exist already — StoreError ``no
        archive at …`` and nothing created otherwise (for commands that only read).
        ``keys``: the unlocked keys of an encrypted home (KeyLocked when it is encrypted
        and none are given)."""
        from ..vault import HomeLock, is_encrypted, synced_folder

        home = Path(home)
        synced = synced_folder(home)
        if synced is not None:
            log.warning("unerased: warning: the archive home is in a synced folder (%s): "
                        "its copies leave this machine and escape `unerased wipe`", synced)
        if is_encrypted(home) and keys is None:
            raise KeyLocked(f"the archive at {home} is encrypted: give its passphrase (the "
                            "prompt or UNERASED_PASSPHRASE) or its --key-file")
        if keys is not None and not is_encrypted(home):
            raise StoreError(f"the archive at {home} is not encrypted (`unerased init "
                             "--encrypt` makes an encrypted one)")
        if keys is not None and keys.pending is not None:
            log.warning("unerased: warning: a key rotation of the archive at %s was "
                        "interrupted: run `unerased key rotate` again to finish it", home)
        lock = HomeLock(home) if keys is not None else None
        try:
            return cls._open(home, db_url, create, keys, lock)
        except BaseException:
            if lock is not None:
                lock.release()
            raise

    @classmethod
    def _open(cls, home: Path, db_url: str | None, create: bool, keys: HomeKeys | None,
              lock: HomeLock | None) -> Store:
        if not create:
            return cls._open_existing(home, db_url, keys, lock)
        try:
            prepare_home(home, sqlite=db_url is None)  # owner-only, whatever the umask
        except OSError as e:
            raise StoreError(f"cannot create the archive home {home}: {os_reason(e)}") from None
        url = db_url or f"sqlite:///{(home / SQLITE_FILE).resolve()}"
        engine: Engine | None = None
        db_key = _db_key(home, db_url, keys)
        try:
            engine = _engine(url, db_key)
            migrate(engine)
        except SQLAlchemyError as e:
            if engine is not None:  # its pooled connections closed now, not by the collector
                engine.dispose()
            raise StoreError(f"cannot open the database: {_first_line(e)}") from None
        return cls(engine, _blob_store(home, keys), home, lock=lock, db_key=db_key)

    @classmethod
    def _open_existing(cls, home: Path, db_url: str | None, keys: HomeKeys | None = None,
                       lock: HomeLock | None = None) -> Store:
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
        db_key = _db_key(home, db_url, keys)
        engine = _engine(url, db_key)
        try:
            if not set(inspect(engine).get_table_names()) & _MARKS:  # damaged is not absent
                engine.dispose()
                raise StoreError(f"no archive {where} (it has no unerased tables)")
            migrate(engine)
        except SQLAlchemyError as e:
            engine.dispose()
            raise StoreError(f"cannot open the database: {_first_line(e)}") from None
        return cls(engine, _blob_store(home, keys), home, lock=lock, db_key=db_key)

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
        if w.redactions_done:  # committed: the files only they named go (docs/redaction.md)
            freed = [r for r in w.redactions_done if r.blobs]
            if freed:
                removed = self.remove_blobs(set().union(*(r.blobs for r in freed)))
                freed[-1].blobs_removed = removed

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

    def backup_database(self, dest_dir: Path) -> str:
        """A consistent copy of the database into ``dest_dir`` while others write
        (SQLite's online backup API, or ``pg_dump``); returns the file name written."""
        url = self.engine.url.render_as_string(hide_password=False)
        return backup_database(self.engine, None if url.startswith("sqlite") else url,
                               dest_dir, self.db_key)

    def ledger_size(self) -> int:
        with self.reader() as conn:
            return int(
                conn.execute(select(schema.ledger_head.c.size)).scalar_one()
            )

    def iter_captures(self, *, account_pks: Collection[int] | None = None,
                      since: str | None = None) -> Iterator[tuple[Capture, bytes]]:
        """Every raw HTTP capture with its body, in the order they were stored;
        ``account_pks``: only those made for these accounts; ``since``: made at or after
        (ISO)."""
        last = 0
        q = select(schema.captures)
        if account_pks is not None:
            q = q.where(schema.captures.c.account_pk.in_(sorted(account_pks)))
        if since:
            q = q.where(schema.captures.c.started_at >= since)
        while True:
            with self.reader() as conn:
                rows = list(
                    conn.execute(
                        q.where(schema.captures.c.seq > last)
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
        if self._lock is not None:
            self._lock.release()
            self._lock = None


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


def require_sqlcipher(db_url: str | None) -> None:
    """MissingExtra (naming the pip command) when an encrypted home's SQLite database
    could not be opened here: SQLCipher is not installed. Nothing for PostgreSQL."""
    if db_url is None:
        sqlcipher_module()


def _db_key(home: Path, db_url: str | None, keys: HomeKeys | None) -> bytes | None:
    """The SQLCipher key of an encrypted home's SQLite database: the current data key's,
    or the pending one's when an interrupted rotation had re-keyed it already."""
    if keys is None or db_url is not None:
        return None  # PostgreSQL: its operator protects it (docs/encryption.md)
    candidates = [k.db_key for k in keys.all()]
    try:
        found = sqlcipher_key_of(home / SQLITE_FILE, candidates)
    except OSError as e:
        raise StoreError(f"cannot open the database: {os_reason(e)}") from None
    if found is None:
        raise KeyLocked(f"the database of the archive at {home} does not open with its key "
                        "(damaged, or keys/ from another archive)")
    return found


def _blob_store(home: Path, keys: HomeKeys | None) -> BlobStore:
    if keys is None:
        return BlobStore(home / "blobs")
    from ..vault import BlobCipher

    return BlobStore(home / "blobs", BlobCipher(keys))


def _engine(url: str, db_key: bytes | None = None) -> Engine:
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
        return make_engine(url, db_key)
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

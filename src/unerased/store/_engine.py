"""Engines for the two backends, migrations to head, and the home's own files.

The home is owner-only (0700, its files 0600) whatever the umask. A SQLite database is
created 0600 here, before SQLite opens it: SQLite gives the -wal, -shm and -journal files
it makes the database file's own mode (ignoring the umask for them; its test
journal3.test), so they are 0600 too. (The alternative, opening under a temporary umask,
would change the umask of the whole process while other threads — blob writers, a
progress bar — may create files.)
"""

from __future__ import annotations

import contextlib
import logging
import os
import resource
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext, make_url

from .._files import create_private, os_reason, private_dir, tighten
from ..errors import StoreError
from ._fresh import (
    FAST_SCHEMA_REVISION,
    create_schema,
    is_empty,
    lock_schema,
    scripts_head,
    stamped,
)

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_FILE = "unerased.sqlite"
_SIDECARS = ("", "-wal", "-shm", "-journal")

log = logging.getLogger("unerased.store")


def prepare_home(home: Path, *, sqlite: bool) -> None:
    """Make the home (and its missing parents) 0700; in a home that exists, make what
    unerased keeps there owner-only again — the home, the database files, the keys, the
    blob tree's top and temp directories (not every blob: cheap at every open) — and warn
    in one line when the home itself was open to other users. Raises OSError."""
    if private_dir(home):
        return
    try:
        was = tighten(home)
    except OSError as e:  # not ours (a colleague's archive, opened to read it)
        log.warning("unerased: warning: the archive home %s is open to other users (mode "
                    "%04o) and cannot be made owner-only: %s", home,
                    home.stat().st_mode & 0o777, os_reason(e))
        return
    if was is not None:
        log.warning("unerased: warning: the archive home %s was open to other users "
                    "(mode %04o); it is now owner-only (0700)", home, was)
    names = [SQLITE_FILE + s for s in _SIDECARS] if sqlite else []
    keys = home / "keys"
    try:
        extra = list(keys.iterdir()) if keys.is_dir() else []
    except OSError:
        extra = []
    for p in [*(home / n for n in names), keys, *extra, home / "blobs", home / "blobs" / "tmp"]:
        with contextlib.suppress(OSError):  # best effort: what we may not change, we leave
            tighten(p)


def normalise_url(url: str) -> str:
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def make_engine(url: str, db_key: bytes | None = None) -> Engine:
    """An engine for ``url``. ``db_key``: the SQLite database is a SQLCipher one, opened
    with that raw 256-bit key (``PRAGMA key`` is the first statement of every
    connection, before SQLAlchemy or anything else reads the file)."""
    url = normalise_url(url)
    if url.startswith("sqlite") and db_key is not None:
        return _sqlcipher_engine(url, db_key)
    if url.startswith("sqlite"):
        path = _sqlite_path(url)
        if path is not None:
            try:
                create_private(path)  # 0600 before SQLite makes it 0644 & ~umask
            except FileNotFoundError:
                pass  # no such directory: SQLite says so, as it always did
            except OSError as e:
                raise StoreError(f"cannot create the database {path}: {os_reason(e)}") from None
        engine = create_engine(url, connect_args={"timeout": 60})
        _sqlite_setup(engine, path)
        return engine
    if url.startswith("postgresql"):
        return create_engine(url, pool_pre_ping=True)
    raise StoreError(f"unsupported database URL {url!r} (use sqlite:///PATH or postgresql://…)")


def sqlcipher_module() -> Any:
    """SQLCipher's DB-API module (``sqlcipher3``, from the ``encrypt`` extra)."""
    try:
        import sqlcipher3.dbapi2 as sqlcipher  # type: ignore[import-not-found,unused-ignore]
    except ModuleNotFoundError:
        from ..errors import MissingExtra

        raise MissingExtra("an encrypted home (SQLCipher)", "encrypt") from None
    return sqlcipher


def sqlcipher_connect(path: Path, db_key: bytes, *, timeout: float = 60.0) -> Any:
    """A DB-API connection to the SQLCipher database at ``path``, keyed, checked (a wrong
    key fails here: ``file is not a database``)."""
    mod = sqlcipher_module()
    conn = mod.connect(str(path), timeout=timeout, check_same_thread=False)
    try:
        conn.execute("PRAGMA cipher_log_level = NONE")  # no wrong-key noise on stderr
        conn.execute(f"PRAGMA key = \"x'{db_key.hex()}'\"")
        conn.execute("PRAGMA temp_store = MEMORY")  # no temp files, even encrypted ones
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except BaseException:
        conn.close()
        raise
    return conn


def _sqlcipher_engine(url: str, db_key: bytes) -> Engine:
    path = _sqlite_path(url)
    if path is None:
        raise StoreError("an encrypted home needs its database in a file")
    mod = sqlcipher_module()
    try:
        create_private(path)
    except FileNotFoundError:
        pass
    except OSError as e:
        raise StoreError(f"cannot create the database {path}: {os_reason(e)}") from None
    engine = create_engine(url, module=mod)

    @event.listens_for(engine, "do_connect")
    def _keyed(_dialect: Any, _rec: Any, _cargs: Any, _cparams: Any) -> Any:
        return sqlcipher_connect(path, db_key)

    _sqlite_setup(engine, path)
    return engine


def _sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL; None for an in-memory one."""
    u = make_url(url)
    db = u.database or ""
    if not db or db == ":memory:" or db.startswith("file:") or u.query.get("uri"):
        return None
    return Path(db)


def _sqlite_setup(engine: Engine, path: Path | None) -> None:
    @event.listens_for(engine, "handle_error")
    def _why(ctx: ExceptionContext) -> None:
        # SQLite says "disk I/O error" whatever the OS said; name the likely reason
        orig = ctx.original_exception
        name = getattr(orig, "sqlite_errorname", "") or ""
        if path is not None and name.startswith(("SQLITE_IOERR", "SQLITE_FULL")):
            why = _os_reason_for(path)
            if why and why not in str(orig) and orig.args:
                orig.args = (f"{orig.args[0]} ({why})", *orig.args[1:])

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _rec: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see below)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # Writers begin IMMEDIATE: one writer at a time, no lock-upgrade deadlocks.
        conn.exec_driver_sql(conn.get_execution_options().get("sqlite_begin", "BEGIN"))


def driver_detail(e: BaseException) -> str:
    """The driver's own message, first line only: never the statement or its parameters
    (post texts), nor PostgreSQL's DETAIL/CONTEXT lines (which quote rows). A full disk
    on the PostgreSQL server is named as such."""
    orig = getattr(e, "orig", None) or e
    lines = str(orig).strip().splitlines()
    first = lines[0] if lines else type(e).__name__
    if getattr(orig, "sqlstate", None) == "53100" and "space" not in first:
        first += " (the database server's disk is full)"
    return first


def _os_reason_for(db: Path) -> str | None:
    """Why writing the database files failed, as far as the file system tells: a
    read-only file system, no space left, or the process's file size limit reached."""
    try:
        fs = os.statvfs(db.parent)
    except OSError:
        return None
    if fs.f_flag & os.ST_RDONLY:
        return "read-only file system"
    free = (fs.f_bfree if os.geteuid() == 0 else fs.f_bavail) * fs.f_frsize
    if free < (1 << 20):
        return "no space left on device"
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if limit != resource.RLIM_INFINITY:
        for s in _SIDECARS:
            try:
                size = os.stat(f"{db}{s}").st_size
            except OSError:
                continue
            if size + (64 << 10) >= limit:  # within a few pages of it
                return "file too large"
    return None


def migrate(engine: Engine, migrations: Path = MIGRATIONS) -> None:
    """Bring the schema to the newest revision (the head of the scripts in
    ``migrations``). Already there (the common case): one cheap query, without loading
    Alembic. An empty database (a new archive): its schema created directly, in one
    transaction, when the fast path knows that head (``_fresh``). Anything else — an
    archive at an older revision, a damaged one — through Alembic. Creating and
    migrating hold the schema lock: of several processes opening one new archive at
    once, one creates it and the others find it made."""
    head = scripts_head(migrations / "versions")
    if head is not None:
        try:
            with engine.connect() as conn:
                current = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
            if current == head:
                return
        except Exception:  # no alembic_version table yet: a new archive (or a damaged one)
            pass
    with engine.connect().execution_options(sqlite_begin="BEGIN IMMEDIATE") as conn, \
            conn.begin():
        lock_schema(conn)
        if head == FAST_SCHEMA_REVISION and is_empty(conn):
            create_schema(conn, head)
            return
        if head is not None and stamped(conn) == head:  # made meanwhile by another opener
            return
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(migrations))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def sqlcipher_key_of(path: Path, candidates: list[bytes]) -> bytes | None:
    """Which of ``candidates`` opens the SQLCipher database at ``path`` (the first for a
    database not made yet); None when none does."""
    if not path.exists() or path.stat().st_size == 0:
        return candidates[0]
    mod = sqlcipher_module()
    for key in candidates:
        try:
            sqlcipher_connect(path, key, timeout=60.0).close()
        except mod.DatabaseError as e:
            if "not a database" in str(e):  # not this key
                continue
            raise StoreError(f"cannot open the database: {driver_detail(e)}") from None
        return key
    return None


def sqlcipher_rekey(path: Path, old_key: bytes, new_key: bytes) -> None:
    """Re-encrypt the SQLCipher database at ``path`` from ``old_key`` to ``new_key``
    (``PRAGMA rekey``: one transaction, so a crash leaves it whole under one key or the
    other), then check that the new key opens it."""
    conn = sqlcipher_connect(path, old_key)
    try:
        conn.isolation_level = None
        conn.execute("PRAGMA busy_timeout = 60000")
        conn.execute(f"PRAGMA rekey = \"x'{new_key.hex()}'\"")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    sqlcipher_connect(path, new_key).close()

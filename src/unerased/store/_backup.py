"""The database's half of ``unerased backup`` / ``restore``: a consistent copy of the
database while the collector writes, and its way back.

- SQLite: SQLite's online backup API (``sqlite3.Connection.backup`` in one step: one
  read transaction, so one state of the database, while writers go on in WAL mode)
  into a new 0600 file.
- PostgreSQL: ``pg_dump --format=custom`` (one repeatable-read snapshot), restored by
  ``pg_restore --single-transaction`` into an empty database. The password goes to the
  tools in ``PGPASSWORD``, never on their command line (which ``ps`` shows).
"""

from __future__ import annotations

import glob
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import Engine, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from .._files import create_private, os_reason
from ..errors import StoreError, UsageError, one_line

__all__ = ["PG_BIN_ENV", "backup_database", "database_is_empty", "pg_tool", "restore_database"]

PG_BIN_ENV = "UNERASED_PG_BIN"
"""A directory holding ``pg_dump`` and ``pg_restore`` (else ``PATH``, else the newest
``/usr/lib/postgresql/*/bin``)."""


def pg_tool(name: str) -> str:
    """The path of PostgreSQL's ``pg_dump`` / ``pg_restore``; StoreError when none."""
    where = os.environ.get(PG_BIN_ENV)
    if where:
        p = Path(where) / name
        if p.is_file():
            return str(p)
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                      key=lambda p: [int(x) if x.isdigit() else 0 for x in p.split("/")])
    if versions:
        return versions[-1]
    raise StoreError(f"{name} not found: install PostgreSQL's client tools or set "
                     f"{PG_BIN_ENV} to the directory holding them")


def _libpq(db_url: str) -> tuple[str, dict[str, str]]:
    """(a libpq URI without the password, the environment carrying it)."""
    try:
        u = make_url(db_url)
    except ArgumentError as e:
        raise UsageError(one_line(f"not a database URL: {e}")) from None
    env = dict(os.environ)
    if u.password is not None:
        env["PGPASSWORD"] = str(u.password)
    plain = u.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(args: list[str], env: dict[str, str], what: str) -> None:
    try:
        done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    except OSError as e:
        raise StoreError(f"cannot run {args[0]}: {os_reason(e)}") from None
    if done.returncode != 0:
        lines = [ln for ln in (done.stderr or "").splitlines() if ln.strip()]
        raise StoreError(one_line(f"{what} failed: {lines[0] if lines else done.returncode}"))


def backup_database(engine: Engine, db_url: str | None, dest_dir: Path,
                    db_key: bytes | None = None) -> str:
    """Copy the database into ``dest_dir``; returns the file name written
    (``database.sqlite`` or ``database.pgdump``). Consistent while others write. An
    encrypted (SQLCipher) database is copied into a SQLCipher database keyed with the
    same ``db_key``: it stays encrypted, no page of it is ever written in clear."""
    if engine.dialect.name == "sqlite":
        dest = dest_dir / "database.sqlite"
        if not create_private(dest):
            raise StoreError(f"{dest} exists already")
        raw = engine.raw_connection()
        try:
            src = raw.driver_connection
            if src is None:
                raise StoreError("the database connection is closed")
            if db_key is not None:
                from ._engine import sqlcipher_connect, sqlcipher_module

                errors: tuple[type[Exception], ...] = (sqlcipher_module().Error,)
                dst = sqlcipher_connect(dest, db_key)
            else:
                if not isinstance(src, sqlite3.Connection):
                    raise StoreError("the SQLite driver has no online backup API")
                errors = (sqlite3.Error,)
                dst = sqlite3.connect(dest)
            try:
                src.backup(dst)  # pages=-1: one step, one read transaction
            except errors as e:
                raise StoreError(one_line(f"cannot copy the database: {e}")) from None
            finally:
                dst.close()
        except sqlite3.Error as e:
            raise StoreError(one_line(f"cannot copy the database: {e}")) from None
        finally:
            raw.close()
        return dest.name
    if db_url is None:
        raise StoreError("no database URL to dump")
    dest = dest_dir / "database.pgdump"
    if not create_private(dest):
        raise StoreError(f"{dest} exists already")
    uri, env = _libpq(db_url)
    _run([pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
          f"--file={dest}", f"--dbname={uri}"], env, "pg_dump")
    os.chmod(dest, 0o600)
    return dest.name


def database_is_empty(db_url: str) -> bool:
    """Whether the database ``db_url`` holds no table at all."""
    from ._engine import make_engine

    engine = make_engine(db_url)
    try:
        return not inspect(engine).get_table_names()
    except SQLAlchemyError as e:
        raise StoreError(one_line(f"cannot open the database: {str(e).splitlines()[0]}")
                         ) from None
    finally:
        engine.dispose()


def restore_database(src: Path, home: Path, db_url: str | None) -> None:
    """Put the database copy ``src`` (``database.sqlite`` or ``database.pgdump``) back:
    as ``HOME/unerased.sqlite``, or into the empty PostgreSQL database ``db_url``."""
    from ._engine import SQLITE_FILE

    if src.name == "database.sqlite":
        if db_url is not None:
            raise UsageError("this backup holds a SQLite database: restore it without --db")
        dest = home / SQLITE_FILE
        if not create_private(dest):
            raise UsageError(f"{dest} exists already: restore into an empty home")
        with src.open("rb") as fin, dest.open("r+b") as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)
            fout.flush()
            os.fsync(fout.fileno())
        return
    if db_url is None:
        raise UsageError("this backup holds a PostgreSQL dump: give --db URL of an empty "
                         "database to restore it into")
    if not database_is_empty(db_url):
        raise UsageError("the database named by --db is not empty: restore into an empty one")
    uri, env = _libpq(db_url)
    _run([pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error",
          "--single-transaction", f"--dbname={uri}", str(src)], env, "pg_restore")

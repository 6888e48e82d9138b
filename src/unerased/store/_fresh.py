"""A new archive's schema, created directly: no Alembic.

Alembic loads its machinery and replays every migration (0001 → head) for a new
archive: ~0.13 s on the critical path of every first ``unerased import`` (the writer
cannot start before the store is open). A new archive instead gets, in one transaction,
what the migrations would have made: the tables and indexes of ``_schema.metadata``, what
the migrations create outside it (the full-text index ``post_fts``: an FTS5 virtual table
on SQLite, a table with a GIN index on PostgreSQL; the ``ledger_head`` row), and the
``alembic_version`` stamp at the head. An existing archive goes through Alembic
(``_engine.migrate``), as does every database that is not empty.

This path is used only while :data:`FAST_SCHEMA_REVISION` is the migration scripts' head
(:func:`scripts_head`, read from the version files without Alembic): a migration added
without updating this module sends new archives through Alembic rather than giving them
a wrong schema, and ``tests/test_store_schema.py`` fails (it compares this schema with
``alembic upgrade head``'s, object by object and row by row, on both backends).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from sqlalchemy import Column, Connection, MetaData, PrimaryKeyConstraint, String, Table

from ._schema import ledger_head, metadata

FAST_SCHEMA_REVISION = "0007"
"""The revision whose schema :func:`create_schema` makes. Update it, and what
:func:`create_schema` adds beside the metadata, with every new migration."""

# Alembic's own version table (alembic.ddl.impl.DefaultImpl.version_table_impl)
_VERSION = Table(
    "alembic_version", MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)

# what migration 0001 creates outside the metadata: the full-text index of post versions
_FTS = {
    "sqlite": ("CREATE VIRTUAL TABLE post_fts USING fts5(terms, content='', "
               "tokenize='unicode61 remove_diacritics 2')",),
    "postgresql": ("CREATE TABLE post_fts (version_pk BIGINT PRIMARY KEY, terms TSVECTOR NOT NULL)",
                   "CREATE INDEX ix_post_fts_terms ON post_fts USING GIN (terms)"),
}

# PostgreSQL: the transaction-level advisory lock that serialises creating and migrating
# a database's schema (advisory locks are per database); "unerased" in ASCII
_PG_SCHEMA_LOCK = 0x756E657261736564

_ASSIGN = re.compile(r"^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(.+?)\s*$", re.MULTILINE)


def scripts_head(versions: Path) -> str | None:
    """The head revision of the migration scripts in ``versions``, read from their
    ``revision =`` and ``down_revision =`` lines (cheap: no Alembic). None when it is not
    exactly one revision (no scripts, several heads, a line missing or unreadable): then
    nothing but Alembic may decide."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in versions.glob("*.py"):
        found = {m[1]: m[2] for m in _ASSIGN.finditer(path.read_text(encoding="utf-8"))}
        try:
            rev = ast.literal_eval(found["revision"])
            down = ast.literal_eval(found["down_revision"])
        except (KeyError, ValueError, SyntaxError):
            return None
        if not isinstance(rev, str):
            return None
        downs = down if isinstance(down, (tuple, list)) else (down,)
        if not all(d is None or isinstance(d, str) for d in downs):
            return None
        revisions.add(rev)
        revised.update(d for d in downs if d is not None)
    heads = revisions - revised
    return heads.pop() if len(heads) == 1 else None


def lock_schema(conn: Connection) -> None:
    """Within the transaction just begun on ``conn``: hold the lock under which one
    opener at a time creates or migrates the schema; others wait for it, then see its
    work. SQLite: the transaction began with ``BEGIN IMMEDIATE`` (the caller's
    ``sqlite_begin`` option) and holds the write lock already. PostgreSQL: a
    transaction-level advisory lock, released at commit or rollback."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_SCHEMA_LOCK})")


def is_empty(conn: Connection) -> bool:
    """True when the database has no schema objects at all (SQLite: nothing in
    ``sqlite_master``; PostgreSQL: no relation in the current schema). Anything else —
    an archive, a damaged one, someone else's tables — is not new: Alembic decides."""
    if conn.dialect.name == "sqlite":
        return conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar() == 0
    return conn.exec_driver_sql(
        "SELECT current_schema() IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c"
        " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = current_schema())"
    ).scalar() is True


def stamped(conn: Connection) -> str | None:
    """The revision in ``alembic_version``; None when there is no such table (asked of
    the catalog first: a failed statement would abort a PostgreSQL transaction)."""
    if conn.dialect.name == "sqlite":
        there = conn.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
        ).scalar()
    else:
        there = conn.exec_driver_sql("SELECT to_regclass('alembic_version')").scalar()
    if there is None:
        return None
    value = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    return None if value is None else str(value)


def create_schema(conn: Connection, revision: str) -> None:
    """Create the schema of :data:`FAST_SCHEMA_REVISION` on ``conn`` (an empty database,
    in the caller's transaction, under :func:`lock_schema`) and stamp it ``revision``."""
    if revision != FAST_SCHEMA_REVISION:
        raise ValueError(f"the fast schema is {FAST_SCHEMA_REVISION}, not {revision}")
    metadata.create_all(conn, checkfirst=False)
    for sql in _FTS[conn.dialect.name]:
        conn.exec_driver_sql(sql)
    conn.execute(ledger_head.insert().values(id=1, size=0))
    _VERSION.create(conn, checkfirst=False)
    conn.execute(_VERSION.insert().values(version_num=revision))

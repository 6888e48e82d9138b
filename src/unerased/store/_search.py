"""Full-text search over every version of every post, on both backends.

Terms come from :mod:`unerased.text.tokenize` (CJK bigrams, case-folded words), so both
backends index and match exactly the same tokens: SQLite in a contentless FTS5 table
(rowid = version id), PostgreSQL as a ``tsvector('simple', …)`` with a GIN index.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, text

from ..text import tokenize
from ._bulk import execute_rows

__all__ = ["index_sql", "matching_versions_sql", "rebuild_terms"]

REBUILD_BATCH = 2000
"""Post versions read, tokenized and written per round by :func:`rebuild_terms`."""


def index_sql(conn: Connection) -> str:
    """INSERT statement indexing versions, for ``executemany`` over
    (version id, terms from ``tokenize.index_terms``)."""
    if conn.dialect.name == "sqlite":
        return "INSERT INTO post_fts (rowid, terms) VALUES (?, ?)"
    return "INSERT INTO post_fts (version_pk, terms) VALUES (%s, to_tsvector('simple', %s))"


def matching_versions_sql(conn: Connection, query: str) -> tuple[str, dict[str, Any]] | None:
    """A SQL fragment selecting the ids of matching versions (column ``vid``), or None
    when the query has no searchable term."""
    if not tokenize.query_terms(query):
        return None
    if conn.dialect.name == "sqlite":
        return (
            "SELECT rowid AS vid FROM post_fts WHERE post_fts MATCH :q",
            {"q": tokenize.fts5_match(query)},
        )
    return (
        "SELECT version_pk AS vid FROM post_fts WHERE terms @@ to_tsquery('simple', :q)",
        {"q": tokenize.pg_tsquery(query)},
    )


def rebuild_terms(conn: Connection, terms: Callable[[str], str] = tokenize.index_terms,
                  batch: int = REBUILD_BATCH) -> int:
    """Recompute the full-text terms of every post version from its stored text with
    ``terms`` (the current tokenizer by default), in batches of ``batch`` versions read
    in id order, in the caller's transaction; returns how many versions it indexed. The
    data migrations that follow a change of ``tokenize.TERMS_VERSION`` call it (0007).

    The index is emptied and refilled rather than updated row by row: SQLite's
    contentless FTS5 table can only delete a row given the very terms it was indexed
    with, which a newer tokenizer (or a newer Unicode in Python) cannot be trusted to
    recompute. On PostgreSQL the GIN index is dropped while the rows go in and built
    once at the end, which is several times faster than maintaining it row by row."""
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        conn.exec_driver_sql("INSERT INTO post_fts (post_fts) VALUES ('delete-all')")
    else:
        conn.exec_driver_sql("DROP INDEX IF EXISTS ix_post_fts_terms")
        conn.exec_driver_sql("TRUNCATE post_fts")
    sql = index_sql(conn)
    select = text("SELECT id, text FROM post_versions WHERE id > :last ORDER BY id LIMIT :n")
    last: int | None = None
    done = 0
    while True:
        if last is None:
            rows = conn.execute(text("SELECT id, text FROM post_versions ORDER BY id LIMIT :n"),
                                {"n": batch}).all()
        else:
            rows = conn.execute(select, {"last": last, "n": batch}).all()
        if not rows:
            break
        execute_rows(conn, sql, [(vid, terms(body)) for vid, body in rows])
        done += len(rows)
        last = rows[-1][0]
    if not sqlite:  # as migration 0001 and _fresh make it
        conn.exec_driver_sql("CREATE INDEX ix_post_fts_terms ON post_fts USING GIN (terms)")
    return done

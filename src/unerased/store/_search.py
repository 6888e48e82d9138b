"""Full-text search over every version of every post, on both backends.

Terms come from :mod:`unerased.text.tokenize` (CJK bigrams, case-folded words), so both
backends index and match exactly the same tokens: SQLite in a contentless FTS5 table
(rowid = version id), PostgreSQL as a ``tsvector('simple', …)`` with a GIN index.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from ..text import tokenize


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

"""Text, pure (no I/O): search terms and hostile input.

:mod:`~unerased.text.tokenize` — CJK bigram and word search terms, the same on SQLite
FTS5 and PostgreSQL, safe query translation, snippets (docs/search.md);
:mod:`~unerased.text.fold` — Traditional → Simplified folding of search terms (OpenCC,
per character, loaded only for text that has Han characters);
:mod:`~unerased.text.hostile` — the helpers every reader of platform answers and
archive files uses on what they send (never raise on bad data).
"""

from __future__ import annotations

from . import fold, hostile, tokenize
from .fold import fold_han
from .hostile import (
    first_line,
    html_to_text,
    iso_version,
    one_line,
    safe_datetime,
    safe_dict,
    safe_list,
    safe_str,
)
from .tokenize import (
    fts5_match,
    index_terms,
    matches,
    parse_query,
    pg_tsquery,
    query_terms,
    snippet,
)

__all__ = [
    "first_line",
    "fold",
    "fold_han",
    "fts5_match",
    "hostile",
    "html_to_text",
    "index_terms",
    "iso_version",
    "matches",
    "one_line",
    "parse_query",
    "pg_tsquery",
    "query_terms",
    "safe_datetime",
    "safe_dict",
    "safe_list",
    "safe_str",
    "snippet",
    "tokenize",
]

"""The per-post work of an import that needs no database: the post's raw JSON text, its
content hash, its search terms. The import's reader process does it (see ingest), so
this module imports nothing heavy: the reader is forked before SQLAlchemy is loaded."""

from __future__ import annotations

import json
from typing import Any, NamedTuple

import orjson

from .model import PostSnapshot
from .text.tokenize import index_terms


class Prepared(NamedTuple):
    """The per-post work that needs no database (content hash, raw JSON text, search
    terms): :func:`prepare` computes it, possibly in another process (see ingest)."""

    content_hash: str
    raw_json: str | None
    terms: str


def raw_json(raw: Any) -> str:
    """A platform's object as compact JSON text (what ``post_versions.raw_json`` keeps).
    orjson is six times faster than ``json`` here, on every post of every import; what it
    refuses (a lone surrogate, an integer past 64 bits) goes through ``json``."""
    try:
        return orjson.dumps(raw).decode("utf-8")
    except (TypeError, ValueError):  # orjson.JSONEncodeError is a TypeError
        return json.dumps(raw, ensure_ascii=False, separators=(",", ":"))


def prepare(sn: PostSnapshot) -> Prepared:
    raw = None if sn.raw is None else raw_json(sn.raw)
    return Prepared(sn.content_hash(), raw, index_terms(sn.text))



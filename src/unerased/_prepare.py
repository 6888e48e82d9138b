"""The per-post work of an import that needs no database: the post's raw JSON text, its
content hash, its search terms. The import's reader process does it (see ingest), so
this module imports nothing heavy: the reader is forked before SQLAlchemy is loaded."""

from __future__ import annotations

from typing import Any, NamedTuple

import orjson

from .model import PostSnapshot, iso, sha256_hex, storable_json
from .text.tokenize import index_terms


class Prepared(NamedTuple):
    """The per-post work that needs no database: :func:`prepare` computes it, possibly
    in another process (see ingest), which takes it off the writer's hands."""

    content_hash: str
    raw_json: str | None
    raw_sha256: str | None
    terms: str
    created_at: str | None  # the snapshot's times as stored (model.iso)
    edited_at: str | None
    observed_at: str | None


def raw_json(raw: Any) -> str:
    """A platform's object as compact JSON text (what ``post_versions.raw_json`` keeps).
    orjson is six times faster than ``json`` here, on every post of every import; what it
    refuses (a lone surrogate, an integer past 64 bits) goes through ``json``; a lone
    surrogate is then kept as its ``\\uXXXX`` escape (exact, and storable as UTF-8)."""
    try:
        return orjson.dumps(raw).decode("utf-8")
    except (TypeError, ValueError):  # orjson.JSONEncodeError is a TypeError
        return storable_json(raw)


def prepare(sn: PostSnapshot) -> Prepared:
    raw = None if sn.raw is None else raw_json(sn.raw)
    return Prepared(
        sn.content_hash(), raw, None if raw is None else sha256_hex(raw.encode("utf-8")),
        index_terms(sn.text), iso(sn.created_at), iso(sn.edited_at), iso(sn.observed_at),
    )



"""The reads a receipt makes to find the rows that concern one post.

:mod:`unerased.ledger.receipt` decides what a receipt covers (a post's versions, its
account's status history and events, the media completions of its versions, the
captures and imports they name);
:class:`ReceiptRows` runs the queries, through one connection.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, or_, select

from . import _schema as s


class ReceiptRows:
    """Rows a receipt is made of, looked up through one connection (one transaction)."""

    __slots__ = ("conn",)

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def posts_with_post_id(self, post_id: str) -> list[Any]:
        """Every post with this platform post id (any account), in row order."""
        p = s.posts.c
        return list(self.conn.execute(
            select(s.posts).where(p.post_id == post_id).order_by(p.id)).mappings())

    def post_by_pk(self, pk: int) -> list[Any]:
        """The post with this row number (a list of at most one)."""
        return list(self.conn.execute(select(s.posts).where(s.posts.c.id == pk)).mappings())

    def version_sources(self, post_pk: int) -> list[tuple[int, str | None]]:
        """``(id, source)`` of a post's versions, oldest first."""
        v = s.post_versions.c
        return [(r.id, r.source) for r in self.conn.execute(
            select(v.id, v.source).where(v.post_pk == post_pk).order_by(v.seq))]

    def completion_sources(self, version_pks: Sequence[int]) -> list[tuple[int, str | None]]:
        """``(id, source)`` of the media completions of these versions, in row order."""
        if not version_pks:
            return []
        c = s.media_completions.c
        return [(r.id, r.source) for r in self.conn.execute(
            select(c.id, c.source).where(c.version_pk.in_(list(version_pks))).order_by(c.id))]

    def status_sources(self, account_pk: int) -> list[tuple[int, str | None]]:
        """``(id, source)`` of an account's status history, oldest first."""
        st = s.account_status.c
        return [(r.id, r.source) for r in self.conn.execute(
            select(st.id, st.source).where(st.account_pk == account_pk).order_by(st.id))]

    def post_events(self, account_pk: int, post_pk: int, post_id: str) -> list[tuple[int, str]]:
        """``(id, evidence_json)`` of the events of a post (by row or post id) and of its
        account (no post), in row order."""
        e = s.events.c
        return [(r.id, r.evidence_json) for r in self.conn.execute(
            select(e.id, e.evidence_json).where(
                e.account_pk == account_pk,
                or_(e.post_pk == post_pk, e.post_id == post_id, e.post_id.is_(None)),
            ).order_by(e.id))]

    def existing_captures(self, ids: Sequence[str]) -> list[str]:
        """Which of these capture ids are stored."""
        c = s.captures.c
        out: list[str] = []
        for i in range(0, len(ids), 500):
            out += [str(r.id) for r in self.conn.execute(
                select(c.id).where(c.id.in_(ids[i : i + 500])))]
        return out

    def redactions_naming(self, capture_ids: Sequence[str]) -> list[int]:
        """Ids of the redactions that removed any of these captures."""
        want = set(capture_ids)
        return [int(r.id) for r in self.conn.execute(
            select(s.redactions.c.id, s.redactions.c.captures_json).order_by(s.redactions.c.id))
            if want & set(json.loads(r.captures_json))]

    def imports_with_sha256(self, shas: Sequence[str]) -> list[int]:
        """Row ids of the imports of archives with these sha256 digests."""
        if not shas:
            return []
        return [int(r.id) for r in self.conn.execute(
            select(s.imports.c.id).where(s.imports.c.sha256.in_(list(shas))))]

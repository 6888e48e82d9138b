"""Reads of the web UI's deeper pages (``unerased serve``): the overview's chart data,
an account's timeline and status history, a post's raw captures, the collector's
accounts due and failing. Keyset pages (after a sort key, never an offset)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from ..errors import BlobError
from ..model import Capture
from ..refs import account_uri
from . import _schema as s
from ._blobs import BlobStore

__all__ = ["CLOSURE_TYPES", "PageQueries"]

CLOSURE_TYPES = ("account_deleted", "account_suspended", "account_deactivated")
_CHUNK = 500


def _tags(raw: str | None) -> dict[str, Any]:
    try:
        got = json.loads(raw or "{}")
    except ValueError:
        return {}
    return got if isinstance(got, dict) else {}


class PageQueries:
    """The pages' side of :class:`~unerased.store.Store` (a mixin: it needs ``reader``
    and ``blobs``)."""

    blobs: BlobStore

    def reader(self) -> AbstractContextManager[Connection]:  # provided by Store
        raise NotImplementedError

    # ------------------------------------------------------------- overview

    def event_counts_by_day(self, since: str) -> list[tuple[str, str, int]]:
        """``(day, type, count)`` of the events detected at ``since`` or later (ISO
        time), ``day`` as ``YYYY-MM-DD`` (UTC), in day order."""
        e = s.events.c
        day = func.substr(e.at, 1, 10)
        with self.reader() as conn:
            rows = conn.execute(select(day, e.type, func.count()).where(e.at >= since)
                                .group_by(day, e.type).order_by(day, e.type)).all()
        return [(str(d), str(t), int(n)) for d, t, n in rows]

    def tag_keys(self) -> list[str]:
        """Every tag key some account has, sorted."""
        a = s.accounts.c
        with self.reader() as conn:
            rows = conn.execute(select(a.tags_json).where(a.tags_json != "{}")
                                .distinct()).scalars().all()
        return sorted({str(k) for raw in rows for k in _tags(raw)})

    def closures_by_tag(self, key: str) -> dict[str, dict[str, int]]:
        """Account closure events (deleted, suspended, deactivated) by the value of
        the accounts' tag ``key`` ("" for accounts without it), then by type."""
        e, a = s.events.c, s.accounts.c
        with self.reader() as conn:
            rows = conn.execute(
                select(a.tags_json, e.type, func.count())
                .join_from(s.events, s.accounts, a.id == e.account_pk)
                .where(e.type.in_(CLOSURE_TYPES)).group_by(a.tags_json, e.type)).all()
        out: dict[str, dict[str, int]] = {}
        for raw, kind, n in rows:
            value = _tags(raw).get(key)
            label = "" if value is None else str(value)
            by_type = out.setdefault(label, {})
            by_type[str(kind)] = by_type.get(str(kind), 0) + int(n)
        return out

    # ------------------------------------------------------------- an account

    def account_timeline(self, account_pk: int, *, before: tuple[str, int] | None,
                         limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` posts of an account, newest first (by ``created_at``, then
        row id; ``before`` the ``(created_at or "", id)`` of the last row shown), each
        with its latest text, its count of versions, and for a deleted post its
        reason and the ``last_seen``/``first_missing`` bounds of the deletion (from
        its ``post_deleted`` event, else from the post row)."""
        p, v = s.posts.c, s.post_versions.c
        created = func.coalesce(p.created_at, "")
        q = (select(s.posts, created.label("sort_at"), v.text.label("latest_text"))
             .join_from(s.posts, s.post_versions,
                        and_(v.post_pk == p.id, v.seq == p.n_versions), isouter=True)
             .where(p.account_pk == account_pk)
             .order_by(created.desc(), p.id.desc()).limit(limit))
        if before is not None:
            q = q.where(or_(created < before[0], and_(created == before[0], p.id < before[1])))
        e = s.events.c
        with self.reader() as conn:
            rows = conn.execute(q).mappings().all()
            pks = [r["id"] for r in rows]
            deletions: dict[int, dict[str, Any]] = {}
            for i in range(0, len(pks), _CHUNK):
                for ev in conn.execute(
                        select(e.post_pk, e.at, e.detail_json)
                        .where(e.type == "post_deleted", e.post_pk.in_(pks[i:i + _CHUNK]))
                        .order_by(e.at, e.id)).mappings():
                    deletions[ev["post_pk"]] = {"at": ev["at"], **_tags(ev["detail_json"])}
        out = []
        for r in rows:
            d = deletions.get(r["id"], {})
            out.append({
                "id": r["id"], "post_id": r["post_id"], "url": r["url"],
                "created_at": r["created_at"], "sort_at": r["sort_at"], "kind": r["kind"],
                "status": r["status"], "text": r["latest_text"] or "",
                "versions": r["n_versions"], "edited": r["n_versions"] > 1,
                "first_seen": r["first_seen"],
                "last_seen": d.get("last_seen") or r["last_seen"],
                "first_missing": d.get("first_missing") or r["first_missing"],
                "deleted_at": r["deleted_at"] or d.get("at"),
                "deleted_reason": r["deleted_reason"] or d.get("reason"),
            })
        return out

    def account_status_history(self, account_pk: int, limit: int = 200
                               ) -> list[dict[str, Any]]:
        """The account's recorded states (``account_status`` rows), oldest first, the
        last ``limit`` of them, each with its status, handle and display name."""
        st = s.account_status.c
        with self.reader() as conn:
            rows = conn.execute(
                select(st.id, st.at, st.status, st.handle, st.display_name, st.source)
                .where(st.account_pk == account_pk).order_by(st.id.desc()).limit(limit)
            ).mappings().all()
        return [dict(r) for r in reversed(rows)]

    # ------------------------------------------------------------- a post

    def captures_by_id(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """The raw captures ``ids`` (those that exist), in the order they were made:
        their id, time, request, status, body digest and size."""
        c = s.captures.c
        out: list[dict[str, Any]] = []
        with self.reader() as conn:
            for i in range(0, len(ids), _CHUNK):
                out += [dict(r) for r in conn.execute(
                    select(c.id, c.seq, c.started_at, c.method, c.url, c.status, c.error,
                           c.body_sha256, c.request_body_sha256)
                    .where(c.id.in_(list(ids[i:i + _CHUNK])))).mappings()]
        out.sort(key=lambda r: r["seq"])
        for r in out:
            try:
                r["body_size"] = self.blobs.path(r["body_sha256"]).stat().st_size
            except (OSError, BlobError):
                r["body_size"] = None
        return out

    def capture_pairs(self, ids: Sequence[str]) -> list[tuple[Capture, bytes]]:
        """The raw captures ``ids`` with their bodies (for a WARC), in the order they
        were made."""
        from . import capture_from_row

        c = s.captures.c
        rows: list[Any] = []
        with self.reader() as conn:
            for i in range(0, len(ids), _CHUNK):
                rows += conn.execute(select(s.captures)
                                     .where(c.id.in_(list(ids[i:i + _CHUNK])))).mappings().all()
        rows.sort(key=lambda r: r["seq"])
        out = []
        for r in rows:
            cap = capture_from_row(r, self.blobs)
            out.append((cap, cap.body))
        return out

    # ------------------------------------------------------------- status

    def failing_accounts(self, limit: int = 20) -> list[dict[str, Any]]:
        """Watched accounts whose last check failed, latest check first."""
        a = s.accounts.c
        with self.reader() as conn:
            rows = conn.execute(
                select(a.id, a.platform, a.handle, a.account_id, a.check_error, a.last_check)
                .where(a.watched.is_(True), a.check_error.is_not(None))
                .order_by(a.last_check.desc()).limit(limit)).mappings().all()
        return [{"id": r["id"], "account": account_uri(r["platform"], r["handle"],
                                                       r["account_id"]),
                 "error": r["check_error"], "at": r["last_check"]} for r in rows]

    def due_counts(self, now: str) -> dict[str, int]:
        """Watched accounts, and those due (never checked, or ``next_check`` at or
        before ``now``)."""
        a = s.accounts.c
        with self.reader() as conn:
            watched = conn.execute(select(func.count()).where(a.watched.is_(True))).scalar_one()
            due = conn.execute(select(func.count()).where(
                a.watched.is_(True), or_(a.next_check.is_(None), a.next_check <= now))
            ).scalar_one()
        return {"watched": int(watched), "due": int(due)}

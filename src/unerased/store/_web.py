"""Reads of the web UI (``unerased serve``) that the CLI's queries do not answer: the
overview's counts, and cursor pages (keyset: a page after a sort key, never an offset,
so a deep page costs what the first does) of accounts and events."""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from ..refs import account_uri
from . import _schema as s
from ._queries import event_json

__all__ = ["WebQueries"]


def _account_row(r: Any) -> dict[str, Any]:
    return {"id": r["id"], "platform": r["platform"], "account": r["handle"],
            "account_id": r["account_id"], "display_name": r["display_name"],
            "status": r["status"], "url": r["url"], "watched": bool(r["watched"]),
            "uri": account_uri(r["platform"], r["handle"], r["account_id"]),
            "tags": json.loads(r["tags_json"] or "{}"), "last_check": r["last_check"],
            "check_error": r["check_error"]}


class WebQueries:
    """The web side of :class:`~unerased.store.Store` (a mixin: it needs ``reader``)."""

    def reader(self) -> AbstractContextManager[Connection]:  # provided by Store
        raise NotImplementedError

    def overview_counts(self) -> dict[str, Any]:
        """How many accounts (watched, by status), posts (deleted), events (by type)."""
        a, p, e = s.accounts.c, s.posts.c, s.events.c
        with self.reader() as conn:
            by_status = {r[0]: r[1] for r in conn.execute(
                select(a.status, func.count()).group_by(a.status))}
            watched = conn.execute(select(func.count()).where(a.watched.is_(True))).scalar_one()
            posts = {r[0]: r[1] for r in conn.execute(
                select(p.status, func.count()).group_by(p.status))}
            events = {r[0]: r[1] for r in conn.execute(
                select(e.type, func.count()).group_by(e.type))}
        return {"accounts": sum(by_status.values()), "watched": watched,
                "accounts_by_status": by_status, "posts": sum(posts.values()),
                "deleted_posts": posts.get("deleted", 0), "posts_by_status": posts,
                "events": sum(events.values()), "events_by_type": events}

    def accounts_page(self, *, after: int | None, limit: int, watched_only: bool = False,
                      status: str | None = None,
                      account_pks: Sequence[int] | None = None) -> list[dict[str, Any]]:
        """Up to ``limit`` accounts in id order after the id ``after``, each with its
        count of deleted posts. ``account_pks``: only these accounts."""
        a, p = s.accounts.c, s.posts.c
        deleted = (select(func.count()).where(p.account_pk == a.id, p.status == "deleted")
                   .scalar_subquery().label("deleted_posts"))
        q = select(s.accounts, deleted).order_by(a.id).limit(limit)
        if after is not None:
            q = q.where(a.id > after)
        if watched_only:
            q = q.where(a.watched.is_(True))
        if status:
            q = q.where(a.status == status)
        if account_pks is not None:
            q = q.where(a.id.in_(list(account_pks)))
        with self.reader() as conn:
            rows = conn.execute(q).mappings().all()
        return [{**_account_row(r), "deleted_posts": r["deleted_posts"]} for r in rows]

    def accounts_tagged(self, key: str, value: str) -> list[int]:
        """The row ids of the accounts whose tags hold ``key`` = ``value``."""
        a = s.accounts.c
        with self.reader() as conn:
            rows = conn.execute(select(a.id, a.tags_json).where(a.tags_json != "{}")).all()
        out = []
        for pk, tags_json in rows:
            tags = json.loads(tags_json or "{}")
            if isinstance(tags, dict) and tags.get(key) == value:
                out.append(pk)
        return out

    def events_page(self, *, before: tuple[str, int] | None, limit: int,
                    type: str | None = None, account_pk: int | None = None,
                    account_pks: Sequence[int] | None = None,
                    since: str | None = None) -> list[dict[str, Any]]:
        """Up to ``limit`` events, newest first, older than the ``(at, id)`` ``before``;
        each with its row ``id`` (the cursor's key), ``account_pk`` and ``post_pk``
        (row ids, for links) beside DESIGN.md's event JSON. ``account_pks``: only
        events of these accounts; ``since``: only events at that time or later."""
        e, a = s.events.c, s.accounts.c
        q = (select(s.events, a.platform.label("acc_platform"), a.handle.label("acc_handle"),
                    a.account_id.label("acc_account_id"))
             .join_from(s.events, s.accounts, a.id == e.account_pk, isouter=True)
             .order_by(e.at.desc(), e.id.desc()).limit(limit))
        if before is not None:
            q = q.where(or_(e.at < before[0], and_(e.at == before[0], e.id < before[1])))
        if type:
            q = q.where(e.type == type)
        if account_pk is not None:
            q = q.where(e.account_pk == account_pk)
        if account_pks is not None:
            q = q.where(e.account_pk.in_(list(account_pks)))
        if since:
            q = q.where(e.at >= since)
        with self.reader() as conn:
            rows = conn.execute(q).mappings().all()
        return [{"id": r["id"], "account_pk": r["account_pk"], "post_pk": r["post_pk"],
                 **event_json(r)} for r in rows]

    def media_info(self, sha256: str) -> dict[str, Any] | None:
        """The media type and file name a stored media file was captured with; None
        when no media row names that digest."""
        m = s.media.c
        with self.reader() as conn:
            r = conn.execute(select(m.mime, m.filename, m.kind).where(m.sha256 == sha256)
                             .limit(1)).mappings().first()
        return None if r is None else dict(r)

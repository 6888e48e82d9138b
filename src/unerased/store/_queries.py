"""Read side of the store: the JSON shapes of DESIGN.md's public interface."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import Connection, Select, and_, or_, select, text

from ..text import tokenize
from . import _schema as s
from ._claims import display_proxy, known_posts
from ._search import matching_versions_sql

PAGE = 500


def _account_filter(ref: str) -> Any:
    """An ACCOUNT argument: numeric id, platform:handle, @handle, handle or account id."""
    a = s.accounts.c
    conds = []
    r = ref.strip()
    if ":" in r and r.split(":", 1)[0] in ("bluesky", "mastodon", "rss", "x"):
        plat, rest = r.split(":", 1)
        rest = rest.lstrip("@")
        return and_(a.platform == plat, or_(a.handle == rest, a.account_id == rest,
                                            a.watch_uri == r))
    if r.isdigit():
        conds.append(a.id == int(r))
    bare = r.lstrip("@")
    conds += [a.handle == bare, a.account_id == bare, a.account_id == r]
    return or_(*conds)


class Queries:
    def reader(self) -> AbstractContextManager[Connection]:  # provided by Store
        raise NotImplementedError

    # ------------------------------------------------------------- accounts

    def find_accounts(self, ref: str) -> list[dict[str, Any]]:
        with self.reader() as conn:
            rows = conn.execute(select(s.accounts).where(_account_filter(ref))).mappings()
            return [dict(r) for r in rows]

    def list_accounts(self, *, watched_only: bool = False) -> list[dict[str, Any]]:
        q = select(s.accounts).order_by(s.accounts.c.id)
        if watched_only:
            q = q.where(s.accounts.c.watched.is_(True))
        with self.reader() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def account_json(self, row: dict[str, Any]) -> dict[str, Any]:
        with self.reader() as conn:
            n_posts = conn.execute(
                text("SELECT count(*) FROM posts WHERE account_pk = :a"), {"a": row["id"]}
            ).scalar_one()
            n_deleted = conn.execute(
                text("SELECT count(*) FROM posts WHERE account_pk = :a AND status = 'deleted'"),
                {"a": row["id"]},
            ).scalar_one()
        return {
            "id": row["id"],
            "platform": row["platform"],
            "account": row["handle"],
            "account_id": row["account_id"],
            "display_name": row["display_name"],
            "status": row["status"],
            "url": row["url"],
            "watched": bool(row["watched"]),
            "uri": row["watch_uri"],
            "service": row["service"],
            "tags": json.loads(row["tags_json"] or "{}"),
            "first_seen": row["first_seen"],
            "last_seen": row["last_seen"],
            "last_check": row["last_check"],
            "next_check": row["next_check"],
            "check_error": row["check_error"],
            "proxy": display_proxy(row.get("proxy")),
            "posts": n_posts,
            "deleted_posts": n_deleted,
        }

    # ------------------------------------------------------------- posts

    def known_posts(
        self, account_pk: int
    ) -> list[tuple[Mapping[str, Any], str | None, str | None]]:
        """Every post row of an account with its latest version's ``content_hash`` and
        ``version_key`` (None, None when it has no version): what the detector knew."""
        with self.reader() as conn:
            return known_posts(conn, account_pk)

    def _post_dicts(self, conn: Connection, rows: Sequence[Any]) -> list[dict[str, Any]]:
        if not rows:
            return []
        pks = [r["id"] for r in rows]
        acc_pks = list({r["account_pk"] for r in rows})
        accounts = {
            a["id"]: a
            for a in conn.execute(
                select(s.accounts.c.id, s.accounts.c.handle, s.accounts.c.account_id).where(
                    s.accounts.c.id.in_(acc_pks)
                )
            ).mappings()
        }
        versions: dict[int, list[dict[str, Any]]] = {}
        vpk_to_post: dict[int, int] = {}
        for v in conn.execute(
            select(
                s.post_versions.c.id, s.post_versions.c.post_pk, s.post_versions.c.seq,
                s.post_versions.c.version_key, s.post_versions.c.text,
                s.post_versions.c.edited_at, s.post_versions.c.observed_at,
            ).where(s.post_versions.c.post_pk.in_(pks)).order_by(
                s.post_versions.c.post_pk, s.post_versions.c.seq
            )
        ).mappings():
            vpk_to_post[v["id"]] = v["post_pk"]
            versions.setdefault(v["post_pk"], []).append({
                "seq": v["seq"], "version_key": v["version_key"], "text": v["text"],
                "edited_at": v["edited_at"], "observed_at": v["observed_at"],
            })
        media: dict[int, list[dict[str, Any]]] = {}
        if vpk_to_post:
            for m in conn.execute(
                select(s.media).where(s.media.c.version_pk.in_(list(vpk_to_post))).order_by(
                    s.media.c.version_pk, s.media.c.seq
                )
            ).mappings():
                lst = media.setdefault(vpk_to_post[m["version_pk"]], [])
                item = {"url": m["url"], "filename": m["filename"], "mime": m["mime"],
                        "kind": m["kind"], "alt": m["alt"], "sha256": m["sha256"],
                        "size": m["size"]}
                if item not in lst:
                    lst.append(item)
        out = []
        for r in rows:
            vs = versions.get(r["id"], [])
            acc: Any = accounts.get(r["account_pk"], {})
            out.append({
                "id": r["id"],
                "platform": r["platform"],
                "account": acc.get("handle"),
                "account_id": acc.get("account_id"),
                "post_id": r["post_id"],
                "url": r["url"],
                "created_at": r["created_at"],
                "status": r["status"],
                "kind": r["kind"],
                "reply_to": r["reply_to"],
                "repost_of": r["repost_of"],
                "quote_of": r["quote_of"],
                "text": vs[-1]["text"] if vs else "",
                "versions": vs,
                "media": media.get(r["id"], []),
                "first_seen": r["first_seen"],
                "last_seen": r["last_seen"],
                "deleted_at": r["deleted_at"],
                "deleted_reason": r["deleted_reason"],
            })
        return out

    def _paged(self, q: Select[Any]) -> Iterator[dict[str, Any]]:
        last = 0
        while True:
            with self.reader() as conn:
                rows = list(
                    conn.execute(q.where(s.posts.c.id > last).order_by(s.posts.c.id).limit(PAGE))
                    .mappings()
                )
                if not rows:
                    return
                yield from self._post_dicts(conn, rows)
            last = rows[-1]["id"]

    def iter_posts(
        self, *, account_pk: int | None = None, status: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every post (with versions and media), in id order, streamed page by page."""
        q = select(s.posts)
        if account_pk is not None:
            q = q.where(s.posts.c.account_pk == account_pk)
        if status:
            q = q.where(s.posts.c.status == status)
        yield from self._paged(q)

    def get_post(self, ref: str) -> dict[str, Any] | None:
        """A post by internal id or platform post id."""
        with self.reader() as conn:
            q = select(s.posts)
            cond = s.posts.c.post_id == ref
            if ref.isdigit():
                cond = or_(cond, s.posts.c.id == int(ref))
            rows = list(conn.execute(q.where(cond).order_by(s.posts.c.id).limit(1)).mappings())
            got = self._post_dicts(conn, rows)
            return got[0] if got else None

    def search(
        self,
        query: str,
        *,
        account_pk: int | None = None,
        status: str | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        with self.reader() as conn:
            frag = matching_versions_sql(conn, query)
            if frag is None:
                return []
            sub, params = frag
            where = ["p.id IN (SELECT v.post_pk FROM post_versions v WHERE v.id IN (" + sub + "))"]
            if account_pk is not None:
                where.append("p.account_pk = :acc")
                params["acc"] = account_pk
            if status:
                where.append("p.status = :st")
                params["st"] = status
            if since:
                where.append("p.created_at >= :since")
                params["since"] = since
            if until:
                where.append("p.created_at < :until")
                params["until"] = until
            params["lim"] = limit
            sql = (
                "SELECT p.* FROM posts p WHERE " + " AND ".join(where)
                + " ORDER BY p.created_at DESC, p.id DESC LIMIT :lim"
            )
            rows = list(conn.execute(text(sql), params).mappings())
            posts = self._post_dicts(conn, rows)
        for p in posts:
            # the snippet comes from the version that matches (any version, not only the last)
            best = next(
                (v["text"] for v in reversed(p["versions"]) if tokenize.matches(v["text"], query)),
                p["text"],
            )
            p["snippet"] = tokenize.snippet(best, query)
        return posts

    # ------------------------------------------------------------- events

    def iter_events(
        self,
        *,
        type: str | None = None,
        since: str | None = None,
        account_pk: int | None = None,
        limit: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        q = select(s.events).order_by(s.events.c.at, s.events.c.id)
        if type:
            q = q.where(s.events.c.type == type)
        if since:
            q = q.where(s.events.c.at >= since)
        if account_pk is not None:
            q = q.where(s.events.c.account_pk == account_pk)
        if limit:
            q = q.limit(limit)
        with self.reader() as conn:
            for r in conn.execute(q).mappings():
                yield event_json(r)


def event_json(r: Any) -> dict[str, Any]:
    return {
        "type": r["type"],
        "at": r["at"],
        "platform": r["platform"],
        "account": r["account"],
        "account_id": r["account_id"],
        "post_id": r["post_id"],
        "detail": json.loads(r["detail_json"]),
        "evidence": json.loads(r["evidence_json"]),
    }

"""Read side of the store: the JSON shapes of DESIGN.md's public interface."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import Connection, Select, and_, func, or_, select, text

from ..refs import AccountMatch, PostMatch, account_matches, account_uri, pick_one, post_matches
from ..text import tokenize
from . import _schema as s
from ._claims import display_proxy, known_posts
from ._search import matching_versions_sql

PAGE = 500
FIND_LIMIT = 50  # candidates an account or post argument may name (an error lists 10)


def _account_cond(m: AccountMatch) -> Any:
    """One :class:`~unerased.refs.AccountMatch` as a condition on ``accounts``."""
    a = s.accounts.c
    parts: list[Any] = []
    if m.row is not None:
        parts.append(a.id == m.row)
    if m.platform is not None:
        parts.append(a.platform == m.platform)
    if m.handle is not None:
        parts.append(or_(a.handle == m.handle, func.lower(a.handle) == m.handle.lower()))
    if m.account_id is not None:
        parts.append(a.account_id == m.account_id)
    if m.url is not None:
        parts.append(a.url == m.url)
    if m.watch_uri is not None:
        parts.append(a.watch_uri == m.watch_uri)
    return and_(*parts)


def _post_cond(m: PostMatch) -> Any:
    """One :class:`~unerased.refs.PostMatch` as a condition on ``posts``."""
    p = s.posts.c
    parts: list[Any] = []
    if m.row is not None:
        parts.append(p.id == m.row)
    if m.platform is not None:
        parts.append(p.platform == m.platform)
    if m.post_id is not None:
        parts.append(p.post_id == m.post_id)
    if m.post_id_suffix is not None:
        parts.append(p.post_id.endswith(m.post_id_suffix, autoescape=True))
    if m.url is not None:
        parts.append(p.url == m.url)
    if m.account:
        parts.append(p.account_pk.in_(
            select(s.accounts.c.id).where(or_(*(_account_cond(a) for a in m.account)))))
    return and_(*parts)


def _describe_accounts(rows: Sequence[Mapping[str, Any]]) -> Callable[[Mapping[str, Any]], str]:
    uris = [account_uri(r["platform"], r["handle"], r["account_id"]) for r in rows]

    def describe(r: Mapping[str, Any]) -> str:
        uri = account_uri(r["platform"], r["handle"], r["account_id"])
        same = uris.count(uri) > 1 and r["account_id"] not in uri
        return f"{uri} ({'id ' + r['account_id'] + ', ' if same else ''}row:{r['id']})"

    return describe


class Queries:
    def reader(self) -> AbstractContextManager[Connection]:  # provided by Store
        raise NotImplementedError

    # ------------------------------------------------------------- accounts

    def find_accounts(self, ref: str) -> list[dict[str, Any]]:
        """Every account ``ref`` names (any form of :func:`unerased.refs.account_matches`;
        UsageError for a malformed one), in row order."""
        cond = or_(*(_account_cond(m) for m in account_matches(ref)))
        with self.reader() as conn:
            rows = conn.execute(
                select(s.accounts).where(cond).order_by(s.accounts.c.id).limit(FIND_LIMIT)
            ).mappings()
            return [dict(r) for r in rows]

    def resolve_account(self, ref: str, *, watched: bool = False) -> dict[str, Any]:
        """The one account ``ref`` names (``watched``: of the watched accounts): NotFound
        (exit 1) when none, AmbiguousError (exit 2, naming them) when several."""
        found = self.find_accounts(ref)
        if watched:
            found = [a for a in found if a["watched"]]
        return pick_one("watched account" if watched else "account", ref, found,
                        _describe_accounts(found), "name one of them (its URI, or row:N)")

    def find_posts(self, ref: str) -> list[dict[str, Any]]:
        """Every post ``ref`` names (any form of :func:`unerased.refs.post_matches`;
        UsageError for a malformed one), in row order: ``{"id", "platform", "post_id",
        "account_pk", "account_uri"}``."""
        p, a = s.posts.c, s.accounts.c
        cond = or_(*(_post_cond(m) for m in post_matches(ref)))
        q = (select(p.id, p.platform, p.post_id, p.account_pk, a.handle, a.account_id)
             .join_from(s.posts, s.accounts, a.id == p.account_pk)
             .where(cond).order_by(p.id).limit(FIND_LIMIT))
        with self.reader() as conn:
            return [{"id": r.id, "platform": r.platform, "post_id": r.post_id,
                     "account_pk": r.account_pk,
                     "account_uri": account_uri(r.platform, r.handle, r.account_id)}
                    for r in conn.execute(q)]

    def resolve_post(self, ref: str) -> dict[str, Any]:
        """The one post ``ref`` names (as :meth:`find_posts` gives it): NotFound (exit 1)
        when none, AmbiguousError (exit 2, naming them) when several."""
        return pick_one("post", ref, self.find_posts(ref),
                        lambda r: f"{r['account_uri']} {r['post_id']} (row:{r['id']})",
                        "give the post's URL or row:N")

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
            "uri": account_uri(row["platform"], row["handle"], row["account_id"]),
            "watch_uri": row["watch_uri"],
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
                select(s.accounts.c.id, s.accounts.c.platform, s.accounts.c.handle,
                       s.accounts.c.account_id).where(
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
            completed = _completions(conn, list(vpk_to_post))
            for m in conn.execute(
                select(s.media).where(s.media.c.version_pk.in_(list(vpk_to_post))).order_by(
                    s.media.c.version_pk, s.media.c.seq
                )
            ).mappings():
                lst = media.setdefault(vpk_to_post[m["version_pk"]], [])
                item = {"url": m["url"], "filename": m["filename"], "mime": m["mime"],
                        "kind": m["kind"], "alt": m["alt"], "sha256": m["sha256"],
                        "size": m["size"]}
                if m["sha256"] is None and m["id"] in completed:
                    item.update(completed[m["id"]])  # a later import brought the file
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
                "account_uri": account_uri(acc.get("platform") or r["platform"],
                                           acc.get("handle"), acc.get("account_id") or ""),
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

    def _search_parts(
        self, conn: Connection, query: str, account_pk: int | None, status: str | None,
        since: str | None, until: str | None, account_pks: Sequence[int] | None = None,
    ) -> tuple[str, list[str], dict[str, Any]] | None:
        """A search's pieces: the subquery of matching version ids (``vid``), the
        conditions on ``posts p`` of its filters, their parameters; None when the query
        can match nothing."""
        frag = matching_versions_sql(conn, query)
        if frag is None or (account_pks is not None and not account_pks):
            return None
        sub, params = frag
        where: list[str] = []
        if account_pk is not None:
            where.append("p.account_pk = :acc")
            params["acc"] = account_pk
        if account_pks is not None:
            names = [f"acc{i}" for i in range(len(account_pks))]
            where.append("p.account_pk IN (" + ", ".join(":" + n for n in names) + ")")
            params.update(zip(names, (int(pk) for pk in account_pks), strict=True))
        if status:
            where.append("p.status = :st")
            params["st"] = status
        if since:
            where.append("p.created_at >= :since")
            params["since"] = since
        if until:
            where.append("p.created_at < :until")
            params["until"] = until
        return sub, where, params

    def _search_sql(
        self, conn: Connection, query: str, account_pk: int | None, status: str | None,
        since: str | None, until: str | None, account_pks: Sequence[int] | None = None,
    ) -> tuple[str, dict[str, Any]] | None:
        """The WHERE clause over ``posts p`` of a search, with its parameters; None when
        the query can match nothing."""
        got = self._search_parts(conn, query, account_pk, status, since, until, account_pks)
        if got is None:
            return None
        sub, filters, params = got
        where = ["p.id IN (SELECT v.post_pk FROM post_versions v WHERE v.id IN (" + sub + "))"]
        return " AND ".join(where + filters), params

    def search(
        self,
        query: str,
        *,
        account_pk: int | None = None,
        status: str | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int = 50,
        before: tuple[str, int] | None = None,
        account_pks: Sequence[int] | None = None,
    ) -> list[dict[str, Any]]:
        """At most ``limit`` matching posts, newest first (with their matching snippet).
        ``before``: only posts after ``(created_at or "", id)`` in that order (the
        key of the last post of a page); ``account_pks``: only posts of these
        accounts."""
        with self.reader() as conn:
            got = self._search_sql(conn, query, account_pk, status, since, until, account_pks)
            if got is None:
                return []
            where, params = got
            params["lim"] = limit
            if before is not None:
                where += (" AND (coalesce(p.created_at, '') < :bat OR "
                          "(coalesce(p.created_at, '') = :bat AND p.id < :bid))")
                params["bat"], params["bid"] = before
            sql = ("SELECT p.* FROM posts p WHERE " + where
                   + " ORDER BY coalesce(p.created_at, '') DESC, p.id DESC LIMIT :lim")
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

    def search_total(
        self,
        query: str,
        *,
        account_pk: int | None = None,
        status: str | None = None,
        since: str | None = None,
        until: str | None = None,
        account_pks: Sequence[int] | None = None,
        cap: int | None = None,
    ) -> int:
        """How many posts match (what :meth:`search` would give without a limit);
        with ``cap``, counting stops there (a result of ``cap`` means "that many or
        more": a count of millions costs what reading them does)."""
        with self.reader() as conn:
            if cap is not None:
                parts = self._search_parts(conn, query, account_pk, status, since, until,
                                           account_pks)
                if parts is None:
                    return 0
                sub, filters, params = parts
                params["cap"] = cap
                # matches streamed from the index and joined, stopping at ``cap`` posts
                # (an IN (subquery) would read every match first)
                return int(conn.execute(text(
                    "SELECT count(*) FROM (SELECT DISTINCT v.post_pk FROM (" + sub
                    + ") m JOIN post_versions v ON v.id = m.vid JOIN posts p ON p.id = "
                    "v.post_pk" + "".join(" AND " + f for f in filters)
                    + " LIMIT :cap) capped"), params).scalar_one())
            got = self._search_sql(conn, query, account_pk, status, since, until, account_pks)
            if got is None:
                return 0
            where, params = got
            return int(conn.execute(
                text("SELECT count(*) FROM posts p WHERE " + where), params).scalar_one())

    # ------------------------------------------------------------- events

    def iter_events(
        self,
        *,
        type: str | None = None,
        since: str | None = None,
        account_pk: int | None = None,
        limit: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        a = s.accounts.c
        q = (select(s.events, a.platform.label("acc_platform"), a.handle.label("acc_handle"),
                    a.account_id.label("acc_account_id"))
             .join_from(s.events, s.accounts, a.id == s.events.c.account_pk, isouter=True)
             .order_by(s.events.c.at, s.events.c.id))
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
    """An event row as DESIGN.md's event JSON, with ``account_uri``: the canonical form of
    its account as the archive knows it now (from the joined ``acc_*`` columns when
    present, else from the event's own fields)."""
    if r.get("acc_platform") is not None:
        uri = account_uri(r["acc_platform"], r["acc_handle"], r["acc_account_id"])
    else:
        uri = account_uri(r["platform"], r["account"], r["account_id"])
    return {
        "type": r["type"],
        "at": r["at"],
        "platform": r["platform"],
        "account": r["account"],
        "account_id": r["account_id"],
        "account_uri": uri,
        "post_id": r["post_id"],
        "detail": json.loads(r["detail_json"]),
        "evidence": json.loads(r["evidence_json"]),
    }


def _completions(conn: Connection, version_pks: list[int]) -> dict[int, dict[str, Any]]:
    """media row id -> what a later import completed it with (media_completions)."""
    c = s.media_completions.c
    out: dict[int, dict[str, Any]] = {}
    for r in conn.execute(
        select(c.media_pk, c.filename, c.mime, c.sha256, c.size)
        .where(c.version_pk.in_(version_pks)).order_by(c.id)
    ).mappings():
        out.setdefault(r["media_pk"], {
            "sha256": r["sha256"], "size": r["size"],
            **{k: r[k] for k in ("filename", "mime") if r[k] is not None},
        })
    return out

"""The reads ``unerased verify`` makes, in one snapshot (see ``Store.snapshot``).

:mod:`unerased.ledger.verify` merge-joins the ledger's leaves with every leafed table,
page by page, and rebuilds each leaf's record from its rows; :class:`ArchiveScan` is
every query it makes for that: pages of leaves, of leafed rows (a post version with its
post and account columns, an account status with its account's, a media completion with
the media row it completes and its post's and account's), media, stored tree
nodes, and the few lookups that name what is wrong. Rows come back as the driver gives
them (mappings or tuples, binary columns as the backend stores them): judging them is
the verifier's job.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, text

from . import _schema as s

LEAFED: tuple[str, ...] = tuple(s.LEAFED)
"""The tables whose rows the ledger covers, by the ``kind`` their leaves name."""

_SQL_VERSIONS = (
    "SELECT v.id, v.post_pk, v.seq, v.version_key, v.content_hash, v.text, v.html, v.lang, "
    "v.edited_at, v.observed_at, v.source, v.raw_json, p.id AS p_id, p.platform, p.post_id, "
    "p.url, p.created_at, p.kind, p.reply_to, p.repost_of, p.quote_of, p.account_pk, "
    "a.id AS a_id, a.account_id "
    "FROM post_versions v LEFT JOIN posts p ON p.id = v.post_pk "
    "LEFT JOIN accounts a ON a.id = p.account_pk "
)
_SQL_STATUS = (
    "SELECT st.id, st.account_pk, st.at, st.status, st.handle, st.display_name, "
    "st.profile_json, st.source, a.id AS a_id, a.platform, a.account_id "
    "FROM account_status st LEFT JOIN accounts a ON a.id = st.account_pk "
)
_SQL_MEDIA = "SELECT id, version_pk, seq, url, filename, mime, kind, alt, sha256, size FROM media "
_SQL_COMPLETIONS = (  # a media completion with the post and account its record names
    "SELECT c.id, c.media_pk, c.version_pk, c.seq, c.filename, c.mime, c.sha256, c.size, c.at, "
    "c.source, m.id AS m_id, m.version_pk AS m_version_pk, m.seq AS m_seq, p.id AS p_id, "
    "p.platform, p.post_id, a.id AS a_id, a.account_id "
    "FROM media_completions c LEFT JOIN media m ON m.id = c.media_pk "
    "LEFT JOIN post_versions v ON v.id = c.version_pk LEFT JOIN posts p ON p.id = v.post_pk "
    "LEFT JOIN accounts a ON a.id = p.account_pk "
)


class ArchiveScan:
    """The verifier's queries, through one connection (one read snapshot).

    A post version's row carries its post's columns and ``p_id`` (None when the post row
    is missing) and its account's ``account_id`` and ``a_id``; an account status row
    carries its account's ``platform``, ``account_id`` and ``a_id``; a media completion
    row carries the media row it completes (``m_id``, ``m_version_pk``, ``m_seq``: None
    when missing) and its version's post and account (``p_id``, ``platform``,
    ``post_id``, ``a_id``, ``account_id``)."""

    __slots__ = ("conn",)

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def head_size(self) -> int:
        return int(self.conn.execute(select(s.ledger_head.c.size)).scalar_one())

    # -- leaves and nodes

    def leaves_page(self, start: int, n: int) -> Sequence[Any]:
        """Up to ``n`` leaves from index ``start`` on, in index order, as tuples
        ``(idx, kind, ref, salt, leaf_hash)``."""
        return self.conn.execute(
            text("SELECT idx, kind, ref, salt, leaf_hash FROM ledger_leaves "
                 "WHERE idx >= :a ORDER BY idx LIMIT :n"),
            {"a": start, "n": n},
        ).all()

    def nodes_completed_by(self, a: int, b: int) -> Sequence[Any]:
        """Stored nodes completed by leaves a..b (inclusive): every perfect node of level
        1 and up whose last leaf is in the range, as tuples ``(level, idx, hash)``."""
        n = s.ledger_nodes.c
        conds = []
        level = 1
        while (1 << level) <= b + 1:
            lo = -(-(a + 1) // (1 << level)) - 1
            hi = (b + 1) // (1 << level) - 1
            if lo <= hi:
                conds.append(and_(n.level == level, n.idx >= lo, n.idx <= hi))
            level += 1
        if not conds:
            return []
        return self.conn.execute(select(n.level, n.idx, n.hash).where(or_(*conds))).all()

    def leaf_index(self, kind: str, ref: str) -> Any:
        """The index of a leaf covering row ``ref`` of ``kind`` (None when none does)."""
        return self.conn.execute(
            select(s.ledger_leaves.c.idx).where(s.ledger_leaves.c.kind == kind,
                                                s.ledger_leaves.c.ref == ref).limit(1)
        ).scalar()

    def node_count(self) -> int:
        return int(self.conn.execute(select(func.count()).select_from(s.ledger_nodes)).scalar_one())

    def first_node_outside(self, size: int, levels: int) -> Any:
        """The first stored node (``(level, idx)``) that is not a perfect node of the tree
        of ``size`` leaves, whose perfect nodes span ``levels`` levels; None if none."""
        n = s.ledger_nodes.c  # level 0 (the leaves' hashes) is never stored here
        conds = [and_(n.level == lv, n.idx >= (size >> lv)) for lv in range(1, levels)]
        conds += [n.level >= max(levels, 1), n.level < 1, n.idx < 0]
        return self.conn.execute(
            select(n.level, n.idx).where(or_(*conds)).order_by(n.level, n.idx).limit(1)
        ).first()

    # -- leafed rows

    def rows_page(self, kind: str, last: int, n: int) -> Sequence[Any]:
        """Up to ``n`` rows of a leafed table after key ``last``, in ledger order (id;
        captures: seq), as mappings."""
        params = {"last": last, "n": n}
        if kind == "post_versions":
            sql = _SQL_VERSIONS + "WHERE v.id > :last ORDER BY v.id LIMIT :n"
        elif kind == "account_status":
            sql = _SQL_STATUS + "WHERE st.id > :last ORDER BY st.id LIMIT :n"
        elif kind == "captures":
            sql = "SELECT * FROM captures WHERE seq > :last ORDER BY seq LIMIT :n"
        elif kind == "media_completions":
            sql = _SQL_COMPLETIONS + "WHERE c.id > :last ORDER BY c.id LIMIT :n"
        else:
            sql = f"SELECT * FROM {kind} WHERE id > :last ORDER BY id LIMIT :n"  # noqa: S608
        return self.conn.execute(text(sql), params).mappings().all()  # fetchall: fast

    def media_between(self, lo: int, hi: int) -> dict[int, list[Any]]:
        """Media rows of versions ``lo < id <= hi``, by version id."""
        out: dict[int, list[Any]] = {}
        for m in self.conn.execute(
            text(_SQL_MEDIA + "WHERE version_pk > :lo AND version_pk <= :hi "
                 "ORDER BY version_pk, seq"),
            {"lo": lo, "hi": hi},
        ).mappings().all():
            out.setdefault(int(m["version_pk"]), []).append(m)
        return out

    def row(self, kind: str, ref: str) -> Any:
        """One row of a leafed table by the ``ref`` its leaf names (None if missing)."""
        conn = self.conn
        if kind == "captures":
            return conn.execute(select(s.captures).where(s.captures.c.id == ref)).mappings().first()
        if not ref.isdigit():
            return None
        key = int(ref)
        if kind == "post_versions":
            return conn.execute(text(_SQL_VERSIONS + "WHERE v.id = :k"), {"k": key}).mappings().first()
        if kind == "account_status":
            return conn.execute(text(_SQL_STATUS + "WHERE st.id = :k"), {"k": key}).mappings().first()
        if kind == "media_completions":
            return conn.execute(text(_SQL_COMPLETIONS + "WHERE c.id = :k"), {"k": key}).mappings().first()
        table = s.metadata.tables[kind]
        return conn.execute(select(table).where(table.c.id == key)).mappings().first()

    def media_of(self, version_pk: int) -> list[Any]:
        """The media rows of one post version, in order."""
        return list(self.conn.execute(
            text(_SQL_MEDIA + "WHERE version_pk = :v ORDER BY seq"), {"v": version_pk}
        ).mappings())

    def redactions(self) -> list[Any]:
        """Every redaction (``redactions`` rows, as mappings), oldest first."""
        return list(self.conn.execute(
            select(s.redactions).order_by(s.redactions.c.id)).mappings())

    def lifted(self) -> list[Any]:
        """``(redaction_pk, lifted_at, lifted_reason)`` of every ``unredact`` decision."""
        r = s.redacted_ids.c
        return list(self.conn.execute(
            select(r.redaction_pk, r.lifted_at, r.lifted_reason)
            .where(r.lifted_at.is_not(None)).order_by(r.id)))

    def media_count(self) -> int:
        return int(self.conn.execute(select(func.count()).select_from(s.media)).scalar_one())

    def first_orphan_media(self) -> Any:
        """``(id, version_pk)`` of the first media row whose version is missing, or None."""
        return self.conn.execute(
            text("SELECT m.id, m.version_pk FROM media m LEFT JOIN post_versions v "
                 "ON v.id = m.version_pk WHERE v.id IS NULL ORDER BY m.id LIMIT 1")
        ).first()

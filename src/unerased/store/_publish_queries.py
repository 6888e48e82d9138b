"""The reads ``export site`` makes beyond the public ones (:class:`Queries`): which
accounts were ever protected, and the platform JSON of posts' versions (their
visibility). :mod:`unerased.export.site` decides what is published."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, select

from . import _schema as s

__all__ = ["PublishRows"]

_CHUNK = 500


class PublishRows:
    """Rows a published site needs, through one connection."""

    __slots__ = ("conn",)

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def ever_protected(self) -> set[int]:
        """Row ids of the accounts that were protected at some time: a status history
        entry or an ``account_protected`` event says so."""
        st, e = s.account_status.c, s.events.c
        out = {int(r[0]) for r in self.conn.execute(
            select(st.account_pk).where(st.status == "protected").distinct())}
        out |= {int(r[0]) for r in self.conn.execute(
            select(e.account_pk).where(e.type == "account_protected").distinct())}
        return out

    def version_raws(self, post_pks: Sequence[int]) -> dict[int, list[str | None]]:
        """post row id -> the platform JSON (``raw_json``) of each of its versions."""
        v = s.post_versions.c
        out: dict[int, list[str | None]] = {}
        pks = list(post_pks)
        for i in range(0, len(pks), _CHUNK):
            for r in self.conn.execute(
                select(v.post_pk, v.raw_json).where(v.post_pk.in_(pks[i:i + _CHUNK]))
                .order_by(v.post_pk, v.seq)
            ):
                out.setdefault(int(r.post_pk), []).append(r.raw_json)
        return out

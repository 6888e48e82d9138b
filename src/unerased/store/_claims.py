"""Collectors' claims on accounts, and the compare-and-set of a check's result.

Several collectors (``poll``, ``run``, on one machine or many) may share one archive.
Two rules keep them from repeating each other's work or announcing one change twice:

- **A claim** (``accounts.claimed_by``/``claimed_until``): a collector checks only the
  accounts it claimed, atomically, with a lease that expires. SQLite: one ``BEGIN
  IMMEDIATE`` transaction, ``UPDATE … WHERE claimed_until IS NULL OR claimed_until < now
  … RETURNING``; PostgreSQL: ``SELECT … FOR UPDATE SKIP LOCKED`` then the ``UPDATE``, in
  one transaction. A long check renews its lease; the transaction that stores the check
  releases it; a crashed collector's lease runs out. Claims are coordination, not
  evidence: they are written in their own short transactions, outside
  :meth:`Store.writer` (which would wait for the ledger lock behind an import), and
  append no ledger leaf.
- **A compare-and-set** (``accounts.state_version``): a check reads the account's state
  and version; the transaction that stores its result first bumps the version *if it
  is still the one read*. If a lease ran out mid-check and another check stored first,
  the bump fails and the runner decides on the fresh state (``watch/runner.py``).

Lease times are written with a fixed width (microseconds always), so that they compare
as text on both backends.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import Connection, Engine, and_, bindparam, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from ..errors import DatabaseError
from ..model import iso
from . import _schema as s

KnownPost = tuple[Mapping[str, Any], str | None, str | None]
"""A post row of an account, its latest version's ``content_hash`` and ``version_key``."""


def lease_time(dt: datetime) -> str:
    """``dt`` as fixed-width ISO 8601 UTC (``2026-03-01T12:00:00.000000Z``)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def display_proxy(url: str | None) -> str | None:
    """A stored proxy as it may be printed: the password replaced by ``***``
    (``socks5h://user:***@host:port``); None when there is none."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
    except ValueError:
        return "***"
    if "@" not in netloc:
        return url
    userinfo, host = netloc.rsplit("@", 1)
    user, has_password, _ = userinfo.partition(":")
    shown = f"{user}:***" if has_password else user
    return urlunsplit(parts._replace(netloc=f"{shown}@{host}"))


@dataclass(frozen=True, slots=True)
class Claimed:
    """What :meth:`ClaimQueries.claim_accounts` got: the account rows now claimed (as
    ``list_accounts`` gives them), and the watched accounts it asked for that a live
    claim of another collector holds."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    busy: list[dict[str, Any]] = field(default_factory=list)


def _watched(due_only: bool, now: datetime) -> Any:
    a = s.accounts.c
    cond: Any = a.watched.is_(True)
    if due_only:
        cond = and_(cond, or_(a.next_check.is_(None), a.next_check <= (iso(now) or "")))
    return cond


def _claimable(collector: str, now: datetime, *, own: bool = True) -> Any:
    """Not held by a live lease (``own``: or held by ``collector`` itself)."""
    a = s.accounts.c
    free = or_(a.claimed_until.is_(None), a.claimed_until < lease_time(now))
    return or_(free, a.claimed_by == collector) if own else free


def _driver_line(e: BaseException) -> str:
    msg = str(getattr(e, "orig", None) or e).strip().splitlines()
    return msg[0] if msg else type(e).__name__


class ClaimQueries:
    """The claims side of :class:`~unerased.store.Store` (a mixin: it needs ``engine``
    and ``snapshot``)."""

    engine: Engine

    def snapshot(self) -> AbstractContextManager[Connection]:  # provided by Store
        raise NotImplementedError

    @contextmanager
    def _claim_transaction(self) -> Iterator[Connection]:
        """A short write transaction of its own (``BEGIN IMMEDIATE`` on SQLite)."""
        try:
            conn_cm = self.engine.connect().execution_options(sqlite_begin="BEGIN IMMEDIATE")
            with conn_cm as conn, conn.begin():
                yield conn
        except SQLAlchemyError as e:
            raise DatabaseError("the database cannot be written", _driver_line(e)) from None

    def claim_accounts(
        self, collector: str, now: datetime, lease: timedelta, *, due_only: bool,
        limit: int | None = None, report_busy: bool = True,
    ) -> Claimed:
        """Claim, atomically, every watched account (``due_only``: whose ``next_check``
        has come) that no other collector holds a live lease on, until ``now + lease``.
        Accounts this collector already holds are claimed again (renewed).

        ``limit``: at most this many, the longest overdue first (a daemon claims only
        what it can start), and never those it holds already (they are being checked).
        ``report_busy=False`` skips the query of ``busy`` (the
        accounts another collector holds): a daemon does not report them."""
        a = s.accounts
        values = {"claimed_by": collector, "claimed_until": lease_time(now + lease)}
        wanted = _watched(due_only, now)
        claimable = _claimable(collector, now, own=limit is None)
        order = (a.c.next_check.is_not(None), a.c.next_check, a.c.id)
        with self._claim_transaction() as conn:
            if conn.dialect.name == "postgresql":
                # rows another transaction is claiming right now are skipped, not waited
                # for: two collectors never block each other, nor hold one account
                q = select(a.c.id).where(wanted, claimable)
                q = q.order_by(*order) if limit is not None else q.order_by(a.c.id)
                if limit is not None:
                    q = q.limit(max(0, limit))
                ids = list(conn.execute(q.with_for_update(skip_locked=True)).scalars())
                rows = [] if not ids else [dict(r) for r in conn.execute(
                    update(a).where(a.c.id.in_(ids)).values(**values).returning(*a.c)
                ).mappings()]
            else:  # one statement inside BEGIN IMMEDIATE: no other writer in between
                cond: Any = and_(wanted, claimable)
                if limit is not None:
                    cond = a.c.id.in_(select(a.c.id).where(cond).order_by(*order)
                                      .limit(max(0, limit)).scalar_subquery())
                rows = [dict(r) for r in conn.execute(
                    update(a).where(cond).values(**values).returning(*a.c)
                ).mappings()]
            busy = [] if not report_busy else [dict(r) for r in conn.execute(
                select(a).where(wanted, or_(a.c.claimed_by.is_(None),
                                            a.c.claimed_by != collector))
                .order_by(a.c.id)
            ).mappings()]
        if limit is None:
            rows.sort(key=lambda r: int(r["id"]))
        else:  # the longest overdue first
            rows.sort(key=lambda r: (r["next_check"] is not None, r["next_check"] or "",
                                     int(r["id"])))
        return Claimed(rows, busy)

    def next_due(self) -> str | None:
        """The earliest ``next_check`` of a watched account (ISO 8601; "" for one that
        was never checked), None when nothing is watched: when a daemon has work."""
        a = s.accounts
        with self.snapshot() as conn:
            if conn.execute(select(a.c.id).where(a.c.watched.is_(True),
                                                 a.c.next_check.is_(None)).limit(1)).first():
                return ""
            got = conn.execute(select(a.c.next_check).where(a.c.watched.is_(True))
                               .order_by(a.c.next_check).limit(1)).scalar()
        return None if got is None else str(got)

    def reschedule(self, times: Mapping[int, datetime], now: datetime) -> int:
        """Set the due time of the accounts of ``times`` that no live claim holds (a
        restart spreading what fell overdue while nothing ran); the number changed.
        One statement executed for every account (executemany), in one transaction."""
        if not times:
            return 0
        a = s.accounts
        stmt = update(a).where(
            a.c.id == bindparam("b_pk"),
            or_(a.c.claimed_until.is_(None), a.c.claimed_until < lease_time(now)),
        ).values(next_check=bindparam("b_due"))
        rows = [{"b_pk": pk, "b_due": iso(when)} for pk, when in sorted(times.items())]
        with self._claim_transaction() as conn:
            res = conn.execute(stmt, rows)
        return max(0, int(res.rowcount or 0))

    def defer_claims(self, collector: str, until: Mapping[int, datetime]) -> None:
        """Give back this collector's claims on the accounts of ``until`` without
        checking them, each due again at its time (a host over its request budget, or
        that asked us to wait: ``Retry-After``)."""
        if not until:
            return
        a = s.accounts
        stmt = update(a).where(a.c.id == bindparam("b_pk"), a.c.claimed_by == collector
                               ).values(next_check=bindparam("b_due"), claimed_by=None,
                                        claimed_until=None)
        rows = [{"b_pk": pk, "b_due": iso(when)} for pk, when in sorted(until.items())]
        with self._claim_transaction() as conn:
            conn.execute(stmt, rows)

    def renew_claims(self, collector: str, account_pks: Iterable[int], until: datetime) -> int:
        """Extend this collector's leases on ``account_pks`` to ``until`` (a long check);
        the number renewed (a lease another collector took over is not)."""
        pks = sorted(set(account_pks))
        if not pks:
            return 0
        a = s.accounts
        with self._claim_transaction() as conn:
            res = conn.execute(update(a).where(a.c.id.in_(pks), a.c.claimed_by == collector)
                               .values(claimed_until=lease_time(until)))
            return int(res.rowcount or 0)

    def release_claims(self, collector: str, account_pks: Iterable[int]) -> None:
        """Give back this collector's claims on ``account_pks`` (never another's)."""
        pks = sorted(set(account_pks))
        if not pks:
            return
        with self._claim_transaction() as conn:
            for pk in pks:
                release_claim(conn, pk, collector)

    def record_check_failure(
        self, account_pk: int, collector: str, *, error: str, last_check: datetime,
        next_check: datetime,
    ) -> None:
        """A check that could not be stored: its error on the account (``check_error``,
        shown by ``watch list``), when to try again, and the claim released."""
        a = s.accounts
        with self._claim_transaction() as conn:
            conn.execute(update(a).where(a.c.id == account_pk).values(
                check_error=error, last_check=iso(last_check), next_check=iso(next_check)))
            release_claim(conn, account_pk, collector)

    def check_state(self, account_pk: int) -> tuple[dict[str, Any] | None, list[KnownPost]]:
        """An account's row (with its ``state_version``) and every post the detector
        knows of it, read in one snapshot: what a check starts from."""
        with self.snapshot() as conn:
            return check_state(conn, account_pk)


# ----------------------------------------------------------------- in a transaction


def known_posts(conn: Connection, account_pk: int) -> list[KnownPost]:
    """Every post row of an account with its latest version's ``content_hash`` and
    ``version_key`` (None, None when it has no version): what the detector knew."""
    p, v = s.posts, s.post_versions
    latest: dict[int, tuple[str | None, str | None]] = {}
    for r in conn.execute(
        select(v.c.post_pk, v.c.content_hash, v.c.version_key)
        .join(p, p.c.id == v.c.post_pk)
        .where(p.c.account_pk == account_pk)
        .order_by(v.c.post_pk, v.c.seq)
    ):
        latest[r.post_pk] = (r.content_hash, r.version_key)
    rows = cast("Iterable[Mapping[str, Any]]", conn.execute(
        select(p).where(p.c.account_pk == account_pk)).mappings())
    return [(m, *latest.get(m["id"], (None, None))) for m in rows]


def check_state(conn: Connection, account_pk: int
                ) -> tuple[dict[str, Any] | None, list[KnownPost]]:
    row = conn.execute(select(s.accounts).where(s.accounts.c.id == account_pk)).mappings().first()
    if row is None:
        return None, []
    return dict(row), known_posts(conn, account_pk)


def compare_and_set_state(conn: Connection, account_pk: int, expected: int) -> bool:
    """Bump the account's state version if it is still ``expected``; False when another
    check's result was stored since it was read."""
    a = s.accounts
    res = conn.execute(update(a).where(a.c.id == account_pk, a.c.state_version == expected)
                       .values(state_version=expected + 1))
    return int(res.rowcount or 0) == 1


def release_claim(conn: Connection, account_pk: int, collector: str) -> None:
    a = s.accounts
    conn.execute(update(a).where(a.c.id == account_pk, a.c.claimed_by == collector)
                 .values(claimed_by=None, claimed_until=None))

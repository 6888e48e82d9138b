"""Web users and what signs them in (``web_users``, ``web_sessions``, ``web_api_tokens``,
``web_login_links``; migration 0006, docs/web.md).

Only digests of secrets are kept: a session id, an API token and a login link's token
are random values the store sees as their SHA-256 (hex), computed by the caller
(:mod:`unerased.web`); passwords as Argon2id PHC strings. A login link is used at most
once: :meth:`UserQueries.use_login_link` marks it used in the same statement that
checks it is unused and unexpired. Removing a user removes its sessions, tokens and
links in the same transaction: nothing it held signs anyone in afterwards.

Like the collector's state, this is coordination, not evidence: short transactions of
their own, outside :meth:`Store.writer`, no ledger leaf.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ..errors import DatabaseError, UsageError
from ..model import iso
from . import _schema as s

__all__ = ["ROLES", "UserQueries"]

ROLES = ("viewer", "editor", "admin")


def _user(r: Any) -> dict[str, Any]:
    return {"id": r["id"], "name": r["name"], "role": r["role"],
            "has_password": r["password_hash"] is not None, "created_at": r["created_at"]}


def _ts(dt: datetime) -> str:
    out = iso(dt)
    assert out is not None
    return out


class UserQueries:
    """The users side of :class:`~unerased.store.Store` (a mixin: it needs ``engine``
    and ``reader``)."""

    engine: Engine

    def reader(self) -> AbstractContextManager[Connection]:  # provided by Store
        raise NotImplementedError

    @contextmanager
    def _users_transaction(self) -> Iterator[Connection]:
        try:
            conn_cm = self.engine.connect().execution_options(sqlite_begin="BEGIN IMMEDIATE")
            with conn_cm as conn, conn.begin():
                yield conn
        except SQLAlchemyError as e:
            if isinstance(e, IntegrityError):
                raise
            msg = str(getattr(e, "orig", None) or e).strip().splitlines()
            raise DatabaseError("the database cannot be written",
                                msg[0] if msg else type(e).__name__) from None

    # ------------------------------------------------------------------ users

    def add_user(self, name: str, role: str, now: datetime) -> dict[str, Any]:
        """A new user without a password. UsageError when the role is unknown or the
        name is taken."""
        if role not in ROLES:
            raise UsageError(f"unknown role {role!r} (one of {', '.join(ROLES)})")
        u = s.web_users
        try:
            with self._users_transaction() as conn:
                if conn.execute(select(u.c.id).where(u.c.name == name)).first() is not None:
                    raise UsageError(f"there is a user named {name!r} already")
                conn.execute(insert(u).values(name=name, role=role, created_at=_ts(now)))
        except IntegrityError:
            raise UsageError(f"there is a user named {name!r} already") from None
        got = self.get_user(name)
        assert got is not None
        return got

    def get_user(self, name: str) -> dict[str, Any] | None:
        with self.reader() as conn:
            r = conn.execute(select(s.web_users).where(s.web_users.c.name == name)
                             ).mappings().first()
        return None if r is None else _user(r)

    def get_user_by_id(self, user_id: int) -> dict[str, Any] | None:
        with self.reader() as conn:
            r = conn.execute(select(s.web_users).where(s.web_users.c.id == user_id)
                             ).mappings().first()
        return None if r is None else _user(r)

    def password_hash(self, name: str) -> tuple[dict[str, Any], str | None] | None:
        """The user named ``name`` and its password hash (None: no password yet)."""
        with self.reader() as conn:
            r = conn.execute(select(s.web_users).where(s.web_users.c.name == name)
                             ).mappings().first()
        return None if r is None else (_user(r), r["password_hash"])

    def list_users(self) -> list[dict[str, Any]]:
        """Every user, by name, with how many API tokens and sessions it has."""
        t, se = s.web_api_tokens, s.web_sessions
        tokens = (select(func.count()).where(t.c.user_id == s.web_users.c.id)
                  .scalar_subquery().label("tokens"))
        sessions = (select(func.count()).where(se.c.user_id == s.web_users.c.id)
                    .scalar_subquery().label("sessions"))
        with self.reader() as conn:
            rows = conn.execute(select(s.web_users, tokens, sessions)
                                .order_by(s.web_users.c.name)).mappings().all()
        return [{**_user(r), "tokens": r["tokens"], "sessions": r["sessions"]} for r in rows]

    def count_users(self, role: str | None = None) -> int:
        q = select(func.count()).select_from(s.web_users)
        if role is not None:
            q = q.where(s.web_users.c.role == role)
        with self.reader() as conn:
            return int(conn.execute(q).scalar_one())

    def remove_user(self, name: str) -> bool:
        """Remove the user and everything that signs it in; False when there is none."""
        u = s.web_users
        with self._users_transaction() as conn:
            uid = conn.execute(select(u.c.id).where(u.c.name == name)).scalar()
            if uid is None:
                return False
            for t in (s.web_sessions, s.web_api_tokens, s.web_login_links):
                conn.execute(delete(t).where(t.c.user_id == uid))
            conn.execute(delete(u).where(u.c.id == uid))
        return True

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        with self._users_transaction() as conn:
            conn.execute(update(s.web_users).where(s.web_users.c.id == user_id)
                         .values(password_hash=password_hash))

    # ------------------------------------------------------------------ secrets

    def add_api_token(self, user_id: int, token_hash: str, now: datetime) -> None:
        with self._users_transaction() as conn:
            conn.execute(insert(s.web_api_tokens).values(
                user_id=user_id, token_hash=token_hash, created_at=_ts(now)))

    def user_for_token(self, token_hash: str) -> dict[str, Any] | None:
        """The user an API token (its SHA-256) belongs to; None: no such token."""
        t, u = s.web_api_tokens, s.web_users
        with self.reader() as conn:
            r = conn.execute(select(u).join_from(t, u, u.c.id == t.c.user_id)
                             .where(t.c.token_hash == token_hash)).mappings().first()
        return None if r is None else _user(r)

    def add_login_link(self, user_id: int, token_hash: str, now: datetime,
                       expires: datetime) -> None:
        with self._users_transaction() as conn:
            conn.execute(insert(s.web_login_links).values(
                token_hash=token_hash, user_id=user_id, created_at=_ts(now),
                expires_at=_ts(expires)))

    def login_link_valid(self, token_hash: str, now: datetime) -> bool:
        """True while the link is unused and unexpired (it is not used by asking)."""
        k = s.web_login_links.c
        with self.reader() as conn:
            r = conn.execute(select(k.token_hash).where(
                k.token_hash == token_hash, k.used_at.is_(None), k.expires_at > _ts(now))).first()
        return r is not None

    def use_login_link(self, token_hash: str, now: datetime) -> dict[str, Any] | None:
        """The user of an unused, unexpired login link, which is used from now on (in
        the statement that checks it); None otherwise."""
        k = s.web_login_links.c
        with self._users_transaction() as conn:
            done = conn.execute(update(s.web_login_links).where(
                k.token_hash == token_hash, k.used_at.is_(None), k.expires_at > _ts(now),
            ).values(used_at=_ts(now)))
            if done.rowcount != 1:
                return None
            uid = conn.execute(select(k.user_id).where(k.token_hash == token_hash)).scalar()
            # expired and used links are of no use to anyone: dropped as we go
            conn.execute(delete(s.web_login_links).where(k.expires_at <= _ts(now)))
            r = conn.execute(select(s.web_users).where(s.web_users.c.id == uid)
                             ).mappings().first()
        return None if r is None else _user(r)

    def add_session(self, id_hash: str, user_id: int, now: datetime,
                    expires: datetime) -> None:
        se = s.web_sessions
        with self._users_transaction() as conn:
            conn.execute(delete(se).where(se.c.expires_at <= _ts(now)))
            conn.execute(insert(se).values(id_hash=id_hash, user_id=user_id,
                                           created_at=_ts(now), expires_at=_ts(expires)))

    def user_for_session(self, id_hash: str, now: datetime) -> dict[str, Any] | None:
        """The user of an unexpired session (its id's SHA-256); None otherwise."""
        se, u = s.web_sessions, s.web_users
        with self.reader() as conn:
            r = conn.execute(select(u).join_from(se, u, u.c.id == se.c.user_id).where(
                se.c.id_hash == id_hash, se.c.expires_at > _ts(now))).mappings().first()
        return None if r is None else _user(r)

    def end_session(self, id_hash: str) -> None:
        with self._users_transaction() as conn:
            conn.execute(delete(s.web_sessions).where(s.web_sessions.c.id_hash == id_hash))

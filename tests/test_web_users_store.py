"""The web users in the store (store/_users.py), on SQLite and PostgreSQL: users and
roles, digests only, single-use expiring login links, sessions, tokens, removal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from unerased.errors import UsageError
from unerased.store import Store

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
H = "ab" * 32


def test_users_and_roles(store: Any) -> None:
    st: Store = store
    ann = st.add_user("ann", "admin", T0)
    assert ann == {"id": ann["id"], "name": "ann", "role": "admin", "has_password": False,
                   "created_at": "2026-03-01T12:00:00Z"}
    with pytest.raises(UsageError, match="already"):
        st.add_user("ann", "viewer", T0)
    with pytest.raises(UsageError, match="unknown role"):
        st.add_user("bob", "root", T0)
    st.add_user("bob", "viewer", T0)
    assert [u["name"] for u in st.list_users()] == ["ann", "bob"]
    assert st.count_users() == 2 and st.count_users("admin") == 1
    st.set_password_hash(ann["id"], "$argon2id$x")
    got = st.password_hash("ann")
    assert got is not None and got[1] == "$argon2id$x" and got[0]["has_password"] is True
    assert st.password_hash("zed") is None
    assert st.remove_user("bob") is True and st.remove_user("bob") is False
    assert st.get_user("bob") is None and st.get_user_by_id(ann["id"])["name"] == "ann"  # type: ignore[index]


def test_login_links_are_single_use_and_expire(store: Any) -> None:
    st: Store = store
    uid = st.add_user("ann", "viewer", T0)["id"]
    st.add_login_link(uid, H, T0, T0 + timedelta(minutes=15))
    assert st.login_link_valid(H, T0 + timedelta(minutes=1)) is True
    assert st.login_link_valid(H, T0 + timedelta(minutes=15)) is False  # expired at the end
    assert st.use_login_link(H, T0 + timedelta(minutes=16)) is None
    assert st.use_login_link(H, T0 + timedelta(minutes=1))["name"] == "ann"  # type: ignore[index]
    assert st.use_login_link(H, T0 + timedelta(minutes=2)) is None  # once
    assert st.login_link_valid(H, T0 + timedelta(minutes=2)) is False
    assert st.use_login_link("cd" * 32, T0) is None


def test_sessions_and_tokens(store: Any) -> None:
    st: Store = store
    uid = st.add_user("ann", "editor", T0)["id"]
    st.add_session(H, uid, T0, T0 + timedelta(days=7))
    assert st.user_for_session(H, T0 + timedelta(days=6))["role"] == "editor"  # type: ignore[index]
    assert st.user_for_session(H, T0 + timedelta(days=7)) is None
    st.end_session(H)
    assert st.user_for_session(H, T0) is None
    st.add_api_token(uid, H, T0)
    assert st.user_for_token(H)["name"] == "ann"  # type: ignore[index]
    st.add_session("ef" * 32, uid, T0, T0 + timedelta(days=1))
    st.add_login_link(uid, "12" * 32, T0, T0 + timedelta(hours=1))
    (row,) = st.list_users()
    assert (row["tokens"], row["sessions"]) == (1, 1)
    st.remove_user("ann")
    assert st.user_for_token(H) is None and st.user_for_session("ef" * 32, T0) is None
    assert st.use_login_link("12" * 32, T0) is None

"""The store queries behind the web's large-archive targets (issue 11): the account
timeline read from the ``(account_pk, created_at)`` index (dated posts by a row-value
cursor, then the undated ones), the account's counts kept per Store until something
they depend on changes, and search's two orders (``created`` up to a threshold of
matching versions, ``archived`` from the full-text index above it), each page walked by
its cursor on both backends and through the web API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from unerased.model import AccountSnapshot, PostSnapshot
from unerased.store import Store
from web_world import T0, Web, make_web

ALICE = AccountSnapshot("x", "501", handle="alice")
N_COMMON = 2_400  # posts holding "common"; every 7th also "seven"


def _timeline_world(store: Store) -> dict[str, Any]:
    """Posts with distinct dates, equal dates, no date, and one stored with "" as its
    date, added out of date order."""
    with store.writer() as w:
        acc = w.upsert_account(ALICE, "t")
        snaps = []
        for i in range(40):
            when = None if i % 5 == 0 else T0 - timedelta(hours=(i * 7) % 13)
            snaps.append(PostSnapshot("x", "501", f"p{i}", f"post {i}", created_at=when))
        w.add_posts(acc, snaps, "t")
        pk = w.post_pks(acc["id"], ["p3"])["p3"]
        w.update_post(pk, created_at="")
    return dict(acc)


def _expected(store: Store, account_pk: int) -> list[int]:
    """The order of ``coalesce(created_at, '') DESC, id DESC``, computed in Python."""
    rows = [(p["created_at"] or "", p["id"]) for p in store.iter_posts(account_pk=account_pk)]
    return [pk for _, pk in sorted(rows, reverse=True)]


@pytest.mark.parametrize("size", [1, 3, 7, 50])
def test_timeline_pages_keep_the_old_order_with_undated_posts(store: Store, size: int) -> None:
    acc = _timeline_world(store)
    want = _expected(store, acc["id"])
    assert len(want) == 40
    seen: list[int] = []
    before: tuple[str, int] | None = None
    while True:
        page = store.account_timeline(acc["id"], before=before, limit=size)
        seen += [p["id"] for p in page]
        if len(page) < size:
            break
        before = (page[-1]["sort_at"], page[-1]["id"])
    assert seen == want
    first = store.account_timeline(acc["id"], before=None, limit=40)
    assert first[0]["created_at"] and first[-1]["sort_at"] == ""
    assert all(p["sort_at"] == (p["created_at"] or "") for p in first)


def test_timeline_cursor_round_trips_through_the_web(home: Path, store: Store) -> None:
    acc = _timeline_world(store)
    want = _expected(store, acc["id"])
    web = make_web(home, store=store)
    try:
        c = web.logged_in()
        seen: list[int] = []
        url = f"/api/accounts/{acc['id']}?limit=6"
        while True:
            got = c.get(url).json()["timeline"]
            seen += [p["id"] for p in got["items"]]
            if got["next"] is None:
                break
            url = f"/api/accounts/{acc['id']}?limit=6&cursor={got['next']}"
        assert seen == want
        for bad in ("zz!", "WzEsMl0", "WyJhIl0"):  # junk, [1,2], ["a"]
            assert c.get(f"/api/accounts/{acc['id']}?cursor={bad}").status_code == 400
    finally:
        web.close()


def test_account_counts_follow_every_change(store: Store) -> None:
    with store.writer() as w:
        acc = w.upsert_account(ALICE, "t")
        w.add_posts(acc, [PostSnapshot("x", "501", f"p{i}", "x") for i in range(6)], "t")
    row = next(r for r in store.list_accounts() if r["id"] == acc["id"])
    assert store.account_json(row)["posts"] == 6 and store.account_json(row)["deleted_posts"] == 0
    with store.writer() as w:  # a new post: counted at once
        w.add_posts(acc, [PostSnapshot("x", "501", "p9", "y")], "t")
    assert store.account_counts(row) == (7, 0)
    with store.writer() as w:  # a check's result: the state version moves
        assert w.compare_and_set_state(acc["id"], int(row["state_version"]))
        w.update_post(w.post_pks(acc["id"], ["p1"])["p1"], status="deleted")
    row = next(r for r in store.list_accounts() if r["id"] == acc["id"])
    assert store.account_counts(row) == (7, 1)
    with store.writer() as w:  # a deletion recorded with its event: a new ledger leaf
        from unerased.model import Event, EventType

        pk = w.post_pks(acc["id"], ["p2"])["p2"]
        w.update_post(pk, status="deleted")
        w.add_event(Event(EventType.POST_DELETED, T0, "x", "alice", "501", "p2"), acc["id"], pk)
    assert store.account_json(row)["deleted_posts"] == 2


# --- search: the two orders ------------------------------------------------------------


def _search_world(store: Store) -> dict[str, Any]:
    """N_COMMON posts of two accounts (dates not in archive order), a post edited so
    that both versions match, one whose old version alone matches, a deleted one."""
    with store.writer() as w:
        a = w.upsert_account(ALICE, "t")
        b = w.upsert_account(AccountSnapshot("x", "502", handle="bob"), "t")
        for acc, ids in ((a, range(0, N_COMMON, 2)), (b, range(1, N_COMMON, 2))):
            w.add_posts(acc, [PostSnapshot(
                "x", acc["account_id"], f"c{i}",
                f"common {i}" + (" seven" if i % 7 == 0 else ""),
                created_at=None if i % 11 == 0 else T0 - timedelta(minutes=(i * 37) % 997))
                for i in ids], "t")
        w.add_posts(a, [PostSnapshot("x", "501", "c0", "common edited seven", version_key="2")],
                    "t")
        w.add_posts(a, [PostSnapshot("x", "501", "c14", "now plain", version_key="2")], "t")
        pk = w.post_pks(b["id"], ["c21"])["c21"]
        w.update_post(pk, status="deleted")
    return {"a": a["id"], "b": b["id"]}


def _walk(store: Store, q: str, size: int, **filters: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    before: int | None = None
    while True:
        page = store.search_archived(q, limit=size, before=before, **filters)
        out += page
        if len(page) < size:
            return out
        before = page[-1]["match_version"]


@pytest.fixture
def searched(store: Store) -> Iterator[tuple[Store, dict[str, Any]]]:
    yield store, _search_world(store)


def test_search_order_switches_at_the_threshold(searched: tuple[Store, dict[str, Any]]
                                                ) -> None:
    st, _ = searched
    n_seven = len(range(0, N_COMMON, 7))
    assert st.search_order("seven", n_seven + 1) == "created"  # + the edit of c0
    assert st.search_order("seven", n_seven) == "archived"
    assert st.search_order("common", 10_000) == "created"
    assert st.search_order("common", 100) == "archived"
    assert st.search_order("nothingmatches", 0) == "created"


@pytest.mark.parametrize("size", [1, 50, 500])
def test_archived_pages_give_every_match_once_newest_stored_first(
        searched: tuple[Store, dict[str, Any]], size: int) -> None:
    st, _ = searched
    if size == 1:  # one post a page: a few hundred queries; enough on a rarer word
        got = _walk(st, "seven", size)
        want = {p["id"] for p in st.search("seven", limit=10_000)}
    else:
        got = _walk(st, "common", size)
        want = {p["id"] for p in st.search("common", limit=10_000)}
    ids = [p["id"] for p in got]
    assert len(ids) == len(set(ids)) and set(ids) == want
    keys = [p["match_version"] for p in got]
    assert keys == sorted(keys, reverse=True)
    # c0's edit (matching) is the newest matching version; c14's edit does not match,
    # so c14 stands at its first version, among the others
    assert got[0]["post_id"] == "c0" and len(got[0]["versions"]) == 2
    c14 = next(p for p in got if p["post_id"] == "c14")
    assert len(c14["versions"]) == 2 and c14["match_version"] < keys[1]
    assert all(p["snippet"] for p in got)


def test_archived_pages_keep_the_filters(searched: tuple[Store, dict[str, Any]]) -> None:
    st, ids = searched
    for filters in ({"account_pks": [ids["b"]]}, {"status": "deleted"},
                    {"since": (T0 - timedelta(minutes=100)).isoformat()},
                    {"account_pk": ids["a"], "until": (T0 - timedelta(minutes=500)).isoformat()}):
        got = [p["id"] for p in _walk(st, "common", 64, **filters)]
        want = {p["id"] for p in st.search("common", limit=10_000, **filters)}
        assert len(got) == len(set(got)) and set(got) == want and want
    assert st.search_archived("nothingmatches") == []
    assert st.search_archived("common", account_pks=[]) == []


def test_web_search_says_its_order_and_keeps_it(home: Path, store: Store,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from unerased.web.views import search

    _search_world(store)
    web: Web = make_web(home, store=store)
    try:
        c = web.logged_in()
        got = c.get("/api/search?q=seven&limit=100").json()
        assert got["order"] == "created" and got["total"] == len(range(0, N_COMMON, 7))
        dates = [p["created_at"] or "" for p in got["results"]]
        assert dates == sorted(dates, reverse=True)
        monkeypatch.setattr(search, "TOTAL_CAP", 300)
        got = c.get("/api/search?q=common&limit=200").json()
        assert got["order"] == "archived" and got["total_capped"] is True
        seen = [p["id"] for p in got["results"]]
        assert "match_version" not in got["results"][0]
        while got["next"]:
            got = c.get(f"/api/search?q=common&limit=200&cursor={got['next']}").json()
            assert got["order"] == "archived"
            seen += [p["id"] for p in got["results"]]
        assert len(seen) == len(set(seen)) == N_COMMON  # c14 by its old version
        html = c.get("/search?q=common").text
        assert "Newest archived first" in html
        monkeypatch.setattr(search, "TOTAL_CAP", 10_000)  # a cursor keeps its order
        first = c.get("/api/search?q=common&limit=5").json()
        assert first["order"] == "created"
        cur = json.dumps([99]).encode()
        import base64

        arch = base64.urlsafe_b64encode(cur).decode().rstrip("=")
        assert c.get(f"/api/search?q=common&cursor={arch}").json()["order"] == "archived"
        bad = base64.urlsafe_b64encode(b'["x"]').decode().rstrip("=")
        assert c.get(f"/api/search?q=common&cursor={bad}").status_code == 400
    finally:
        web.close()

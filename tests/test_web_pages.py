"""The deepened pages through the in-process ASGI client, HTML and JSON twins: the
overview's SVG charts, an account's timeline and status history, a post's versions with
a Chinese diff, its ledger status and evidence downloads (a receipt `unerased verify
--receipt` accepts, a WARC of its captures alone), search and events filters with
cursors and a capped total, the collector's status; hostile text inert everywhere."""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from test_verify import build, invoke
from test_web_security import _active
from unerased.model import AccountSnapshot, Capture, Event, EventType, PostSnapshot
from unerased.store import Store
from unerased.web._render import environment
from web_world import T0, XSS, Web, make_web

PROVINCES = {"guangdong-1": "广东", "guangdong-2": "广东", "fujian": "福建", "evil": XSS}


def extend(store: Store) -> dict[str, Any]:
    """Tagged accounts closed by province, a Chinese edit, a deletion with its bounds,
    posts for search, a failing check, a collector's heartbeat (hostile text in it)."""
    ids: dict[str, Any] = {}
    with store.writer() as w:
        for i, (name, province) in enumerate(PROVINCES.items()):
            a = w.upsert_account(AccountSnapshot("x", f"{i}00", handle=name), "test")
            w.update_account(a["id"], watched=True,
                             tags_json=json.dumps({"province": province, "group": "g"}))
            kind = EventType.ACCOUNT_DELETED if name == "fujian" else \
                EventType.ACCOUNT_SUSPENDED
            w.add_event(Event(kind, T0 - timedelta(days=i), "x", name, f"{i}00"), a["id"])
            ids[name] = a["id"]
        carol = w.upsert_account(AccountSnapshot("x", "77", handle="carol"), "test")
        w.update_account(carol["id"], watched=True, check_error="timeout " + XSS,
                         last_check="2026-03-01T11:00:00Z")
        w.add_posts(carol, [PostSnapshot("x", "77", "c1", "我们删除了推特", created_at=T0)],
                    "test")
        w.add_posts(carol, [PostSnapshot("x", "77", "c1", "我们删掉了推特 " + XSS,
                                         created_at=T0)], "test")
        w.add_posts(carol, [PostSnapshot("x", "77", f"n{i}", f"needle {i}",
                                         created_at=T0 - timedelta(hours=i))
                            for i in range(5)], "test")
        w.add_posts(carol, [PostSnapshot("x", "77", "gone", "soon gone",
                                         created_at=T0 - timedelta(days=3))], "test")
        pks = w.post_pks(carol["id"], ["c1", "gone", "n0"])
        w.update_post(pks["gone"], status="deleted", deleted_reason="platform_removed",
                      deleted_at="2026-03-01T10:00:00Z")
        w.add_event(Event(EventType.POST_DELETED, T0 - timedelta(hours=2), "x", "carol", "77",
                          "gone", detail={"reason": "platform_removed",
                                          "last_seen": "2026-02-27T08:00:00Z",
                                          "first_missing": "2026-02-28T09:00:00Z"}),
                    carol["id"], pks["gone"])
        w.add_capture(Capture("GET", "https://unrelated.example/", T0, {}, b"", 200, "OK",
                              [], b"not this post's"), carol["id"])
    store.set_state("heartbeat:c1", {"at": "2026-03-01T11:59:00Z", "host": XSS, "checks": 4,
                                     "errors": 1, "last_error": XSS}, T0)
    return {**ids, "carol": carol["id"], "c1": pks["c1"], "gone": pks["gone"]}


@pytest.fixture
def web(home: Path, store: Store) -> Iterator[Web]:
    w = make_web(home, store=store)
    w.ids.update(extend(store))
    yield w
    w.close()


def test_overview_charts_events_by_type_and_closures_by_tag(web: Web) -> None:
    c = web.logged_in()
    data = c.get("/api/").json()
    days = data["events_by_day"]["days"]
    assert len(days) == 30 and days[-1] == "2026-03-01"
    by_type = data["events_by_day"]["by_type"]
    assert by_type["post_edited"][-1] == 3 and sum(by_type["account_suspended"]) == 3
    closures = data["closures"]
    assert closures["by"] == "province" and closures["tag_keys"] == ["group", "province",
                                                                     "region"]
    assert [(r["value"], r["total"]) for r in closures["rows"]][:1] == [("广东", 2)]
    assert {r["value"]: r["by_type"] for r in closures["rows"]}["福建"] == {
        "account_deleted": 1}
    html = c.get("/").text
    charts = re.findall(r"<svg [^>]*class=\"chart\".*?</svg>", html, re.S)
    assert len(charts) == 2
    bars = re.findall(r"<rect class=\"bar\"[^>]*><title>([^<]*)</title>", charts[1])
    assert "广东: 2" in bars and "福建: 1" in bars and len(bars) == 3
    assert "<circle" in charts[0] and "account suspended" in charts[0]  # |label
    # another tag key, and days
    got = c.get("/api/?by=group&days=7").json()
    assert got["closures"]["rows"] == [{"value": "g", "total": 4, "by_type": {
        "account_deleted": 1, "account_suspended": 3}}]
    assert len(got["events_by_day"]["days"]) == 7
    assert c.get("/api/?days=0").status_code == 400


def test_accounts_filter_by_tag_and_status(web: Web) -> None:
    c = web.logged_in()
    got = c.get("/api/accounts?tag=province=广东").json()
    assert sorted(a["id"] for a in got["items"]) == sorted(
        [web.ids["guangdong-1"], web.ids["guangdong-2"]])
    assert c.get("/api/accounts?tag=province=nowhere").json()["items"] == []
    assert c.get("/api/accounts?tag=novalue").status_code == 400
    assert c.get("/api/accounts?status=suspended").json()["items"] == []
    assert len(c.get("/api/accounts?status=active").json()["items"]) >= 6
    html = c.get("/accounts?tag=province%3D%E5%B9%BF%E4%B8%9C").text
    assert f'href="/accounts/{web.ids["guangdong-1"]}"' in html
    assert f'href="/accounts/{web.ids["fujian"]}"' not in html
    carol = next(a for a in c.get("/api/accounts?limit=500").json()["items"]
                 if a["id"] == web.ids["carol"])
    assert carol["check_error"].startswith("timeout") and carol["last_check"]


def test_account_timeline_marks_deletions_and_edits(web: Web) -> None:
    c = web.logged_in()
    data = c.get(f"/api/accounts/{web.ids['carol']}?limit=3").json()
    tl = data["timeline"]
    # newest first; c1 and n0 were made at the same time: the later row first
    assert [p["post_id"] for p in tl["items"]] == ["n0", "c1", "n1"] and tl["next"]
    c1 = tl["items"][1]
    assert c1["edited"] is True and c1["versions"] == 2 and c1["text"].startswith("我们删掉了")
    seen = [p["post_id"] for p in tl["items"]]
    cursor: str | None = tl["next"]
    while cursor:
        page = c.get(f"/api/accounts/{web.ids['carol']}?limit=3&cursor={cursor}").json()
        seen += [p["post_id"] for p in page["timeline"]["items"]]
        cursor = page["timeline"]["next"]
    assert seen == ["n0", "c1", "n1", "n2", "n3", "n4", "gone"]
    html = c.get(f"/accounts/{web.ids['carol']}?limit=500").text
    gone = re.search(r'<li class="post status-deleted">.*?</li>', html, re.S)
    assert gone is not None
    assert "removed by the platform" in gone.group(0)  # platform_removed, |label
    assert "2026-02-27T08:00:00Z" in gone.group(0) and "2026-02-28T09:00:00Z" in gone.group(0)
    assert "edited (2 versions)" in html
    alice = c.get(f"/api/accounts/{web.ids['alice']}").json()
    assert [s["status"] for s in alice["status_history"]] == ["active"]
    assert alice["status_history"][0]["display_name"].startswith("Alice")


def test_post_versions_show_a_chinese_diff(web: Web) -> None:
    c = web.logged_in()
    data = c.get(f"/api/posts/{web.ids['c1']}").json()
    versions = data["post"]["versions"]
    assert data["edited"] is True and versions[0]["diff"] == []
    assert versions[1]["diff"][:4] == [["same", "我们删"], ["del", "除"], ["ins", "掉"],
                                       ["same", "了推特"]]
    html = c.get(f"/posts/{web.ids['c1']}").text
    assert "我们删<del>除</del><ins>掉</ins>了推特" in html
    assert "&lt;script&gt;" in html and _active(html) == []


def test_post_media_images_inline_only_when_safe(web: Web) -> None:
    c = web.logged_in()
    media = c.get(f"/api/posts/{web.ids['p2']}").json()["post"]["media"]
    assert [(m["mime"], m["inline"]) for m in media] == [("image/svg+xml", False),
                                                         ("image/png", True)]
    html = c.get(f"/posts/{web.ids['p2']}").text
    imgs = re.findall(r"<img [^>]*>", html)
    assert len(imgs) == 1 and f'src="/media/{media[1]["sha256"]}"' in imgs[0]
    assert f'href="/blobs/{media[0]["sha256"]}"' in html  # the SVG: a download only
    assert _active(html) == []


def test_post_ledger_status_and_captures(web: Web) -> None:
    built = build(web.store)
    c = web.logged_in()
    data = c.get(f"/api/posts/{built.post_pk}").json()
    ledger = data["ledger"]
    assert ledger["all_included"] is True and ledger["checkpoint"]["size"] >= 2
    kinds = {x["kind"] for x in ledger["leaves"]}
    assert {"post_versions", "captures", "events", "account_status"} <= kinds
    assert all(x["included"] for x in ledger["leaves"])
    assert {x["id"] for x in data["captures"]} == {built.capture_present, built.capture_gone}
    html = c.get(f"/posts/{built.post_pk}").text
    assert built.capture_gone in html and "Every leaf of this post is included" in html
    # a post made after the last checkpoint is not included yet
    with web.store.writer() as w:
        carol = w.upsert_account(AccountSnapshot("x", "77", handle="carol"), "test")
        w.add_posts(carol, [PostSnapshot("x", "77", "late", "after the checkpoint")], "test")
        late = w.post_pks(carol["id"], ["late"])["late"]
    fresh = c.get(f"/api/posts/{late}").json()["ledger"]
    assert fresh["all_included"] is False and fresh["leaves"]
    version = next(x for x in fresh["leaves"] if x["kind"] == "post_versions")
    assert version["index"] >= ledger["checkpoint"]["size"] and not version["included"]
    assert "Not every leaf" in c.get(f"/posts/{late}").text


def test_evidence_receipt_verifies_offline(web: Web, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    built = build(web.store)
    c = web.logged_in()
    r = c.get(f"/posts/{built.post_pk}/receipt.zip")
    assert r.status_code == 200
    assert r.headers["content-disposition"].startswith("attachment;")
    assert r.headers["content-type"] == "application/octet-stream"
    out = tmp_path / "r.zip"
    out.write_bytes(r.content)
    empty = tmp_path / "empty-home"
    got = invoke(monkeypatch, ["--home", str(empty), "verify", "--receipt", str(out)])
    assert got.exit_code == 0, got.output
    pub = c.get(f"/posts/{built.post_pk}/receipt.zip?published=true")
    assert pub.status_code == 200
    with zipfile.ZipFile(io.BytesIO(pub.content)) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["format"] != json.loads(zipfile.ZipFile(out).read("manifest.json"))[
        "format"] and "withheld" in manifest
    (tmp_path / "p.zip").write_bytes(pub.content)
    got = invoke(monkeypatch, ["--home", str(empty), "verify", "--receipt",
                               str(tmp_path / "p.zip")])
    assert got.exit_code == 0, got.output
    assert c.get(f"/posts/{built.post_pk}/receipt.zip?published=maybe").status_code == 400
    assert c.get("/posts/999999/receipt.zip").status_code == 404


def test_a_viewer_never_signs_a_checkpoint_an_editor_may(web: Web) -> None:
    viewer, editor = web.logged_in(), web.logged_in("editor")
    size = web.store.ledger_size()
    r = viewer.get(f"/posts/{web.ids['c1']}/receipt.zip")
    assert r.status_code == 409 and "checkpoint" in r.text
    from unerased.ledger import log

    with web.store.reader() as conn:
        assert log.latest_checkpoint(conn) is None
    r = editor.get(f"/posts/{web.ids['c1']}/receipt.zip")
    assert r.status_code == 200 and zipfile.ZipFile(io.BytesIO(r.content)).testzip() is None
    with web.store.reader() as conn:
        cp = log.latest_checkpoint(conn)
        assert cp is not None and cp.size == size
    assert viewer.get(f"/posts/{web.ids['c1']}/receipt.zip").status_code == 200


def test_evidence_warc_holds_this_posts_captures_only(web: Web) -> None:
    built = build(web.store)
    c = web.logged_in()
    r = c.get(f"/posts/{built.post_pk}/captures.warc.gz")
    assert r.status_code == 200 and r.headers["content-disposition"].startswith("attachment;")
    ids, types = set(), []
    for rec in ArchiveIterator(io.BytesIO(r.content)):
        types.append(rec.rec_type)
        cid = rec.rec_headers.get_header("WARC-Unerased-Capture-Id")
        if cid:
            ids.add(cid)
    assert ids == {built.capture_present, built.capture_gone}
    assert types[0] == "warcinfo" and types.count("response") == 2
    assert c.get(f"/posts/{web.ids['c1']}/captures.warc.gz").status_code == 200  # none: empty


def test_search_filters_cursor_and_snippets(web: Web) -> None:
    c = web.logged_in()
    got = c.get("/api/search?q=needle&limit=2").json()
    assert got["total"] == 5 and got["total_capped"] is False
    seen = [p["post_id"] for p in got["results"]]
    assert seen == ["n0", "n1"] and all("needle" in p["snippet"] for p in got["results"])
    cursor = got["next"]
    while cursor:
        page = c.get(f"/api/search?q=needle&limit=2&cursor={cursor}").json()
        seen += [p["post_id"] for p in page["results"]]
        cursor = page["next"]
    assert seen == ["n0", "n1", "n2", "n3", "n4"]
    since = (T0 - timedelta(hours=2)).isoformat()
    assert c.get("/api/search", params={"q": "needle", "since": since}).json()["total"] == 3
    assert c.get("/api/search", params={"q": "needle", "until": since}).json()["total"] == 2
    assert c.get("/api/search?q=needle&account=x:alice.test").status_code in (400, 404)
    assert c.get(f"/api/search?q=needle&account={web.ids['carol']}").json()["total"] == 5
    assert c.get(f"/api/search?q=needle&account={web.ids['alice']}").json()["total"] == 0
    assert c.get("/api/search?q=删&tag=region=fujian").json()["total"] == 1
    assert c.get("/api/search?q=gone&status=deleted").json()["total"] == 1
    assert c.get("/api/search?q=needle&since=yesterday").status_code == 400
    assert got["results"][0]["snippet_marked"][0] == ["mark", "needle"]
    html = c.get("/search?q=needle&limit=2").text
    assert "5 posts match" in html and 'rel="next"' in html
    assert "<mark>needle</mark> 0" in html
    hostile = c.get("/search", params={"q": "推特"}).text
    assert "<mark>推特</mark>" in hostile and _active(hostile) == []


def test_search_total_is_capped(web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    from unerased.web.views import search

    st = web.store
    assert st.search_total("needle", cap=3) == 3
    assert st.search_total("needle", cap=100) == 5 == st.search_total("needle")
    # the capped count keeps the filters, and counts posts (not versions)
    assert st.search_total("推特", cap=100) == 1 == st.search_total("推特")  # two versions
    assert st.search_total("needle", cap=100, account_pks=[web.ids["carol"]]) == 5
    assert st.search_total("needle", cap=100, account_pks=[web.ids["alice"]]) == 0
    assert st.search_total("needle", cap=100, status="deleted") == 0
    assert st.search_total("needle", cap=100, since="2026-03-01T10:30:00Z") == 2
    assert st.search_total("needle", cap=100, until="2026-03-01T10:30:00Z") == 3
    monkeypatch.setattr(search, "TOTAL_CAP", 3)
    c = web.logged_in()
    got = c.get("/api/search?q=needle").json()
    assert got["total"] == 3 and got["total_capped"] is True and len(got["results"]) == 5
    assert "3+ posts match" in c.get("/search?q=needle").text
    page = environment().get_template("search.html").render(
        data={"q": "x", "results": [], "next": None, "total": 10_000, "total_capped": True,
              "statuses": []}, params={}, nav=[], path="/search")
    assert "10,000+ posts match" in page


def test_events_filters_and_cursor(web: Web) -> None:
    c = web.logged_in()
    assert len(c.get("/api/events?type=account_suspended").json()["items"]) == 3
    got = c.get("/api/events?tag=province=广东").json()["items"]
    assert len(got) == 2 and {e["type"] for e in got} == {"account_suspended"}
    assert len(c.get(f"/api/events?account={web.ids['bob']}").json()["items"]) == 3
    assert len(c.get("/api/events?account=bob@social.example&type=post_deleted")
               .json()["items"]) == 0
    since = (T0 - timedelta(days=1)).isoformat()
    assert {e["type"] for e in c.get("/api/events", params={"since": since}).json()["items"]} \
        >= {"post_edited", "post_deleted", "account_suspended"}
    assert all(e["at"] >= "2026-02-28T12" for e in
               c.get("/api/events", params={"since": since}).json()["items"])
    assert c.get("/api/events?since=nope").status_code == 400
    assert c.get("/api/events?account=999999").status_code == 404
    seen, cursor = [], None
    while True:
        page = c.get("/api/events?limit=3" + (f"&cursor={cursor}" if cursor else "")).json()
        seen += [e["id"] for e in page["items"]]
        cursor = page["next"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == web.store.overview_counts()["events"]
    assert "<option value=\"account_suspended\" selected>" in c.get(
        "/events?type=account_suspended").text


def test_status_reports_the_collectors(web: Web) -> None:
    c = web.logged_in()
    data = c.get("/api/status").json()
    rep = data["report"]
    assert [x["collector"] for x in rep["collectors"]] == ["c1"]
    assert rep["collectors"][0]["state"] == "alive"
    assert rep["accounts"]["watched"] >= 6
    assert any(e["error"].startswith("timeout") for e in rep["errors"])
    assert data["ledger_size"] == web.store.ledger_size()
    html = c.get("/status").text
    assert "c1" in html and "&lt;script&gt;" in html and _active(html) == []


def test_hostile_text_inert_on_every_page(web: Web) -> None:
    built = build(web.store)
    c = web.logged_in("editor")
    pages = ["/", "/?by=province", "/accounts", "/accounts?tag=province=" + XSS,
             "/events", "/events?tag=province=" + XSS, "/search?q=alert",
             "/search?q=删", "/status", f"/posts/{built.post_pk}"]
    pages += [f"/accounts/{a['id']}" for a in web.store.list_accounts()]
    pages += [f"/posts/{p['id']}" for p in web.store.iter_posts()]
    for page in pages:
        r = c.get(page)
        assert r.status_code == 200, page
        assert _active(r.text) == [], page
        assert "<script>alert" not in r.text, page
    # the JSON twin keeps the hostile tag value exactly
    assert XSS in [row["value"] for row in c.get("/api/").json()["closures"]["rows"]]


def test_a_post_prints_as_an_evidence_page(web: Web) -> None:
    built = build(web.store)
    c = web.logged_in()
    html = c.get(f"/posts/{built.post_pk}").text
    assert '<link rel="stylesheet" href="/static/print.css" media="print">' in html
    assert '<body class="page-post">' in html
    versions = c.get(f"/api/posts/{built.post_pk}").json()["post"]["versions"]
    for fact in ("Version 1", "Version 2", 'Observed <time datetime="' + versions[1]["observed_at"],
                 built.capture_present, "sha256 " + built.media_sha,
                 "Latest checkpoint: size", "Printed from the archive"):
        assert fact in html, fact
    css = c.get("/static/print.css").text
    assert re.search(r"header\.site[^{]*\{ display: none", css)
    assert ".page-post .evidence-downloads" in css and ".page-post .printed-at" in css


def test_status_uses_the_collectors_report_when_installed(
        web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    calls: list[dict[str, Any]] = []

    def status_report(store: Store, now: Any, **kw: Any) -> dict[str, Any]:
        calls.append({"store": store, "now": now, **kw})
        return {"at": "2026-03-01T12:00:00Z", "last_check_at": None,
                "accounts": {"watched": 1, "due": 1, "overdue": 1, "claimed": 0},
                "errors": [], "collectors": [{"collector": "h:run", "state": "stale"}],
                "budgets": {"api.x.test": {"spent": 3, "remaining": 7, "limit": 10}},
                "streams": {}, "alerts": {}}

    fake = types.ModuleType("unerased.collector")
    fake.status_report = status_report  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "unerased.collector", fake)
    c = web.logged_in()
    data = c.get("/api/status").json()
    assert data["source"] == "collector" and data["report"]["accounts"]["overdue"] == 1
    assert calls and calls[0]["store"] is web.store and calls[0]["errors"] == 10
    assert calls[0]["now"] == T0
    html = c.get("/status").text
    assert "h:run" in html and "api.x.test" in html


def test_evidence_needs_a_login(web: Web) -> None:
    anon = web.client()
    for url in (f"/posts/{web.ids['p1']}/receipt.zip", f"/posts/{web.ids['p1']}/captures.warc.gz"):
        r = anon.get(url)
        assert r.status_code in (302, 303, 401), url
        assert r.headers.get("content-disposition") is None

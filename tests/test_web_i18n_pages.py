"""The web UI in English, Simplified and Traditional Chinese through the app itself (in
process, tests/web_world.py): ``Accept-Language`` picks the language, the switch links
override it (and a cookie keeps the choice), the ``tz`` setting changes the times shown
(never the ISO ``datetime`` attribute nor the JSON), and hostile text stays escaped
inside translated sentences."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from unerased.model import PostSnapshot
from unerased.web.views import all_views
from web_world import XSS, Web, make_web

OVERVIEW = {"en": "Overview", "zh-Hans": "概览", "zh-Hant": "總覽"}


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Web]:
    w = make_web(tmp_path)
    yield w
    w.close()


def html_lang(text: str) -> str:
    m = re.search(r'<html lang="([^"]+)">', text)
    assert m is not None
    return m.group(1)


def title(text: str) -> str:
    m = re.search(r"<title>(.*?)</title>", text, re.S)
    assert m is not None
    return m.group(1)


@pytest.mark.parametrize(("header", "lang"), [
    ("zh-CN,zh;q=0.9,en;q=0.8", "zh-Hans"), ("zh-SG", "zh-Hans"), ("zh", "zh-Hans"),
    ("zh-TW,zh;q=0.9", "zh-Hant"), ("zh-HK", "zh-Hant"), ("zh-MO", "zh-Hant"),
    ("en-US", "en"), ("fr-FR,de;q=0.5", "en"), (None, "en"),
])
def test_accept_language_picks_the_language(web: Web, header: str | None, lang: str) -> None:
    c = web.logged_in()
    r = c.get("/", headers={"Accept-Language": header} if header else {})
    assert r.status_code == 200
    assert html_lang(r.text) == lang
    assert title(r.text) == f"{OVERVIEW[lang]} · unerased"
    assert "set-cookie" not in r.headers  # negotiated, not chosen: nothing remembered


def test_login_page_and_errors_are_translated_too(web: Web) -> None:
    anon = web.client()
    r = anon.get("/login", headers={"Accept-Language": "zh-TW"})
    assert html_lang(r.text) == "zh-Hant" and "登入" in r.text and "使用者名稱" in r.text
    r = anon.post("/login", headers={"Accept-Language": "zh-CN"},
                  data={"csrf": anon.csrf(), "name": "nobody", "password": "x" * 12})
    assert r.status_code == 401 and "用户名或密码错误" in r.text
    c = web.logged_in()
    r = c.get("/posts/nope", headers={"Accept-Language": "zh-TW"})
    assert r.status_code == 404 and "沒有該 ID 的貼文" in r.text
    r = c.get("/events?limit=abc", headers={"Accept-Language": "zh-CN"})
    assert r.status_code == 400 and "limit：不是整数" in r.text
    # the JSON twin's error stays English
    r = c.get("/api/posts/nope", headers={"Accept-Language": "zh-TW"})
    assert r.json() == {"error": "no post by that id"}


def test_the_switch_link_overrides_accept_language_and_sticks(web: Web) -> None:
    c = web.logged_in()
    zh_cn = {"Accept-Language": "zh-CN"}
    r = c.get("/events?type=post_edited", headers=zh_cn)
    assert html_lang(r.text) == "zh-Hans"
    links = dict(re.findall(r'<a href="([^"]+)" lang="([^"]+)" hreflang', r.text))
    assert set(links.values()) == {"en", "zh-Hans", "zh-Hant"}
    # the switch keeps the page and its query
    assert "/events?type=post_edited&amp;lang=zh-Hant" in links
    r = c.get("/events?type=post_edited&lang=zh-Hant", headers=zh_cn)
    assert html_lang(r.text) == "zh-Hant" and "貼文被編輯" in r.text
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("lang=zh-Hant;") and "SameSite=Lax" in cookie
    assert "HttpOnly" in cookie and "Path=/" in cookie
    # the choice is kept: Accept-Language no longer decides
    assert html_lang(c.get("/", headers=zh_cn).text) == "zh-Hant"
    assert html_lang(c.get("/?lang=en", headers=zh_cn).text) == "en"
    assert html_lang(c.get("/", headers=zh_cn).text) == "en"
    # an unknown language is ignored: nothing set, the cookie's choice stays
    r = c.get("/?lang=xx-evil%3Cscript%3E", headers=zh_cn)
    assert html_lang(r.text) == "en" and "set-cookie" not in r.headers


def test_pages_render_in_every_language(web: Web) -> None:
    c = web.logged_in("admin")
    pages = [v.path for v in all_views() if v.template.endswith(".html") and "{" not in v.path]
    pages += [f"/posts/{web.ids['p1']}", f"/accounts/{web.ids['alice']}", "/settings/display",
              "/settings/password"]
    for lang, word in (("zh-Hans", "概览"), ("zh-Hant", "總覽"), ("en", "Overview")):
        for page in pages:
            r = c.get(page, headers={"Accept-Language": lang})
            assert r.status_code == 200, (page, lang)
            assert html_lang(r.text) == lang, page
            assert f">{word}</a>" in r.text, (page, lang)  # the menu


def test_the_time_zone_setting_changes_the_times_shown(web: Web) -> None:
    c = web.logged_in()
    deleted_at = 'datetime="2026-03-01T13:00:00Z"'  # the post_deleted event of the world
    r = c.get("/")
    assert deleted_at in r.text
    assert re.search(deleted_at + r'[^>]*>March 1, 2026, 1:00:00\WPM UTC</time>', r.text)
    assert "Times in UTC" in r.text
    form = c.get("/settings/display").text
    assert '<option value="Asia/Shanghai">' in form and '<option value="UTC" selected>' in form
    csrf = c.csrf("/settings/display")
    r = c.post("/settings/display", data={"csrf": csrf, "lang": "en", "tz": "Asia/Shanghai"})
    assert r.status_code == 303 and r.headers["location"] == "/settings/display?saved=1"
    assert any(h.startswith("tz=Asia/Shanghai;") for h in r.headers.get_list("set-cookie"))
    r = c.get("/")
    assert deleted_at in r.text  # the machine-readable time stays UTC
    assert re.search(deleted_at + r'[^>]*>March 1, 2026, 9:00:00\WPM \+0800</time>', r.text)
    assert "Times in Asia/Shanghai" in r.text
    r = c.get("/", headers={"Accept-Language": "zh-CN"})  # lang=en was saved: English stays
    assert html_lang(r.text) == "en"
    r = c.get("/?lang=zh-Hans")
    assert re.search(deleted_at + r'[^>]*>2026年3月1日 [^<]*21:00:00</time>', r.text)
    # the JSON twin stays ISO UTC, whatever the reader's zone and language
    plain = web.logged_in().get("/api/").json()
    assert c.get("/api/", headers={"Accept-Language": "zh-TW"}).json() == plain
    assert plain["latest_events"][0]["at"].startswith("2026-03-01T13:00:00")


def test_the_settings_form_is_checked(web: Web) -> None:
    c = web.logged_in()
    csrf = c.csrf("/settings/display")
    r = c.post("/settings/display", data={"lang": "zh-Hant", "tz": "Asia/Taipei"})
    assert r.status_code == 403 and "set-cookie" not in r.headers  # no CSRF token
    r = c.post("/settings/display", data={"csrf": csrf, "lang": "en", "tz": "Mars/Olympus"})
    assert r.status_code == 400 and "tz=" not in r.headers.get("set-cookie", "")
    r = c.post("/settings/display", data={"csrf": csrf, "lang": "klingon", "tz": "UTC"})
    assert r.status_code == 400
    r = c.post("/settings/display", data={"csrf": csrf, "lang": "zh-Hant", "tz": "Asia/Taipei"})
    assert r.status_code == 303
    r = c.get("/settings/display?saved=1")
    assert html_lang(r.text) == "zh-Hant" and "已為此瀏覽器儲存" in r.text
    assert '<option value="Asia/Taipei" selected>' in r.text
    assert "時區：Asia/Taipei" in r.text


def test_unusable_preference_cookies_are_ignored(web: Web) -> None:
    c = web.logged_in()
    for value in ("Mars/Olympus", "<script>", "../../etc/passwd"):
        c.http.cookies.set("tz", value, domain="127.0.0.1")
        c.http.cookies.set("lang", value, domain="127.0.0.1")
        r = c.get("/")
        assert r.status_code == 200 and "Times in UTC" in r.text and html_lang(r.text) == "en"
        assert "<script>" not in r.text.replace("<script>alert", "")
    c.http.cookies.set("tz", "Asia/Tokyo", domain="127.0.0.1")  # the same way, a usable one
    c.http.cookies.set("lang", "zh-Hant", domain="127.0.0.1")
    r = c.get("/")
    assert "時區：Asia/Tokyo" in r.text and html_lang(r.text) == "zh-Hant"


def test_hostile_text_stays_escaped_inside_translated_sentences(web: Web) -> None:
    alice = web.store.find_accounts(f"row:{web.ids['alice']}")[0]
    with web.store.writer() as w:
        w.add_posts(alice, [PostSnapshot("bluesky", "did:plc:alice", XSS, "hostile id")], "test")
        pk = w.post_pks(alice["id"], [XSS])[XSS]
    c = web.logged_in("editor")
    for lang, post in (("zh-Hans", "帖子"), ("zh-Hant", "貼文"), ("en", "Post")):
        r = c.get(f"/posts/{pk}", headers={"Accept-Language": lang})
        assert r.status_code == 200
        assert title(r.text) == f"{post} &lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x " \
            "onerror=&#34;alert(2)&#34;&gt; · unerased"
        assert "<script>" not in r.text and "<img src=x" not in r.text
    # a Problem's message with a hostile value, translated on the error page
    csrf = c.csrf("/accounts")
    r = c.post("/accounts/watch", headers={"Accept-Language": "zh-TW"},
               data={"csrf": csrf, "uri": "bluesky:x.example",
                     "tags": "<script>alert(1)</script>"})
    assert r.status_code == 400
    assert "標籤必須是 鍵=值 的形式，而不是 &#39;&lt;script&gt;alert(1)" in r.text
    assert "<script>" not in r.text


def test_the_atom_feed_follows_the_language_and_stays_valid(web: Web) -> None:
    import xml.etree.ElementTree as ET

    c = web.logged_in()
    ns = {"a": "http://www.w3.org/2005/Atom"}
    for lang, feed_title, entry in (
            ("zh-CN", "unerased：已删除的帖子", "bluesky:alice.test：帖子 p1 已被删除"),
            ("zh-TW", "unerased：已刪除的貼文", "bluesky:alice.test：貼文 p1 已被刪除"),
            (None, "unerased: deleted posts", "bluesky:alice.test: post p1 deleted")):
        r = c.get("/feeds/deletions.atom", headers={"Accept-Language": lang} if lang else {})
        root = ET.fromstring(r.content)  # still well-formed with the hostile reason in it
        assert root.findtext("a:title", namespaces=ns) == feed_title
        assert root.findtext("a:entry/a:title", namespaces=ns) == entry
        assert root.findtext("a:entry/a:summary", namespaces=ns) == XSS  # as it is, escaped

"""The web UI's defences (unerased.web, in process): headers on every response, the
Host check against DNS rebinding, CSRF on every form, hostile archive content escaped or
sanitised, captured files served only as downloads, nothing fetched from elsewhere."""

from __future__ import annotations

import re
import stat
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from unerased.web import CSP, load_secret, post_html, safe_href, text_html
from web_world import PNG, SVG, XSS, Web, make_web

WEB = Path(__file__).resolve().parents[1] / "src" / "unerased" / "web"


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Web]:
    w = make_web(tmp_path / "home", allow_hosts=("archive.example.onion",))
    yield w
    w.close()


def _secure_headers(r: object) -> None:
    h = r.headers  # type: ignore[attr-defined]
    assert h["x-content-type-options"] == "nosniff"
    assert h["referrer-policy"] == "same-origin"
    assert h["x-frame-options"] == "DENY"
    assert "content-security-policy" in h


def test_headers_on_every_response(web: Web) -> None:
    c = web.logged_in()
    anon = web.client()
    for r in (c.get("/"), c.get("/api/"), c.get("/events?limit=0"), c.get("/posts/999999"),
              c.get("/static/unerased.css"), anon.get("/"), anon.get("/api/events"),
              anon.get("/login"), c.get("/", headers={"Host": "evil.example"}),
              c.post("/logout", data={})):
        _secure_headers(r)
    page = c.get("/")
    assert page.headers["content-security-policy"] == CSP
    assert "script-src 'self'" in CSP and "'unsafe-inline'" not in CSP
    assert "frame-ancestors 'none'" in CSP and "form-action 'self'" in CSP
    assert page.headers["cache-control"] == "no-store"


def test_host_header_is_checked(web: Web) -> None:
    c = web.logged_in()
    for host in ("127.0.0.1:8321", "localhost:8321", "[::1]:8321", "archive.example.onion"):
        assert c.get("/", headers={"Host": host}).status_code == 200, host
    for host in ("evil.example", "evil.example:8321", "127.0.0.1.evil.example", "",
                 "localhost.evil.example"):
        r = c.get("/", headers={"Host": host})
        assert r.status_code == 400, host
        assert "Host" in r.text


def test_bound_host_is_allowed(tmp_path: Path) -> None:
    w = make_web(tmp_path / "home", host="192.0.2.7")
    try:
        c = w.client("http://192.0.2.7:8321")
        assert c.get("/login").status_code == 200
        assert c.get("/login", headers={"Host": "192.0.2.8"}).status_code == 400
    finally:
        w.close()
    w = make_web(tmp_path / "home2", host="0.0.0.0")  # a wildcard is not a name
    try:
        assert w.client().get("/login", headers={"Host": "0.0.0.0"}).status_code == 400
    finally:
        w.close()


def test_csrf_on_every_form(web: Web) -> None:
    editor = web.logged_in("editor")
    admin = web.logged_in("admin")
    alice = str(web.ids["alice"])
    forms = [(editor, "/accounts/unwatch", {"id": alice}),
             (editor, "/accounts/watch", {"uri": "rss:https://blog.example/feed"}),
             (admin, "/users/add", {"name": "mallory", "role": "admin"}),
             (admin, "/users/remove", {"name": "editor"}),
             (editor, "/settings/password", {"password": "p" * 12, "again": "p" * 12}),
             (editor, "/logout", {})]
    for client, path, data in forms:
        assert client.post(path, data=data).status_code == 403, path
        assert client.post(path, data={**data, "csrf": "forged" * 8}).status_code == 403, path
    assert web.store.list_accounts(watched_only=True) != []
    assert web.store.get_user("mallory") is None and web.store.get_user("editor") is not None
    assert editor.get("/").status_code == 200  # still signed in: logout refused too
    # the login forms too
    anon = web.client()
    link = web.link("ann")
    assert anon.post(link, data={}).status_code == 403
    assert anon.post("/login", data={"name": "ann", "password": "x" * 12}).status_code == 403
    assert anon.get(link).status_code == 200  # the refused POST did not spend the link
    # every form of every page carries the token
    for page in ("/accounts", "/users", "/settings/password", "/"):
        html = admin.get(page).text
        forms_ = re.findall(r"<form[^>]*method=\"post\"[^>]*>(.*?)</form>", html, re.S)
        assert forms_, page
        for f in forms_:
            assert 'name="csrf"' in f, page


def test_a_cross_site_origin_is_refused(web: Web) -> None:
    editor = web.logged_in("editor")
    r = editor.post("/accounts/unwatch", headers={"Origin": "https://evil.example"},
                    data={"csrf": editor.csrf("/"), "id": str(web.ids["alice"])})
    assert r.status_code == 403
    r = editor.post("/accounts/unwatch", headers={"Origin": "http://127.0.0.1:8321"},
                    data={"csrf": editor.csrf("/"), "id": str(web.ids["alice"])})
    assert r.status_code == 303


class _Active(HTMLParser):
    """What in a page could run: script elements (inline or not), event-handler
    attributes, and javascript:/data: URLs in href/src/action. The pages' own inline
    SVG charts (``<svg class="chart">``, drawn by web/_charts.py) and images of the
    archive's own safe media (``/media/SHA256``) are allowed; anything able to load
    or run something inside an SVG is not."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        src = dict(attrs).get("src") or ""
        ours = (tag == "script" and src.startswith("/static/")) or (
            tag == "svg" and dict(attrs).get("class") == "chart") or (
            tag == "img" and re.fullmatch(r"/media/[0-9a-f]{64}", src) is not None)
        if tag in ("script", "iframe", "object", "embed", "svg", "img", "style",
                   "foreignobject", "use", "image", "animate", "set") and not ours:
            self.found.append(tag)
        for k, v in attrs:
            if k.startswith("on"):
                self.found.append(f"{tag}[{k}]")
            if k in ("href", "src", "action", "formaction") and v is not None and \
                    re.match(r"\s*(javascript|data|vbscript):", v, re.I):
                self.found.append(f"{tag}[{k}={v}]")


def _active(html: str) -> list[str]:
    p = _Active()
    p.feed(html)
    return p.found


def test_hostile_text_is_inert(web: Web) -> None:
    c = web.logged_in()
    alice, p1, p2 = web.ids["alice"], web.ids["p1"], web.ids["p2"]
    for page in ("/", "/accounts", f"/accounts/{alice}", f"/posts/{p1}", f"/posts/{p2}",
                 "/events", "/search?q=删除"):
        r = c.get(page)
        assert r.status_code == 200, page
        assert _active(r.text) == [], page
    assert _active("<p><img src=x onerror=y></p>") == ["img", "img[onerror]"]  # it sees
    feed = c.get("/feeds/deletions.atom").text
    assert "<script>" not in feed and "&lt;script&gt;" in feed
    post = c.get(f"/posts/{p1}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in post
    acc = c.get(f"/accounts/{alice}").text
    assert 'href="javascript:' not in acc
    # the JSON twin keeps the archive's text exactly
    assert XSS in c.get(f"/api/posts/{p1}").json()["post"]["text"]
    assert c.get(f"/api/posts/{p1}").headers["content-type"] == "application/json"


def test_links_to_other_sites_leak_no_referrer(web: Web) -> None:
    c = web.logged_in()
    html = c.get(f"/posts/{web.ids['p1']}").text + c.get(f"/accounts/{web.ids['bob']}").text
    links = re.findall(r"<a [^>]*href=\"https?://[^\"]*\"[^>]*>", html)
    assert links
    for a in links:
        assert 'rel="noopener noreferrer' in a


def test_filters() -> None:
    assert str(text_html("<b>x</b>\ny")) == "&lt;b&gt;x&lt;/b&gt;<br>\ny"
    clean = str(post_html('<p onclick="x()">hi <a href="javascript:alert(1)">a</a> '
                          '<a href="https://ok.example/">b</a><script>bad()</script>'
                          '<style>*{}</style><img src=x onerror=y><svg onload=z></svg></p>'))
    assert "onclick" not in clean and "javascript:" not in clean and "<script" not in clean
    assert "<img" not in clean and "<svg" not in clean and "<style" not in clean
    assert 'href="https://ok.example/"' in clean and 'rel="noopener noreferrer nofollow"' in clean
    for bad in ("javascript:alert(1)", " JavaScript:x", "data:text/html,<b>", "vbscript:x",
                "//evil.example/", "/local", "http:/x", "https://a.example/\\@b", None, 3):
        assert safe_href(bad) == "#", bad
    assert safe_href("https://ok.example/a?b=c") == "https://ok.example/a?b=c"


def test_media_that_can_carry_script_is_only_a_download(web: Web) -> None:
    import hashlib

    c = web.logged_in()
    svg, png = hashlib.sha256(SVG).hexdigest(), hashlib.sha256(PNG).hexdigest()
    r = c.get(f"/media/{svg}")
    assert r.status_code == 200 and r.content == SVG
    assert r.headers["content-disposition"].startswith("attachment;")
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-security-policy"].startswith("sandbox")
    assert r.headers["x-content-type-options"] == "nosniff"
    r = c.get(f"/media/{png}")
    assert r.headers["content-disposition"].startswith("inline;")
    assert r.headers["content-type"] == "image/png"
    assert r.headers["content-security-policy"].startswith("sandbox")
    for digest in (svg, png):  # /blobs: always a download
        r = c.get(f"/blobs/{digest}")
        assert r.headers["content-disposition"].startswith("attachment;")
        assert r.headers["content-security-policy"].startswith("sandbox")
    assert c.get("/blobs/" + "0" * 64).status_code == 404
    assert c.get("/blobs/../../etc/passwd").status_code == 404
    assert c.get("/media/NOTAHASH").status_code == 404


def test_nothing_is_fetched_from_elsewhere() -> None:
    """Templates and static files name no other site: no CDN, font or script URL."""
    for path in [*WEB.joinpath("templates").rglob("*"), *WEB.joinpath("static").rglob("*")]:
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        text = text.replace("http://www.w3.org/2005/Atom", "")  # a namespace, not a request
        assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), path
        assert "@import" not in text and "url(" not in text, path
        if path.suffix == ".html":
            assert not re.search(r"<script(?![^>]*\bsrc=\"/static/)", text), path
            assert not re.search(r"\son[a-z]+\s*=", text), path  # no event handlers
            assert "style=" not in text, path


def test_the_cookie_secret_is_owner_only(tmp_path: Path) -> None:
    home = tmp_path / "home"
    key = load_secret(home)
    assert len(key) >= 32 and load_secret(home) == key
    mode = stat.S_IMODE((home / "web-secret").stat().st_mode)
    assert mode == 0o600
    (home / "web-secret").chmod(0o644)
    assert load_secret(home) == key
    assert stat.S_IMODE((home / "web-secret").stat().st_mode) == 0o600


def test_a_huge_form_is_refused_before_it_is_read(web: Web) -> None:
    c = web.logged_in("editor")
    csrf = c.csrf("/")
    big = {"csrf": csrf, "id": "1", "pad": "x" * 300_000}
    assert c.post("/accounts/unwatch", data=big).status_code == 413

    async def chunks() -> Any:  # no Content-Length: counted as it comes
        yield f"csrf={csrf}&id=1&pad=".encode()
        for _ in range(100):
            yield b"y" * 10_000

    r = c.post("/accounts/unwatch", content=chunks(),
               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413
    assert web.store.list_accounts(watched_only=True) != []


CORPUS = [
    "<script>alert(1)</script>",
    '"><script src=//evil.example/x.js></script>',
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)><script>alert(2)</script></svg>",
    '<a href="javascript:alert(1)">x</a>',
    "javascript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    '<iframe src="data:text/html,<script>alert(1)</script>"></iframe>',
    "<style>body{background:url(//evil.example/)}</style>",
    '<div style="background-image:url(javascript:alert(1))">x</div>',
    "'><body onload=alert(1)>",
    "</textarea></title><script>alert(1)</script>",
    "{{ 7*7 }}{% raw %}",
    "\u202eevil\u202c <b onmouseover=alert(1)>b</b>",
]


def test_xss_corpus_in_names_texts_alt_and_urls_is_inert(tmp_path: Path) -> None:
    from unerased.model import AccountSnapshot, MediaItem, PostSnapshot
    from web_world import T0

    w = make_web(tmp_path / "home")
    try:
        with w.store.writer() as wr:
            for i, payload in enumerate(CORPUS):
                acc = wr.upsert_account(AccountSnapshot(
                    "mastodon", f"{i}@x.example", handle=f"u{i}@x.example",
                    display_name=payload, url=payload), "test")
                wr.update_account(acc["id"], watched=True,
                                  tags_json='{"k": ' + __import__("json").dumps(payload) + "}")
                wr.add_posts(acc, [PostSnapshot(
                    "mastodon", f"{i}@x.example", f"s{i}", payload, created_at=T0,
                    url=payload, html=payload, media=[MediaItem(
                        filename="a.png", mime="image/png", content=PNG, alt=payload,
                        url=payload)])], "test")
        c = w.logged_in("admin")
        pages = ["/", "/accounts?limit=500", "/events", "/search?q=alert", "/users",
                 "/feeds/deletions.atom"]
        for acc in w.store.list_accounts():
            pages.append(f"/accounts/{acc['id']}")
        for p in w.store.iter_posts():
            pages.append(f"/posts/{p['id']}")
        for page in pages:
            r = c.get(page)
            assert r.status_code == 200, page
            if page.endswith(".atom"):
                continue
            assert _active(r.text) == [], page
        post = c.get(f"/posts/{w.store.find_posts('s0')[0]['id']}").text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in post
        tpl = c.get(f"/posts/{w.store.find_posts('s12')[0]['id']}").text
        assert "{{ 7*7 }}{% raw %}" in tpl  # archive text is never a template
    finally:
        w.close()

"""End to end in a real browser: a real ``unerased serve`` (a subprocess on a free
loopback port, logged in through its one-time link) driven in Debian's headless
Chromium by Playwright. The overview's charts render, a timeline marks a deleted post, a
search for 删除 finds it, an XSS corpus in every field the pages show executes nothing
(dialogs, a ``window.__pwned`` probe, the console and every request off the app's origin
are watched, and the links in post bodies are clicked), the CSP stops inline script, every
route is closed without a session when served beyond loopback, a form posted from
another origin is refused, and the UI is Chinese for a zh-CN browser.

Debian's chromium is required, not optional: without it these tests fail, naming the
command that installs it (scripts/test does)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from browser_world import (
    CHROMIUM,
    CHROMIUM_ARGS,
    XSS_CORPUS,
    Archive,
    Server,
    hostile_site,
    local_non_loopback_ipv4,
    missing_tools,
    seed_archive,
    serve,
)

pytestmark = pytest.mark.browser

MAX_PAGES = 120  # the crawl of the hostile archive: every page it shows, bounded
MAX_VARIANTS = 2  # query strings (filters) crawled per path
SKIP_PREFIXES = ("/api", "/static/", "/blobs/", "/media/", "/feeds/", "/logout", "/login")
CJK = re.compile(r"[\u4e00-\u9fff]")

# What a page's DOM must not hold once hostile text went through the templates: event
# handler attributes, script-capable URLs, foreign scripts, frames, objects, <base>,
# <meta http-equiv>, foreign style sheets, style pointing elsewhere.
DOM_SCAN = r"""() => {
  const bad = [];
  const urlAttrs = ['href', 'src', 'action', 'formaction', 'xlink:href', 'data', 'srcdoc',
                    'poster', 'background'];
  for (const el of document.querySelectorAll('*')) {
    const t = el.tagName.toLowerCase();
    for (const a of el.attributes) {
      const n = a.name.toLowerCase();
      const v = a.value.replace(/[\s\u0000-\u001f]/g, '').toLowerCase();
      if (n.startsWith('on')) bad.push(`${t}[${n}]`);
      if (urlAttrs.includes(n) && /^(javascript|data|vbscript):/.test(v)) bad.push(`${t}[${n}=${v.slice(0, 30)}]`);
      if (n === 'style' && /url\(|expression|evil/.test(v)) bad.push(`${t}[style]`);
    }
    if (['iframe', 'frame', 'frameset', 'object', 'embed', 'base', 'applet'].includes(t)) bad.push(t);
    if (t === 'script' && !(el.getAttribute('src') || '').startsWith('/static/')) bad.push('script');
    if (t === 'meta' && el.hasAttribute('http-equiv')) bad.push('meta[http-equiv]');
    if (t === 'link' && !(el.getAttribute('href') || '').startsWith('/static/')) bad.push('link');
    if (t === 'style' && /url\(|@import|evil/.test(el.textContent)) bad.push('style');
    if (t === 'form' && !(el.getAttribute('action') || '').startsWith('/')) bad.push('form');
  }
  return bad;
}"""


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def sync_api() -> Any:
    problem = missing_tools()
    if problem is not None:
        pytest.fail(problem, pytrace=False)
    from playwright import sync_api

    return sync_api


def test_a_missing_browser_fails_naming_its_install() -> None:
    problem = missing_tools(Path("/nonexistent/chromium"))
    assert problem is not None and "apt-get install -y chromium" in problem
    assert missing_tools() is None, missing_tools()  # scripts/test installs them


@pytest.fixture(scope="module")
def browser(sync_api: Any) -> Iterator[Any]:
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                               args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Archive:
    return seed_archive(tmp_path_factory.mktemp("browser") / "home")


@pytest.fixture(scope="module")
def server(archive: Archive) -> Iterator[Server]:
    with serve(archive.home) as s:
        yield s


@pytest.fixture(scope="module")
def session(browser: Any, server: Server) -> dict[str, Any]:
    """The admin's session, logged in through the one-time link serve printed."""
    ctx = browser.new_context()
    try:
        page = ctx.new_page()
        page.goto(server.link)
        assert page.title().startswith("Log in"), page.title()
        with page.expect_navigation():
            page.click("main form button[type=submit]")
        assert "/login" not in page.url, (page.url, page.content())
        state: dict[str, Any] = ctx.storage_state()
    finally:
        ctx.close()
    assert any(c["name"] == "unerased_session" and c["httpOnly"] for c in state["cookies"])
    return state


class Guard:
    """A browser context that watches for anything a payload would do: dialogs, the
    console, uncaught errors, and every request off the app's origin (aborted, with the
    Referer it carried)."""

    def __init__(self, browser: Any, server: Server, state: dict[str, Any] | None,
                 **options: Any) -> None:
        self.origin = server.base
        self.dialogs: list[str] = []
        self.console: list[str] = []
        self.errors: list[str] = []
        self.external: list[tuple[str, str | None]] = []
        self.ctx = browser.new_context(storage_state=state, base_url=server.base, **options)
        self.ctx.route("**/*", self._route)
        self.ctx.on("page", self._watch)

    def _route(self, route: Any) -> None:
        url = route.request.url
        if url == self.origin or url.startswith(self.origin + "/"):
            route.continue_()
        else:
            self.external.append((url, route.request.headers.get("referer")))
            route.abort()

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _watch(self, page: Any) -> None:
        page.on("dialog", self._dialog)
        page.on("console", lambda m: self.console.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def page(self) -> Any:
        return self.ctx.new_page()

    def close(self) -> None:
        self.ctx.close()

    def executed(self) -> list[str]:
        """Signs that hostile text ran (a CSP violation report is not one)."""
        return ([f"dialog: {d}" for d in self.dialogs]
                + [f"console: {c}" for c in self.console if "PWNED" in c])


@pytest.fixture
def guard(browser: Any, server: Server, session: dict[str, Any]) -> Iterator[Guard]:
    g = Guard(browser, server, session)
    yield g
    g.close()


def _probe(page: Any) -> Any:
    return page.evaluate("() => window.__pwned")


# -------------------------------------------------------------------------- the pages


def test_overview_renders_its_charts(guard: Guard) -> None:
    page = guard.page()
    r = page.goto("/")
    assert r.status == 200 and page.url == guard.origin + "/"
    charts = page.evaluate("""() => {
      const drawn = [];
      for (const svg of document.querySelectorAll('main svg')) {
        const box = svg.getBoundingClientRect();
        const marks = svg.querySelectorAll('rect, path, circle, line, polyline, polygon');
        if (box.width > 50 && box.height > 20 && marks.length >= 2) drawn.push(marks.length);
      }
      for (const img of document.querySelectorAll('main img, main object')) {
        const src = img.getAttribute('src') || img.getAttribute('data') || '';
        if (src.includes('.svg') && (img.naturalWidth || img.clientWidth) > 50) drawn.push(1);
      }
      return drawn;
    }""")
    assert len(charts) >= 2, f"the overview draws {len(charts)} charts: {charts}"
    # the closures by province show both provinces
    text = page.inner_text("main")
    assert "fujian" in text and "xinjiang" in text
    assert guard.executed() == [] and guard.external == []


def test_a_timeline_marks_a_deleted_post(guard: Guard, archive: Archive) -> None:
    page = guard.page()
    assert page.goto(f"/accounts/{archive.ids['fu_user0']}").status == 200
    deleted, edited = archive.ids["deleted_fujian_0"], archive.ids["edited_fujian"]
    marks = page.evaluate("""([deleted, edited]) => {
      const mark = (pk) => [...document.querySelectorAll(`main a[href="/posts/${pk}"]`)].map(a => {
        const box = a.closest('tr, li, article, section, .post, div') || a.parentElement;
        return (box.className + ' ' + box.innerText).toLowerCase();
      });
      return [mark(deleted), mark(edited)];
    }""", [deleted, edited])
    assert marks[0], "the timeline has no link to the deleted post"
    assert any("deleted" in m for m in marks[0]), marks[0]
    assert all("deleted" not in m for m in marks[1]), marks[1]  # the edited one is not
    with page.expect_navigation():
        page.click(f'main a[href="/posts/{deleted}"] >> nth=0')
    assert page.url.endswith(f"/posts/{deleted}")
    assert "删除" in page.inner_text("main") and "deleted" in page.inner_text("main")


def test_a_search_for_删除_finds_a_deleted_post(guard: Guard, archive: Archive) -> None:
    page = guard.page()
    page.goto("/search")
    page.fill("main input[name=q]", "删除")
    with page.expect_navigation():
        page.press("main input[name=q]", "Enter")
    assert "q=" in page.url
    hrefs = page.eval_on_selector_all("main a[href^='/posts/']",
                                      "els => els.map(e => e.getAttribute('href'))")
    wanted = {f"/posts/{archive.ids[k]}" for k in ("deleted_fujian_0", "deleted_xinjiang_1")}
    assert wanted <= set(hrefs), hrefs
    assert "删除" in page.inner_text("main")
    # the Traditional form finds the Simplified text (search folds them)
    page.fill("main input[name=q]", "刪除")
    with page.expect_navigation():
        page.press("main input[name=q]", "Enter")
    hrefs = page.eval_on_selector_all("main a[href^='/posts/']",
                                      "els => els.map(e => e.getAttribute('href'))")
    assert wanted <= set(hrefs), hrefs
    assert guard.executed() == []


# ------------------------------------------------------------------------ hostile text


def _same_origin_path(base: str, href: str) -> str | None:
    url = urlsplit(urljoin(base + "/", href))
    if f"{url.scheme}://{url.netloc}" != base:
        return None
    if re.search(r"\.[A-Za-z0-9]+$", url.path):  # a download (receipt.zip, .warc.gz)
        return None
    path = url.path + (f"?{url.query}" if url.query else "")
    return None if path.startswith(SKIP_PREFIXES) else path


def _click_body_links(guard: Guard, page: Any, path: str) -> int:
    """Click every link in the post's body (new tabs included); none may run script,
    and the sites they lead to get no referrer and no opener."""
    links = page.query_selector_all("main article a[href]:not([href^='/'])")
    for i in range(len(links)):
        link = page.query_selector_all("main article a[href]:not([href^='/'])")[i]
        target = link.get_attribute("target")
        if target == "_blank":
            with guard.ctx.expect_page(timeout=5000) as popup_info:
                link.click()
            popup = popup_info.value
            popup.wait_for_load_state()
            assert popup.evaluate("() => window.opener") is None, path
            popup.close()
        else:
            link.click()
            page.wait_for_load_state()
            if page.url != guard.origin + path:
                page.goto(path)
        assert _probe(page) is None, path
    return len(links)


def test_an_xss_corpus_executes_nothing(guard: Guard, archive: Archive) -> None:
    page = guard.page()
    hostile_posts = {f"/posts/{archive.ids[f'hostile_post_{i}']}" for i in range(len(XSS_CORPUS))}
    hostile_accounts = {f"/accounts/{archive.ids[k]}" for k in archive.ids
                        if k.startswith("hostile_account_")}
    queue = ["/", "/accounts?limit=500", "/events?limit=500", "/search?q=hostile",
             "/users", "/status", "/feeds/deletions.atom", *sorted(hostile_accounts), *sorted(hostile_posts)]
    seen: set[str] = set()
    variants: dict[str, int] = {}
    clicked = 0
    problems: list[str] = []
    while queue and len(seen) < MAX_PAGES:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        response = page.goto(path)
        assert response is not None and response.status == 200, (path, response)
        assert page.url == guard.origin + path, f"{path} went to {page.url}"
        if _probe(page) is not None:
            problems.append(f"{path}: window.__pwned set")
        problems += [f"{path}: {b}" for b in page.evaluate(DOM_SCAN)]
        if path in hostile_posts:
            clicked += _click_body_links(guard, page, path)
            if page.url != guard.origin + path:
                page.goto(path)
        hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
        for href in hrefs:
            nxt = _same_origin_path(guard.origin, href)
            if nxt is None or nxt in seen or nxt in queue or "cursor=" in nxt \
                    or "lang=" in nxt:  # the language switch: tested below
                continue
            base = nxt.split("?")[0]
            if "?" in nxt and variants.get(base, 0) >= MAX_VARIANTS:
                continue
            variants[base] = variants.get(base, 0) + ("?" in nxt)
            queue.append(nxt)
    assert hostile_posts | hostile_accounts <= seen
    assert problems == [], "\n".join(problems)
    assert guard.executed() == [], guard.executed()
    assert guard.errors == [], guard.errors
    # nothing was fetched from elsewhere but by the clicks on links to other sites, and
    # those carried no referrer
    unclicked = [u for u, _ in guard.external if "/body" not in u and "/profile" not in u]
    assert unclicked == [], unclicked
    assert all(ref is None for _, ref in guard.external), guard.external
    assert clicked > 0
    # the text is shown, as text
    tpl = XSS_CORPUS.index("{{7*7}} ${7*7} {% raw %}{{ config }}")
    page.goto(f"/posts/{archive.ids[f'hostile_post_{tpl}']}")
    assert "{{7*7}} ${7*7} {% raw %}{{ config }}" in page.inner_text("main")
    page.goto(f"/posts/{archive.ids['hostile_post_0']}")
    assert "<script>window.__pwned=1" in page.inner_text("main")


def test_the_csp_blocks_inline_script(guard: Guard, server: Server) -> None:
    """Were markup to get through, the Content-Security-Policy would still stop it: an
    inline script and an event handler added to the page are reported, not run."""
    page = guard.page()
    response = page.goto("/")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    got = page.evaluate("""() => new Promise(resolve => {
      const seen = [];
      document.addEventListener('securitypolicyviolation', e => seen.push(e.effectiveDirective));
      const s = document.createElement('script');
      s.textContent = "window.__pwned = 'inline script'";
      document.body.appendChild(s);
      const b = document.createElement('button');
      b.setAttribute('onclick', "window.__pwned = 'handler'");
      document.body.appendChild(b);
      b.click();
      setTimeout(() => resolve(seen), 300);
    })""")
    assert _probe(page) is None
    assert "script-src-elem" in got and "script-src-attr" in got, got


# ------------------------------------------------------------- closed to strangers


def _routes(home: Path) -> list[tuple[str, str]]:
    """(method, path) of every route of the app but /static/."""
    from starlette.routing import Route

    from unerased.web import WebConfig, create_app

    app = create_app(WebConfig(home=home))
    try:
        out = []
        for r in app.routes:
            if isinstance(r, Route):
                out += [(m, r.path) for m in sorted(r.methods or ()) if m != "HEAD"]
        return out
    finally:
        app.state.web.store.close()


def test_every_route_is_closed_without_a_session_beyond_loopback(
        archive: Archive, sync_api: Any) -> None:
    """Over real HTTP: served on this machine's own non-loopback address when it has
    one (else on loopback behind ``--allow-host``, as a reverse proxy would reach it),
    every route but the login pages and /static/ answers 401 (API) or a redirect to
    /login, and shows nothing of the archive."""
    from unerased.store import Store

    store = Store.open(archive.home)
    try:
        sha = next(m["sha256"] for p in store.iter_posts()
                   for m in (store.get_post(str(p["id"])) or {}).get("media", [])
                   if m.get("sha256"))
    finally:
        store.close()
    fill = {"{id}": str(archive.ids["fu_user0"]), "{sha256}": sha}
    address = local_non_loopback_ipv4()
    host, extra, host_header = ((address, (), None) if address else
                                ("127.0.0.1", ("--allow-host", "archive.test"), "archive.test"))
    routes = _routes(archive.home)
    assert len(routes) >= 15
    checked = 0
    with serve(archive.home, host, *extra) as srv:
        headers = {"Host": host_header} if host_header else {}
        with httpx.Client(base_url=srv.base, trust_env=False, headers=headers,
                          follow_redirects=False, timeout=10) as http:
            assert http.get("/static/unerased.css").status_code == 200
            assert http.get("/login").status_code == 200
            for method, path in routes:
                if path == "/login" or path.startswith("/login/link/"):
                    continue
                for k, v in fill.items():
                    path = path.replace(k, v)
                r = http.request(method, path, data={} if method == "POST" else None)
                where = f"{method} {path}"
                if path.startswith("/api"):
                    assert r.status_code == 401, (where, r.status_code)
                    assert r.json() == {"error": "login required"}
                else:
                    assert r.status_code in (302, 303, 307), (where, r.status_code)
                    assert urlsplit(r.headers["location"]).path == "/login", where
                assert "删除" not in r.text and "fujian" not in r.text, where
                checked += 1
    assert checked >= 15


def test_a_form_posted_from_another_origin_is_refused(browser: Any, server: Server,
                                                      session: dict[str, Any],
                                                      archive: Archive) -> None:
    """A page on another loopback port (same site, another origin: the session cookie
    goes along) posts the app's forms without the CSRF token, then with a forged one:
    refused, nothing changes, the session survives."""
    from unerased.store import Store

    victim = archive.ids["fu_user1"]
    app = server.base
    html = f"""<!doctype html><title>cats</title>
<form id="unwatch" method="post" action="{app}/accounts/unwatch">
  <input name="id" value="{victim}"><button id="b1">cats</button></form>
<form id="adduser" method="post" action="{app}/users/add">
  <input name="name" value="mallory"><input name="role" value="admin">
  <input name="csrf" value="forged-token"><button id="b2">more cats</button></form>
<form id="logout" method="post" action="{app}/logout"><button id="b3">bye</button></form>"""
    g = Guard(browser, server, session)
    try:
        with hostile_site(html) as evil_origin:
            g.origin = evil_origin  # the hostile page loads; requests to the app go too
            g.ctx.unroute("**/*")
            page = g.page()
            statuses = []
            for button in ("#b1", "#b2", "#b3"):
                page.goto(evil_origin + "/")
                with page.expect_response(lambda r: r.url.startswith(app)) as got:
                    page.click(button)
                statuses.append(got.value.status)
                assert "CSRF" in got.value.text() or "another site" in got.value.text()
        assert statuses == [403, 403, 403], statuses
        page.goto(app + "/")
        assert urlsplit(page.url).path == "/", "the session did not survive"
    finally:
        g.close()
    store = Store.open(archive.home)
    try:
        assert victim in {a["id"] for a in store.list_accounts(watched_only=True)}
        assert store.get_user("mallory") is None
    finally:
        store.close()


# ------------------------------------------------ last: needs the i18n helper's work


def test_the_ui_is_chinese_for_a_chinese_browser(browser: Any, server: Server,
                                               session: dict[str, Any]) -> None:
    g = Guard(browser, server, session, locale="zh-CN")
    try:
        page = g.page()
        r = page.goto("/")
        assert r.request.headers.get("accept-language", "").startswith("zh-CN")
        assert page.get_attribute("html", "lang", timeout=1000).lower().startswith("zh")
        nav = page.inner_text("header")
        h1 = page.inner_text("main h1")
        assert CJK.search(nav) and CJK.search(h1), (nav, h1)
        assert "Overview" not in h1 and "Accounts" not in nav
        page.goto("/search?q=删除")
        assert CJK.search(page.inner_text("main h1"))
        assert g.executed() == []
    finally:
        g.close()
    tw = Guard(browser, server, session, locale="zh-TW")
    try:
        page = tw.page()
        page.goto("/")
        assert page.get_attribute("html", "lang").startswith("zh-Hant")
        assert "帳號" in page.inner_text("header")  # Traditional, not 账号
    finally:
        tw.close()
    en = Guard(browser, server, session, locale="en-US")
    try:
        page = en.page()
        page.goto("/")
        assert not CJK.search(page.inner_text("header"))
    finally:
        en.close()

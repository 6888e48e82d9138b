"""Signing in to the web UI (unerased.web, in process): passwords (Argon2id), one-time
login links, sessions in signed cookies, logout, API tokens, roles, and every route
closed without a login."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from unerased.web import WebConfig, create_app, hash_password, issue_api_token, make_hasher
from web_world import CHEAP, T0, Web, make_web


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Web]:
    w = make_web(tmp_path / "home")
    yield w
    w.close()


def _paths(web: Web, method: str = "GET") -> list[str]:
    """Every route of the app for ``method`` but static files, path parameters filled
    in."""
    fill = {"{id}": str(web.ids["alice"]), "{token}": "x" * 20, "{sha256}": "a" * 64}
    out = []
    for route in web.app.routes:
        path = getattr(route, "path", "")
        methods = getattr(route, "methods", None) or set()
        if path.startswith("/static") or method not in methods:
            continue
        for k, v in fill.items():
            path = path.replace(k, v)
        out.append(path)
    return out


@pytest.mark.parametrize("bound", ["127.0.0.1", "0.0.0.0"])
def test_every_route_is_closed_without_a_login(tmp_path: Path, bound: str) -> None:
    """On loopback and beyond it (bound to every address, reached by a public name)."""
    web = make_web(tmp_path / "home", host=bound, allow_hosts=("archive.example.org",))
    try:
        _every_route_closed(web, web.client("http://127.0.0.1:8321" if bound == "127.0.0.1"
                                            else "http://archive.example.org"))
    finally:
        web.close()


def _every_route_closed(web: Web, c: Any) -> None:
    paths = _paths(web)
    assert {"/", "/accounts", "/events", "/search", "/status", "/feeds/deletions.atom",
            "/api/", "/api/accounts", "/api/openapi.json", "/users", "/blobs/" + "a" * 64,
            f"/posts/{web.ids['alice']}", f"/api/accounts/{web.ids['alice']}"} <= set(paths)
    for p in paths:
        r = c.get(p)
        if p == "/login" or p.startswith("/login/link/"):
            assert r.status_code in (200, 404), p  # the open pages: the form, a dead link
            continue
        if p.startswith("/api/"):
            assert r.status_code == 401, p
            assert r.json() == {"error": "login required"}
            assert r.headers["www-authenticate"].startswith("Bearer")
        else:
            assert r.status_code == 303, p
            assert r.headers["location"].startswith("/login?next=")
    # unknown paths too, and every POST route
    assert c.get("/nowhere").status_code == 303 and c.get("/api/nowhere").status_code == 401
    posts = _paths(web, "POST")
    assert {"/accounts/watch", "/accounts/unwatch", "/users/add", "/users/remove", "/logout",
            "/settings/password"} <= set(posts)
    for p in posts:
        if p == "/login" or p.startswith("/login/link/"):
            continue  # open: checked by the login tests
        r = c.post(p, data={"csrf": "x"})
        if p.startswith("/api/"):
            assert r.status_code == 401, p
        else:
            assert r.status_code == 303 and r.headers["location"] == "/login", p
    # the static files are open
    assert c.get("/static/unerased.css").status_code == 200


def test_login_link_is_single_use_and_expires(web: Web) -> None:
    c = web.client()
    link = web.link("ann", "viewer")
    assert c.get("/").status_code == 303
    page = c.get(link)
    assert page.status_code == 200 and 'method="post"' in page.text
    assert c.get(link).status_code == 200  # looking at it does not spend it
    r = c.post(link, data={"csrf": c.csrf(link)})
    assert r.status_code == 303 and r.headers["location"] == "/settings/password"
    assert c.get("/").status_code == 200
    other = web.client()  # the same link again, from elsewhere: spent
    assert other.get(link).status_code == 404
    assert other.post(link, data={"csrf": other.csrf()}).status_code == 404
    assert other.get("/").status_code == 303
    late = web.link("ann", lifetime=timedelta(minutes=15))
    web.clock.now += timedelta(minutes=16)
    assert other.get(late).status_code == 404
    assert other.post(late, data={"csrf": other.csrf()}).status_code == 404


def test_the_session_cookie_is_signed_httponly_strict(web: Web) -> None:
    c = web.client()
    c.get("/login")
    cookie = c.get("/login").headers.get("set-cookie") or ""
    link = web.link("ann")
    r = c.post(link, data={"csrf": c.csrf(link)})
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("unerased_session=")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # served over http here
    # a forged or altered cookie is no session
    value = c.http.cookies["unerased_session"]
    forged = web.client()
    forged.http.cookies.set("unerased_session", value[:-2] + ("AA" if value[-2:] != "AA" else "BB"))
    assert forged.get("/").status_code == 303
    same = web.client()
    same.http.cookies.set("unerased_session", value)
    assert same.get("/").status_code == 200  # the real one works (signed, not guessable)


def test_secure_cookie_over_https(tmp_path: Path) -> None:
    w = make_web(tmp_path / "home")
    try:
        c = w.client("https://127.0.0.1:8321")
        link = w.link("ann")
        r = c.post(link, data={"csrf": c.csrf(link)})
        assert r.status_code == 303 and "; Secure" in r.headers["set-cookie"]
    finally:
        w.close()


def test_password_login_and_logout(web: Web) -> None:
    c = web.logged_in("viewer", "ann")
    csrf = c.csrf("/settings/password")
    short = c.post("/settings/password", data={"csrf": csrf, "password": "short",
                                               "again": "short"})
    assert short.status_code == 400 and "at least 12" in short.text
    ok = c.post("/settings/password", data={"csrf": csrf, "password": "correct horse 1",
                                            "again": "correct horse 1"})
    assert ok.status_code == 200 and "password is set" in ok.text
    stored = web.store.password_hash("ann")
    assert stored is not None and stored[1] is not None and stored[1].startswith("$argon2id$")
    c.post("/logout", data={"csrf": c.csrf("/")})
    assert c.get("/").status_code == 303
    d = web.client()
    bad = d.post("/login", data={"csrf": d.csrf(), "name": "ann", "password": "wrong one!!"})
    assert bad.status_code == 401 and "wrong name or password" in bad.text
    nobody = d.post("/login", data={"csrf": d.csrf(), "name": "zed", "password": "x" * 12})
    assert nobody.status_code == 401
    good = d.post("/login", data={"csrf": d.csrf(), "name": "ann",
                                  "password": "correct horse 1", "next": "/events"})
    assert good.status_code == 303 and good.headers["location"] == "/events"
    assert d.get("/events").status_code == 200
    # next never leaves the site
    e = web.client()
    r = e.post("/login", data={"csrf": e.csrf(), "name": "ann", "password": "correct horse 1",
                               "next": "//evil.example/"})
    assert r.headers["location"] == "/"


def test_logout_ends_the_session_on_the_server(web: Web) -> None:
    c = web.logged_in("viewer", "ann")
    stolen = c.http.cookies["unerased_session"]
    c.post("/logout", data={"csrf": c.csrf("/")})
    replay = web.client()
    replay.http.cookies.set("unerased_session", stolen)
    assert replay.get("/").status_code == 303  # the cookie is still signed, but ended


def test_removing_a_user_ends_its_sessions_and_tokens(web: Web) -> None:
    c = web.logged_in("viewer", "ann")
    token = issue_api_token(web.store, web.store.get_user("ann")["id"], web.clock())  # type: ignore[index]
    api = web.client()
    assert api.get("/api/events", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert web.store.remove_user("ann") is True
    assert c.get("/").status_code == 303
    assert api.get("/api/events", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_sessions_expire(web: Web) -> None:
    c = web.logged_in("viewer", "ann")
    web.clock.now += web.config.session_lifetime + timedelta(seconds=1)
    assert c.get("/").status_code == 303


def test_api_tokens(web: Web) -> None:
    user = web.store.add_user("bot", "viewer", web.clock())
    token = issue_api_token(web.store, user["id"], web.clock())
    c = web.client()
    r = c.get("/api/events", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and len(r.json()["items"]) == 4
    assert c.get("/api/events", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert c.get("/api/events", headers={"Authorization": f"Basic {token}"}).status_code == 401
    assert c.get("/events", headers={"Authorization": "Bearer nope"}).status_code == 401
    # a token is kept as its digest only
    assert token not in str(web.store.list_users())
    # a viewer's token cannot do an editor's work (no CSRF needed with a token)
    r = c.post("/accounts/unwatch", data={"id": str(web.ids["alice"])},
               headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403


def test_roles(web: Web) -> None:
    viewer, editor, admin = (web.logged_in(r) for r in ("viewer", "editor", "admin"))
    assert viewer.get("/users").status_code == 403
    assert viewer.get("/api/users").status_code == 403
    assert editor.get("/users").status_code == 403
    assert admin.get("/users").status_code == 200
    assert 'action="/accounts/watch"' not in viewer.get("/accounts").text
    assert 'action="/accounts/watch"' in editor.get("/accounts").text
    alice = str(web.ids["alice"])
    r = viewer.post("/accounts/unwatch", data={"csrf": viewer.csrf("/"), "id": alice})
    assert r.status_code == 403
    assert web.store.list_accounts(watched_only=True) != []
    r = editor.post("/accounts/unwatch", data={"csrf": editor.csrf("/"), "id": alice})
    assert r.status_code == 303 and web.store.list_accounts(watched_only=True) == []
    r = editor.post("/users/add", data={"csrf": editor.csrf("/"), "name": "eve",
                                        "role": "admin"})
    assert r.status_code == 403 and web.store.get_user("eve") is None
    r = admin.post("/users/add", data={"csrf": admin.csrf("/"), "name": "eve",
                                       "role": "editor"})
    assert r.status_code == 200 and "/login/link/" in r.text
    assert web.store.get_user("eve")["role"] == "editor"  # type: ignore[index]
    r = admin.post("/users/remove", data={"csrf": admin.csrf("/"), "name": "eve"})
    assert r.status_code == 303 and web.store.get_user("eve") is None


def test_no_auth_serves_everyone_as_admin(tmp_path: Path) -> None:
    w = make_web(tmp_path / "home", auth=False)
    try:
        c = w.client()
        assert c.get("/").status_code == 200
        assert c.get("/api/accounts").status_code == 200
        assert c.get("/users").status_code == 200
    finally:
        w.close()


def test_argon2id_defaults_and_injected_parameters(tmp_path: Path) -> None:
    default = hash_password(make_hasher(), "a password of some length")
    assert default.startswith("$argon2id$v=19$m=65536,t=3,p=4$")  # argon2-cffi's RFC 9106 choice
    cheap = hash_password(make_hasher(**CHEAP), "x")
    assert cheap.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    w = make_web(tmp_path / "home")
    try:
        assert w.config.hasher.time_cost == 1
        default_app = create_app(WebConfig(home=tmp_path / "home", store=w.store))
        assert default_app.state.web.hasher.memory_cost == 65536
    finally:
        w.close()


def test_failed_logins_are_throttled_per_name(web: Web) -> None:
    from unerased.web import hash_password as hp

    user = web.store.add_user("ann", "viewer", web.clock())
    web.store.set_password_hash(user["id"], hp(web.config.hasher, "the right one!"))
    c = web.client()

    def login(password: str, name: str = "ann") -> int:
        r = c.post("/login", data={"csrf": c.csrf(), "name": name, "password": password})
        return r.status_code

    assert [login(f"wrong {i}") for i in range(10)] == [401] * 10
    assert login("the right one!") == 429  # even the right password, for now
    assert login("the right one!", "bob") == 401  # another name is not held back
    web.clock.now += timedelta(minutes=16)
    assert login("the right one!") == 303


def test_the_throttle_forgets_what_it_must() -> None:
    from unerased.web._login import MAX_NAMES, Throttle

    t = Throttle(limit=2)
    t0 = T0
    for i in range(MAX_NAMES + 50):
        t.failed(f"name{i}", t0)
    assert len(t.failures) == MAX_NAMES  # bounded, whatever is tried
    t.failed("x", t0)
    t.failed("x", t0)
    assert t.blocked("x", t0) and not t.blocked("x", t0 + timedelta(minutes=15))

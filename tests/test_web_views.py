"""The pages and their JSON twins (unerased.web, in process): each view's data at its
route as HTML and under /api as JSON matching the schema /api/openapi.json declares;
parameters checked (400, never 500); cursor pages; the Atom feed; watched accounts
added and removed from the web."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from unerased.sim.platform import HOST, SimPlatform
from unerased.watch import RunContext, WatchConfig
from unerased.web import decode_cursor, encode_cursor
from unerased.web.views import all_views
from web_world import T0, Web, make_web

TYPES = {"object": dict, "array": list, "string": str, "integer": int, "boolean": bool,
         "null": type(None), "number": (int, float)}


def conforms(value: Any, schema: dict[str, Any], doc: dict[str, Any], where: str = "$") -> None:
    """Check ``value`` against the JSON Schema subset the views use (type, properties,
    required, items, enum, minimum, maximum, $ref)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        conforms(value, doc["components"]["schemas"][name], doc, where)
        return
    kinds = schema.get("type")
    if kinds is not None:
        kinds = kinds if isinstance(kinds, list) else [kinds]
        ok = any(isinstance(value, TYPES[k]) and not (k == "integer" and isinstance(value, bool))
                 for k in kinds)
        assert ok, f"{where}: {value!r} is not {kinds}"
    if "enum" in schema:
        assert value in schema["enum"], where
    if isinstance(value, dict):
        for k in schema.get("required", []):
            assert k in value, f"{where}: {k} missing"
        for k, sub in schema.get("properties", {}).items():
            if k in value:
                conforms(value[k], sub, doc, f"{where}.{k}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            conforms(item, schema["items"], doc, f"{where}[{i}]")


@pytest.fixture
def web(home: Path, store: Any) -> Iterator[Web]:
    """The app over the world, on SQLite and on PostgreSQL (conftest's ``store``)."""
    w = make_web(home, store=store)
    yield w
    w.close()


def test_every_page_and_its_json_twin(web: Web) -> None:
    c = web.logged_in("admin")
    doc = c.get("/api/openapi.json").json()
    alice, p1 = web.ids["alice"], web.ids["p1"]
    fill = {"{id}": str(alice)}
    seen = 0
    for v in all_views():
        path = v.path.replace("{id}", str(p1) if v.path.startswith("/posts") else fill["{id}"])
        html = c.get(path)
        assert html.status_code == 200, path
        assert html.headers["content-type"].startswith(v.media_type.split(";")[0]), path
        if not v.api:
            assert "/api" + v.path not in doc["paths"]
            continue
        data = c.get("/api" + path)
        assert data.status_code == 200 and data.headers["content-type"] == "application/json"
        op = doc["paths"]["/api" + v.path]["get"]
        conforms(data.json(), op["responses"]["200"]["content"]["application/json"]["schema"],
                 doc, path)
        assert f'href="/api{path}' in html.text  # the page links its JSON twin
        seen += 1
    assert seen >= 7


def test_openapi_document(web: Web) -> None:
    doc = web.logged_in().get("/api/openapi.json").json()
    assert doc["openapi"].startswith("3.1.") and doc["info"]["title"] == "unerased"
    assert {"/api/", "/api/accounts", "/api/accounts/{id}", "/api/posts/{id}", "/api/events",
            "/api/search", "/api/status"} <= set(doc["paths"])
    ids = [op["operationId"] for p in doc["paths"].values() for op in p.values()]
    assert len(ids) == len(set(ids))
    for path, item in doc["paths"].items():
        op = item["get"]
        names = re.findall(r"{(\w+)}", path)
        params = {p["name"]: p for p in op["parameters"]}
        for n in names:
            assert params[n]["in"] == "path" and params[n]["required"] is True
        for p in op["parameters"]:
            assert p["in"] in ("path", "query") and p["schema"]["type"] in (
                "string", "integer", "boolean")
        assert set(op["responses"]) >= {"200", "400", "401", "404"}
    search = {p["name"]: p for p in doc["paths"]["/api/search"]["get"]["parameters"]}
    assert search["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 500,
                                         "default": 50}
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_bad_parameters_are_400_not_500(web: Web) -> None:
    c = web.logged_in()
    for url in ("/api/events?limit=0", "/api/events?limit=abc", "/api/events?limit=99999",
                "/api/events?cursor=!!!", "/api/events?cursor=" + encode_cursor(["x"]),
                "/api/accounts?cursor=" + encode_cursor(["x"]), "/api/accounts?watched=maybe",
                "/api/search?q=" + "x" * 501, "/api/search?q=%00", "/events?limit=-1"):
        r = c.get(url)
        assert r.status_code == 400, url
        if url.startswith("/api"):
            assert set(r.json()) == {"error"}
    for bad in ("%00", "a%0Ab", "x" * 201):
        assert c.get(f"/api/posts/{bad}").status_code == 400, bad
        assert c.get(f"/api/accounts/{bad}").status_code == 400, bad
    assert c.get("/api/accounts/bluesky:").status_code in (400, 404)
    assert c.get("/api/posts/nope").status_code == 404
    assert c.get("/api/posts/nope").json() == {"error": "no post by that id"}
    assert c.get("/api/accounts/999999").status_code == 404
    assert c.get("/posts/nope").status_code == 404
    assert "no post by that id" in c.get("/posts/nope").text


def test_cursor_pages(web: Web) -> None:
    c = web.logged_in()
    seen: list[int] = []
    url = "/api/events?limit=1"
    while True:
        page = c.get(url).json()
        assert len(page["items"]) <= 1
        seen += [e["id"] for e in page["items"]]
        if page["next"] is None:
            break
        url = f"/api/events?limit=1&cursor={page['next']}"
    assert len(seen) == 4 and len(set(seen)) == 4
    assert [e["id"] for e in c.get("/api/events?limit=10").json()["items"]] == seen  # newest first
    first = c.get("/api/events?limit=10").json()["items"]
    assert first[0]["type"] == "post_deleted" and first[0]["at"] > first[1]["at"]
    assert decode_cursor(encode_cursor(["2026-03-01T12:00:00Z", 5])) == ["2026-03-01T12:00:00Z", 5]
    accounts = c.get("/api/accounts?limit=1").json()
    assert len(accounts["items"]) == 1 and accounts["next"]
    rest = c.get(f"/api/accounts?limit=1&cursor={accounts['next']}").json()
    assert rest["items"][0]["id"] != accounts["items"][0]["id"] and rest["next"] is None
    html = c.get("/events?limit=1").text
    nxt = re.search(r'rel="next" href="(/events\?[^"]+)"', html)
    assert nxt is not None and "limit=1" in nxt.group(1) and "cursor=" in nxt.group(1)
    assert c.get(nxt.group(1).replace("&amp;", "&")).status_code == 200
    typed = c.get("/api/events?type=post_edited").json()["items"]
    assert len(typed) == 3 and {e["type"] for e in typed} == {"post_edited"}


def test_overview_counts(web: Web) -> None:
    data = web.logged_in().get("/api/").json()
    assert data["counts"]["accounts"] == 2 and data["counts"]["watched"] == 1
    assert data["counts"]["posts"] == 3 and data["counts"]["deleted_posts"] == 1
    assert data["counts"]["events"] == 4 and len(data["latest_events"]) == 4


def test_search_and_post(web: Web) -> None:
    c = web.logged_in()
    found = c.get("/api/search?q=删除").json()
    assert [p["post_id"] for p in found["results"]] == ["p1"]
    assert "/posts/" in c.get("/search?q=删除").text
    post = c.get(f"/api/posts/{web.ids['p1']}").json()["post"]
    assert post["status"] == "deleted" and post["deleted_reason"] == "user_deleted"
    empty = c.get("/api/search").json()
    assert empty["q"] == "" and empty["results"] == [] and empty["total"] == 0


def test_deletions_feed_is_atom(web: Web) -> None:
    c = web.logged_in()
    r = c.get("/feeds/deletions.atom")
    assert r.headers["content-type"].startswith("application/atom+xml")
    ns = {"a": "http://www.w3.org/2005/Atom"}
    root = ET.fromstring(r.content)
    assert root.tag == "{http://www.w3.org/2005/Atom}feed"
    entries = root.findall("a:entry", ns)
    assert len(entries) == 1
    for e in entries:
        assert e.find("a:id", ns) is not None and e.find("a:updated", ns) is not None
        assert e.find("a:title", ns) is not None and e.find("a:author/a:name", ns) is not None
        alt = e.find("a:link[@rel='alternate']", ns)  # no content: an alternate link (RFC 4287)
        assert alt is not None and alt.get("href") == f"http://127.0.0.1:8321/posts/{web.ids['p1']}"
    assert root.find("a:updated", ns) is not None and root.find("a:id", ns) is not None
    tagged = ET.fromstring(c.get("/feeds/deletions.atom?tag=region=fujian").content)
    assert len(tagged.findall("a:entry", ns)) == 1
    other = ET.fromstring(c.get("/feeds/deletions.atom?tag=region=tibet").content)
    assert other.findall("a:entry", ns) == []
    assert c.get("/feeds/deletions.atom?tag=region").status_code == 400


def test_editors_add_and_remove_watches(tmp_path: Path) -> None:
    sim = SimPlatform(seed=1, clock=lambda: T0)
    sim.add_account("carol", "Carol")

    def run_context(store: Any) -> RunContext:
        return RunContext(store, lambda: httpx.AsyncClient(transport=sim.transport()),
                          WatchConfig(source_options={"mastodon": {"clock": lambda: T0}}),
                          now=lambda: T0)

    w = make_web(tmp_path / "home", extra={"run_context": run_context})
    try:
        c = w.logged_in("editor")
        r = c.post("/accounts/watch", data={"csrf": c.csrf("/accounts"),
                                            "uri": f"mastodon:@carol@{HOST}",
                                            "service": f"https://{HOST}",
                                            "tags": "region=fujian, risk=high"})
        assert r.status_code == 303, r.text
        assert re.fullmatch(r"/accounts/\d+", r.headers["location"])
        acc = c.get("/api" + r.headers["location"]).json()["account"]
        assert acc["uri"] == f"mastodon:@carol@{HOST}" and acc["watched"] is True
        assert acc["tags"] == {"region": "fujian", "risk": "high"}
        bad = c.post("/accounts/watch", data={"csrf": c.csrf("/accounts"), "uri": "nope"})
        assert bad.status_code == 400
        gone = c.post("/accounts/unwatch", data={"csrf": c.csrf("/accounts"),
                                                 "id": str(acc["id"])})
        assert gone.status_code == 303
        assert c.get(f"/api/accounts/{acc['id']}").json()["account"]["watched"] is False
        assert c.post("/accounts/unwatch", data={"csrf": c.csrf("/accounts"),
                                                 "id": str(acc["id"])}).status_code == 404
    finally:
        w.close()


def test_adding_watches_needs_a_collector_context(web: Web) -> None:
    c = web.logged_in("editor")
    r = c.post("/accounts/watch", data={"csrf": c.csrf("/accounts"),
                                        "uri": "mastodon:@carol@social.example"})
    assert r.status_code == 503


def test_store_reads_run_off_the_event_loop(web: Web) -> None:
    import threading

    c = web.logged_in()
    seen: dict[str, threading.Thread] = {}
    for name in ("overview_counts", "events_page", "user_for_session"):
        real = getattr(web.store, name)

        def spy(*a: Any, _real: Any = real, _name: str = name, **kw: Any) -> Any:
            seen[_name] = threading.current_thread()
            return _real(*a, **kw)

        setattr(web.store, name, spy)
    try:
        assert c.get("/").status_code == 200
    finally:
        for name in ("overview_counts", "events_page", "user_for_session"):
            delattr(web.store, name)
    assert set(seen) == {"overview_counts", "events_page", "user_for_session"}
    assert all(t is not threading.main_thread() for t in seen.values())  # the loop's thread

"""``export site``: a static mirror of deleted posts and closed accounts, with each post's
published receipt. Built from a small archive holding a deleted and edited post with a
hostile text, a closed account, a protected account, a followers-only post and other
posts whose texts and salts must not leak into any receipt."""

from __future__ import annotations

import json
import stat
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import feedparser
import pytest
from sqlalchemy import select

from test_receipt import flip, members, rewrite
from test_verify import _args, invoke
from unerased.errors import UsageError
from unerased.export.site import is_public_post, slug, write_site
from unerased.ledger.published import PUBLISHED_FORMAT, is_direct_lookup
from unerased.ledger.receipt import verify_receipt, write_receipt
from unerased.model import (
    AccountSnapshot,
    AccountStatus,
    Capture,
    Event,
    EventType,
    MediaItem,
    PostSnapshot,
    canonical_json,
)
from unerased.store import Store
from unerased.store import _schema as schema

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
T1 = datetime(2024, 5, 2, 8, 0, tzinfo=UTC)
T2 = datetime(2024, 5, 3, 8, 0, tzinfo=UTC)
HOST = "https://m.test"
HOSTILE = ('<script>alert(1)</script> <a href="javascript:alert(2)">click</a> '
           '<svg onload="alert(3)"><img src=x onerror=alert(4)></svg> '
           '"><iframe src="data:text/html,x"></iframe> ]]> \x0b end')
OTHER = "SECRET-NEIGHBOUR-TEXT 邻居的帖子"  # another post of the same account
PRIVATE = "FOLLOWERS-ONLY-TEXT 只给粉丝看"
PROTECTED = "PROTECTED-ACCOUNT-TEXT 锁定账户"


@dataclass
class World:
    victim_pk: int  # deleted, edited, hostile text
    other_pk: int  # still online
    private_pk: int  # deleted, followers-only
    closed_pk: int  # a deleted post of the closed account
    protected_pk: int  # a deleted post of the protected account
    listing_id: str
    lookup_id: str


def status(pid: str, text: str, *, visibility: str = "public", acct: str = "1",
           edited: datetime | None = None, **kw: Any) -> PostSnapshot:
    return PostSnapshot(
        "mastodon", f"{acct}@m.test", pid, text, created_at=T0,
        url=kw.pop("url", f"{HOST}/@a/{pid}"), edited_at=edited,
        version_key=(edited or T0).isoformat(),
        raw={"id": pid, "visibility": visibility, "content": text}, **kw)


def _deleted(w: Any, account: dict[str, Any], post_pk: int, pid: str,
             listing: str | None, at: datetime) -> str:
    """A direct lookup answering 404, the post_deleted event, the post's state."""
    lookup = Capture("GET", f"{HOST}/api/v1/statuses/{pid}", at, {"accept": "application/json"},
                     b"", 404, "Not Found", [("content-type", "application/json")],
                     b'{"error":"Record not found"}')
    lid = w.add_capture(lookup, account["id"])
    evidence = [c for c in (listing, lid) if c]
    w.add_event(Event(EventType.POST_DELETED, at, "mastodon", account["handle"],
                      account["account_id"], pid,
                      {"reason": "unknown", "last_seen": "2024-05-01T08:00:00Z",
                       "first_missing": "2024-05-02T08:00:00Z"}, evidence),
                account["id"], post_pk)
    w.update_post(post_pk, status="deleted", deleted_at=at.isoformat().replace("+00:00", "Z"),
                  first_missing="2024-05-02T08:00:00Z",
                  state_json=json.dumps({"seen_evidence": [listing] if listing else []}))
    return lid


def build_world(store: Store) -> World:
    listing = Capture("GET", f"{HOST}/api/v1/accounts/1/statuses?limit=40", T0,
                      {"accept": "application/json"}, b"", 200, "OK",
                      [("content-type", "application/json")],
                      json.dumps([{"id": "100", "content": "v1"}, {"id": "101", "content": OTHER},
                                  {"id": "102", "content": PRIVATE}]).encode())
    with store.writer() as w:
        a = w.upsert_account(AccountSnapshot(
            "mastodon", "1@m.test", handle="a@m.test",
            display_name='Alice "><script>alert(9)</script>',
            url="javascript:alert(10)"), "capture:" + listing.id)
        res = w.add_posts(a, [
            status("100", "first version 第一版",
                   media=[MediaItem(filename="x.svg", content=b"<svg onload='alert(11)'/>",
                                    mime="image/svg+xml", alt="<svg onload=alert(12)>")]),
            status("101", OTHER), status("102", PRIVATE, visibility="private"),
        ], "capture:" + listing.id)
        lid0 = w.add_capture(listing, a["id"])
        assert lid0 == listing.id
        victim, other, private = (r.post_pk for r in res)
        # an edit, seen by a direct lookup of the post
        seen = Capture("GET", f"{HOST}/api/v1/statuses/100", T1, {}, b"", 200, "OK",
                       [("content-type", "application/json")],
                       json.dumps({"id": "100", "content": "edited"}).encode())
        w.add_posts(a, [status("100", HOSTILE, edited=T1, url="javascript:alert(13)")],
                    "capture:" + seen.id)
        w.add_capture(seen, a["id"])
        lookup_id = _deleted(w, a, victim, "100", listing.id, T2)
        _deleted(w, a, private, "102", listing.id, T2)
        # a closed account, with one deleted post
        c = w.upsert_account(AccountSnapshot("mastodon", "2@m.test", handle="closed@m.test",
                                             display_name="Closed", url=f"{HOST}/@closed"), "t")
        (cp,) = w.add_posts(c, [status("200", "closed account's post", acct="2")], "t")
        _deleted(w, c, cp.post_pk, "200", None, T1)
        c = w.upsert_account(AccountSnapshot("mastodon", "2@m.test", handle="closed@m.test",
                                             status=AccountStatus.SUSPENDED), "t")
        w.add_event(Event(EventType.ACCOUNT_SUSPENDED, T2, "mastodon", "closed@m.test",
                          "2@m.test", None, {"basis": "explicit"}, []), c["id"])
        # a protected account: never published
        p = w.upsert_account(AccountSnapshot("mastodon", "3@m.test", handle="locked@m.test",
                                             status=AccountStatus.PROTECTED), "t")
        (pp,) = w.add_posts(p, [status("300", PROTECTED, acct="3")], "t")
        _deleted(w, p, pp.post_pk, "300", None, T1)
    return World(victim, other, private, cp.post_pk, pp.post_pk, listing.id, lookup_id)


class _Scan(HTMLParser):
    """Every tag and attribute of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def assert_inert(html: str) -> _Scan:
    """Nothing in the page can run: no script element, no event-handler attribute, no
    link or source to javascript:, data: or vbscript:, no iframe, object, embed or svg."""
    assert "<script" not in html.lower()
    scan = _Scan()
    scan.feed(html)
    for tag, attrs in scan.tags:
        assert tag not in ("script", "iframe", "object", "embed", "svg", "img", "form",
                           "base"), tag
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name)
            v = "".join((value or "").split()).lower()
            assert not v.startswith(("javascript:", "data:", "vbscript:")), (tag, name, value)
    return scan


@pytest.fixture
def world(store: Store) -> World:
    return build_world(store)


@pytest.fixture
def site(store: Store, world: World, tmp_path: Path) -> Path:
    out = tmp_path / "site"
    s = write_site(store, out, generated_at="2024-06-01T00:00:00Z")
    assert (s.posts, s.accounts, s.closed) == (2, 2, 1)
    assert (s.left_out_accounts, s.left_out_posts) == (1, 1)
    return out


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- pages


def test_site_pages(site: Path, store: Store, world: World) -> None:
    victim = slug("mastodon", "1@m.test", "100")
    closed_post = slug("mastodon", "2@m.test", "200")
    files = {str(p.relative_to(site)) for p in site.rglob("*") if p.is_file()}
    assert files == {
        "index.html", "about.html", "feed.atom", "style.css", "key.pub", "checkpoint.note",
        f"posts/{victim}.html", f"posts/{closed_post}.html",
        f"receipts/{victim}.zip", f"receipts/{closed_post}.zip",
        f"accounts/{slug('mastodon', '1@m.test')}.html",
        f"accounts/{slug('mastodon', '2@m.test')}.html",
    }
    index = _text(site / "index.html")
    # newest deletion first: the victim (T2) before the closed account's post (T1)
    assert index.index(f"posts/{victim}.html") < index.index(f"posts/{closed_post}.html")
    assert "closed@m.test" in index and "suspended" in index
    page = _text(site / "posts" / f"{victim}.html")
    assert "first version 第一版" in page  # every version
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the text, escaped
    assert "2024-05-01T08:00:00Z" in page and "2024-05-02T08:00:00Z" in page  # the bounds
    assert f"../receipts/{victim}.zip" in page and world.lookup_id in page
    assert "Every version (2)" in page
    about = _text(site / "about.html")
    assert _text(site / "key.pub").strip() in about
    assert "protected" in about and "1 account left out" in about
    for p in site.rglob("*"):  # owner-only, like every export
        assert stat.S_IMODE(p.stat().st_mode) in (0o600, 0o700), p
    assert stat.S_IMODE(site.stat().st_mode) == 0o700


def test_site_is_inert_and_keeps_no_private_data(site: Path) -> None:
    pages = [p for p in site.rglob("*.html")]
    assert len(pages) == 6
    for p in pages:
        html = _text(p)
        scan = assert_inert(html)
        links = [v for _t, attrs in scan.tags for n, v in attrs if n in ("href", "src")]
        for link in links:  # local files or http(s) only, no remote asset loaded
            assert link and (link.startswith(("http://", "https://")) or "://" not in link)
        assert [v for t, attrs in scan.tags if t == "link" for n, v in attrs if n == "href"
                and "://" in (v or "")] == []
        for secret in (PRIVATE, PROTECTED, OTHER, "locked@m.test"):
            assert secret not in html, (p, secret)
    everything = b"".join(p.read_bytes() for p in site.rglob("*") if p.is_file()
                          and p.suffix != ".zip")
    for secret in (PRIVATE, PROTECTED, OTHER, "locked@m.test"):
        assert secret.encode() not in everything
    account = _text(site / "accounts" / f"{slug('mastodon', '1@m.test')}.html")
    assert 'href="javascript' not in account and "&#34;&gt;&lt;script&gt;" in account


def test_atom_feed(site: Path) -> None:
    raw = (site / "feed.atom").read_bytes()
    root = ET.fromstring(raw)  # well-formed XML, though a post held \x0b and "]]>"
    ns = "{http://www.w3.org/2005/Atom}"
    assert root.tag == f"{ns}feed"
    entries = root.findall(f"{ns}entry")
    assert len(entries) == 2
    feed = feedparser.parse(raw)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    first = feed.entries[0]
    assert first.id.startswith("urn:uuid:")
    assert first.link.endswith(f"posts/{slug('mastodon', '1@m.test', '100')}.html")
    assert "<script>alert(1)</script>" in first.content[0].value  # text, as text
    assert first.updated_parsed is not None
    assert PRIVATE not in raw.decode() and PROTECTED not in raw.decode()


# --------------------------------------------------------------------------- receipts


def _receipt_bytes(path: Path) -> bytes:
    return b"".join(members(path).values())


def test_published_receipts_verify_and_hold_only_their_post(
        site: Path, store: Store, world: World, tmp_path: Path) -> None:
    victim = site / "receipts" / f"{slug('mastodon', '1@m.test', '100')}.zip"
    rep = verify_receipt(victim)
    assert rep.ok, rep.problems
    assert rep.published and "published receipt verified" in rep.summary()
    m = json.loads(members(victim)["manifest.json"])
    assert m["format"] == PUBLISHED_FORMAT
    held = {(w["kind"], w["reason"]): w for w in m["withheld"]}
    assert held[("capture", "listing")]["ids"] == [world.listing_id]
    assert ("account_status", "account_status") in held
    kinds = sorted(json.loads(d)["kind"] for n, d in members(victim).items()
                   if n.startswith("leaves/"))
    # two versions, the edit's lookup (200), the deletion's lookup (404), the event
    assert kinds == ["capture", "capture", "event", "post_version", "post_version"]
    data = _receipt_bytes(victim)
    with store.reader() as conn:
        salts = {r.ref: bytes(r.salt) for r in conn.execute(select(
            schema.ledger_leaves.c.ref, schema.ledger_leaves.c.salt,
            schema.ledger_leaves.c.kind))}
        other_versions = [str(r.id) for r in conn.execute(select(schema.post_versions.c.id)
                          .where(schema.post_versions.c.post_pk != world.victim_pk))]
    assert other_versions
    for ref in other_versions:  # no other post's salt, raw or hex
        assert salts[ref] not in data and salts[ref].hex().encode() not in data
    assert salts[world.listing_id].hex().encode() not in data
    for secret in (OTHER, PRIVATE, PROTECTED):
        assert secret.split()[0].encode() not in data  # the ASCII part, however escaped
        assert secret.encode() not in data
        assert json.dumps(secret).encode()[1:-1] not in data
    # the full receipt of the same post does hold them: the test can see a leak
    full = tmp_path / "full.zip"
    write_receipt(store, f"row:{world.victim_pk}", full)
    assert verify_receipt(full).ok and not verify_receipt(full).published
    assert OTHER.encode() in _receipt_bytes(full) or json.dumps(OTHER).encode() in \
        _receipt_bytes(full)
    closed = site / "receipts" / f"{slug('mastodon', '2@m.test', '200')}.zip"
    assert verify_receipt(closed).ok


def test_published_receipt_tampering_fails(site: Path, tmp_path: Path) -> None:
    victim = site / "receipts" / f"{slug('mastodon', '1@m.test', '100')}.zip"
    names = sorted(members(victim))
    for name in names:
        size = len(members(victim)[name])
        for at in sorted({0, size // 2, size - 1}):
            bad = rewrite(victim, tmp_path / "bad.zip",
                          lambda m, n=name, a=at: {**m, n: flip(m[n], a)})
            assert not verify_receipt(bad).ok, f"a changed byte {at} in {name} was missed"


def test_a_full_receipt_relabelled_published_fails(store: Store, world: World,
                                                   tmp_path: Path) -> None:
    full = tmp_path / "full.zip"
    write_receipt(store, f"row:{world.victim_pk}", full)

    def relabel(m: dict[str, bytes]) -> dict[str, bytes]:
        man = json.loads(m["manifest.json"])
        man["format"], man["withheld"] = PUBLISHED_FORMAT, []
        return {**m, "manifest.json": canonical_json(man)}

    rep = verify_receipt(rewrite(full, tmp_path / "relabelled.zip", relabel))
    assert not rep.ok and "must withhold" in rep.problems[0]


def test_cli_site_and_verify(store: Store, world: World, home: Path, db_url: str | None,
                             tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "pub"
    r = invoke(monkeypatch, _args(home, db_url, "export", "site", str(out)))
    assert r.exit_code == 0, r.output
    assert "2 deleted posts" in r.stderr and "1 accounts, 1 deleted posts" in r.stderr
    for z in sorted((out / "receipts").iterdir()):
        r = invoke(monkeypatch, ["verify", "--receipt", str(z)])
        assert r.exit_code == 0, r.output
        assert r.stdout.startswith("published receipt verified") and "withheld" in r.stdout
    # OUT is not empty now: refused, nothing touched
    before = sorted(p.name for p in out.iterdir())
    r = invoke(monkeypatch, _args(home, db_url, "export", "site", str(out)))
    assert r.exit_code == 2 and "is not empty" in r.stderr and len(r.stderr.splitlines()) == 1
    assert sorted(p.name for p in out.iterdir()) == before
    # --tag restricts the whole site (and every other export: tests/test_export_select.py)
    r = invoke(monkeypatch, _args(home, db_url, "export", "site", str(tmp_path / "none"),
                                  "--tag", "region=fujian"))
    assert r.exit_code == 0, r.output
    assert list((tmp_path / "none" / "posts").iterdir()) == []
    r = invoke(monkeypatch, _args(home, db_url, "export", "jsonl", str(tmp_path / "x.jsonl"),
                                  "--tag", "a=b"))
    assert r.exit_code == 0 and (tmp_path / "x.jsonl").read_text() == ""
    r = invoke(monkeypatch, _args(home, db_url, "export", "site", str(tmp_path / "y"),
                                  "--status", "deleted"))
    assert r.exit_code == 2 and "export site" in r.stderr
    r = invoke(monkeypatch, _args(home, db_url, "receipt", f"row:{world.victim_pk}",
                                  str(tmp_path / "p.zip"), "--published", "--json"))
    assert r.exit_code == 0 and json.loads(r.stdout)["published"] is True


def test_tag_selection_and_public_tag(store: Store, world: World, tmp_path: Path) -> None:
    with store.writer() as w:
        w.update_account(store.resolve_account("mastodon:@a@m.test")["id"],
                         tags_json=json.dumps({"region": "fujian"}))
        w.update_account(store.resolve_account("mastodon:@closed@m.test")["id"],
                         tags_json=json.dumps({"region": "fujian", "public": "no"}))
    s = write_site(store, tmp_path / "fj", tags=[("region", "fujian")])
    assert (s.posts, s.accounts, s.closed, s.left_out_accounts) == (1, 1, 0, 1)
    html = _text(tmp_path / "fj" / "index.html")
    assert "region=fujian" in html and "closed@m.test" not in html


def test_out_must_be_new_or_empty(store: Store, world: World, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="is not a directory"):
        write_site(store, tmp_path / "file")
    (tmp_path / "empty").mkdir()
    s = write_site(store, tmp_path / "empty")
    assert s.posts == 2 and (tmp_path / "empty" / "index.html").exists()
    assert [p.name for p in tmp_path.iterdir() if ".part" in p.name] == []


def test_direct_lookups() -> None:
    at = "at://did:plc:abc/app.bsky.feed.post/3k"
    assert is_direct_lookup("bluesky", at, None, [], "GET",
                            "https://pds.test/xrpc/com.atproto.repo.getRecord?repo=did:plc:abc"
                            "&collection=app.bsky.feed.post&rkey=3k")
    assert not is_direct_lookup("bluesky", at, None, [], "GET",
                                "https://pds.test/xrpc/com.atproto.repo.listRecords?repo=did:plc:"
                                "abc&collection=app.bsky.feed.post")
    assert not is_direct_lookup("bluesky", at, None, [], "GET",
                                "https://pds.test/xrpc/com.atproto.repo.getRecord?repo=did:plc:abc"
                                "&collection=app.bsky.feed.post&rkey=3k&rkey=4k")
    assert is_direct_lookup("x", "5", None, ["5", "6"], "GET", "https://api.x.com/2/tweets?ids=5,6")
    assert not is_direct_lookup("x", "5", None, ["5"], "GET", "https://api.x.com/2/tweets?ids=5,7")
    assert is_direct_lookup("mastodon", "9", None, [], "GET", "https://m.test/api/v1/statuses/9")
    assert is_direct_lookup("mastodon", "9", None, [], "GET",
                            "https://m.test/api/v1/statuses/9/history")
    assert not is_direct_lookup("mastodon", "9", None, [], "GET",
                                "https://m.test/api/v1/statuses/9/context")
    assert not is_direct_lookup("mastodon", "9", None, [], "WS", "https://m.test/api/v1/statuses/9")
    assert is_direct_lookup("rss", "e1", "https://b.test/p/1", [], "GET", "https://b.test/p/1")
    assert not is_direct_lookup("rss", "e1", "https://b.test/p/1", [], "GET",
                                "https://b.test/feed.xml")


def test_visibility_and_slugs() -> None:
    assert is_public_post([json.dumps({"visibility": "public"}), None])
    assert not is_public_post([json.dumps({"visibility": "unlisted"})])
    assert not is_public_post([json.dumps({"to": ["https://m.test/users/a/followers"]})])
    assert is_public_post([json.dumps({"to": ["https://www.w3.org/ns/activitystreams#Public"]})])
    assert not is_public_post(["not json"])
    s = slug("x", "42", "../../etc/passwd")
    assert s.startswith("x-etc-passwd-") and "/" not in s and "." not in s
    assert slug("x", "42", "CON") != slug("x", "42", "con")
    assert slug("x", "42", "本") .startswith("x-") and all(c.isalnum() or c == "-" for c in
                                                        slug("x", "42", "本"))


def test_a_failure_leaves_nothing(store: Store, world: World, tmp_path: Path) -> None:
    """A receipt that cannot be made (a media file gone from the blob store) stops the
    export with one line, and neither OUT nor the temporary directory is left."""
    from unerased.errors import ReceiptError

    victim = next(p for p in store.iter_posts() if p["id"] == world.victim_pk)
    store.blobs.path(victim["media"][0]["sha256"]).unlink()
    with pytest.raises(ReceiptError, match="is missing"):
        write_site(store, tmp_path / "site")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]


def test_a_deletion_found_by_the_collector(store: Store, tmp_path: Path) -> None:
    """End to end against the simulated platform (the Mastodon API, through the real
    collector): an edited post is deleted; its published receipt holds its versions, its
    direct lookups (the 404 among them) and the deletion, and withholds the timeline
    listings, which hold the other posts."""
    from test_watch_runner import make_ctx, rounds, watch_alice
    from test_watch_runner import world as sim_world

    sim, clock = sim_world()
    ctx = make_ctx(store, sim, clock)
    watch_alice(ctx)
    rounds(ctx, clock)
    victim = sim.live_statuses(sim.by_username("alice"))[2]
    sim.edit(victim, "改过的文字 edited before deletion")
    rounds(ctx, clock)
    sim.delete(victim)
    assert [e["type"] for e in rounds(ctx, clock, 2)] == ["post_deleted"]
    s = write_site(store, tmp_path / "site")
    assert (s.posts, s.accounts) == (1, 1)
    (z,) = (tmp_path / "site" / "receipts").iterdir()
    rep = verify_receipt(z)
    assert rep.ok and rep.published, rep.problems
    got = members(z)
    records = [json.loads(d) for n, d in got.items() if n.startswith("leaves/")]
    urls = [r["record"]["url"] for r in records if r["kind"] == "capture"]
    statuses = [r["record"]["status"] for r in records if r["kind"] == "capture"]
    own = f"/api/v1/statuses/{victim.id}"
    assert urls and all(u.endswith((own, own + "/history")) for u in urls), urls
    assert 404 in statuses
    assert sorted({r["kind"] for r in records}) == ["capture", "event", "post_version"]
    assert len([r for r in records if r["kind"] == "post_version"]) == 2
    assert [r["type"] for r in records if r["kind"] == "event"] == ["post_edited", "post_deleted"]
    manifest = json.loads(got["manifest.json"])
    listing = [w for w in manifest["withheld"] if w["reason"] == "listing"]
    assert listing and listing[0]["ids"]
    data = b"".join(got.values())
    others = [st for st in sim.live_statuses(sim.by_username("alice")) if st.id != victim.id]
    assert len(others) == 11
    for st in others:  # neither their ids in a URL nor their texts, however escaped
        assert f"/statuses/{st.id}".encode() not in data
        assert st.text
        for needle in (st.text, json.dumps(st.text)[1:-1]):
            assert needle.encode() not in data
    page = (tmp_path / "site" / "posts" / f"{z.stem}.html").read_text(encoding="utf-8")
    assert "改过的文字 edited before deletion" in page and "Every version (2)" in page

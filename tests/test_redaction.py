"""Redaction (docs/redaction.md): the content goes — texts, media no kept post uses, every
raw capture that holds it, search terms, salts, SQLite's free pages — the ledger stays
verifiable with the redacted leaves named, receipts made before still verify, and a
redacted post does not come back from a later import without `unerased unredact`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from test_verify import T0, T1, invoke
from unerased.errors import ReceiptError
from unerased.ledger import log
from unerased.ledger.receipt import verify_receipt, write_receipt
from unerased.ledger.verify import verify_archive
from unerased.model import (
    AccountSnapshot,
    AccountStatus,
    Capture,
    Event,
    EventType,
    MediaItem,
    PostSnapshot,
)
from unerased.store import RedactedError, Store
from unerased.store import _schema as schema

SECRET = "SECRETWORD-alpha"  # in post 1's texts only
SECRET2 = "SECRETWORD-edited"  # its edit
SHARED = b"\x89PNG\r\n\x1a\n" + b"shared picture" * 64  # post 1 and post 2
OWN = b"\x89PNG\r\n\x1a\n" + b"post one alone" * 64  # post 1 only
PROFILE = "PROFILEWORD-bio"


def acc() -> AccountSnapshot:
    return AccountSnapshot("x", "42", handle="sample", display_name="Sample User",
                           status=AccountStatus.ACTIVE, profile={"bio": PROFILE})


def post(pid: str, body: str, **kw: Any) -> PostSnapshot:
    return PostSnapshot("x", "42", pid, body, created_at=T0, **kw)


def cap(url: str, body: bytes, at: Any = T0) -> Capture:
    return Capture("GET", url, at, {"accept": "*/*"}, b"", 200, "OK",
                   [("content-type", "application/json")], body)


@dataclass
class World:
    account_pk: int
    post1: int
    post2: int
    listing: str  # holds posts 1, 2 and 3
    lookup: str  # post 1's own lookup
    other: str  # a capture of post 3 alone


def world(store: Store) -> World:
    listing = cap("https://api.x.test/2/users/42/tweets", json.dumps({"data": [
        {"id": "1", "text": f"{SECRET} first words"}, {"id": "2", "text": "keeper two"},
        {"id": "3", "text": "keeper three"}]}).encode())
    lookup = cap("https://api.x.test/2/tweets/1",
                 json.dumps({"data": {"id": "1", "text": f"{SECRET2} now"}},
                            ensure_ascii=False).encode(), T1)
    other = cap("https://api.x.test/2/tweets/3", b'{"data":{"id":"3","text":"keeper three"}}')
    with store.writer() as w:
        a = w.upsert_account(acc(), "capture:" + listing.id)
        w.add_capture(listing, a["id"])
        w.add_capture(other, a["id"])
        r = w.add_posts(a, [
            post("1", f"{SECRET} first words",
                 media=[MediaItem(filename="s.png", content=SHARED),
                        MediaItem(filename="o.png", content=OWN)]),
            post("2", "keeper two", media=[MediaItem(filename="s.png", content=SHARED)]),
            post("3", "keeper three"),
        ], "capture:" + listing.id)
    with store.writer() as w:
        a = w.account_row("x", "42")
        assert a is not None
        w.add_capture(lookup, a["id"])
        w.add_posts(a, [post("1", f"{SECRET2} now")], "capture:" + lookup.id)
        w.add_event(Event(EventType.POST_EDITED, T1, "x", "sample", "42", "1",
                          {"text": f"{SECRET2} now"}, [lookup.id]), a["id"], r[0].post_pk)
    log.make_checkpoint(store)
    return World(int(a["id"]), r[0].post_pk, r[1].post_pk, listing.id, lookup.id, other.id)


def files_holding(home: Path, needle: bytes) -> list[str]:
    return sorted(str(p.relative_to(home)) for p in home.rglob("*")
                  if p.is_file() and needle in p.read_bytes())


def checkpointed(store: Store) -> None:
    if store.engine.dialect.name == "sqlite":
        with store.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def count(store: Store, table: str) -> int:
    with store.reader() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608


@pytest.fixture
def redacted(store: Store, tmp_path: Path) -> Iterator[tuple[World, dict[str, Path]]]:
    wd = world(store)
    before = {n: write_receipt(store, n, tmp_path / f"before{n}.zip").path for n in ("1", "2")}
    assert store.search(SECRET) and store.search(SECRET2)
    done = store.redact(reason="the author asked", account_pk=wd.account_pk, post_pk=wd.post1)
    assert done.target == "post" and done.versions == 2 and done.posts == 1
    assert set(done.captures) == {wd.listing, wd.lookup}  # not the capture of post 3 alone
    assert done.blobs_removed >= 3  # OWN, the listing's and the lookup's bodies
    yield wd, before


def test_redacted_post_is_gone_and_the_archive_verifies(store: Store, home: Path,
                                                       redacted: tuple[World, Any]) -> None:
    wd, _ = redacted
    rep = verify_archive(store)
    assert rep.ok, rep.summary()
    assert "leaves redacted by 1 redaction" in rep.summary() and "the author asked" in rep.summary()
    tables = sorted((r["table"], r["row"]) for r in rep.redacted)
    assert [t for t, _ in tables] == ["captures", "captures", "events", "post_versions",
                                      "post_versions"]
    assert all(r["reason"] == "the author asked" and r["at"] for r in rep.redacted)
    (red,) = rep.redactions
    assert red["leaves"] == 5 and red["captures"] == 2 and red["target"] == "post"
    assert store.find_posts("1") == []
    assert {p["post_id"] for p in store.iter_posts()} == {"2", "3"}
    assert store.search(SECRET) == [] and store.search(SECRET2) == []
    assert store.search("keeper")  # the other posts are still found
    assert store.blobs.exists(hashlib.sha256(SHARED).hexdigest())  # post 2 still uses it
    assert not store.blobs.exists(hashlib.sha256(OWN).hexdigest())
    with store.reader() as conn:
        salts = conn.execute(select(schema.ledger_leaves.c.salt).where(
            schema.ledger_leaves.c.idx.in_([r["leaf"] for r in rep.redacted]))).scalars().all()
    assert salts and all(bytes(s) == b"" for s in salts)
    checkpointed(store)
    for needle in (SECRET.encode(), SECRET2.encode(), OWN):
        assert files_holding(home, needle) == [], needle  # database, WAL, blobs


def test_sqlite_file_held_the_text_before(store: Store, home: Path) -> None:
    """The grep of the previous test can fail: before a redaction it finds the text."""
    world(store)
    checkpointed(store)
    if store.engine.dialect.name == "sqlite":
        assert "unerased.sqlite" in files_holding(home, SECRET.encode())
    assert files_holding(home / "blobs", SECRET2.encode())


def test_receipts_before_and_after(store: Store, tmp_path: Path,
                                   redacted: tuple[World, dict[str, Path]]) -> None:
    wd, before = redacted
    for path in before.values():  # offline: nothing of the archive is consulted
        rep = verify_receipt(path)
        assert rep.ok, rep.summary()
    with pytest.raises(ReceiptError) as info:
        write_receipt(store, "1", tmp_path / "after1.zip")
    assert "was redacted at" in str(info.value) and "the author asked" in str(info.value)
    after = write_receipt(store, "2", tmp_path / "after2.zip").path
    rep = verify_receipt(after)
    assert rep.ok, rep.summary()
    assert [r["capture"] for r in rep.redacted] == [wd.listing]
    assert "evidence captures were redacted" in rep.summary()
    assert any("redaction 1" in line and "the author asked" in line for line in rep.story)
    pub = write_receipt(store, "2", tmp_path / "pub2.zip", published=True).path
    assert verify_receipt(pub).ok


def test_cli_redact_verify_receipt(store: Store, home: Path, db_url: str | None,
                                   tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    world(store)
    args = ["--home", str(home), *(["--db", db_url] if db_url else [])]
    old = tmp_path / "old.zip"
    assert invoke(monkeypatch, [*args, "receipt", "1", str(old)]).exit_code == 0
    r = invoke(monkeypatch, [*args, "redact", "1", "--reason", "  "])
    assert r.exit_code == 2 and "--reason" in r.stderr
    r = invoke(monkeypatch, [*args, "redact", "nope", "--reason", "x", "--yes"])
    assert r.exit_code == 1 and len(r.stderr.splitlines()) == 1
    r = invoke(monkeypatch, [*args, "redact", "1", "--reason", "court order", "--yes", "--json"])
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    assert got["versions"] == 2 and got["captures"] == 2 and got["reason"] == "court order"
    r = invoke(monkeypatch, [*args, "verify"])
    assert r.exit_code == 0, r.output
    assert "redaction 1 at" in r.stdout and "court order" in r.stdout
    r = invoke(monkeypatch, [*args, "verify", "--json"])
    rep = json.loads(r.stdout)
    assert rep["ok"] and len(rep["redacted"]) == 5 and rep["redactions"][0]["reason"] == "court order"
    r = invoke(monkeypatch, [*args, "receipt", "1", str(tmp_path / "new.zip")])
    assert r.exit_code == 1 and r.stdout == ""
    (line,) = r.stderr.splitlines()
    assert "was redacted at" in line and "court order" in line
    r = invoke(monkeypatch, ["--home", str(tmp_path / "none"), "verify", "--receipt", str(old)])
    assert r.exit_code == 0, r.output


def test_tampering_is_not_hidden_by_a_redaction(store: Store,
                                                redacted: tuple[World, Any]) -> None:
    wd, _ = redacted
    with store.engine.begin() as conn:  # a leaf no redaction names loses its row
        conn.execute(schema.posts.delete().where(schema.posts.c.id == wd.post2))
        conn.execute(schema.post_versions.delete().where(
            schema.post_versions.c.post_pk == wd.post2))
    rep = verify_archive(store)
    assert not rep.ok and rep.first is not None and rep.first.code == "leaf_without_row"


def test_redaction_record_cannot_be_edited(store: Store,
                                           redacted: tuple[World, Any]) -> None:
    with store.engine.begin() as conn:
        conn.execute(schema.redactions.update().values(reason="nothing to see"))
    rep = verify_archive(store)
    assert not rep.ok and rep.first is not None and rep.first.table == "redactions"


def test_redacted_post_does_not_come_back_until_unredacted(
        store: Store, redacted: tuple[World, Any]) -> None:
    again = cap("https://api.x.test/2/tweets/1", f'{{"text":"{SECRET} first words"}}'.encode())
    with store.writer() as w:
        a = w.account_row("x", "42")
        assert a is not None
        w.add_capture(again, a["id"])
        got = w.add_posts(a, [post("1", f"{SECRET} first words"), post("4", "new one")],
                          "capture:" + again.id)
        assert w.redacted_seen == ["1"] and len(got) == 1
    assert {p["post_id"] for p in store.iter_posts()} == {"2", "3", "4"}
    assert not store.blobs.exists(hashlib.sha256(again.body).hexdigest())  # redacted at once
    rep = verify_archive(store)
    assert rep.ok, rep.summary()
    assert [r["target"] for r in rep.redactions] == ["post", "recapture"]
    rows = store.redacted_matching("1")
    assert [r["post_id"] for r in rows] == ["1"]
    store.lift_redaction([int(r["id"]) for r in rows], "a judge said so", "2026-01-01T00:00:00Z")
    with store.writer() as w:
        a = w.account_row("x", "42")
        assert a is not None
        w.add_posts(a, [post("1", "back again")], "watch")
        assert w.redacted_seen == []
    assert "1" in {p["post_id"] for p in store.iter_posts()}
    assert store.redacted_matching("1") == []
    assert store.redacted_matching("1", lifted=True)[0]["lifted_reason"] == "a judge said so"
    rep = verify_archive(store)
    assert rep.ok, rep.summary()
    assert rep.redactions[0]["lifted"] == [{"at": "2026-01-01T00:00:00Z",
                                            "reason": "a judge said so"}]
    assert rep.redactions[1]["lifted"] == []


def test_redact_an_account(store: Store, home: Path, tmp_path: Path) -> None:
    wd = world(store)
    before = write_receipt(store, "3", tmp_path / "b3.zip").path
    done = store.redact(reason="forget me", account_pk=wd.account_pk)
    assert done.target == "account" and done.posts == 3 and done.versions == 4
    assert set(done.captures) == {wd.listing, wd.lookup, wd.other}
    assert store.list_accounts() == [] and list(store.iter_posts()) == []
    for table in ("posts", "post_versions", "media", "captures", "events", "account_status"):
        assert count(store, table) == 0, table
    rep = verify_archive(store)
    assert rep.ok, rep.summary()
    assert rep.redactions[0]["target"] == "account"
    assert verify_receipt(before).ok
    checkpointed(store)
    for needle in (SECRET.encode(), PROFILE.encode(), b"keeper three", SHARED):
        assert files_holding(home, needle) == [], needle
    with pytest.raises(RedactedError), store.writer() as w:
        w.upsert_account(acc(), "watch")
    assert [r["post_id"] for r in store.redacted_matching("x:42")] == [None]


MASTO = "mastodon.example"
ACTOR = f"https://{MASTO}/users/lin"


def masto_archive(path: Path, posts: dict[str, str]) -> Path:
    import zipfile

    items = [{"id": f"{ACTOR}/statuses/{sid}/activity", "type": "Create", "actor": ACTOR,
              "published": "2022-11-01T10:00:00Z",
              "to": ["https://www.w3.org/ns/activitystreams#Public"],
              "object": {"id": f"{ACTOR}/statuses/{sid}", "type": "Note",
                         "published": "2022-11-01T10:00:00Z",
                         "url": f"https://{MASTO}/@lin/{sid}", "content": f"<p>{body}</p>"}}
             for sid, body in posts.items()]
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("actor.json", json.dumps({"id": ACTOR, "type": "Person",
                                              "preferredUsername": "lin", "name": "Lin",
                                              "url": f"https://{MASTO}/@lin"}))
        zf.writestr("outbox.json", json.dumps({"type": "OrderedCollection",
                                               "totalItems": len(items), "orderedItems": items}))
    return path


def test_reimport_does_not_bring_it_back(store: Store, home: Path, db_url: str | None,
                                         tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    arc = masto_archive(tmp_path / "a.zip", {"101": f"{SECRET} in an archive", "102": "stays"})
    args = ["--home", str(home), *(["--db", db_url] if db_url else [])]
    r = invoke(monkeypatch, [*args, "import", "mastodon-archive", str(arc), "--json"])
    assert r.exit_code == 0, r.output
    (p,) = [p for p in store.iter_posts() if SECRET in (p.get("text") or "")]
    r = invoke(monkeypatch, [*args, "redact", f"row:{p['id']}", "--reason", "asked", "--yes"])
    assert r.exit_code == 0, r.output
    r = invoke(monkeypatch, [*args, "import", "mastodon-archive", str(arc), "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["redacted_seen"] == 1
    assert [n["code"] for n in summary["notices"]] == ["redacted_seen"]
    assert not [p for p in store.iter_posts() if SECRET in (p.get("text") or "")]
    r = invoke(monkeypatch, [*args, "import", "mastodon-archive", str(arc)])
    assert r.exit_code == 0 and "redacted" in r.stderr
    r = invoke(monkeypatch, [*args, "redact", "--account", "mastodon:@lin@mastodon.example",
                             "--reason", "all of it", "--yes", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["unredact"] == ["mastodon:lin@mastodon.example"]
    r = invoke(monkeypatch, [*args, "import", "mastodon-archive", str(arc), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["redacted_seen"] == 2 and store.list_accounts() == []
    assert invoke(monkeypatch, [*args, "verify"]).exit_code == 0
    r = invoke(monkeypatch, [*args, "unredact", "mastodon:lin@mastodon.example",
                             "--reason", "consent"])
    assert r.exit_code == 0, r.output
    assert "unredacted account" in r.stdout
    r = invoke(monkeypatch, [*args, "verify"])
    assert r.exit_code == 0 and "lifted at" in r.stdout and "consent" in r.stdout
    r = invoke(monkeypatch, [*args, "import", "mastodon-archive", str(arc), "--json"])
    assert json.loads(r.stdout)["redacted_seen"] == 1  # the post's own redaction still holds


def test_alerts_about_the_post_go_others_stay(store: Store) -> None:
    from unerased.model import storable_json

    wd = world(store)
    with store.engine.begin() as conn:
        for i, pid in enumerate(["1", "2", "12"]):
            payload = {"type": "post_edited", "post_id": pid, "account_id": "42",
                       "detail": {"text": f"{SECRET} {pid}"}}
            conn.execute(schema.alert_outbox.insert().values(
                delivery_id=f"d{i}", rule_id=1, kind="event",
                payload=storable_json(payload, sort_keys=True), state="pending",
                attempts=0, created_at="2026-01-01T00:00:00Z"))
    store.redact(reason="asked", account_pk=wd.account_pk, post_pk=wd.post1)
    with store.reader() as conn:
        left = sorted(conn.execute(select(schema.alert_outbox.c.delivery_id)).scalars())
    assert left == ["d1", "d2"]


def test_exports_after_a_redaction_hold_nothing_of_it(
        store: Store, home: Path, db_url: str | None, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, redacted: tuple[World, Any]) -> None:
    import gzip

    args = ["--home", str(home), *(["--db", db_url] if db_url else [])]
    for fmt, out in (("site", tmp_path / "site"), ("jsonl", tmp_path / "j" / "p.jsonl"),
                     ("warc", tmp_path / "w" / "c.warc.gz")):
        out.parent.mkdir(exist_ok=True)
        r = invoke(monkeypatch, [*args, "export", fmt, str(out)])
        assert r.exit_code == 0, r.output
        root = out if fmt == "site" else out.parent
        assert files_holding(root, SECRET.encode()) == [], fmt
        assert files_holding(root, SECRET2.encode()) == [], fmt
    assert files_holding(tmp_path / "j", b"keeper two")  # the other posts are exported
    warc = gzip.decompress((tmp_path / "w" / "c.warc.gz").read_bytes())  # one member each
    assert b"keeper three" in warc and SECRET.encode() not in warc
    assert SECRET2.encode() not in warc


def test_bodies_are_searched_for_the_texts_in_every_form() -> None:
    from unerased.store._redact import _holds, needles

    words = needles(["a text with \"quotes\" and ü", "short", "abc", "<b>x & y</b>"])
    assert _holds(json.dumps({"t": 'a text with "quotes" and ü'}).encode(), words)  # \\u00fc
    assert _holds(json.dumps({"t": 'a text with "quotes" and ü'}, ensure_ascii=False)
                  .encode(), words)
    assert _holds(b"<item>&lt;b&gt;x &amp; y&lt;/b&gt;</item>", words)  # a feed
    assert not _holds(b'{"t":"abc"}', words)  # under 4 characters: not searched for
    many = words | {f"filler text {i}".encode() for i in range(600)}  # an account's texts
    assert _holds(json.dumps({"t": "short", "n": 1}).encode(), many)
    assert not _holds(b'{"t":"shorter"}', many)  # whole strings only, then

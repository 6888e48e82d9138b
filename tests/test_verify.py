"""The store-backed log, checkpoints and `unerased verify`, on both backends: a clean
archive verifies, and every kind of tampering is caught and named."""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, insert, select, text, update

from ledger_rows import stored_leaf_hashes
from unerased.ledger import log, merkle, note
from unerased.ledger.verify import VerifyReport, verify_archive
from unerased.model import (
    AccountSnapshot,
    AccountStatus,
    Capture,
    Event,
    EventType,
    MediaItem,
    PostSnapshot,
)
from unerased.store import Store
from unerased.store import _schema as schema

MIGRATIONS = Path(schema.__file__).parent / "migrations"
HEAD = max(p.name.split("_", 1)[0] for p in (MIGRATIONS / "versions").glob("0*.py"))

T0 = datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)
T1 = datetime(2020, 1, 9, 3, 4, 5, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@dataclass
class Built:
    account_pk: int
    post_pk: int  # post "1": media, edited, then deleted
    version_pks: list[int]
    media_sha: str
    capture_present: str
    capture_gone: str
    event_pk: int
    import_pk: int


def acc(status: AccountStatus = AccountStatus.ACTIVE) -> AccountSnapshot:
    return AccountSnapshot("x", "42", handle="sample", display_name="Sample User", status=status,
                           profile={"bio": "屠夫", "followers": 12})


def post(pid: str, text: str, **kw: Any) -> PostSnapshot:
    return PostSnapshot("x", "42", pid, text, created_at=T0, **kw)


def build(store: Store, *, checkpoints: bool = True) -> Built:
    """An archive with every leafed kind, two transactions and two checkpoints."""
    present = Capture("GET", "https://api.x.test/2/tweets/1", T0, {"accept": "*/*"},
                      b"", 200, "OK", [("content-type", "application/json")],
                      b'{"data":{"id":"1","text":"\xe6\x88\x91\xe4\xbb\xac"}}')
    with store.writer() as w:
        a = w.upsert_account(acc(), "import:" + "ab" * 32)
        res = w.add_posts(a, [
            post("1", "我们删除了推特", media=[MediaItem(filename="1.png", content=PNG, alt="a")],
                 raw={"id": "1", "n": 1.5}),
            *[post(str(i), f"post {i}") for i in range(2, 12)],
        ], "capture:" + present.id)
        cid1 = w.add_capture(present, a["id"])
        imp = w.add_import("twitter-archive", "sample.zip", "ab" * 32, 1234, a["id"], {"posts": 11})
    if checkpoints:
        log.make_checkpoint(store)
    gone = Capture("POST", "https://api.x.test/graphql", T1, {"x-test": "1"},
                   b'{"q":"tweet 1"}', 404, "Not Found", [("content-type", "text/plain")],
                   b"Could not find tweet")
    with store.writer() as w:
        a = w.upsert_account(acc(AccountStatus.SUSPENDED), "capture:" + gone.id)
        res2 = w.add_posts(a, [post("1", "我们删除了推特 (edited)")], "watch")
        cid2 = w.add_capture(gone, a["id"])
        ev = w.add_event(Event(EventType.POST_DELETED, T1, "x", "sample", "42", "1",
                               {"reason": "platform_removed", "last_seen": "2020-01-02T03:04:05Z"},
                               [cid2]), a["id"], res[0].post_pk)
    if checkpoints:
        log.make_checkpoint(store)
    assert res[0].version_pk and res2[0].version_pk
    return Built(int(a["id"]), res[0].post_pk, [res[0].version_pk, res2[0].version_pk],
                 hashlib.sha256(PNG).hexdigest(), cid1, cid2, ev, imp)


def leaf_of(store: Store, kind: str, ref: str | int) -> int:
    with store.reader() as conn:
        return int(conn.execute(select(schema.ledger_leaves.c.idx).where(
            schema.ledger_leaves.c.kind == kind, schema.ledger_leaves.c.ref == str(ref))
        ).scalar_one())


def sql(store: Store, stmt: Any) -> None:
    with store.engine.begin() as conn:
        conn.execute(stmt)


def first(rep: VerifyReport) -> Any:
    assert not rep.ok, "tampering was not detected"
    assert rep.first is not None
    return rep.first


# --------------------------------------------------------------------------- clean


def test_clean_archive_verifies(store: Store) -> None:
    b = build(store)
    rep = verify_archive(store)
    assert rep.ok, rep.summary()
    n = log.tree_size(store)
    assert rep.leaves == n == 18
    assert rep.rows == {"account_status": 2, "post_versions": 12, "captures": 2, "imports": 1,
                        "events": 1, "media_completions": 0, "redactions": 0}
    assert rep.checkpoints == 2
    assert rep.blobs == 4  # media, two response bodies, one request body
    assert rep.media == 1
    assert rep.orphan_blobs == 0
    assert rep.nodes == sum(n >> k for k in range(1, n.bit_length()))  # levels >= 1
    assert "archive verified" in rep.summary()
    assert b.media_sha in {d for d in store.blobs.iter_digests()}


def test_empty_archive_verifies(store: Store) -> None:
    rep = verify_archive(store)
    assert rep.ok and rep.leaves == 0 and rep.checkpoints == 0


def test_orphan_blob_is_reported_not_fatal(store: Store) -> None:
    build(store)
    store.blobs.put(b"a blob whose transaction never committed")
    rep = verify_archive(store)
    assert rep.ok and rep.orphan_blobs == 1
    assert "1 unreferenced blobs" in rep.summary()


def test_small_pages_give_the_same_result(store: Store) -> None:
    build(store)
    for page in (1, 2, 3, 5):
        rep = verify_archive(store, page=page)
        assert rep.ok, (page, rep.summary())
        assert rep.leaves == log.tree_size(store)


# --------------------------------------------------------------------------- the log


def test_roots_and_proofs_match_a_memory_tree(store: Store) -> None:
    build(store, checkpoints=False)
    hashes = stored_leaf_hashes(store)
    mem = merkle.MemoryTree.from_hashes(hashes)
    n = len(hashes)
    assert log.tree_root(store) == mem.root()
    for size in range(1, n + 1):
        root = log.tree_root(store, size)
        assert root == mem.root(size)
        for i in range(size):
            merkle.verify_inclusion(i, size, hashes[i], log.inclusion_proof(store, i, size), root)
        for old in range(1, size + 1):
            merkle.verify_consistency(old, size, mem.root(old), root,
                                      log.consistency_proof(store, old, size))
    with pytest.raises(log.LedgerError, match="outside the ledger"):
        log.tree_root(store, n + 1)
    for bigger in (n + 1, 2 * n, 1 << 40):  # the head is read only once a node is missing
        with pytest.raises(log.LedgerError, match=f"tree size {bigger} is outside the ledger"):
            log.inclusion_proof(store, 0, bigger)
        with pytest.raises(log.LedgerError, match=f"tree size {bigger} is outside the ledger"):
            log.consistency_proof(store, n, bigger)
    with pytest.raises(log.LedgerError, match="outside the ledger"):
        log.tree_root(store, -1)
    with pytest.raises(log.LedgerError, match="outside a tree"):
        log.inclusion_proof(store, n, n)
    with pytest.raises(log.LedgerError, match="no consistency proof"):
        log.consistency_proof(store, 0, n)


def test_node_reader_cache_is_bounded(store: Store) -> None:
    build(store, checkpoints=False)
    with store.reader() as conn:
        r = log.NodeReader(conn, cache_size=3)
        for i in range(8):
            r.get_node(0, i)
        assert len(r._cache) == 3
        with pytest.raises(log.LedgerError, match="missing"):
            r.get_node(0, 10_000)


def test_checkpoint_keys_origin_and_note(store: Store, home: Path) -> None:
    with pytest.raises(log.LedgerError, match="empty"):
        log.make_checkpoint(store)
    assert not (home / "keys").exists()  # nothing made for an empty ledger
    build(store, checkpoints=False)
    cp = log.make_checkpoint(store)
    key, pub = log.key_paths(home)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    vkey = pub.read_text().strip()
    parsed = note.Checkpoint.open(cp.note, vkey)
    with store.reader() as conn:
        origin = log.get_origin(conn)
    assert origin is not None and origin.startswith("unerased/")
    assert parsed.origin == origin == note.parse_verifier(vkey).name
    assert parsed.size == cp.size == log.tree_size(store)
    assert parsed.root == cp.root == log.tree_root(store)
    assert key.read_text().startswith("PRIVATE+KEY+" + origin + "+")
    # nothing new: the same checkpoint back, no second row
    again = log.make_checkpoint(store)
    assert again == cp
    with store.reader() as conn:
        assert len(log.list_checkpoints(conn)) == 1
    assert log.load_verifier(home) == vkey
    assert cp.to_json()["root"] == cp.root.hex()


def test_checkpoint_refuses_when_history_was_rewritten(store: Store) -> None:
    b = build(store)
    _rewrite_history(store, b)
    n = log.tree_size(store)
    with store.writer() as w:  # grow, so that a new checkpoint is due
        a = w.account_row("x", "42")
        assert a is not None
        w.add_posts(a, [post("99", "new")], "watch")
    with pytest.raises(log.LedgerError, match="REFUSING to sign.*not consistent"):
        log.make_checkpoint(store)
    with store.reader() as conn:
        assert max(c.size for c in log.list_checkpoints(conn)) == n  # nothing signed


def test_checkpoint_refuses_when_leaves_were_removed(store: Store) -> None:
    build(store)
    n = log.tree_size(store)
    sql(store, update(schema.ledger_head).values(size=n - 1))
    with pytest.raises(log.LedgerError, match="REFUSING.*leaves were removed"):
        log.make_checkpoint(store)


def test_checkpoint_refuses_a_foreign_key(store: Store, home: Path, tmp_path: Path,
                                         db_url: str | None) -> None:
    build(store)
    # a second home on the same database, with its own key: it must not fork the log
    other = tmp_path / "other-home"
    st2 = Store(store.engine, store.blobs, other)
    with store.reader() as conn:
        origin = log.get_origin(conn)
    log.load_signer(other, create_with_name=origin)
    with pytest.raises(log.LedgerError, match="signed by key"):
        log.make_checkpoint(st2)
    # a key made for another log is refused too
    third = tmp_path / "third-home"
    log.load_signer(third, create_with_name="unerased/another")
    with pytest.raises(log.LedgerError, match="signs the log 'unerased/another'"):
        log.make_checkpoint(Store(store.engine, store.blobs, third))


def test_key_files_are_checked(home: Path) -> None:
    assert log.load_signer(home) is None and log.load_verifier(home) is None
    skey = log.load_signer(home, create_with_name="unerased/t")
    assert skey is not None and log.load_signer(home) == skey
    key, pub = log.key_paths(home)
    pub.unlink()
    assert log.load_verifier(home) == note.verifier_from_signer(skey)  # derived
    log.load_signer(home)
    assert pub.read_text().strip() == note.verifier_from_signer(skey)  # remade
    pub.write_text(note.verifier_from_signer(note.generate_signer("unerased/t")) + "\n")
    with pytest.raises(log.LedgerError, match="is not the public key"):
        log.load_signer(home)
    key.write_text("garbage\n")
    with pytest.raises(log.LedgerError, match="malformed signer key"):
        log.load_signer(home)


# --------------------------------------------------------------------------- tampering


def _flip_blob(store: Store, digest: str) -> None:
    p = store.blobs.path(digest)
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0x01
    p.write_bytes(bytes(data))


def test_media_blob_byte_changed(store: Store) -> None:
    b = build(store)
    _flip_blob(store, b.media_sha)
    p = first(verify_archive(store))
    assert p.code == "blob_mismatch" and p.blob == b.media_sha and p.table == "media"
    assert b.media_sha in str(p)


def test_capture_body_byte_changed(store: Store) -> None:
    b = build(store)
    with store.reader() as conn:
        body = conn.execute(select(schema.captures.c.body_sha256).where(
            schema.captures.c.id == b.capture_gone)).scalar_one()
    _flip_blob(store, body)
    p = first(verify_archive(store))
    assert (p.code, p.blob, p.table, p.row) == ("blob_mismatch", body, "captures", b.capture_gone)


def test_request_body_blob_missing(store: Store) -> None:
    b = build(store)
    with store.reader() as conn:
        req = conn.execute(select(schema.captures.c.request_body_sha256).where(
            schema.captures.c.id == b.capture_gone)).scalar_one()
    store.blobs.path(req).unlink()
    p = first(verify_archive(store))
    assert (p.code, p.blob, p.row) == ("blob_missing", req, b.capture_gone)


def test_post_version_text_changed(store: Store) -> None:
    b = build(store)
    vpk = b.version_pks[0]
    sql(store, update(schema.post_versions).where(schema.post_versions.c.id == vpk)
        .values(text="我们没有删除推特"))
    p = first(verify_archive(store))
    assert (p.code, p.table, p.row, p.leaf) == (
        "leaf_mismatch", "post_versions", str(vpk), leaf_of(store, "post_versions", vpk))
    assert f"post_versions row {vpk}" in str(p) and f"leaf {p.leaf}" in str(p)
    rep = verify_archive(store)
    assert len(rep.problems) == 1  # no cascade up the tree: the ledger itself is intact


@pytest.mark.parametrize("table,column,value", [
    ("posts", "post_id", "1000"),
    ("accounts", "account_id", "43"),
    ("media", "alt", "changed alt text"),
    ("post_versions", "raw_json", '{"id":"1","n":2.5}'),
])
def test_rows_covered_by_a_version_leaf(store: Store, table: str, column: str, value: str) -> None:
    b = build(store)
    t = schema.metadata.tables[table]
    key = {"posts": b.post_pk, "accounts": b.account_pk, "media": None,
           "post_versions": b.version_pks[0]}[table]
    stmt = update(t).values({column: value})
    if key is not None:
        stmt = stmt.where(t.c.id == key)
    sql(store, stmt)
    p = first(verify_archive(store))
    assert p.code == "leaf_mismatch"
    assert p.table in ("post_versions", "account_status")
    assert p.leaf is not None


def test_capture_row_field_changed(store: Store) -> None:
    b = build(store)
    sql(store, update(schema.captures).where(schema.captures.c.id == b.capture_gone)
        .values(status=200))
    p = first(verify_archive(store))
    assert (p.code, p.table, p.row, p.leaf) == (
        "capture_id", "captures", b.capture_gone, leaf_of(store, "captures", b.capture_gone))
    rep = verify_archive(store)
    assert [q.code for q in rep.problems] == ["capture_id", "leaf_mismatch"]


def test_event_detail_changed(store: Store) -> None:
    b = build(store)
    sql(store, update(schema.events).where(schema.events.c.id == b.event_pk)
        .values(detail_json='{"reason":"user_deleted"}'))
    p = first(verify_archive(store))
    assert (p.code, p.table, p.row, p.leaf) == (
        "leaf_mismatch", "events", str(b.event_pk), leaf_of(store, "events", b.event_pk))


def test_event_json_garbled(store: Store) -> None:
    b = build(store)
    sql(store, update(schema.events).where(schema.events.c.id == b.event_pk)
        .values(evidence_json="[not json"))
    p = first(verify_archive(store))
    assert (p.table, p.row) == ("events", str(b.event_pk)) and "cannot be read" in str(p)


def test_import_row_changed(store: Store) -> None:
    b = build(store)
    sql(store, update(schema.imports).values(filename="other.zip"))
    p = first(verify_archive(store))
    assert (p.code, p.table, p.row) == ("leaf_mismatch", "imports", str(b.import_pk))


def test_salt_changed(store: Store) -> None:
    b = build(store)
    idx = leaf_of(store, "events", b.event_pk)
    sql(store, update(schema.ledger_leaves).where(schema.ledger_leaves.c.idx == idx)
        .values(salt=os.urandom(16)))
    p = first(verify_archive(store))
    assert (p.code, p.leaf, p.table, p.row) == ("leaf_mismatch", idx, "events", str(b.event_pk))


@pytest.mark.parametrize("idx", [3, 4])  # an odd leaf (sibling seen) and an even one
def test_leaf_hash_column_changed(store: Store, idx: int) -> None:
    build(store)
    sql(store, update(schema.ledger_leaves).where(schema.ledger_leaves.c.idx == idx)
        .values(leaf_hash=b"\x00" * 32))
    rep = verify_archive(store)
    p = first(rep)
    assert (p.code, p.leaf) == ("leaf_hash", idx)
    assert len(rep.problems) == 1  # the tree above is intact: nothing cascades


def test_lone_last_leaf_hash_changed_is_named(store: Store) -> None:
    """The last leaf of an odd-sized tree has no level-1 node above it to tell whether its
    row or its stored hash changed: the problem still names the leaf and its row."""
    b = build(store, checkpoints=False)
    if log.tree_size(store) % 2 == 0:
        with store.writer() as w:
            w.add_import("twitter-archive", "second.zip", "cd" * 32, 99, b.account_pk, {})
    n = log.tree_size(store)
    assert n % 2 == 1
    sql(store, update(schema.ledger_leaves).where(schema.ledger_leaves.c.idx == n - 1)
        .values(leaf_hash=b"\x00" * 32))
    p = first(verify_archive(store))
    assert (p.code, p.leaf) == ("leaf_mismatch", n - 1) and p.table and p.row
    assert "stored hash" in str(p)


def test_row_changed_beside_intact_ledger_does_not_cascade(store: Store) -> None:
    b = build(store)
    idx = leaf_of(store, "events", b.event_pk)
    sql(store, update(schema.events).where(schema.events.c.id == b.event_pk)
        .values(detail_json='{"reason": "forged"}'))
    rep = verify_archive(store)
    assert [(q.code, q.leaf) for q in rep.problems] == [("leaf_mismatch", idx)]


def test_leaf_row_deleted(store: Store) -> None:
    build(store)
    sql(store, delete(schema.ledger_leaves).where(schema.ledger_leaves.c.idx == 5))
    p = first(verify_archive(store))
    assert (p.code, p.leaf) == ("leaf_missing", 5)
    assert "ledger leaf 5 is missing" in str(p)


def test_last_leaf_row_deleted(store: Store) -> None:
    build(store)
    n = log.tree_size(store)
    sql(store, delete(schema.ledger_leaves).where(schema.ledger_leaves.c.idx == n - 1))
    p = first(verify_archive(store))
    assert (p.code, p.leaf) == ("leaf_missing", n - 1)


@pytest.mark.parametrize("level,idx", [(1, 0), (1, 3), (3, 0), (4, 0)])
def test_ledger_node_changed(store: Store, level: int, idx: int) -> None:
    build(store)
    sql(store, update(schema.ledger_nodes).where(schema.ledger_nodes.c.level == level,
                                                 schema.ledger_nodes.c.idx == idx)
        .values(hash=b"\x11" * 32))
    p = first(verify_archive(store))
    assert p.code == "node_mismatch" and f"level {level}, index {idx}" in str(p)


def test_ledger_node_deleted_and_added(store: Store) -> None:
    build(store)
    sql(store, delete(schema.ledger_nodes).where(schema.ledger_nodes.c.level == 2,
                                                 schema.ledger_nodes.c.idx == 1))
    p = first(verify_archive(store))
    assert p.code == "node_missing" and "level 2, index 1" in str(p)
    sql(store, insert(schema.ledger_nodes).values(level=2, idx=1, hash=b"\x00" * 32))
    assert first(verify_archive(store)).code == "node_mismatch"


@pytest.mark.parametrize("level,idx", [(3, 7), (0, 2)])  # level 0 is never a node row
def test_extra_ledger_node(store: Store, level: int, idx: int) -> None:
    build(store)
    sql(store, insert(schema.ledger_nodes).values(level=level, idx=idx, hash=b"\x00" * 32))
    p = first(verify_archive(store))
    assert p.code == "node_extra" and f"level {level}, index {idx}" in str(p)


@pytest.mark.parametrize("table", ["post_versions", "events", "captures", "account_status",
                                   "imports"])
def test_row_deleted(store: Store, table: str) -> None:
    b = build(store)
    t = schema.metadata.tables[table]
    ref: Any = {"post_versions": b.version_pks[0], "events": b.event_pk,
                "captures": b.capture_present, "imports": b.import_pk}.get(table)
    if ref is None:
        with store.reader() as conn:
            ref = conn.execute(select(t.c.id).order_by(t.c.id)).scalars().first()
    sql(store, delete(t).where(t.c.id == ref))
    p = first(verify_archive(store))
    assert (p.code, p.table, p.row, p.leaf) == (
        "leaf_without_row", table, str(ref), leaf_of(store, table, ref))


def test_post_row_deleted(store: Store) -> None:
    b = build(store)
    sql(store, delete(schema.posts).where(schema.posts.c.id == b.post_pk))
    p = first(verify_archive(store))
    assert (p.code, p.table, p.row) == ("row_missing", "posts", str(b.post_pk))


def test_row_inserted_without_leaf(store: Store) -> None:
    b = build(store)
    with store.reader() as conn:
        ev = dict(conn.execute(select(schema.events)).mappings().one())
    ev.update(id=b.event_pk + 100, type="account_suspended")
    sql(store, insert(schema.events).values(**ev))
    p = first(verify_archive(store))
    assert (p.code, p.table, p.row) == ("row_without_leaf", "events", str(b.event_pk + 100))


def test_row_inserted_between_others(store: Store) -> None:
    b = build(store)
    with store.reader() as conn:
        v = dict(conn.execute(select(schema.post_versions).where(
            schema.post_versions.c.id == b.version_pks[0])).mappings().one())
    v.update(id=b.version_pks[1] + 50, seq=7, version_key="forged")
    sql(store, insert(schema.post_versions).values(**v))
    assert first(verify_archive(store)).code == "row_without_leaf"


def test_media_row_added_to_nothing(store: Store) -> None:
    b = build(store)
    sql(store, insert(schema.media).values(id=999, version_pk=b.version_pks[1] + 1000, seq=1,
                                           url="https://x.test/m.png"))
    p = first(verify_archive(store))
    assert (p.code, p.table, p.row) == ("media_orphan", "media", "999")


def test_leaf_duplicated(store: Store) -> None:
    build(store)
    n = log.tree_size(store)
    with store.reader() as conn:
        lf = dict(conn.execute(select(schema.ledger_leaves).where(
            schema.ledger_leaves.c.idx == 2)).mappings().one())
    lf["idx"] = n
    sql(store, insert(schema.ledger_leaves).values(**lf))
    sql(store, update(schema.ledger_head).values(size=n + 1))
    p = first(verify_archive(store))
    assert (p.code, p.leaf) == ("leaf_out_of_order", n)


def test_checkpoint_forged_with_another_key(store: Store) -> None:
    build(store)
    other = note.generate_signer("unerased/forger")
    with store.reader() as conn:
        cps = log.list_checkpoints(conn)
    cp = cps[0]
    forged = note.Checkpoint(note.Checkpoint.parse(cp.note.split("\n\n")[0] + "\n").origin,
                             cp.size, cp.root).sign(other)
    sql(store, update(schema.checkpoints).where(schema.checkpoints.c.size == cp.size)
        .values(note=forged))
    p = first(verify_archive(store))
    assert (p.code, p.checkpoint) == ("checkpoint_signature", cp.size)
    # re-signed with a key of the right name but another secret
    resigned = note.Checkpoint.parse(cp.note.split("\n\n")[0] + "\n")
    impostor = note.generate_signer(resigned.origin)
    sql(store, update(schema.checkpoints).where(schema.checkpoints.c.size == cp.size)
        .values(note=resigned.sign(impostor)))
    p = first(verify_archive(store))
    assert (p.code, p.checkpoint) == ("checkpoint_signature", cp.size)


def test_checkpoint_note_byte_changed(store: Store) -> None:
    build(store)
    with store.reader() as conn:
        cp = log.list_checkpoints(conn)[1]
    bad = cp.note.replace(f"\n{cp.size}\n", f"\n{cp.size + 1}\n")
    sql(store, update(schema.checkpoints).where(schema.checkpoints.c.size == cp.size)
        .values(note=bad))
    assert (first(verify_archive(store)).code, first(verify_archive(store)).checkpoint) == (
        "checkpoint_signature", cp.size)


def test_checkpoint_row_root_changed(store: Store) -> None:
    build(store)
    with store.reader() as conn:
        cp = log.list_checkpoints(conn)[0]
    sql(store, update(schema.checkpoints).where(schema.checkpoints.c.size == cp.size)
        .values(root=b"\x00" * 32))
    p = first(verify_archive(store))
    assert (p.code, p.checkpoint) == ("checkpoint_row", cp.size)


def test_checkpoint_inconsistent_with_an_earlier_one(store: Store, home: Path) -> None:
    """A later checkpoint, validly signed by the log's own key, whose root does not
    extend the earlier one: the log forked."""
    build(store)
    with store.writer() as w:
        a = w.account_row("x", "42")
        assert a is not None
        w.add_posts(a, [post("77", "more")], "watch")
    skey = log.load_signer(home)
    assert skey is not None
    with store.reader() as conn:
        cps = log.list_checkpoints(conn)
        origin = log.get_origin(conn)
    assert origin is not None
    size = log.tree_size(store)
    fork = note.Checkpoint(origin, size, merkle.node_hash(b"\x01" * 32, b"\x02" * 32))
    sql(store, insert(schema.checkpoints).values(size=size, root=fork.root, at="2030-01-01T00:00:00Z",
                                                 note=fork.sign(skey)))
    p = first(verify_archive(store))
    assert (p.code, p.checkpoint) == ("checkpoint_inconsistent", size)
    assert f"checkpoint of size {cps[-1].size}" in str(p)


def _rewrite_history(store: Store, b: Built) -> None:
    """The strongest attack on the database alone: change a row and recompute its leaf
    and every node so that the tree is self-consistent again (only the signed checkpoints
    still remember the old root)."""
    vpk = b.version_pks[0]
    sql(store, update(schema.post_versions).where(schema.post_versions.c.id == vpk)
        .values(text="rewritten"))
    from unerased.ledger import records as rec
    from unerased.ledger.verify import leaf_record

    with store.reader() as conn:
        leaves = list(conn.execute(select(schema.ledger_leaves).order_by(
            schema.ledger_leaves.c.idx)).mappings())
        new_hashes = []
        for lf in leaves:
            r = leaf_record(conn, lf["kind"], lf["ref"])
            assert r is not None
            new_hashes.append(merkle.leaf_hash(rec.leaf_data(bytes(lf["salt"]), r)))
    mem = merkle.MemoryTree.from_hashes(new_hashes)
    with store.engine.begin() as conn:
        for lf, h in zip(leaves, new_hashes, strict=True):
            conn.execute(update(schema.ledger_leaves).where(
                schema.ledger_leaves.c.idx == lf["idx"]).values(leaf_hash=h))
        conn.execute(delete(schema.ledger_nodes))
        conn.execute(insert(schema.ledger_nodes), [
            {"level": lv, "idx": i, "hash": h}
            for lv, level in enumerate(mem.levels) for i, h in enumerate(level) if lv])


def test_history_rewritten_consistently_is_caught_by_the_checkpoints(store: Store) -> None:
    b = build(store)
    _rewrite_history(store, b)
    rep = verify_archive(store)
    p = first(rep)
    assert p.code in ("checkpoint_root", "checkpoint_inconsistent") and p.checkpoint is not None
    assert all(q.code.startswith("checkpoint") for q in rep.problems)


def test_checkpoint_beyond_the_ledger(store: Store) -> None:
    build(store)
    n = log.tree_size(store)
    with store.engine.begin() as conn:
        conn.execute(delete(schema.ledger_leaves).where(schema.ledger_leaves.c.idx == n - 1))
        conn.execute(update(schema.ledger_head).values(size=n - 1))
    rep = verify_archive(store)
    codes = [q.code for q in rep.problems]
    assert "checkpoint_beyond" in codes


def test_no_public_key_is_a_failure(store: Store, home: Path) -> None:
    build(store)
    for p in log.key_paths(home):
        p.unlink()
    p = first(verify_archive(store))
    assert p.code == "no_key"


def test_max_problems_stops_early(store: Store) -> None:
    build(store)
    sql(store, update(schema.post_versions).values(text="all changed"))
    rep = verify_archive(store, max_problems=3)
    assert len(rep.problems) == 3 and rep.truncated
    assert "more" in rep.summary()


# --------------------------------------------------------------------------- CLI


def _cli() -> Any:
    from unerased.cli import _register_more, cli

    _register_more()
    _register_more()  # idempotent
    return cli


def invoke(monkeypatch: pytest.MonkeyPatch, args: list[str]) -> Any:
    """Run the CLI and close the stores it opened (the CLI leaves that to process exit)."""
    import unerased.store

    opened: list[Store] = []

    class Tracking(Store):
        @classmethod
        def open(cls, home: Path, db_url: str | None = None, **kw: Any) -> Store:
            st = Store.open(home, db_url, **kw)
            opened.append(st)
            return st

    monkeypatch.setattr(unerased.store, "Store", Tracking)  # the CLI imports it when needed
    try:
        return CliRunner().invoke(_cli(), args)
    finally:
        for st in opened:
            st.close()


def _args(home: Path, db_url: str | None, *rest: str) -> list[str]:
    return ["--home", str(home), *(["--db", db_url] if db_url else []), *rest]


def test_cli_verify_and_checkpoint(store: Store, home: Path, db_url: str | None,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    build(store, checkpoints=False)
    r = invoke(monkeypatch, _args(home, db_url, "checkpoint"))
    assert r.exit_code == 0, r.output
    vkey = log.load_verifier(home)
    assert vkey is not None
    cp = note.Checkpoint.open(r.stdout, vkey)
    assert cp.size == log.tree_size(store)
    r = invoke(monkeypatch, _args(home, db_url, "verify"))
    assert r.exit_code == 0 and r.stdout.startswith("archive verified:")
    r = invoke(monkeypatch, _args(home, db_url, "verify", "--json"))
    assert r.exit_code == 0
    import json

    (line,) = r.stdout.splitlines()
    assert json.loads(line)["ok"] is True
    sql(store, update(schema.events).values(detail_json="{}"))
    r = invoke(monkeypatch, _args(home, db_url, "verify"))
    assert r.exit_code == 1
    assert r.stdout == ""
    (err,) = r.stderr.splitlines()
    assert err.startswith("unerased: verify failed: events row 1 does not match ledger leaf")
    r = invoke(monkeypatch, _args(home, db_url, "verify", "--json"))
    assert r.exit_code == 1 and json.loads(r.stdout)["first_problem"]["table"] == "events"


def test_cli_verify_with_key_option(store: Store, home: Path, db_url: str | None,
                                    tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build(store)
    pub = log.key_paths(home)[1]
    kept = tmp_path / "published.pub"
    kept.write_text(pub.read_text())
    for p in log.key_paths(home):
        p.unlink()
    r = invoke(monkeypatch, _args(home, db_url, "verify"))
    assert r.exit_code == 1 and "no public key" in r.stderr
    r = invoke(monkeypatch, _args(home, db_url, "verify", "--key", str(kept)))
    assert r.exit_code == 0, r.output
    kept.write_text("nonsense")
    r = invoke(monkeypatch, _args(home, db_url, "verify", "--key", str(kept)))
    assert r.exit_code == 1 and "malformed verifier key" in r.stderr


def test_cli_checkpoint_errors_are_one_line(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Store.open(home).close()  # an archive with nothing in it yet
    r = invoke(monkeypatch, ["--home", str(home), "checkpoint"])
    assert r.exit_code == 1
    assert r.stderr == "unerased: error: the ledger is empty: nothing to checkpoint yet\n"


# --------------------------------------------------------------------------- paging, snapshot


@pytest.mark.parametrize("row_page", [1, 2, 3])
def test_row_pages_and_media_carry_over(store: Store, monkeypatch: pytest.MonkeyPatch,
                                        row_page: int) -> None:
    from unerased.ledger import verify

    monkeypatch.setattr(verify, "ROW_PAGE", row_page)
    b = build(store)
    assert verify_archive(store, page=2).ok
    sql(store, delete(schema.post_versions).where(schema.post_versions.c.id == b.version_pks[0]))
    rep = verify_archive(store, page=2)
    assert (rep.problems[0].code, rep.problems[0].row) == ("leaf_without_row",
                                                           str(b.version_pks[0]))
    assert "media_orphan" in [p.code for p in rep.problems]  # its media row is left over


def test_progress_and_a_consistent_snapshot_while_writing(store: Store) -> None:
    """verify reads one snapshot: rows committed while it runs do not disturb it."""
    build(store)
    calls: list[tuple[int, int]] = []
    n = log.tree_size(store)

    def progress(done: int, total: int) -> None:
        calls.append((done, total))
        with store.writer() as w:  # another connection commits meanwhile
            a = w.account_row("x", "42")
            assert a is not None
            w.add_posts(a, [post(f"during-{done}", "written while verifying")], "watch")
            w.add_event(Event(EventType.POST_EDITED, T1, "x", "sample", "42", "2"), a["id"])

    rep = verify_archive(store, page=4, progress=progress)
    assert rep.ok, rep.summary()
    assert rep.leaves == n and calls[-1] == (n, n) and len(calls) == -(-n // 4)
    assert log.tree_size(store) == n + 2 * len(calls)
    assert verify_archive(store).ok  # and the archive with the new rows verifies too


def test_a_forged_middle_checkpoint_is_the_only_problem(store: Store, home: Path) -> None:
    build(store)
    with store.writer() as w:
        a = w.account_row("x", "42")
        assert a is not None
        w.add_posts(a, [post("88", "third checkpoint")], "watch")
    log.make_checkpoint(store)
    with store.reader() as conn:
        cps = log.list_checkpoints(conn)
    assert len(cps) == 3
    mid = cps[1]
    forged = note.Checkpoint.parse(mid.note.split("\n\n")[0] + "\n").sign(
        note.generate_signer("unerased/forger"))
    sql(store, update(schema.checkpoints).where(schema.checkpoints.c.size == mid.size)
        .values(note=forged))
    rep = verify_archive(store)
    assert [(p.code, p.checkpoint) for p in rep.problems] == [("checkpoint_signature", mid.size)]


def test_a_damaged_database_is_a_problem_not_a_traceback(store: Store, home: Path,
                                                         db_url: str | None,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy import text

    build(store)
    if db_url is None:  # SQLite keeps whatever type it is given
        with store.engine.begin() as conn:
            conn.execute(text("UPDATE ledger_leaves SET salt = 'not bytes' WHERE idx = 4"))
        p = first(verify_archive(store))
        assert (p.code, p.leaf) == ("leaf_mismatch", 4)

    with store.engine.begin() as conn:
        conn.execute(text("DROP TABLE imports"))
    rep = verify_archive(store)
    assert first(rep).code == "malformed" and "cannot be checked" in str(first(rep))
    r = invoke(monkeypatch, _args(home, db_url, "verify"))
    assert r.exit_code == 1 and len(r.stderr.splitlines()) == 1


def test_archive_from_schema_0001_migrates_and_verifies(home: Path, db_url: str | None) -> None:
    """Revision 0001 kept each leaf's hash twice (also as a level-0 ledger_nodes row);
    0002 removes the copy, and the archive verifies after the upgrade."""
    from alembic import command
    from alembic.config import Config

    st = Store.open(home, db_url)
    try:
        build(st)
        cfg = Config()  # back to revision 0001, through every later migration's downgrade
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with st.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0001")
        with st.reader() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")
                                ).scalar_one() == "0001"
            assert conn.execute(text("SELECT count(*) FROM ledger_nodes WHERE level = 0")
                                ).scalar_one() > 0  # what 0001 kept: each leaf's hash twice
    finally:
        st.close()
    st = Store.open(home, db_url)
    try:
        with st.reader() as conn:
            assert conn.execute(text("SELECT count(*) FROM ledger_nodes WHERE level = 0")
                                ).scalar_one() == 0
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() \
                == HEAD
            assert conn.execute(text("SELECT count(*) FROM media_completions")).scalar_one() == 0
        rep = verify_archive(st)
        assert rep.ok and rep.checkpoints == 2
    finally:
        st.close()

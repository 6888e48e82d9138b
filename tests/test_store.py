"""The store on both backends: accounts, posts, versions, media, captures, events, search."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ledger_rows import stored_leaf_hashes
from unerased.errors import BlobError
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

T0 = datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)


def acc(status: AccountStatus = AccountStatus.ACTIVE, handle: str = "sample") -> AccountSnapshot:
    return AccountSnapshot("x", "42", handle=handle, display_name="Sample User", status=status)


def post(pid: str, text: str, key: str | None = None, **kw: object) -> PostSnapshot:
    return PostSnapshot("x", "42", pid, text, created_at=T0, version_key=key, **kw)  # type: ignore[arg-type]


def test_posts_versions_and_idempotence(store: Store) -> None:
    with store.writer() as w:
        a = w.upsert_account(acc(), "import:a")
        r = w.add_posts(a, [post("1", "hello"), post("2", "我们删除了推特")], "import:a")
    assert [x.is_new for x in r] == [True, True]
    assert all(x.version_pk for x in r)
    # same again: nothing new
    with store.writer() as w:
        a = w.upsert_account(acc(), "import:a")
        r = w.add_posts(a, [post("1", "hello"), post("2", "我们删除了推特")], "import:a")
    assert [x.version_pk for x in r] == [None, None]
    # changed text: a second version
    with store.writer() as w:
        a = w.upsert_account(acc(), "import:b")
        r = w.add_posts(a, [post("1", "hello, edited")], "import:b")
    assert r[0].version_pk is not None and r[0].seq == 2
    posts = list(store.iter_posts())
    assert len(posts) == 2
    p1 = next(p for p in posts if p["post_id"] == "1")
    assert [v["text"] for v in p1["versions"]] == ["hello", "hello, edited"]
    assert p1["text"] == "hello, edited"
    assert set(p1) >= {"platform", "account", "post_id", "url", "created_at", "status", "text",
                       "versions", "media"}


def test_edit_chain_keys_dedupe_across_imports(store: Store) -> None:
    chain = [post("1", "v1", key="1"), post("1", "v2", key="5")]
    for _ in range(2):
        with store.writer() as w:
            a = w.upsert_account(acc(), "import:a")
            w.add_posts(a, chain, "import:a")
    (p,) = list(store.iter_posts())
    assert [v["version_key"] for v in p["versions"]] == ["1", "5"]


def test_account_status_history_and_ledger_grows(store: Store) -> None:
    with store.writer() as w:
        w.upsert_account(acc(), "t")
    n1 = store.ledger_size()
    with store.writer() as w:
        w.upsert_account(acc(), "t")  # unchanged: no new history row
    assert store.ledger_size() == n1
    with store.writer() as w:
        w.upsert_account(acc(AccountStatus.SUSPENDED), "t")
    assert store.ledger_size() == n1 + 1
    (a,) = store.find_accounts("x:sample")
    assert a["status"] == "suspended"


def test_media_blobs_and_deleted_flag(store: Store) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"x" * 100
    with store.writer() as w:
        a = w.upsert_account(acc(), "t")
        w.add_posts(a, [post("9", "pic", media=[MediaItem(filename="9-a.png", content=png)]),
                        post("10", "gone", deleted=True)], "t")
    p9 = store.get_post("9")
    assert p9 is not None
    (m,) = p9["media"]
    assert store.blobs.read(m["sha256"]) == png
    assert [p["post_id"] for p in store.iter_posts(status="deleted")] == ["10"]


def test_search_cjk_two_char_words_and_latin_case(store: Store) -> None:
    with store.writer() as w:
        a = w.upsert_account(acc(), "t")
        w.add_posts(a, [
            post("1", "警察要求我们删除推特账号"),
            post("2", "网络审查越来越严"),
            post("3", "Twitter is blocked in China"),
            post("4", "nothing here"),
        ], "t")
        w.add_posts(a, [post("4", "内容被删除了")], "t")  # an edit: old version must stay findable
    ids = lambda q: sorted(p["post_id"] for p in store.search(q))  # noqa: E731
    assert ids("删除") == ["1", "4"]
    assert ids("审查") == ["2"]
    assert ids("推特") == ["1"]
    assert ids("推特账号") == ["1"]
    assert ids("twitter") == ["3"]
    assert ids("TWITTER china") == ["3"]
    assert ids("nothing") == ["4"]  # found through its first version
    assert ids("删除 审查") == []
    hits = store.search("审查")
    assert "审查" in hits[0]["snippet"]


def test_search_filters(store: Store) -> None:
    with store.writer() as w:
        a = w.upsert_account(acc(), "t")
        w.add_posts(a, [post("1", "删除 one"), post("2", "删除 two", deleted=True)], "t")
    assert [p["post_id"] for p in store.search("删除", status="deleted")] == ["2"]
    assert store.search("删除", since="2021-01-01T00:00:00Z") == []


def test_captures_and_events(store: Store) -> None:
    cap = Capture("GET", "https://example.test/x", T0, {"accept": "*/*"}, b"", 404, "Not Found",
                  [("content-type", "application/json")], b'{"error":"Not Found"}')
    with store.writer() as w:
        a = w.upsert_account(acc(), "t")
        cid = w.add_capture(cap, a["id"])
        cid2 = w.add_capture(cap, a["id"])  # same exchange: stored once
        w.add_event(Event(EventType.POST_DELETED, T0, "x", "sample", "42", "1",
                          {"reason": "unknown"}, [cid]), a["id"])
    assert cid == cid2 == cap.id
    (got, body) = list(store.iter_captures())[0]
    assert got.id == cap.id and body == cap.body
    (ev,) = list(store.iter_events())
    assert ev == {"type": "post_deleted", "at": "2020-01-02T03:04:05Z", "platform": "x",
                  "account": "sample", "account_id": "42", "account_uri": "x:sample",
                  "post_id": "1", "detail": {"reason": "unknown"}, "evidence": [cid]}
    assert list(store.iter_events(type="account_deleted")) == []


def test_failed_transaction_leaves_nothing(store: Store) -> None:
    with store.writer() as w:
        w.upsert_account(acc(), "t")
    n = store.ledger_size()
    with pytest.raises(RuntimeError), store.writer() as w:
        a = w.upsert_account(acc(), "t")
        w.add_posts(a, [post("1", "will vanish")], "t")
        raise RuntimeError("boom")
    assert list(store.iter_posts()) == []
    assert store.ledger_size() == n


def test_reopen_keeps_everything(home: Path, db_url: str | None) -> None:
    st = Store.open(home, db_url)
    with st.writer() as w:
        a = w.upsert_account(acc(), "t")
        w.add_posts(a, [post("1", "kept")], "t")
    st.close()
    st = Store.open(home, db_url)  # migrations are idempotent
    assert [p["text"] for p in st.iter_posts()] == ["kept"]
    st.close()


def test_blob_directories_removed_behind_our_back_are_made_again(store: Store) -> None:
    import shutil

    with store.writer() as w:
        a = w.upsert_account(acc(), "t")
        w.add_posts(a, [post("1", "a", media=[MediaItem(filename="a.png", content=b"one")])], "t")
    shutil.rmtree(store.blobs.root)
    with store.writer() as w:
        a = w.upsert_account(acc(), "t")
        w.add_posts(a, [post("2", "b", media=[MediaItem(filename="b.png", content=b"two")])], "t")
    p = store.get_post("2")
    assert p is not None and store.blobs.read(p["media"][0]["sha256"]) == b"two"


# --- bulk inserts run on a background thread within the one transaction (store/_bulk.py)


def test_same_post_in_two_batches_of_one_transaction(store: Store) -> None:
    """A new account's posts are not looked up in the database (its inserts may still be
    on the bulk thread): a post id met again later in the same transaction still is."""
    with store.writer() as w:
        a = w.upsert_account(acc(), "import:a")
        first = w.add_posts(a, [post(str(i), f"text {i}") for i in range(50)], "import:a")
        w.flush()
        again = w.add_posts(a, [post("7", "text 7"), post("7", "text 7, edited"),
                                post("99", "new")], "import:a")
    assert all(r.is_new for r in first)
    assert [(r.is_new, r.version_pk is None, r.seq) for r in again] == [
        (False, True, 1), (False, False, 2), (True, False, 1)]
    p7 = next(p for p in store.iter_posts() if p["post_id"] == "7")
    assert [v["text"] for v in p7["versions"]] == ["text 7", "text 7, edited"]
    assert len(list(store.iter_posts())) == 51


def test_existing_account_posts_are_found_across_transactions(store: Store) -> None:
    with store.writer() as w:
        a = w.upsert_account(acc(), "import:a")
        w.add_posts(a, [post("1", "one")], "import:a")
    with store.writer() as w:
        a = w.upsert_account(acc(), "import:b")
        r = w.add_posts(a, [post("1", "one"), post("2", "two")], "import:b")
    assert [(x.is_new, x.version_pk is None) for x in r] == [(False, True), (True, False)]


def test_a_failing_bulk_insert_rolls_everything_back(store: Store) -> None:
    with pytest.raises(Exception) as e, store.writer() as w:
        a = w.upsert_account(acc(), "import:a")
        w.add_posts(a, [post(str(i), f"text {i}") for i in range(30)], "import:a")
        # a row the database refuses (no NOT NULL columns), queued behind the posts
        mark = "?" if w._connection.dialect.paramstyle == "qmark" else "%s"
        w._insert_many(f"INSERT INTO imports (id) VALUES ({mark})", [(1,)])
        w.add_posts(a, [post("100", "after the failure")], "import:a")
        w.flush()
        w._connection  # noqa: B018 - reading the connection waits for the bulk thread
    assert "null" in str(e.value).lower()
    assert list(store.iter_posts()) == []
    assert store.ledger_size() == 0


# --- blobs are written and fsynced while the import goes on, placed at commit


def _blob_files(store: Store) -> list[str]:
    return sorted(p.name for p in store.blobs.root.rglob("*") if p.is_file())


def test_staged_blobs_appear_only_when_the_transaction_commits(store: Store) -> None:
    imgs = [f"image {i}".encode() for i in range(20)]
    with store.writer() as w:
        a = w.upsert_account(acc(), "import:a")
        w.add_posts(a, [post(str(i), "x", media=(MediaItem(content=b, filename=f"{i}.png"),))
                        for i, b in enumerate(imgs)], "import:a")
        w.flush()
        assert len(w.blobs) == 20
        assert not any(store.blobs.exists(hashlib.sha256(b).hexdigest())
                       for b in imgs)  # only temp files so far
    assert all(store.blobs.read(hashlib.sha256(b).hexdigest()) == b for b in imgs)
    assert not list((store.blobs.root / "tmp").iterdir())


def test_failed_transaction_leaves_no_blob(store: Store) -> None:
    with pytest.raises(RuntimeError, match="boom"), store.writer() as w:
        a = w.upsert_account(acc(), "import:a")
        w.add_posts(a, [post(str(i), "x", media=(MediaItem(content=f"img {i}".encode()),))
                        for i in range(30)], "import:a")
        raise RuntimeError("boom")
    assert _blob_files(store) == []


def test_a_blob_that_cannot_be_written_fails_the_transaction(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = type(store.blobs)._write_temp

    def flaky(self: object, data: bytes, digest: str) -> str:
        if data == b"img 7":
            raise OSError(28, "No space left on device")
        return real(self, data, digest)  # type: ignore[arg-type]

    monkeypatch.setattr(type(store.blobs), "_write_temp", flaky)
    with pytest.raises(BlobError, match="^cannot write a blob in .*: no space left on device$"), \
            store.writer() as w:
        a = w.upsert_account(acc(), "import:a")
        w.add_posts(a, [post(str(i), "x", media=(MediaItem(content=f"img {i}".encode()),))
                        for i in range(12)], "import:a")
    assert _blob_files(store) == []
    assert list(store.iter_posts()) == []


def test_version_counts_hold_across_insert_chunks(store: Store) -> None:
    """Rows go out in chunks of 512 while later versions of the same posts arrive: the
    post's version count is right whether its row was still pending or already sent."""
    from sqlalchemy import text

    snaps = []
    for i in range(1500):
        snaps.append(post(str(i), f"text {i}", key=f"{i}a"))
        if i % 7 == 0:  # edited at once: the row may still be pending
            snaps.append(post(str(i), f"text {i} edited", key=f"{i}b"))
    # edited much later: the row was sent long ago
    snaps += [post(str(i), f"text {i} late", key=f"{i}c") for i in range(0, 1500, 11)]
    want = {str(i): 1 + (i % 7 == 0) + (i % 11 == 0) for i in range(1500)}
    with store.writer() as w:
        a = w.upsert_account(acc(), "import:a")
        for k in range(0, len(snaps), 700):  # batches that cut through chunks and chains
            w.add_posts(a, snaps[k : k + 700], "import:a")
    with store.reader() as conn:
        got = dict(conn.execute(text("SELECT post_id, n_versions FROM posts")).all())
        versions = conn.execute(text("SELECT count(*) FROM post_versions")).scalar_one()
    assert len(got) == 1500 and versions == len(snaps)
    assert got == want


@pytest.mark.parametrize("batches", [[1, 1, 1], [3, 5, 2, 7], [1, 16, 15, 33]])
def test_stored_tree_is_the_rfc9162_tree_across_transactions(
    store: Store, batches: list[int]
) -> None:
    """The writer's hand-inlined append (level 0 in ledger_leaves, levels >= 1 in
    ledger_nodes, the right edge read back from the database at each new transaction)
    stores exactly merkle.MemoryTree's nodes, and the root the ledger reports is its root."""
    from sqlalchemy import select

    from unerased.ledger import log, merkle
    from unerased.store import _schema as schema

    n = 0
    for k in batches:
        with store.writer() as w:
            a = w.upsert_account(acc(handle=f"h{n}"), f"import:{n}")  # one leaf
            for i in range(k - 1):
                w.add_import("twitter-archive", f"{n}-{i}.zip", "ab" * 32, i, a["id"], {})
        n += k
    leaves = stored_leaf_hashes(store)
    with store.reader() as conn:
        nodes = {(int(lv), int(ix)): bytes(h) for lv, ix, h in conn.execute(
            select(schema.ledger_nodes.c.level, schema.ledger_nodes.c.idx,
                   schema.ledger_nodes.c.hash))}
    assert len(leaves) == n == log.tree_size(store)
    mem = merkle.MemoryTree.from_hashes(leaves)
    want = {(lv, i): h for lv, level in enumerate(mem.levels) if lv
            for i, h in enumerate(level)}
    assert nodes == want
    assert log.tree_root(store) == mem.root()
    with store.reader() as conn:
        for i in range(n):
            assert log.inclusion_proof_at(conn, i, n) == mem.inclusion_proof(i, n)


@pytest.mark.postgres
def test_postgres_statistics_refreshed_before_lookups_in_a_big_transaction(
    pg_server: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without statistics PostgreSQL reads all of an account's posts for each batch's
    lookup (seen: a 1M-leaf build slowing to minutes per 50k leaves on a server with
    autovacuum off). The writer runs ANALYZE, inside the transaction, before a lookup once
    enough posts were added; not for small transactions."""
    from unerased.store import _writer

    url = pg_server.new_database()  # type: ignore[attr-defined]
    st = Store.open(tmp_path / "home", url)

    def reltuples(w: object) -> float:
        return float(w._connection.exec_driver_sql(  # type: ignore[attr-defined]
            "SELECT reltuples FROM pg_class WHERE relname = 'posts'").scalar())

    try:
        with st.writer() as w:
            a = w.upsert_account(acc(), "import:a")
            w.add_posts(a, [post(str(i), f"p {i}") for i in range(150)], "import:a")
            w.add_posts(a, [post("1", "p 1, edited")], "import:a")  # a lookup, few posts
            assert reltuples(w) < 150  # never analyzed: -1
        monkeypatch.setattr(_writer, "_ANALYZE_AFTER", 100)
        with st.writer() as w:  # a new account: its first batch needs no lookup
            b = w.upsert_account(AccountSnapshot("x", "43", handle="other"), "import:b")
            w.add_posts(b, [post(str(i), f"p {i}") for i in range(150)], "import:b")
            assert reltuples(w) < 150
            r = w.add_posts(b, [post("2", "p 2, edited")], "import:b")  # statistics first
            assert reltuples(w) >= 300  # the transaction's own rows counted
            assert r[0].version_pk is not None and not r[0].is_new
    finally:
        st.close()
        pg_server.drop_database(url)  # type: ignore[attr-defined]


def test_long_transaction_keeps_the_right_edge_cached(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Across the writer's periodic cache trims, every left sibling a new node needs is
    still cached: none is read back from the database (which would first wait for all the
    pending inserts), and the tree is still RFC 9162's."""
    from unerased.ledger import log, merkle
    from unerased.store import _writer

    reads: list[tuple[int, int]] = []
    real = _writer.Writer._get_node

    def counting(self: _writer.Writer, level: int, idx: int) -> bytes:
        if (level, idx) not in self._nodes:
            reads.append((level, idx))
        return real(self, level, idx)

    monkeypatch.setattr(_writer.Writer, "_get_node", counting)
    monkeypatch.setattr(_writer, "_TRIM_MASK", 15)  # trim every 16 leaves, not 4096
    with store.writer() as w:
        a = w.upsert_account(acc(), "import:a")
        for start in range(0, 1500, 100):
            w.add_posts(a, [post(str(i), f"p {i}") for i in range(start, start + 100)],
                        "import:a")
            assert len(w._nodes) < 200  # trimmed all along
    n = log.tree_size(store)
    assert n > 1024 and reads == []
    assert log.tree_root(store) == merkle.MemoryTree.from_hashes(stored_leaf_hashes(store)).root()


def test_bulk_rows_keep_every_character(store: Store) -> None:
    """Rows go in by multi-row INSERT (SQLite) or COPY (PostgreSQL): text with COPY's and
    SQL's special characters, raw JSON, salts and hashes of any bytes come back exactly,
    and the ledger still verifies."""
    from sqlalchemy import select

    from unerased.ledger.verify import verify_archive
    from unerased.store import _schema as schema

    texts = ["tab\there", "new\nline\r\n", "back\\slash \\N \\. end", "'quote\" ;--",
             "我们删除了推特 🕯️", "\\", "", "\u2028\u2029", "x" * 5000]
    snaps = [post(str(i), t, raw={"t": t, "n": i}) for i, t in enumerate(texts)]
    with store.writer() as w:
        a = w.upsert_account(acc(), "import:a")
        w.add_posts(a, snaps, "import:a")
    with store.reader() as conn:
        got = {r.post_id: (r.text, r.raw_json) for r in conn.execute(
            select(schema.posts.c.post_id, schema.post_versions.c.text,
                   schema.post_versions.c.raw_json)
            .join(schema.post_versions, schema.post_versions.c.post_pk == schema.posts.c.id))}
    assert {k: v[0] for k, v in got.items()} == {str(i): t for i, t in enumerate(texts)}
    assert all(json.loads(raw)["t"] == texts[int(k)] for k, (_, raw) in got.items())
    assert verify_archive(store).ok


def test_lone_surrogates_from_a_platform_are_stored_not_fatal(store: Store) -> None:
    """Half an emoji ("\\ud83d") decodes in Python but cannot be stored as UTF-8: text
    columns get U+FFFD in its place, JSON columns keep it escaped (exactly), and the
    archive verifies."""
    from sqlalchemy import select

    from unerased.ledger.verify import verify_archive
    from unerased.store import _schema as schema

    half = "\ud83d"
    raw = {"id": "1", "text": f"broken {half} emoji", "nested": [{"x": half}]}
    with store.writer() as w:
        a = w.upsert_account(AccountSnapshot("x", "42", handle=f"h{half}",
                                             display_name=f"名{half}",
                                             profile={"bio": f"bio {half}"}), "watch")
        w.add_posts(a, [post("1", f"broken {half} emoji", html=f"<p>{half}</p>", raw=raw,
                             media=[MediaItem(filename="1.png", content=b"png", alt=half)])],
                    "watch")
    with store.reader() as conn:
        v = conn.execute(select(schema.post_versions)).mappings().one()
        acct = conn.execute(select(schema.accounts)).mappings().one()
        st = conn.execute(select(schema.account_status)).mappings().one()
        m = conn.execute(select(schema.media)).mappings().one()
    assert v["text"] == "broken \ufffd emoji" and v["html"] == "<p>\ufffd</p>"
    assert json.loads(v["raw_json"]) == raw  # the raw object exactly, surrogate included
    assert acct["handle"] == "h\ufffd" and m["alt"] == "\ufffd"
    assert json.loads(st["profile_json"]) == {"bio": f"bio {half}"}
    assert verify_archive(store).ok

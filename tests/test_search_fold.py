"""Search folds Traditional to Simplified Chinese (OpenCC, per character) and full-width
forms (NFKC), on the index and the query side, on SQLite and PostgreSQL; snippets still
mark the characters the author typed; migration 0007 refolds an archive made before it."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic import command
from alembic.config import Config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli_world import X_ALICE, cli_run, jsonl
from unerased.errors import UnerasedError
from unerased.model import PostSnapshot
from unerased.store import Store
from unerased.store._engine import MIGRATIONS, SQLITE_FILE, make_engine
from unerased.text.fold import (
    CALL_LIMIT,
    CONFIGS,
    MEMO_LIMIT,
    Folder,
    build_table,
    fold_han,
    folder,
)
from unerased.text.tokenize import (
    TERMS_VERSION,
    fts5_match,
    index_terms,
    matches,
    parse_query,
    pg_tsquery,
    query_terms,
    snippet,
)

TEXTS = [
    "我们删除了推特上的帖子",  # 0 simplified
    "台灣的朋友說推特刪除了他的帳號",  # 1 traditional
    "ＴＷＩＴＴＥＲ帳號被刪除　全角２０２４年",  # 2 full-width Latin and digits, traditional
    "I deleted my Twitter account ABC",  # 3 ASCII
    "用twitter发了一条，髮型不錯 abc",  # 4 mixed scripts; 髮 and 發 both fold to 发
    "衞生署說：乾燥天氣",  # 5 a Hong Kong variant (衞 → 卫), 乾 → 干
]

PAIRS = [  # query, the texts it finds
    ("删除", {0, 1, 2}),
    ("刪除", {0, 1, 2}),
    ("删", {0, 1, 2}),
    ("刪", {0, 1, 2}),
    ("台湾", {1}),
    ("臺灣", {1}),
    ("帐号", {1, 2}),
    ("ＡＢＣ", {3, 4}),
    ("abc", {3, 4}),
    ("Ａｂｃ", {3, 4}),
    ("twitter", {2, 3, 4}),
    ("ｔｗｉｔｔｅｒ帳號", {2}),  # mixed: a word then a run, adjacent
    ("twitter账号", set()),  # 帳 folds to 帐, not 账 (OpenCC's character table)
    ("用Twitter發了", {4}),
    ("发型", {4}),
    ("2024年", {2}),
    ("２０２４年", {2}),
    ("卫生", {5}),
    ("衛生", {5}),  # Taiwan's form folds too
    ("干燥", {5}),
    ("删除 -帳號", {0}),
]


def _fill(store: Store, texts: list[str]) -> None:
    with store.writer() as w:
        acc = w.upsert_account(X_ALICE, "t")
        w.add_posts(acc, [PostSnapshot("x", "1001", str(n), t) for n, t in enumerate(texts)], "t")


def _found(store: Store, q: str) -> set[int]:
    return {int(p["post_id"]) for p in store.search(q, limit=100)}


# --- the fold ---------------------------------------------------------------------------


def test_the_pairs_fold() -> None:
    assert index_terms("刪除") == index_terms("删除") == "删除 除"
    assert index_terms("ＡＢＣ") == index_terms("abc") == "abc"
    assert query_terms("臺灣 刪除") == [["台湾"], ["删除"]]
    assert fold_han("發髮 乾隆 衞 ABC ＡＢＣ") == "发发 干隆 卫 ABC ＡＢＣ"  # only Han folds
    assert index_terms("用Twitter刪除了帳號") == "用 twitter 删除 除了 了帐 帐号 号"
    assert TERMS_VERSION == 2


def test_unfolded_terms_are_version_1() -> None:
    """fold=False is the tokenizer of TERMS_VERSION 1 (what 0007's downgrade restores)."""
    assert index_terms("刪除", fold=False) == "刪除 除"
    assert index_terms("臺灣ＡＢＣ", fold=False) == "臺灣 灣 abc"
    assert index_terms("我们删除了", fold=False) == index_terms("我们删除了")


def test_the_table_is_idempotent_han_to_han_and_matches_per_character() -> None:
    f = Folder()
    table = f.folding().table
    assert 3000 < len(table) < 10000  # t2s + hk2s: some 4 600 characters
    for k, v in table.items():
        assert len(v) == 1 and ord(v) not in table, (chr(k), v)  # a fixed point
        assert 0x3400 <= ord(v) <= 0x9FFF or 0x20000 <= ord(v) <= 0x323AF
    fresh = Folder()  # the per-character path (before the table) computes the same
    assert all(fresh.char(chr(k)) == v for k, v in table.items())
    for o in [*range(0x4E00, 0x4F00), *range(0x20000, 0x20080), 0x41, 0x3042, 0xFF21]:
        assert fresh.char(chr(o)) == table.get(o, chr(o))
    assert "OpenCC" in f.source and all(c.removesuffix(".json") in f.source for c in CONFIGS)


def test_memo_then_table_give_the_same_text() -> None:
    f = Folder()
    text = "".join(chr(o) for o in range(0x7E00, 0x7E00 + MEMO_LIMIT + 10))  # 紀… many T
    first = f.fold(text)  # per character
    second = f.fold(text)  # past MEMO_LIMIT: the whole table
    assert f._folding is not None  # noqa: SLF001 - the switch happened
    assert first == second and len(first) == len(text) and first != text
    few = Folder()  # a small vocabulary: the table after CALL_LIMIT texts all the same
    for _ in range(CALL_LIMIT):
        assert few.fold("臺灣的帳號") == "台湾的帐号"
    assert few._folding is None  # noqa: SLF001
    assert few.fold("臺灣的帳號") == "台湾的帐号" and few._folding is not None  # noqa: SLF001


def test_build_table_follows_chains_and_cycles() -> None:
    assert build_table([{"a": "b", "b": "c"}]) == {"a": "c", "b": "c"}
    assert build_table([{"a": "b"}, {"a": "x", "c": "d"}]) == {"a": "b", "c": "d"}
    assert build_table([{"a": "b", "b": "a", "c": "a"}]) == {"b": "a", "c": "a"}


# --- snippets point into the stored text -------------------------------------------------


def test_snippet_marks_the_authors_own_characters() -> None:
    assert snippet(TEXTS[1], "删除") == "台灣的朋友說推特[刪除]了他的帳號"
    assert snippet(TEXTS[2], "twitter账号") == "ＴＷＩＴＴＥＲ帳號被刪除 全角２０２４年"  # no match
    assert snippet(TEXTS[2], "twitter帐号") == "[ＴＷＩＴＴＥＲ帳號]被刪除 全角２０２４年"
    assert snippet("豈有此理", "岂有") == "[豈有]此理"  # a compatibility ideograph (U+F900)
    assert matches(TEXTS[1], "刪除") and matches(TEXTS[0], "刪除")


# --- property: folding the query or the text changes nothing the search finds ------------

_CHARS = st.sampled_from(list("删刪除发發髮台臺灣湾帳帐号號乾干衞卫的了 ，abcABCＡＢＣ２0"))


def _fts_finds(texts: list[str], q: str) -> set[int]:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(terms, content='', "
               "tokenize='unicode61 remove_diacritics 2')")
    db.executemany("INSERT INTO t (rowid, terms) VALUES (?, ?)",
                   [(n, index_terms(x)) for n, x in enumerate(texts)])
    return {r[0] for r in db.execute("SELECT rowid FROM t WHERE t MATCH ?", (fts5_match(q),))}


def _pg_finds(conn: psycopg.Connection[tuple[object, ...]], texts: list[str], q: str
              ) -> set[int]:
    rows = conn.execute(
        "SELECT n FROM unnest(%s::text[]) WITH ORDINALITY AS d(terms, n) "
        "WHERE to_tsvector('simple', terms) @@ to_tsquery('simple', %s)",
        ([index_terms(x) for x in texts], pg_tsquery(q))).fetchall()
    return {int(str(r[0])) - 1 for r in rows}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Iterator[Callable[[list[str], str], set[int]]]:
    """How one backend finds a query in a list of texts (rows, indexed from 0)."""
    if request.param == "sqlite":
        yield _fts_finds
        return
    server: Any = request.getfixturevalue("pg_server")
    with psycopg.connect(server.admin_url, autocommit=True) as conn:
        yield partial(_pg_finds, conn)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(_CHARS, min_size=1, max_size=12), min_size=1, max_size=6),
       st.data())
def test_folding_commutes_with_search(engine: Callable[[list[str], str], set[int]],
                                      texts: list[str], data: st.DataObject) -> None:
    for t in texts:
        assert index_terms(fold_han(t)) == index_terms(t)
    src = data.draw(st.sampled_from(texts))
    i = data.draw(st.integers(0, len(src) - 1))
    q = src[i : data.draw(st.integers(i + 1, len(src)))]
    if not query_terms(q):
        return
    assert parse_query(fold_han(q)) == parse_query(q)
    found = engine(texts, q)
    assert engine(texts, fold_han(q)) == found
    assert engine([fold_han(t) for t in texts], q) == found
    if all(0x4E00 <= ord(c) <= 0x9FFF for c in q):  # a Chinese substring finds its text
        assert texts.index(src) in found
    assert all(matches(texts[n], q) for n in found)


# --- both backends, through the store, the migration and the CLI --------------------------


@pytest.mark.parametrize(("q", "expected"), PAIRS)
def test_store_search_folds(store: Store, q: str, expected: set[int]) -> None:
    _fill(store, TEXTS)
    assert _found(store, q) == expected
    assert store.search_total(q) == len(expected)


def test_store_snippet_shows_the_traditional_post(store: Store) -> None:
    _fill(store, TEXTS)
    hits = {p["post_id"]: p["snippet"] for p in store.search("删除")}
    assert hits["1"] == "台灣的朋友說推特[刪除]了他的帳號"
    assert hits["0"] == "我们[删除]了推特上的帖子"
    assert hits["2"] == "ＴＷＩＴＴＥＲ帳號被[刪除] 全角２０２４年"
    texts = {p["post_id"]: p["text"] for p in store.search("删除")}
    assert texts["1"] == TEXTS[1]  # the stored text is the author's


def _alembic(url: str, action: str, revision: str) -> None:
    engine = make_engine(url)
    try:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            getattr(command, action)(cfg, revision)
    finally:
        engine.dispose()


def _raw_fts(url: str, term: str) -> set[int]:
    """Which texts the index holds ``term`` for, read without the Store (which would
    migrate the archive first) and without folding the term."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                rows = conn.exec_driver_sql(
                    "SELECT v.text FROM post_fts JOIN post_versions v ON v.id = post_fts.rowid "
                    "WHERE post_fts MATCH ?", (f'"{term}"',)).all()
            else:
                rows = conn.exec_driver_sql(
                    "SELECT v.text FROM post_fts f JOIN post_versions v ON v.id = f.version_pk "
                    "WHERE f.terms @@ to_tsquery('simple', %s)", (f"'{term}'",)).all()
            version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    finally:
        engine.dispose()
    assert version is not None
    return {TEXTS.index(r[0]) for r in rows}


def test_migration_0007_refolds_an_archive_made_before_it(home: Path, db_url: str | None
                                                          ) -> None:
    store = Store.open(home, db_url)
    try:
        _fill(store, TEXTS)
        with store.writer() as w:  # an edit: a second version of post 3, traditional
            w.add_posts(w.upsert_account(X_ALICE, "t"),
                        [PostSnapshot("x", "1001", "3", TEXTS[5])], "t")
    finally:
        store.close()
    url = db_url or f"sqlite:///{(home / SQLITE_FILE).resolve()}"
    _alembic(url, "downgrade", "0006")  # the archive as the tokenizer of version 1 made it
    assert _raw_fts(url, "删除") == {0}  # the old terms: 刪除 is not 删除
    assert _raw_fts(url, "刪除") == {1, 2}
    assert _raw_fts(url, "衞生") == {5}
    store = Store.open(home, db_url)  # opening migrates: 0007 refolds every version
    try:
        assert _found(store, "删除") == {0, 1, 2}
        assert _found(store, "刪除") == {0, 1, 2}
        assert _found(store, "卫生") == {3, 5}  # the second version of post 3 is indexed
        assert _found(store, "deleted") == {3}  # and its first
        assert _found(store, "ＡＢＣ") == {3, 4}
        for q, expected in PAIRS:  # post 3's second version is post 5's text
            assert _found(store, q) == expected | ({3} if 5 in expected else set()), q
    finally:
        store.close()
    assert _raw_fts(url, "删除") == {0, 1, 2}
    assert _raw_fts(url, "刪除") == set()


def test_cli_search_traditional_finds_simplified(home: Path, db_url: str | None,
                                                 store: Store) -> None:
    _fill(store, TEXTS)
    r = cli_run(home, db_url, "search", "刪除", "--json")
    assert r.exit_code == 0, r.output
    rows = jsonl(r.stdout)
    assert {row["text"] for row in rows} == {TEXTS[0], TEXTS[1], TEXTS[2]}
    assert any(row["snippet"] == "我们[删除]了推特上的帖子" for row in rows)
    r = cli_run(home, db_url, "search", "删除")
    assert r.exit_code == 0 and "[刪除]" in r.stdout
    assert r.stderr.strip().splitlines()[-1] == "3 matches (showing 3)"


def test_the_process_folder_is_shared() -> None:
    assert folder() is folder()


def test_a_missing_opencc_is_one_error_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opencc", None)  # `import opencc` raises ImportError
    with pytest.raises(UnerasedError, match=r"pip install 'opencc>=1.1'"):
        Folder()
    assert index_terms("ASCII only") == "ascii only"  # ASCII text never needs it

"""Search terms, Chinese included: pure checks plus real SQLite FTS5 and PostgreSQL runs."""

from __future__ import annotations

import os
import random
import sqlite3
from collections.abc import Iterator, Sequence

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from unerased.text.tokenize import (
    MAX_QUERY_TERMS,
    Phrase,
    SearchQueryError,
    fts5_match,
    index_terms,
    parse_query,
    pg_tsquery,
    query_terms,
    snippet,
)

PG_DSN = os.environ.get(
    "UNERASED_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=test"
)

DOCS = [
    "我们删除了推特上的帖子",  # 0
    "网络审查越来越严格，很多账号被封。",  # 1
    "他在推特上写道：言论自由不是犯罪",  # 2
    "I posted this on TWITTER yesterday, then deleted it.",  # 3
    "今天用Twitter发了一条推文，马上被删除",  # 4
    "日本語のテキストを検索します",  # 5
    "한국어 텍스트 검색 테스트",  # 6
    "删除😀推特 🚫 审查",  # 7
    "台灣的朋友說推特刪除了他的帳號",  # 8  traditional: 刪除, 帳號
    "this OR that, NEAR the end: a*b ^start \"quoted\"",  # 9
    "Café au lait, naïve résumé",  # 10
    "ＴＷＩＴＴＥＲ　全角２０２４年",  # 11  full-width letters and digits
    "删",  # 12 a lone character
    "言论",  # 13
]


def _phrase_in(terms: Sequence[str], p: Phrase) -> bool:
    k = len(p.terms)
    for i in range(len(terms) - k + 1):
        if list(terms[i : i + k - 1]) != list(p.terms[:-1]):
            continue
        last = terms[i + k - 1]
        if last == p.terms[-1] or (p.prefix and last.startswith(p.terms[-1])):
            return True
    return False


def oracle(docs: Sequence[str], q: str) -> set[int]:
    """Which docs a query should find, decided on the term lists alone (no engine)."""
    query = parse_query(q)
    hits = set()
    for n, doc in enumerate(docs):
        terms = index_terms(doc).split()
        if all(_phrase_in(terms, p) for p in query.included) and not any(
            _phrase_in(terms, p) for p in query.excluded
        ):
            hits.add(n)
    return hits


@pytest.fixture
def fts() -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE VIRTUAL TABLE posts USING fts5(terms, tokenize='unicode61 remove_diacritics 2')"
    )
    db.executemany("INSERT INTO posts(rowid, terms) VALUES (?, ?)",
                   [(n, index_terms(d)) for n, d in enumerate(DOCS)])
    yield db
    db.close()


def fts_search(db: sqlite3.Connection, q: str) -> set[int]:
    rows = db.execute("SELECT rowid FROM posts WHERE posts MATCH ?", (fts5_match(q),))
    return {r[0] for r in rows}


@pytest.fixture(scope="module")
def pg() -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    # No skip: when PostgreSQL is unreachable this fails, as it should.
    with psycopg.connect(PG_DSN, autocommit=True, connect_timeout=5) as conn:
        yield conn


def pg_search(conn: psycopg.Connection[tuple[object, ...]], docs: Sequence[str], q: str) -> set[int]:
    tsq = pg_tsquery(q)
    hits = set()
    for n, d in enumerate(docs):
        row = conn.execute(
            "SELECT to_tsvector('simple', %s) @@ to_tsquery('simple', %s)", (index_terms(d), tsq)
        ).fetchone()
        assert row is not None
        if row[0]:
            hits.add(n)
    return hits


# --- index terms ----------------------------------------------------------------------


def test_bigrams_like_cjk_bigram_analyzer() -> None:
    assert index_terms("我们删除了推特") == "我们 们删 删除 除了 了推 推特 特"
    assert index_terms("删") == "删"
    assert index_terms("推特 删") == "推特 特 删"


def test_latin_words_normalised() -> None:
    assert index_terms("Hello, WORLD! It's 2024...") == "hello world it s 2024"
    assert index_terms("Café NAÏVE Straße ﬁne") == "cafe naive strasse fine"
    assert index_terms("ＴＷＩＴＴＥＲ２０２４") == "twitter2024"
    assert index_terms("under_score snake-case") == "under score snake case"


def test_mixed_scripts_split_at_script_changes() -> None:
    assert index_terms("用Twitter发了2条") == "用 twitter 发了 了 2 条"
    assert index_terms("日本語のテキスト") == "日本 本语 语の のテ テキ キス スト ト"  # Han folds
    assert index_terms("한국어 텍스트") == "한국 국어 어 텍스 스트 트"
    assert index_terms("ｶﾀｶﾅ") == "カタ タカ カナ ナ"  # half-width kana → full-width


def test_punctuation_emoji_symbols_separate() -> None:
    assert index_terms("删除，审查。") == "删除 除 审查 查"
    assert index_terms("删除😀推特") == "删除 除 推特 特"
    assert index_terms("😀🚫❤️ ... !!! ###") == ""
    assert index_terms("") == ""


def test_marks_variation_selectors_and_jamo() -> None:
    assert index_terms("葛\U000e0100城") == "葛城 城"  # ideographic variation selector
    assert index_terms("か\u3099き") == "がき き"  # combining dakuten composes
    assert index_terms("\u1100\u1161\u11a8\u1100\u1161") == "각가 가"  # conjoining jamo
    assert index_terms("e\u0301te\u0301") == "ete"


def test_traditional_folds_to_simplified() -> None:
    assert index_terms("刪除") == index_terms("删除") == "删除 除"
    assert index_terms("臺灣的帳號被刪除") == "台湾 湾的 的帐 帐号 号被 被删 删除 除"
    assert query_terms("發髮") == [["发发"]]  # one way: 发 finds both 發 and 髮


def test_hostile_text_never_crashes() -> None:
    for text in ["\ud800abc\udfff", "\x00\x1b[31m删除\x1b[0m", "\u202e推特\u202c", "a" * 10000,
                 "\ufeff\u200b\u200d", "𠀀𠀁𪚥"]:
        terms = index_terms(text)
        terms.encode("utf-8")  # always storable
    assert index_terms("\x00\x1b[31m删除\x1b[0m") == "31m 删除 除 0m"
    assert index_terms("𠀀𠀁𪚥") == "𠀀𠀁 𠀁𪚥 𪚥"  # Extension B


# --- queries --------------------------------------------------------------------------


def test_query_terms_shapes() -> None:
    assert query_terms("删除") == [["删除"]]
    assert query_terms("审查 制度") == [["审查"], ["制度"]]
    assert query_terms("推特删除") == [["推特", "特删", "删除"]]
    assert query_terms("  Twitter  ") == [["twitter"]]
    assert query_terms('"free speech" 推特') == [["free", "speech"], ["推特"]]
    assert query_terms("“言论 自由”") == [["言论", "论", "自由"]]
    assert query_terms("删除twitter") == [["删除", "除", "twitter"]]
    assert query_terms("审查 -推特") == [["审查"]]
    assert query_terms("。，！") == []


def test_parse_query_prefix_and_exclude() -> None:
    q = parse_query('删 x删 -"a b" -')
    assert q.phrases == (
        Phrase(("删",), prefix=True),
        Phrase(("x", "删"), prefix=True),
        Phrase(("a", "b"), exclude=True),
    )


def test_match_strings() -> None:
    assert fts5_match("推特删除") == '"推特" + "特删" + "删除"'
    assert fts5_match("审查 制度") == '"审查" AND "制度"'
    assert fts5_match("删") == '"删" *'
    assert fts5_match("审查 -推特") == '"审查" NOT ("推特")'
    assert fts5_match("a b -c") == '("a" AND "b") NOT ("c")'
    assert pg_tsquery("推特删除") == "('推特' <-> '特删' <-> '删除')"
    assert pg_tsquery("审查 制度 -推特") == "'审查' & '制度' & !'推特'"
    assert pg_tsquery("x删") == "('x' <-> '删':*)"


def test_huge_queries_refused() -> None:
    q = "删除" * 200  # 399 bigrams
    with pytest.raises(SearchQueryError, match="too long"):
        fts5_match(q)
    with pytest.raises(SearchQueryError, match="too long"):
        pg_tsquery(" ".join(["word"] * (MAX_QUERY_TERMS + 1)))
    assert fts5_match(" ".join(["word"] * MAX_QUERY_TERMS)).count('"word"') == MAX_QUERY_TERMS


def test_empty_queries_raise() -> None:
    for q in ["", "   ", "。，", "😀", "-删除", '""', "-"]:
        with pytest.raises(SearchQueryError):
            fts5_match(q)
        with pytest.raises(SearchQueryError):
            pg_tsquery(q)


# --- end to end in SQLite FTS5 -----------------------------------------------------------

CASES = {
    "删除": {0, 4, 7, 8},  # 8 is traditional: 刪除 folds to 删除
    "审查": {1, 7},
    "推特": {0, 2, 7, 8},
    "言论自由": {2},
    "自由言论": set(),
    "推特上": {0, 2},
    "删除了推特": {0},
    "审查 账号": {1},
    "推特 -删除": {2},
    "twitter": {3, 4, 11},
    "Twitter": {3, 4, 11},
    "TWITTER": {3, 4, 11},
    "用twitter发": {4},
    "twitter发了": {4},
    "DELETED it": {3},
    '"deleted it"': {3},
    '"it deleted"': set(),
    "テキスト": {5},
    "検索": {5},
    "텍스트": {6},
    "검색": {6},
    "刪除": {0, 4, 7, 8},
    "帳號": {8},  # OpenCC: 帳 → 帐, not 账 (doc 1 has 账号): see docs/search.md
    "帐号": {8},
    "删": {0, 4, 7, 8, 12},  # middle of a run, end of a run, alone; 8 is 刪
    "刪": {0, 4, 7, 8, 12},
    "除": {0, 4, 7, 8},  # 刪除 (traditional) ends in the same 除
    "特": {0, 2, 7, 8},  # 推特 ends the run in doc 7
    "论": {2, 13},
    "cafe": {10},
    "résumé NAIVE": {10},
    "2024年": {11},
    "全角": {11},
    "删除推特": set(),  # an emoji separates them in doc 7
    "删除，审查": set(),
}


@pytest.mark.parametrize(("q", "expected"), list(CASES.items()))
def test_fts5_finds(fts: sqlite3.Connection, q: str, expected: set[int]) -> None:
    assert fts_search(fts, q) == expected
    assert oracle(DOCS, q) == expected


INJECTIONS = [
    '"', '""', '"删除', '删除"', '*', '删*', '* 删除', 'NEAR', 'NEAR(删除 推特)',
    'NEAR(this that, 1)', 'OR', 'this OR that', 'AND', 'NOT', 'this NOT that', ':',
    'terms:删除', 'terms : this', '{terms}: this', '^', '^this', '^删除', '(', ')',
    '(this', 'this)', '+', 'this + that', "'", "\\", '-', '--this', 'a*b', 'end:',
    '"quoted"', '\x00删除', 'NEAR/2', '删除 OR 审查',
]


@pytest.mark.parametrize("q", INJECTIONS)
def test_fts5_injection_is_harmless(fts: sqlite3.Connection, q: str) -> None:
    try:
        expr = fts5_match(q)
    except SearchQueryError:
        assert query_terms(q) == []
        return
    rows = fts.execute("SELECT rowid FROM posts WHERE posts MATCH ?", (expr,)).fetchall()
    assert {r[0] for r in rows} == oracle(DOCS, q)


def test_injection_words_are_searched_literally(fts: sqlite3.Connection) -> None:
    assert fts_search(fts, "OR") == {9}
    assert fts_search(fts, "this OR that") == {9}
    assert fts_search(fts, "NEAR") == {9}
    assert fts_search(fts, "删除 OR 审查") == set()  # "or" is a word that must appear
    assert fts_search(fts, "terms:this") == set()  # no word "terms" in any doc
    assert fts_search(fts, "^start") == {9}
    assert fts_search(fts, 'a*b') == {9}


def test_fts5_tokenizes_our_terms_exactly() -> None:
    """unicode61 must split a term string on the spaces and nowhere else."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(terms, "
               "tokenize='unicode61 remove_diacritics 2')")
    db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, instance)")
    for n, doc in enumerate(DOCS):
        db.execute("INSERT INTO t(rowid, terms) VALUES (?, ?)", (n, index_terms(doc)))
        got = [r[0] for r in db.execute(
            "SELECT term FROM v WHERE doc = ? ORDER BY offset", (n,))]
        assert got == index_terms(doc).split(), doc


# --- end to end in PostgreSQL -----------------------------------------------------------


@pytest.mark.postgres
def test_pg_finds(pg: psycopg.Connection[tuple[object, ...]]) -> None:
    for q, expected in CASES.items():
        assert pg_search(pg, DOCS, q) == expected, q


@pytest.mark.postgres
def test_pg_injection_is_harmless(pg: psycopg.Connection[tuple[object, ...]]) -> None:
    attacks = INJECTIONS + ["'删除", "删除'", "\\'", "&", "|", "!", "!删除", "<->", "删除 <-> 推特",
                            "删除:*", ":*", "删除 | 审查", "(删除", "')", "'' & ''", "删除:A"]
    for q in attacks:
        try:
            pg_tsquery(q)
        except SearchQueryError:
            assert query_terms(q) == [], q
            continue
        assert pg_search(pg, DOCS, q) == oracle(DOCS, q), q


@pytest.mark.postgres
def test_pg_vector_has_our_terms(pg: psycopg.Connection[tuple[object, ...]]) -> None:
    row = pg.execute("SELECT to_tsvector('simple', %s)::text",
                     (index_terms("我们删除了推特 Twitter"),)).fetchone()
    assert row is not None
    assert row[0] == ("'twitter':8 '了推':5 '们删':2 '删除':3 '我们':1 "
                      "'推特':6 '特':7 '除了':4")


@pytest.mark.postgres
def test_random_hostile_queries_agree_everywhere(
    pg: psycopg.Connection[tuple[object, ...]],
) -> None:
    """FTS5, PostgreSQL and the oracle find the same rows for operator soup."""
    rng = random.Random(20240601)
    alpha = list("删除推特审查自由我们的 ab Z9，。!?😀ーカナ한국éÉ\"'-*:^()&|!<>\\")
    alpha += ["\u3000", "NEAR", "OR", " AND ", "ｶ", "Ａ", "\u0301", ":*", "<->"]
    docs = ["".join(rng.choice(alpha) for _ in range(rng.randint(0, 30))) for _ in range(150)]
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE p USING fts5(terms, tokenize='unicode61 remove_diacritics 2')")
    db.executemany("INSERT INTO p(rowid, terms) VALUES (?, ?)",
                   [(i, index_terms(d)) for i, d in enumerate(docs)])
    pg.execute("CREATE TEMP TABLE IF NOT EXISTS fuzz(id int, v tsvector)")
    pg.execute("TRUNCATE fuzz")
    with pg.cursor() as cur:
        cur.executemany("INSERT INTO fuzz VALUES (%s, to_tsvector('simple', %s))",
                        [(i, index_terms(d)) for i, d in enumerate(docs)])
    checked = 0
    for _ in range(500):
        if rng.random() < 0.5 and (d := rng.choice(docs)):
            a = rng.randrange(len(d))
            q = d[a : rng.randint(a, len(d))]
        else:
            q = "".join(rng.choice(alpha) for _ in range(rng.randint(1, 8)))
        try:
            expr, tsq = fts5_match(q), pg_tsquery(q)
        except SearchQueryError:
            continue
        expected = oracle(docs, q)
        assert {r[0] for r in db.execute("SELECT rowid FROM p WHERE p MATCH ?", (expr,))} \
            == expected, q
        assert {r[0] for r in pg.execute(
            "SELECT id FROM fuzz WHERE v @@ to_tsquery('simple', %s)", (tsq,))} == expected, q
        checked += 1
    assert checked > 300


# --- properties -------------------------------------------------------------------------

CJK = st.sampled_from(list("我们删除了推特审查制度言论自由的是不在人有这中国政府网络账号"))
CJK_TEXT = st.text(alphabet=CJK, min_size=1, max_size=40)
MIXED = st.text(
    alphabet=st.sampled_from(list("删除推特审查自由 ab Z9，。!?😀ーカナ한국é") + ["\u3000"]),
    max_size=40,
)


def _adjacent(needle: Sequence[str], hay: Sequence[str]) -> bool:
    k = len(needle)
    return any(list(hay[i : i + k]) == list(needle) for i in range(len(hay) - k + 1))


@given(CJK_TEXT, st.data())
def test_any_cjk_substring_is_found_as_a_phrase(s: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(s) - 1))
    end = data.draw(st.integers(start + 1, len(s)))
    t = s[start:end]
    phrases = parse_query(t).included
    assert len(phrases) == 1
    p = phrases[0]
    terms = index_terms(s).split()
    if len(t) >= 2:
        assert not p.prefix
        assert query_terms(t) == [[t[i : i + 2] for i in range(len(t) - 1)]]
        assert _adjacent(query_terms(t)[0], terms)
    else:
        assert p.prefix and p.terms == (t,)
        assert any(term.startswith(t) for term in terms)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(CJK_TEXT, CJK_TEXT, st.data())
def test_fts5_finds_substrings_and_only_them(s: str, other: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(s) - 1))
    end = data.draw(st.integers(start + 1, len(s)))
    t = s[start:end]
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE p USING fts5(terms, tokenize='unicode61 remove_diacritics 2')")
    db.executemany("INSERT INTO p(rowid, terms) VALUES (?, ?)",
                   [(1, index_terms(s)), (2, index_terms(other))])
    rows = {r[0] for r in db.execute("SELECT rowid FROM p WHERE p MATCH ?", (fts5_match(t),))}
    assert 1 in rows
    # for a pure-CJK document and query, a phrase match is exactly a substring match
    assert (2 in rows) == (t in other)


@given(MIXED, st.data())
def test_token_aligned_substrings_are_found(s: str, data: st.DataObject) -> None:
    """Cut s only where a separator is, and the piece is found by a phrase query."""
    cuts = [0] + [i for i, ch in enumerate(s) if not ch.isalnum()] + [len(s)]
    a = data.draw(st.sampled_from(cuts))
    b = data.draw(st.sampled_from([c for c in cuts if c >= a]))
    piece = s[a:b]
    if not query_terms(piece):
        return
    query = parse_query(f'"{piece}"' if '"' not in piece else piece)
    terms = index_terms(s).split()
    assert all(_phrase_in(terms, p) for p in query.included)


@given(st.text(max_size=60))
def test_terms_are_always_storable(s: str) -> None:
    terms = index_terms(s)
    assert "  " not in terms and terms == terms.strip()
    for term in terms.split():
        assert term == term.casefold() or not term.isascii()
    snippet(s, s[:5])  # never raises
    parse_query(s)


# --- snippets ---------------------------------------------------------------------------


def test_snippet_marks_first_match() -> None:
    text = "今天我们删除了推特上的一些帖子，审查制度越来越严格。"
    assert snippet(text, "删除") == "今天我们[删除]了推特上的一些帖子，审查制度越来越严格。"
    assert snippet(text, "删除 审查") == "今天我们[删除]了推特上的一些帖子，[审查]制度越来越严格。"
    assert snippet(text, "删") == "今天我们[删]除了推特上的一些帖子，审查制度越来越严格。"
    assert snippet(text, "推特上") == "今天我们删除了[推特上]的一些帖子，审查制度越来越严格。"


def test_snippet_keeps_original_characters() -> None:
    assert snippet("用ＴＷＩＴＴＥＲ发了", "twitter") == "用[ＴＷＩＴＴＥＲ]发了"
    assert snippet("I posted on TWITTER, twice: twitter.", "Twitter") == (
        "I posted on [TWITTER], twice: [twitter].")


def test_snippet_window_and_ellipses() -> None:
    text = "a" * 300 + " 删除 " + "b" * 300
    s = snippet(text, "删除", width=40)
    assert s.startswith("\u2026") and s.endswith("\u2026")
    assert "[删除]" in s
    assert 38 <= len(s) <= 46
    head = snippet("x " * 100, "nothing here", width=20)
    assert head == ("x " * 10).strip() + "\u2026"
    assert snippet("short", "zzz") == "short"


def test_snippet_is_one_safe_line() -> None:
    text = "line one\n\n\x1b[31mred\x1b[0m 删除\u202e evil\u202c\ttab"
    s = snippet(text, "删除")
    assert "\n" not in s and "\x1b" not in s and "\u202e" not in s and "\t" not in s
    assert "[删除]" in s


def test_snippet_prefix_at_run_end() -> None:
    assert snippet("他说推特", "特") == "他说推[特]"
    assert snippet("x删除", "x删") == "[x删]除"

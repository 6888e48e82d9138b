"""Search-term benchmark: CJK bigrams (ours) against jieba on a tweet-like corpus.

    .venv/bin/python bench/bench_tokenize.py [--posts 40000] [--seed 7] [--repeat 3]

The corpus is generated: Chinese words drawn by frequency from jieba's own dictionary
(which favours jieba: apart from the planted words, every Chinese word is one it knows),
English words, mentions, hashtags, links, numbers, emoji and punctuation, plus a list of
2-character topic words planted as tokens (each lands in about 2 % of posts). For every
approach it measures the time to turn posts into index terms, the size of a contentless
SQLite FTS5 index of them, the query time, and recall: of the posts that contain a word
(as a substring, and as planted), how many a phrase query for it finds.

Approaches:
  ours         unerased.text.tokenize.index_terms: bigrams + the last char of each run
  bigram       bigrams only (Lucene CJKBigramAnalyzer); a 1-char query is a prefix query
  bigram+uni   bigrams followed by every character as a unigram (Lucene outputUnigrams)
  jieba        jieba.cut_for_search (index) and jieba.cut (query phrase)
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import jieba

from unerased.text.tokenize import _fold, _Run, _segments, _Word, fts5_match, index_terms

TOPIC_WORDS = [
    "删除", "审查", "推特", "政府", "自由", "言论", "警察", "账号", "封号", "抗议",
    "人权", "律师", "记者", "民主", "网络", "微博", "翻墙", "逮捕", "新闻", "中国",
]
SINGLE_CHARS = ["删", "党", "国", "网", "封", "警", "抓", "墙"]
_ENGLISH_TEXT = (
    "the a to of and in is it you that he was for on are with as I his they be at one have "
    "this from or had by not word but what some we can out other were all there when up use "
    "your how said an each she which do their time if will way about many then them would "
    "Twitter twitter TWITTER police arrested account deleted censorship China free speech "
    "VPN firewall human rights lawyer news report HK Beijing today tomorrow please RT "
    "thanks LOL OMG update breaking video photo live"
)
ENGLISH = _ENGLISH_TEXT.split()
PUNCT = list("，。！？、：；“”（）…") + ["——", "!", "?", ",", ".", " "]
EMOJI = ["😀", "😂", "🙏", "🔥", "🚫", "❤️", "👍", "🕯️", "😡", "🇨🇳"]
TOKENIZE = "tokenize='unicode61 remove_diacritics 2'"
# Ordinary sentences, and a word in each: does a phrase query find the sentence?
SENTENCES = [
    ("他在微博中说", "微博"),
    ("翻墙上推特", "翻墙"),
    ("我的微博被删除了", "删除"),
    ("网民用河蟹代替和谐", "和谐"),
    ("这是语言论述的问题", "言论"),
    ("推特账号被封", "封"),
]


# --- corpus -----------------------------------------------------------------------------


def _chinese_vocab(min_freq: int) -> tuple[list[str], list[float]]:
    words: list[str] = []
    cum: list[float] = []
    total = 0.0
    with jieba.dt.get_dict_file() as fh:
        for raw in fh:
            parts = raw.decode("utf-8").split()
            if len(parts) < 2:
                continue
            word, freq = parts[0], int(parts[1])
            if freq < min_freq or not all("\u4e00" <= ch <= "\u9fff" for ch in word):
                continue
            total += freq
            words.append(word)
            cum.append(total)
    return words, cum


@dataclass
class Corpus:
    posts: list[str]
    planted: dict[str, set[int]] = field(default_factory=dict)


def make_corpus(n: int, seed: int) -> Corpus:
    rng = random.Random(seed)
    words, cum = _chinese_vocab(min_freq=50)
    corpus = Corpus([], {w: set() for w in TOPIC_WORDS})
    for i in range(n):
        kind = rng.random()  # 70 % Chinese, 20 % mixed, 10 % English
        p_en = 0.04 if kind < 0.7 else (0.35 if kind < 0.9 else 0.95)
        target = rng.randint(12, 140)
        parts: list[str] = []
        size = 0
        while size < target:
            r = rng.random()
            if r < 0.012:
                tok = rng.choice(TOPIC_WORDS)
                corpus.planted[tok].add(i)
            elif r < 0.02:
                tok = "@" + rng.choice(ENGLISH).lower() + str(rng.randint(1, 999))
            elif r < 0.025:
                tok = "#" + rng.choice(TOPIC_WORDS + ENGLISH) + "#"
            elif r < 0.028:
                tok = " https://t.co/" + "".join(rng.choices("abcdefghXYZ0123456789", k=10)) + " "
            elif r < 0.035:
                tok = rng.choice(EMOJI)
            elif r < 0.04:
                tok = str(rng.randint(0, 2025))
            elif r < 0.12:
                tok = rng.choice(PUNCT)
            elif r < 0.12 + 0.88 * p_en:
                tok = " " + rng.choice(ENGLISH) + " "
            else:
                tok = rng.choices(words, cum_weights=cum)[0]
            parts.append(tok)
            size += len(tok)
        corpus.posts.append("".join(parts).strip())
    # planted words whose post also got them from the dictionary draw stay planted;
    # posts where the topic word appears only by chance are in the substring truth.
    return corpus


# --- approaches -------------------------------------------------------------------------


def terms_bigram(text: str, unigrams: bool) -> str:
    out: list[str] = []
    uni: list[str] = []
    for seg in _segments(text):
        if isinstance(seg, _Word):
            out.append(seg.term)
            continue
        assert isinstance(seg, _Run)
        c = seg.chars
        if len(c) == 1:
            out.append(c[0])
        else:
            out.extend(c[k] + c[k + 1] for k in range(len(c) - 1))
            if unigrams:
                uni.extend(c)
    return " ".join(out + uni)


def terms_jieba(text: str) -> str:
    out = []
    for tok in jieba.cut_for_search(text):
        tok = tok.strip()
        if tok and any(ch.isalnum() for ch in tok):
            out.append(_fold(tok))
    return " ".join(out)


def _quote(t: str) -> str:
    return '"' + t.replace('"', '""') + '"'


def match_jieba(q: str) -> str:
    toks = [_fold(t) for t in jieba.cut(q) if t.strip()]
    return " + ".join(_quote(t) for t in toks)


def match_bigram(q: str) -> str:
    return f"{_quote(q)} *" if len(q) == 1 else fts5_match(q)


def match_unigrams(q: str) -> str:
    return _quote(q) if len(q) == 1 else fts5_match(q)


@dataclass
class Approach:
    name: str
    index: Callable[[str], str]
    match: Callable[[str], str]


APPROACHES = [
    Approach("ours", index_terms, fts5_match),
    Approach("bigram", lambda t: terms_bigram(t, False), match_bigram),
    Approach("bigram+uni", lambda t: terms_bigram(t, True), match_unigrams),
    Approach("jieba", terms_jieba, match_jieba),
]


# --- measurements -----------------------------------------------------------------------


@dataclass
class Result:
    name: str
    us_per_post_median: float = 0.0
    total_s: float = 0.0
    terms_per_post: float = 0.0
    distinct_terms: int = 0
    index_bytes: int = 0
    query_ms: float = 0.0
    char_query_ms: float = 0.0
    recall_sub: float = 0.0
    recall_planted: float = 0.0
    recall_char: float = 0.0
    worst: str = ""
    misses: int = 0


def time_terms(fn: Callable[[str], str], posts: Sequence[str], repeat: int) -> tuple[float, float, list[str]]:
    per_post: list[int] = []
    out: list[str] = []
    clock = time.perf_counter_ns
    for p in posts:
        t0 = clock()
        out.append(fn(p))
        per_post.append(clock() - t0)
    totals = []
    for _ in range(repeat):
        t0 = clock()
        for p in posts:
            fn(p)
        totals.append(clock() - t0)
    return statistics.median(per_post) / 1e3, min(totals) / 1e9, out


def build_index(path: str, terms: Sequence[str]) -> sqlite3.Connection:
    db = sqlite3.connect(path)
    db.execute(f"CREATE VIRTUAL TABLE t USING fts5(terms, content='', {TOKENIZE})")
    with db:
        db.executemany("INSERT INTO t(rowid, terms) VALUES (?, ?)", enumerate(terms))
        db.execute("INSERT INTO t(t) VALUES ('optimize')")
    db.execute("VACUUM")
    return db


def search(db: sqlite3.Connection, expr: str) -> set[int]:
    return {r[0] for r in db.execute("SELECT rowid FROM t WHERE t MATCH ?", (expr,))}


def timed_search(db: sqlite3.Connection, expr: str, runs: int = 5) -> tuple[set[int], float]:
    """The rows, and the best of ``runs`` timings in seconds (warm cache)."""
    best = float("inf")
    got: set[int] = set()
    for _ in range(runs):
        t0 = time.perf_counter()
        got = search(db, expr)
        best = min(best, time.perf_counter() - t0)
    return got, best


def measure(a: Approach, corpus: Corpus, repeat: int, tmp: str) -> Result:
    res = Result(a.name)
    res.us_per_post_median, res.total_s, terms = time_terms(a.index, corpus.posts, repeat)
    res.terms_per_post = sum(len(t.split()) for t in terms) / len(terms)
    path = os.path.join(tmp, f"{a.name}.db")
    db = build_index(path, terms)
    res.index_bytes = os.path.getsize(path)
    db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, row)")
    res.distinct_terms = db.execute("SELECT count(*) FROM v").fetchone()[0]

    found_sub = total_sub = found_pl = total_pl = 0
    worst_ratio, qtimes = 2.0, []
    for w in TOPIC_WORDS:
        truth = {i for i, p in enumerate(corpus.posts) if w in p}
        got, qt = timed_search(db, a.match(w))
        qtimes.append(qt)
        assert got <= truth, f"{a.name}: {w} found posts without it"
        found_sub += len(got)
        total_sub += len(truth)
        planted = corpus.planted[w]
        found_pl += len(got & planted)
        total_pl += len(planted)
        ratio = len(got) / len(truth) if truth else 1.0
        if ratio < worst_ratio:
            worst_ratio, res.worst = ratio, f"{w} {100 * ratio:.1f}%"
    found_c = total_c = 0
    ctimes = []
    for ch in SINGLE_CHARS:
        truth = {i for i, p in enumerate(corpus.posts) if ch in p}
        got, qt = timed_search(db, a.match(ch))
        ctimes.append(qt)
        assert got <= truth
        found_c += len(got)
        total_c += len(truth)
    db.close()
    res.recall_sub = found_sub / total_sub
    res.recall_planted = found_pl / total_pl
    res.recall_char = found_c / total_c
    res.misses = total_sub - found_sub
    res.query_ms = statistics.median(qtimes) * 1e3
    res.char_query_ms = statistics.median(ctimes) * 1e3
    return res


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, default=40_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)

    jieba.setLogLevel(logging.WARNING)
    t0 = time.perf_counter()
    jieba.initialize()
    jieba_init = time.perf_counter() - t0
    corpus = make_corpus(args.posts, args.seed)
    chars = sum(len(p) for p in corpus.posts)
    print(f"corpus: {len(corpus.posts)} posts, {chars / len(corpus.posts):.0f} chars/post "
          f"on average, seed {args.seed}; jieba dictionary load {jieba_init:.2f} s (not counted)")
    print(f"python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version}, "
          f"jieba {jieba.__version__}")

    with tempfile.TemporaryDirectory() as tmp:
        results = [measure(a, corpus, args.repeat, tmp) for a in APPROACHES]
    base = results[0]
    head = (f"{'approach':<11} {'µs/post':>8} {'×':>5} {'best s':>8} {'terms/post':>10} "
            f"{'distinct':>9} {'index KiB':>10} {'×':>5} {'q2 ms':>6} {'q1 ms':>6} "
            f"{'recall 2-char':>13} {'planted':>8} {'1-char':>7}  worst word")
    print()
    print(head)
    print("-" * len(head))
    for r in results:
        print(f"{r.name:<11} {r.us_per_post_median:>8.1f} "
              f"{r.us_per_post_median / base.us_per_post_median:>5.2f} {r.total_s:>8.2f} "
              f"{r.terms_per_post:>10.1f} {r.distinct_terms:>9} {r.index_bytes / 1024:>10.0f} "
              f"{r.index_bytes / base.index_bytes:>5.2f} {r.query_ms:>6.2f} {r.char_query_ms:>6.2f} "
              f"{100 * r.recall_sub:>12.2f}% {100 * r.recall_planted:>7.2f}% "
              f"{100 * r.recall_char:>6.2f}%  {r.worst}")
    print()
    print("sentence → word: found by " + ", ".join(a.name for a in APPROACHES))
    db = sqlite3.connect(":memory:")
    for a in APPROACHES:
        db.execute(f"CREATE VIRTUAL TABLE {a.name.replace('+', '_')} USING fts5(terms, {TOKENIZE})")
    for sentence, word in SENTENCES:
        marks = []
        for a in APPROACHES:
            table = a.name.replace("+", "_")
            db.execute(f"DELETE FROM {table}")
            db.execute(f"INSERT INTO {table}(rowid, terms) VALUES (1, ?)", (a.index(sentence),))
            hit = db.execute(f"SELECT count(*) FROM {table} WHERE {table} MATCH ?",
                             (a.match(word),)).fetchone()[0]
            marks.append("yes" if hit else "NO")
        print(f"  {sentence} → {word}: " + ", ".join(marks)
              + f"   (jieba: {' / '.join(jieba.cut_for_search(sentence))})")
    print()
    print("× = ratio to 'ours'. µs/post: median time to make one post's terms; best s: the "
          "whole corpus, best of --repeat passes. recall 2-char: share of posts containing one of "
          f"{len(TOPIC_WORDS)} topic words (as a substring) that a phrase query finds; "
          "planted: of the posts where the generator placed the word; 1-char: for "
          f"{''.join(SINGLE_CHARS)}. q2/q1 ms: median FTS5 query time for a 2-char word / "
          "a single character (best of 5, warm). No approach returned a post without the word.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

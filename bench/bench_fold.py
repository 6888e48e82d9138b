"""What folding Traditional to Simplified costs the tokenizer (issue 11), same run:

    .venv/bin/python bench/bench_fold.py [--posts 20000] [--seed 7] [--repeat 5]

Corpus: bench_tokenize's tweet-like posts (jieba's dictionary words, English, links,
emoji; 70 % mostly Chinese), in Simplified as generated and in Traditional (the same
posts through OpenCC ``s2t``). For each, ``index_terms`` without folding (``fold=False``:
the tokenizer before, the baseline) and with it, timed in turn on every post (median)
and on the whole corpus (best of ``--repeat``), once the process has its whole fold table, as an import's reader has after its first few hundred
distinct characters. Then the one-off costs: making the table, and a fresh process's
first query (CLI ``search``: per-character conversion, no table). Last, migration 0007
on a SQLite archive of the corpus (half Simplified, half Traditional; its terms made
unfolded by 0007's downgrade), beside the time the Store took to write those posts.
Needs jieba (the ``jieba`` extra) for the corpus.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_tokenize import make_corpus  # noqa: E402

from unerased.text.fold import Folder, folder  # noqa: E402
from unerased.text.tokenize import index_terms, query_terms  # noqa: E402


def interleaved(base: Callable[[str], str], ours: Callable[[str], str], posts: Sequence[str],
                repeat: int) -> tuple[float, float, float, float]:
    """Per-post median µs of ``base`` and ``ours``, each post timed with both in turn
    (the machine's noise hits both alike), and the best whole-corpus mean of each over
    ``repeat`` rounds, also in turn."""
    per_b: list[float] = []
    per_o: list[float] = []
    clock = time.perf_counter_ns
    for p in posts:
        t0 = clock()
        base(p)
        t1 = clock()
        ours(p)
        t2 = clock()
        per_b.append((t1 - t0) / 1e3)
        per_o.append((t2 - t1) / 1e3)
    whole_b: list[float] = []
    whole_o: list[float] = []
    for _ in range(repeat):
        for fn, out in ((base, whole_b), (ours, whole_o)):
            t0 = time.perf_counter()
            for p in posts:
                fn(p)
            out.append((time.perf_counter() - t0) / len(posts) * 1e6)
    return statistics.median(per_b), statistics.median(per_o), min(whole_b), min(whole_o)


def _unfolded(text: str) -> str:
    return index_terms(text, fold=False)


FIRST_QUERY = (
    "import time; t0 = time.perf_counter()\n"
    "from unerased.text.tokenize import query_terms\n"
    "t1 = time.perf_counter(); query_terms({q!r}); t2 = time.perf_counter()\n"
    "print(f'{{(t1 - t0) * 1e3:.1f}} {{(t2 - t1) * 1e3:.1f}}')\n"
)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--pg", default=None, metavar="URL",
                    help="also time migration 0007 on this (empty) PostgreSQL database")
    args = ap.parse_args(argv)
    import opencc

    simplified = make_corpus(args.posts, args.seed).posts
    traditional = opencc.OpenCC("s2t.json").convert("\n".join(simplified)).split("\n")
    assert len(traditional) == len(simplified)
    t0 = time.perf_counter()
    Folder().folding()
    table_ms = (time.perf_counter() - t0) * 1e3
    folder().folding()  # this process folds in bulk from the start
    changed = sum(index_terms(t) != _unfolded(t) for t in traditional)
    same = sum(index_terms(t) == index_terms(s) for s, t in zip(simplified, traditional, strict=True))
    print(f"{args.posts} posts (seed {args.seed}); Traditional: {changed} posts' terms change "
          f"with folding; folded, {same} / {args.posts} have the very terms of their "
          f"Simplified original")
    print(f"\n{'corpus':<13}{'µs/post, median of each post':>30}{'µs/post, whole corpus':>30}")
    print(f"{'':<13}{'fold=False':>12}{'folded':>10}{'×':>8}{'fold=False':>12}{'folded':>10}{'×':>8}")
    for name, posts in (("Simplified", simplified), ("Traditional", traditional)):
        mb, mo, wb, wo = interleaved(_unfolded, index_terms, posts, args.repeat)
        print(f"{name:<13}{mb:>12.2f}{mo:>10.2f}{mo / mb:>8.2f}{wb:>12.2f}{wo:>10.2f}{wo / wb:>8.2f}")
    print(f"\nfold table made once per bulk process: {table_ms:.0f} ms "
          f"({len(folder().folding().table)} characters)")
    py = sys.executable
    src = str(Path(__file__).resolve().parents[1] / "src")
    for q in ("twitter", "删除", "刪除 臺灣 帳號"):
        runs = []
        for _ in range(args.repeat):
            out = subprocess.run([py, "-c", FIRST_QUERY.format(q=q)], capture_output=True,
                                 text=True, check=True, env={"PYTHONPATH": src}).stdout
            runs.append(tuple(float(x) for x in out.split()))
        imp = statistics.median(r[0] for r in runs)
        first = statistics.median(r[1] for r in runs)
        print(f"fresh process, first query {q!r}: import {imp:.1f} ms, query_terms {first:.1f} ms")
    assert query_terms("刪除") == query_terms("删除")
    mixed = simplified[: len(simplified) // 2] + traditional[len(traditional) // 2 :]
    bench_migration(mixed)
    if args.pg:
        bench_migration(mixed, args.pg)
    return 0


def bench_migration(texts: list[str], db_url: str | None = None) -> None:
    from alembic import command
    from alembic.config import Config

    from unerased.model import AccountSnapshot, PostSnapshot
    from unerased.store import Store
    from unerased.store._engine import MIGRATIONS, SQLITE_FILE, make_engine

    home = Path(tempfile.mkdtemp(prefix="unerased-bench-fold-"))
    try:
        acc = AccountSnapshot("x", "1", handle="a", url="https://x.com/a")
        posts = [PostSnapshot("x", "1", str(n), t) for n, t in enumerate(texts)]
        t0 = time.perf_counter()
        store = Store.open(home, db_url)
        with store.writer() as w:
            w.add_posts(w.upsert_account(acc, "bench"), posts, "bench")
        store.close()
        write_s = time.perf_counter() - t0
        engine = make_engine(db_url or f"sqlite:///{home / SQLITE_FILE}")
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        timings = {}
        for action, rev in (("downgrade", "0006"), ("upgrade", "0007")):
            with engine.begin() as conn:
                cfg.attributes["connection"] = conn
                t0 = time.perf_counter()
                getattr(command, action)(cfg, rev)
                timings[action] = time.perf_counter() - t0
        engine.dispose()
        up = timings["upgrade"]
        backend = "PostgreSQL" if db_url else "SQLite"
        print(f"\nmigration 0007 ({backend}), {len(texts)} versions: {up:.2f} s "
              f"({len(texts) / up:,.0f} versions/s), beside writing those posts through "
              f"the Store: {write_s:.2f} s (ratio {up / write_s:.2f}); its downgrade "
              f"{timings['downgrade']:.2f} s")
    finally:
        shutil.rmtree(home)


if __name__ == "__main__":
    raise SystemExit(main())

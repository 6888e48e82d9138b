"""Ledger benchmarks (a script, not a test).

    .venv/bin/python bench/bench_ledger.py [--leaves 1000000] [--posts 20000] [--db URL]

Prints, side by side (medians of several runs):

1. ledger append throughput (record → canonical JSON → salted leaf hash → new perfect
   nodes, in memory) beside a bare sha256 of the same canonical records;
2. import time of N posts through the store's Writer with ledger leaves and with the
   leaf-appending monkeypatched out (target: the ledger adds <= 20 %); then the same
   through the real ``import twitter-archive`` path on a synthetic X archive;
3. ``verify`` of an archive of ~1,000,000 leaves (target <= 60 s), built quickly with
   the Writer in big transactions;
4. inclusion proof time against the store (target <= 1 ms).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from unerased.ledger import log, merkle  # noqa: E402
from unerased.ledger import records as rec  # noqa: E402
from unerased.ledger.verify import verify_archive  # noqa: E402
from unerased.model import (  # noqa: E402
    AccountSnapshot,
    Capture,
    Event,
    EventType,
    MediaItem,
    PostSnapshot,
    canonical_json,
)
from unerased.store import Store, Writer  # noqa: E402

T0 = datetime(2015, 1, 1, tzinfo=UTC)
TEXT = ("我们删除了推特。Clearing up Twitter: accounts closed overnight, posts gone. " * 3)[:200]


def median_of(runs: int, fn: Callable[[], float]) -> float:
    return statistics.median(fn() for _ in range(runs))


@contextmanager
def tmp_home() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="unerased-bench-") as d:
        yield Path(d) / "home"


def snapshots(n: int, start: int = 0, media_every: int = 0) -> list[PostSnapshot]:
    out = []
    for i in range(start, start + n):
        media: list[MediaItem] = []
        if media_every and i % media_every == 0:
            media = [MediaItem(filename=f"{i}.jpg", content=b"JPEG" + bytes([i % 251]) * 2000,
                               alt="photo")]
        out.append(PostSnapshot(
            "x", "1000", str(10**17 + i), f"{TEXT} #{i}", created_at=T0 + timedelta(minutes=i),
            url=f"https://x.com/sample/status/{10**17 + i}", lang="zh", media=media,
            raw={"id_str": str(10**17 + i), "full_text": TEXT, "favorite_count": i % 97},
        ))
    return out


# --------------------------------------------------------------------------- 1. append


def bench_append(n: int, runs: int) -> None:
    account = {"platform": "x", "account_id": "1000"}
    records = []
    for i, sn in enumerate(snapshots(n)):
        post = {"platform": "x", "post_id": sn.post_id, "url": sn.url, "created_at": "2015-01-01Z",
                "kind": "post", "reply_to": None, "repost_of": None, "quote_of": None}
        ver = {"id": i + 1, "seq": 1, "version_key": "k", "content_hash": "c" * 64,
               "text": sn.text, "html": None, "lang": "zh", "edited_at": None,
               "observed_at": "2026-01-01T00:00:00Z", "source": "import:" + "a" * 64,
               "raw_json": '{"id":1}'}
        records.append(rec.post_version_record(ver, post, account, []))

    def bare() -> float:
        t = time.perf_counter()
        for r in records:
            hashlib.sha256(canonical_json(r)).digest()
        return time.perf_counter() - t

    def ledger() -> float:
        nodes: dict[tuple[int, int], bytes] = {}
        t = time.perf_counter()
        for size, r in enumerate(records):
            lh = merkle.leaf_hash(rec.leaf_data(os.urandom(rec.SALT_BYTES), r))
            for level, idx, h in merkle.new_nodes_for_append(size, lh,
                                                              lambda lv, ix: nodes[(lv, ix)]):
                nodes[(level, idx)] = h
        return time.perf_counter() - t

    b, lg = median_of(runs, bare), median_of(runs, ledger)
    print(f"1. append, {n} post-version records (median of {runs}):")
    print(f"   bare sha256(canonical json) {n / b:>10,.0f} records/s   {b * 1e6 / n:6.1f} µs each")
    print(f"   ledger append (salt+leaf+nodes) {n / lg:>6,.0f} leaves/s    {lg * 1e6 / n:6.1f} µs each"
          f"   ratio {lg / b:.2f}x")


# --------------------------------------------------------------------------- 2. import


@contextmanager
def ledger_off(off: bool) -> Iterator[None]:
    """All the ledger's work patched out of the Writer: building and serialising the
    leaf records, salts, leaf hashes, tree nodes, the ledger rows."""
    if not off:
        yield
        return
    saved = (Writer._leaf, Writer._append_leaf, rec.post_version_json)
    Writer._leaf = lambda self, kind, ref, record: None  # type: ignore[method-assign]
    Writer._append_leaf = lambda self, kind, ref, data: None  # type: ignore[method-assign]
    rec.post_version_json = lambda *a: b""  # type: ignore[assignment]
    orig_record = rec.post_version_record
    rec.post_version_record = lambda *a: {}  # type: ignore[assignment]
    try:
        yield
    finally:
        Writer._leaf, Writer._append_leaf, rec.post_version_json = saved  # type: ignore[method-assign]
        rec.post_version_record = orig_record  # type: ignore[assignment]


def import_posts(store: Store, n: int, batch: int = 1000) -> None:
    with store.writer() as w:
        a = w.upsert_account(AccountSnapshot("x", "1000", handle="sample"), "import:bench")
        snaps = snapshots(n, media_every=50)
        for i in range(0, n, batch):
            w.add_posts(a, snaps[i : i + batch], "import:bench")


def bench_import(n: int, runs: int, db_url: str | None) -> None:
    def timed(no_leaves: bool) -> float:
        with tmp_home() as home, ledger_off(no_leaves):
            store = Store.open(home, db_url)
            try:
                t = time.perf_counter()
                import_posts(store, n)
                return time.perf_counter() - t
            finally:
                _drop(store, db_url)

    # interleave so that disk/cache drift hits both alike
    with_l: list[float] = []
    without: list[float] = []
    for _ in range(runs):
        without.append(timed(True))
        with_l.append(timed(False))
    a, b = statistics.median(without), statistics.median(with_l)
    print(f"2. import of {n} posts in one transaction (median of {runs}):")
    print(f"   without ledger leaves {a:7.2f} s  {n / a:>8,.0f} posts/s")
    print(f"   with ledger leaves    {b:7.2f} s  {n / b:>8,.0f} posts/s   ledger adds "
          f"{(b / a - 1) * 100:+.1f} %  (target <= +20 %)")


def bench_real_import(n: int, runs: int, db_url: str | None) -> None:
    """The same comparison through ``unerased import twitter-archive``'s code path, on a
    synthetic X archive (sim/archives.py): parsing included, as a user sees it."""
    from unerased.ingest import import_archive
    from unerased.sim.archives import make_twitter_archive

    with tempfile.TemporaryDirectory(prefix="unerased-bench-") as d:
        archive = Path(d) / "archive.zip"
        make_twitter_archive(archive, n_tweets=n, seed=1)

        def timed(no_leaves: bool) -> float:
            with tmp_home() as home, ledger_off(no_leaves):
                store = Store.open(home, db_url)
                try:
                    t = time.perf_counter()
                    import_archive(store, "twitter-archive", archive)
                    return time.perf_counter() - t
                finally:
                    _drop(store, db_url)

        with_l: list[float] = []
        without: list[float] = []
        for _ in range(runs):
            without.append(timed(True))
            with_l.append(timed(False))
    a, b = statistics.median(without), statistics.median(with_l)
    print(f"2b. `import twitter-archive` of a synthetic archive of {n} tweets (median of {runs}):")
    print(f"   without ledger leaves {a:7.2f} s")
    print(f"   with ledger leaves    {b:7.2f} s   ledger adds {(b / a - 1) * 100:+.1f} %"
          "  (target <= +20 %)")


def _drop(store: Store, db_url: str | None) -> None:
    if db_url:  # empty the PostgreSQL database for the next run
        from sqlalchemy import text

        from unerased.store import _schema as schema

        with store.engine.begin() as conn:
            for t in reversed(schema.metadata.sorted_tables):
                if t.name != "ledger_head":
                    conn.execute(text(f"DELETE FROM {t.name}"))
            conn.execute(text("UPDATE ledger_head SET size = 0"))
            conn.execute(text("DELETE FROM post_fts"))
    store.close()


# --------------------------------------------------------------------------- 3. verify


def build_big(store: Store, leaves: int, tx: int = 50_000) -> None:
    """~``leaves`` leaves: 94 % post versions (2 % with media), 5 % captures, 1 % events."""
    rng = random.Random(1)
    bodies = [rng.randbytes(rng.randint(200, 4000)) for _ in range(200)]
    done = 0
    i = 0
    while done < leaves:
        with store.writer() as w:
            a = w.upsert_account(AccountSnapshot("x", "1000", handle="sample"), "import:bench")
            start = w.size
            while w.size - start < tx and w.size < leaves:
                snaps = snapshots(940, start=i, media_every=50)
                w.add_posts(a, snaps, "import:bench")
                for k in range(50):
                    c = Capture("GET", f"https://api.x.test/2/users/1000/tweets?page={i + k}",
                                T0 + timedelta(seconds=i + k), {"accept": "application/json"},
                                b"", 200, "OK", [("content-type", "application/json")],
                                bodies[(i + k) % len(bodies)])
                    cid = w.add_capture(c, a["id"])
                for k in range(10):
                    w.add_event(Event(EventType.POST_DELETED, T0, "x", "sample", "1000",
                                      snaps[k].post_id, {"reason": "unknown"}, [cid]), a["id"])
                i += 940
            done = w.size
        print(f"   built {done:,} leaves", end="\r", flush=True)
    print()


def bench_verify(leaves: int, db_url: str | None, keep: Path | None) -> None:
    ctx = tmp_home() if keep is None else _keep_home(keep)
    with ctx as home:
        store = Store.open(home, db_url)
        if log.tree_size(store) < leaves:
            t = time.perf_counter()
            build_big(store, leaves)
            log.make_checkpoint(store)
            print(f"3. built {log.tree_size(store):,} leaves in {time.perf_counter() - t:.0f} s")
        n = log.tree_size(store)
        t = time.perf_counter()
        rep = verify_archive(store)
        dt = time.perf_counter() - t
        print(f"3. verify of {n:,} leaves, {sum(rep.rows.values()):,} rows, {rep.nodes:,} nodes, "
              f"{rep.blobs:,} blobs: {dt:.1f} s  ({n / dt:,.0f} leaves/s; target <= 60 s) "
              f"ok={rep.ok}")
        if not rep.ok:
            print("   ", rep.summary())
        bench_proofs(store, n)
        store.close()


@contextmanager
def _keep_home(path: Path) -> Iterator[Path]:
    yield path


# --------------------------------------------------------------------------- 4. proofs


def bench_proofs(store: Store, size: int, n: int = 2000) -> None:
    rng = random.Random(2)
    idxs = [rng.randrange(size) for _ in range(n)]
    root = log.tree_root(store, size)
    per_call = []
    for i in idxs:
        t = time.perf_counter()
        p = log.inclusion_proof(store, i, size)
        per_call.append(time.perf_counter() - t)
    with store.reader() as conn:
        shared = []
        for i in idxs:
            t = time.perf_counter()
            p = log.inclusion_proof_at(conn, i, size)
            shared.append(time.perf_counter() - t)
        lh = bytes(conn.execute(_leaf_q(), {"i": idxs[-1]}).scalar_one())
    merkle.verify_inclusion(idxs[-1], size, lh, p, root)
    verify_t = []
    for _ in range(n):
        t = time.perf_counter()
        merkle.verify_inclusion(idxs[-1], size, lh, p, root)
        verify_t.append(time.perf_counter() - t)
    print(f"4. inclusion proof in a tree of {size:,} ({len(p)} hashes), median of {n}:")
    print(f"   log.inclusion_proof (own read transaction) {statistics.median(per_call) * 1e3:.3f} ms"
          f"   p99 {sorted(per_call)[int(n * .99)] * 1e3:.3f} ms   (target <= 1 ms)")
    print(f"   inclusion_proof_at (shared connection)     {statistics.median(shared) * 1e3:.3f} ms")
    print(f"   verify_inclusion                            {statistics.median(verify_t) * 1e3:.3f} ms")


def _leaf_q() -> Any:
    from sqlalchemy import text

    return text("SELECT leaf_hash FROM ledger_leaves WHERE idx = :i")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--leaves", type=int, default=1_000_000)
    ap.add_argument("--posts", type=int, default=20_000)
    ap.add_argument("--append", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--db", help="a PostgreSQL URL (default: SQLite in a temporary home)")
    ap.add_argument("--keep", type=Path, help="build the big archive in this home and keep it")
    ap.add_argument("--only", choices=["append", "import", "verify"])
    args = ap.parse_args()
    if args.only in (None, "append"):
        bench_append(args.append, args.runs)
    if args.only in (None, "import"):
        bench_import(args.posts, args.runs, args.db)
        bench_real_import(args.posts, args.runs, args.db)
    if args.only in (None, "verify"):
        bench_verify(args.leaves, args.db, args.keep)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Redaction benchmark (issue 12): what one redaction costs, beside baselines measured on
the same archive in the same run.

  .venv/bin/python bench/bench_redact.py                 # 20,000 posts, 1,000 listings
  .venv/bin/python bench/bench_redact.py --posts 100000 --listings 5000

- **redact**: ``Store.redact`` of one post (the transaction: finding the rows, reading
  every capture body for its text, deleting, the redaction record; then the blob removal
  and SQLite's ``VACUUM``), beside the baseline: ``unerased verify`` of the same archive.
- **account**: ``Store.redact`` of the first account (every post, listing and status)
  once the filter's posts are stored, beside ``verify`` of the archive after it.
- **filter**: storing N new posts into an account that has one redacted post (every
  snapshot is checked against the redacted ids) beside the same into an account with
  none, in posts/s: the cost redaction adds to the import path.
SQLite in a temporary home; medians of three (redact, verify) and four interleaved (filter) runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from unerased.ledger.verify import verify_archive  # noqa: E402
from unerased.model import AccountSnapshot, Capture, PostSnapshot  # noqa: E402
from unerased.store import Store  # noqa: E402

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _post(account: str, i: int) -> PostSnapshot:
    return PostSnapshot("x", account, str(i), f"post number {i} of {account}: words {i * 7919}",
                        created_at=T0)


def _world(home: Path, n: int, listings: int) -> Store:
    st = Store.open(home)
    per = max(1, n // listings)
    with st.writer() as w:
        a = w.upsert_account(AccountSnapshot("x", "a", handle="a"), "bench")
        for k in range(listings):
            batch = [_post("a", i) for i in range(k * per, min(n, (k + 1) * per))]
            body = json.dumps({"data": [{"id": p.post_id, "text": p.text} for p in batch]})
            cap = Capture("GET", f"https://api.x.test/2/users/a/tweets?page={k}", T0, {}, b"",
                          200, "OK", [], body.encode())
            cid = w.add_capture(cap, a["id"])
            w.add_posts(a, batch, "capture:" + cid)
    return st


def _median(fn: object, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=20_000)
    ap.add_argument("--listings", type=int, default=1_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        st = _world(Path(tmp) / "home", args.posts, args.listings)
        t_verify = _median(lambda: verify_archive(st, check_orphans=False))
        times = []
        for i in range(3):
            row = st.resolve_post(str(i * 13 + 1))
            t0 = time.perf_counter()
            st.redact(reason="bench", account_pk=int(row["account_pk"]), post_pk=int(row["id"]))
            times.append(time.perf_counter() - t0)
        t_redact = statistics.median(times)
        assert verify_archive(st, check_orphans=False).ok
        print(f"redact one post of {args.posts} ({args.listings} listings): "
              f"{t_redact:.3f} s; verify of the same archive (baseline): {t_verify:.3f} s; "
              f"ratio {t_redact / t_verify:.2f}")

        def store_into(account: str, offset: list[int]) -> None:
            base = offset[0]
            offset[0] += args.posts
            with st.writer() as w:
                acc = w.account_row("x", account) or w.upsert_account(
                    AccountSnapshot("x", account, handle=account), "bench")
                w.add_posts(acc, [_post(account, base + i) for i in range(args.posts)], "bench")

        clean_off, red_off = [10**9], [10**9]
        with st.writer() as w:  # an account with one redacted post, for the filter
            w.upsert_account(AccountSnapshot("x", "r", handle="r"), "bench")
        store_into("r", [0])
        store_into("c", [0])  # the baseline's account holds as many posts
        (victim,) = [p for p in st.find_posts("0") if p["account_uri"] == "x:r"]
        st.redact(reason="bench", account_pk=int(victim["account_pk"]), post_pk=int(victim["id"]),
                  scrub=False)
        clean, filtered = [], []
        for k in range(4):  # interleaved, order alternating: the archive grows as it goes
            for name in (("c", "r") if k % 2 else ("r", "c")):
                t0 = time.perf_counter()
                store_into(name, clean_off if name == "c" else red_off)
                (clean if name == "c" else filtered).append(time.perf_counter() - t0)
        t_clean, t_filtered = statistics.median(clean), statistics.median(filtered)
        print(f"store {args.posts} posts: into an account with a redacted post "
              f"{args.posts / t_filtered:,.0f} posts/s; with none (baseline) "
              f"{args.posts / t_clean:,.0f} posts/s; ratio {t_filtered / t_clean:.2f}")
        (acct,) = [a for a in st.list_accounts() if a["account_id"] == "a"]
        t0 = time.perf_counter()
        done = st.redact(reason="bench", account_pk=int(acct["id"]))
        t_acct = time.perf_counter() - t0
        t_after = _median(lambda: verify_archive(st, check_orphans=False), 1)
        print(f"redact an account of {done.posts} posts and {args.listings} listings, with "
              f"{2 * args.posts * 5} other posts stored: {t_acct:.3f} s; verify of the "
              f"archive after (baseline): {t_after:.3f} s; ratio {t_acct / t_after:.2f}")
        st.close()


if __name__ == "__main__":
    main()

"""``export site`` benchmark (a script, not a test).

    .venv/bin/python bench/bench_export_site.py [--accounts 50] [--posts 200] [--deleted 10]

Builds an archive of ACCOUNTS Mastodon accounts with POSTS posts each (one listing
capture per account holding them all), of which DELETED per account are deleted (a
direct lookup answering 404, a ``post_deleted`` event), then prints, side by side:

1. ``export site`` (every page, one published receipt per deleted post), per deleted post;
2. the baseline measured in the same run: the full receipts (``unerased receipt``) of the
   same posts, per post — the published receipt is the full one filtered, so the ratio
   is the cost of the filtering and of the pages;
3. ``export jsonl`` of the whole archive, for scale.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from unerased.export import run_export  # noqa: E402
from unerased.export.site import write_site  # noqa: E402
from unerased.ledger import log  # noqa: E402
from unerased.ledger.receipt import write_receipt  # noqa: E402
from unerased.model import AccountSnapshot, Capture, Event, EventType, PostSnapshot  # noqa: E402
from unerased.store import Store  # noqa: E402

T0 = datetime(2024, 1, 1, tzinfo=UTC)
HOST = "https://m.test"


def build(store: Store, accounts: int, posts: int, deleted: int) -> list[int]:
    gone: list[int] = []
    for a in range(accounts):
        aid = f"{a}@m.test"
        listing = Capture("GET", f"{HOST}/api/v1/accounts/{a}/statuses", T0, {}, b"", 200, "OK",
                          [("content-type", "application/json")],
                          json.dumps([{"id": f"{a}-{i}"} for i in range(posts)]).encode())
        with store.writer() as w:
            acct = w.upsert_account(AccountSnapshot("mastodon", aid, handle=f"u{a}@m.test"), "t")
            res = w.add_posts(acct, [
                PostSnapshot("mastodon", aid, f"{a}-{i}", f"post {i} of {a} 删除了 " * 4,
                             created_at=T0 + timedelta(minutes=i),
                             raw={"id": f"{a}-{i}", "visibility": "public"})
                for i in range(posts)], "capture:" + listing.id)
            w.add_capture(listing, acct["id"])
            for i, r in enumerate(res[:deleted]):
                pid = f"{a}-{i}"
                at = T0 + timedelta(days=1, minutes=i)
                look = Capture("GET", f"{HOST}/api/v1/statuses/{pid}", at, {}, b"", 404,
                               "Not Found", [], b'{"error":"Record not found"}')
                cid = w.add_capture(look, acct["id"])
                w.add_event(Event(EventType.POST_DELETED, at, "mastodon", f"u{a}@m.test", aid,
                                  pid, {"reason": "unknown"}, [listing.id, cid]),
                            acct["id"], r.post_pk)
                w.update_post(r.post_pk, status="deleted", deleted_at=at.isoformat())
                gone.append(r.post_pk)
    log.make_checkpoint(store)
    return gone


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=50)
    ap.add_argument("--posts", type=int, default=200)
    ap.add_argument("--deleted", type=int, default=10)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="unerased-bench-") as d:
        root = Path(d)
        store = Store.open(root / "home")
        gone = build(store, args.accounts, args.posts, args.deleted)
        n = len(gone)
        t = time.perf_counter()
        s = write_site(store, root / "site")
        site = time.perf_counter() - t
        t = time.perf_counter()
        for pk in gone:
            write_receipt(store, f"row:{pk}", root / "full" / f"{pk}.zip")
        full = time.perf_counter() - t
        t = time.perf_counter()
        rows = run_export(store, "jsonl", root / "all.jsonl")
        jsonl = time.perf_counter() - t
        size = sum(p.stat().st_size for p in (root / "site").rglob("*") if p.is_file())
        full_size = sum(p.stat().st_size for p in (root / "full").iterdir())
        pub_size = sum(p.stat().st_size for p in (root / "site" / "receipts").iterdir())
        store.close()
    print(f"archive: {args.accounts} accounts x {args.posts} posts, {n} deleted "
          f"({s.posts} published)")
    print(f"export site        {site:8.2f} s  {1000 * site / n:7.1f} ms per deleted post  "
          f"({size / 1e6:.1f} MB, receipts {pub_size / 1e6:.2f} MB)")
    print(f"full receipts      {full:8.2f} s  {1000 * full / n:7.1f} ms per post          "
          f"(receipts {full_size / 1e6:.2f} MB)   site/full = {site / full:.2f}")
    print(f"export jsonl       {jsonl:8.2f} s  ({rows} posts)")


if __name__ == "__main__":
    main()

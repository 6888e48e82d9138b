"""Web pages benchmark (a script, not a test).

    .venv/bin/python bench/bench_web_pages.py [--posts 30000] [--events 20000]

Builds an archive of one account with POSTS posts that all match the word ``needle``
and EVENTS events over 30 days, then prints medians (9 runs), side by side:

1. the search page's total counted up to 10,001 (``search_total(cap=…)``), beside the
   baseline measured in the same run: the full count (``search_total()``);
2. the search page's first and a deep page (by cursor), beside the first;
3. the overview's chart data (events per day by type, closures by tag) beside its
   plain counts (``overview_counts``), the page's older content.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from unerased.model import AccountSnapshot, Event, EventType, PostSnapshot  # noqa: E402
from unerased.store import Store  # noqa: E402

T0 = datetime(2026, 3, 1, tzinfo=UTC)
TYPES = [EventType.POST_DELETED, EventType.POST_EDITED, EventType.ACCOUNT_SUSPENDED]


def build(store: Store, posts: int, events: int) -> None:
    with store.writer() as w:
        acct = w.upsert_account(AccountSnapshot("x", "1", handle="a"), "t")
        w.update_account(acct["id"], tags_json='{"province": "广东"}')
        for start in range(0, posts, 5000):
            w.add_posts(acct, [PostSnapshot("x", "1", f"p{i}", f"needle {i} 删除了",
                                            created_at=T0 - timedelta(minutes=i))
                               for i in range(start, min(posts, start + 5000))], "t")
        for i in range(events):
            w.add_event(Event(TYPES[i % 3], T0 - timedelta(minutes=i * 2), "x", "a", "1",
                              None), acct["id"])


def median_ms(fn: Callable[[], Any], runs: int = 9) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=30000)
    ap.add_argument("--events", type=int, default=20000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="unerased-bench-") as d:
        store = Store.open(Path(d) / "home")
        build(store, args.posts, args.events)
        full = median_ms(lambda: store.search_total("needle"))
        capped = median_ms(lambda: store.search_total("needle", cap=10_001))
        print(f"search total, {args.posts} matches: capped at 10,001 {capped:.1f} ms, "
              f"full count {full:.1f} ms (x{full / capped:.2f})")
        first = median_ms(lambda: store.search("needle", limit=51))
        deep_key = (store.search("needle", limit=args.posts // 2)[-1]["created_at"],
                    args.posts)
        deep = median_ms(lambda: store.search("needle", limit=51, before=deep_key))
        print(f"search page of 50: first {first:.1f} ms, a page half way in {deep:.1f} ms "
              f"(x{deep / first:.2f})")
        since = (T0 - timedelta(days=29)).date().isoformat() + "T00:00:00"
        charts = median_ms(lambda: (store.event_counts_by_day(since),
                                    store.closures_by_tag("province")))
        counts = median_ms(store.overview_counts)
        print(f"overview, {args.events} events: chart data {charts:.1f} ms, plain counts "
              f"{counts:.1f} ms (x{charts / counts:.2f})")
        store.close()


if __name__ == "__main__":
    main()

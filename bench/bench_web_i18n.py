"""What the UI's languages cost (a script, not a test).

    .venv/bin/python bench/bench_web_i18n.py [--events 500]

Builds an archive with EVENTS events and prints medians (9 runs, the languages
interleaved), side by side:

1. the events page (all EVENTS on one page: a date, a label and links per row) in
   Simplified and Traditional Chinese and in English in Asia/Shanghai, beside the
   baseline measured in the same run: English in UTC;
2. one date through ``|when`` (Babel, the reader's language and zone) beside the ISO
   text the page showed before (``datetime.isoformat``);
3. reading the three catalogs from their ``.po`` at start (``I18n.load``).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import httpx  # noqa: E402
from babel import Locale  # noqa: E402

from unerased.model import AccountSnapshot, Event, EventType  # noqa: E402
from unerased.store import Store  # noqa: E402
from unerased.web import WebConfig, create_app  # noqa: E402
from unerased.web._i18n import I18n, format_when  # noqa: E402

T0 = datetime(2026, 3, 1, tzinfo=UTC)
TYPES = [EventType.POST_DELETED, EventType.POST_EDITED, EventType.ACCOUNT_SUSPENDED]


def median_ms(fn: Callable[[], Any], runs: int = 9) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=500)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp))
        with store.writer() as w:
            acct = w.upsert_account(AccountSnapshot("x", "1", handle="a"), "t")
            for i in range(args.events):
                w.add_event(Event(TYPES[i % 3], T0 - timedelta(minutes=i), "x", "a", "1",
                                  f"p{i}"), acct["id"])
        app = create_app(WebConfig(home=Path(tmp), store=store, auth=False,
                                   secret=b"x" * 32))
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                   base_url="http://127.0.0.1:8321")
        runner = asyncio.Runner()
        url = f"/events?limit={min(args.events, 500)}"
        cases = {"en, UTC (baseline)": "lang=en; tz=UTC",
                 "zh-Hans, Asia/Shanghai": "lang=zh-Hans; tz=Asia/Shanghai",
                 "zh-Hant, Asia/Taipei": "lang=zh-Hant; tz=Asia/Taipei",
                 "en, Asia/Shanghai": "lang=en; tz=Asia/Shanghai"}
        times: dict[str, list[float]] = {k: [] for k in cases}
        for _ in range(10):  # the first round warms the templates up, then 9 measured
            for name, cookie in cases.items():
                t = time.perf_counter()
                r = runner.run(client.get(url, headers={"Cookie": cookie}))
                times[name].append(time.perf_counter() - t)
                assert r.status_code == 200, r.text
        base = statistics.median(times["en, UTC (baseline)"][1:]) * 1000
        print(f"events page, {min(args.events, 500)} rows (median of 9):")
        for name, ts in times.items():
            ms = statistics.median(ts[1:]) * 1000
            print(f"  {name:24} {ms:8.1f} ms   x{ms / base:.2f}")
        runner.run(client.aclose())
        runner.close()
        store.close()
    at = "2026-03-01T13:00:00Z"
    n = 1000
    iso = median_ms(lambda: [datetime.fromisoformat(at).isoformat() for _ in range(n)])
    loc = Locale.parse("zh_Hans")  # as the |when filter holds it
    when = median_ms(lambda: [format_when(at, loc, "Asia/Shanghai") for _ in range(n)])
    print(f"{n} dates: |when {when:.1f} ms   isoformat (baseline) {iso:.1f} ms   "
          f"x{when / iso:.0f}")
    print(f"I18n.load (3 catalogs from .po, 3 environments): {median_ms(I18n.load):.1f} ms")


if __name__ == "__main__":
    main()

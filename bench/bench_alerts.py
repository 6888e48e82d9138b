#!/usr/bin/env python3
"""Alerts benchmark (issue 10): turning events into alerts, and delivering them, beside a
bare baseline on the same data in the same run.

  .venv/bin/python bench/bench_alerts.py                  # 5,000 events, 500 deliveries
  .venv/bin/python bench/bench_alerts.py --events 20000 --deliveries 1000

- **enqueue**: ``enqueue_new`` over N ``post_deleted`` events of 100 accounts (a rule per
  deleted post, a mass-deletion rule, a closure rule), beside the baseline: reading the
  same events once (``store.iter_events``), in events/s.
- **deliver**: ``deliver_due`` of M webhooks to a receiver on loopback (signed, through the
  fetch guard, each outcome stored), beside the baseline: the same M POSTs from one bare
  ``httpx.AsyncClient``, in deliveries/s.
SQLite in a temporary home; medians of three runs.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from unerased.alerts import deliver_due, enqueue_new  # noqa: E402
from unerased.model import AccountSnapshot, Event, EventType  # noqa: E402
from unerased.store import Store  # noqa: E402

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class _Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(204)
        self.send_header("content-length", "0")
        self.end_headers()


def _world(home: Path, n: int) -> Store:
    st = Store.open(home)
    with st.writer() as w:
        rows = [w.upsert_account(AccountSnapshot("bluesky", f"did:plc:a{i}", handle=f"a{i}.test"),
                                 "bench") for i in range(100)]
        for k in range(n):
            r = rows[k % 100]
            w.add_event(Event(EventType.POST_DELETED, T0 + timedelta(seconds=k), "bluesky",
                              r["handle"], r["account_id"], f"p{k}"), r["id"])
    return st


def bench_enqueue(n: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        st = _world(Path(tmp) / "home", n)
        t = time.perf_counter()
        assert sum(1 for _ in st.iter_events()) == n
        base = time.perf_counter() - t
        for kw in ({"on_types": ["post_deleted"]}, {"min_posts": 5, "within_s": 600}, {}):
            st.add_alert_rule("https://h.example/", secret="00", now=T0 - timedelta(days=1),
                              **kw)  # type: ignore[arg-type]
        t = time.perf_counter()
        made = enqueue_new(st, T0 + timedelta(days=1))
        took = time.perf_counter() - t
        assert made >= n
        st.close()
    return n / base, n / took


def bench_deliver(m: int, port: int) -> tuple[float, float]:
    import httpx

    url = f"http://127.0.0.1:{port}/hook"
    body = b'{"kind":"post_deleted","events":[]}'

    async def bare() -> None:
        async with httpx.AsyncClient(trust_env=False) as c:
            for _ in range(m):
                (await c.post(url, content=body)).raise_for_status()

    t = time.perf_counter()
    asyncio.run(bare())
    base = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        st = Store.open(Path(tmp) / "home")
        rid = st.add_alert_rule(url, secret="ab" * 32, now=T0)["id"]
        for i in range(m):
            st.enqueue_alert(f"d{i}", rid, "post_deleted", {"kind": "post_deleted"}, T0)
        t = time.perf_counter()
        rep = asyncio.run(deliver_due(st, T0, proxy=None, limit=m))
        took = time.perf_counter() - t
        assert rep.delivered == m, rep.errors[:1]
        st.close()
    return m / base, m / took


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=5000)
    ap.add_argument("--deliveries", type=int, default=500)
    a = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = int(server.server_address[1])
    enq = [bench_enqueue(a.events) for _ in range(3)]
    dl = [bench_deliver(a.deliveries, port) for _ in range(3)]
    server.shutdown()
    eb, ev = statistics.median(x for x, _ in enq), statistics.median(y for _, y in enq)
    db, dv = statistics.median(x for x, _ in dl), statistics.median(y for _, y in dl)
    print(f"enqueue  {a.events} events: {ev:,.0f} events/s  (baseline read {eb:,.0f}/s, "
          f"ratio {ev / eb:.2f})")
    print(f"deliver  {a.deliveries} webhooks: {dv:,.0f} deliveries/s  (baseline bare httpx "
          f"{db:,.0f}/s, ratio {dv / db:.2f})")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Accounts kept on schedule by one collector process (issue 10, benchmark 7b).

  PYTHONPATH=src .venv/bin/python bench/bench_collector_scale.py              # N = 1k 5k 10k 20k
  PYTHONPATH=src .venv/bin/python bench/bench_collector_scale.py --n 10000 --interval 300

A simulated platform on loopback — a raw asyncio HTTP/1.1 server (keep-alive) in its
own process, answering Mastodon's account and statuses endpoints at once, on ``--hosts``
ports (each port one "instance": budgets and per-host concurrency are per host) — and
N watched accounts with a fixed interval (``schedule.adaptive`` off), their due times
spread evenly over one interval. One :class:`unerased.collector.Collector` (the daemon
of ``unerased run``: one writer thread, long-lived clients and sources, limited claims)
runs for one interval. Every check is the account's first (the heaviest: the account's
snapshot, its two posts and their ledger leaves are new to the archive). Measured: the
share of the due checks **started within 10 % of the interval** after their due time (a
due check never started counts as late), and the median and p99 lateness. A shorter
interval than the default 15 minutes makes the test harder (N accounts at 300 s are
three times the checks a second of N at 900 s, against a tolerance a third as long).

Baseline, in the same run: the bare HTTP request rate of the same client (httpx, the
same concurrency, the same server, no store, no detection) and what it would allow:
``requests/s × interval / requests per check`` accounts. The collector's figure is the
largest N on schedule; the baseline says how far the store and detection are from the
network's own limit.

The request budgets are set out of the way (the simulated hosts allow anything): the
budget is a policy, measured by the tests, not a capacity. SQLite in a temporary home.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

# ----------------------------------------------------------------------- the server


def _account(aid: str) -> bytes:
    return json.dumps({"id": aid, "username": f"u{aid}", "acct": f"u{aid}",
                       "display_name": f"User {aid}", "note": "", "url": f"/@u{aid}",
                       "created_at": "2020-01-01T00:00:00.000Z"}).encode()


def _statuses(aid: str) -> bytes:
    return json.dumps([{"id": f"{aid}0{k}", "created_at": f"2026-01-0{k + 1}T00:00:00.000Z",
                        "content": f"<p>post {k} of {aid}</p>", "url": f"/@u{aid}/{k}",
                        "visibility": "public", "media_attachments": []}
                       for k in range(2)]).encode()


def _answer(path: str) -> tuple[int, bytes]:
    p = path.split("?", 1)[0]
    parts = p.strip("/").split("/")
    if len(parts) >= 4 and parts[:3] == ["api", "v1", "accounts"] and parts[3].isdigit():
        if len(parts) == 4:
            return 200, _account(parts[3])
        if len(parts) == 5 and parts[4] == "statuses":
            return 200, _statuses(parts[3])
    return 404, b'{"error": "Record not found"}'


async def _serve_conn(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            line = head.split(b"\r\n", 1)[0].decode("latin-1")
            _method, path, _ = line.split(" ", 2)
            status, body = _answer(path)
            writer.write(b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\n"
                         b"content-length: %d\r\n\r\n" % (status, b"OK" if status == 200
                                                          else b"Not Found", len(body)) + body)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def _server_main(hosts: int) -> None:
    servers = [await asyncio.start_server(_serve_conn, "127.0.0.1", 0, backlog=1024)
               for _ in range(hosts)]
    ports = [s.sockets[0].getsockname()[1] for s in servers]
    print(json.dumps(ports), flush=True)
    await asyncio.Event().wait()


def start_server(hosts: int) -> tuple[subprocess.Popen[str], list[int]]:
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(hosts)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, json.loads(proc.stdout.readline())


# ----------------------------------------------------------------------- the archive


def make_archive(home: Path, n: int, ports: list[int], interval: float, start: datetime
                 ) -> Any:
    from unerased.model import AccountSnapshot, AccountStatus, iso
    from unerased.store import Store

    store = Store.open(home)
    with store.writer() as w:
        for i in range(n):
            port = ports[i % len(ports)]
            aid = str(100000 + i)
            snap = AccountSnapshot(platform="mastodon", account_id=f"{aid}@127.0.0.1:{port}",
                                   handle=f"u{aid}@127.0.0.1:{port}",
                                   status=AccountStatus.ACTIVE, observed_at=start)
            row = w.upsert_account(snap, "watch")
            due = start + timedelta(seconds=interval * i / n)
            w.update_account(row["id"], watched=True, service=f"http://127.0.0.1:{port}",
                             watch_uri=f"mastodon:@u{aid}@127.0.0.1:{port}",
                             next_check=iso(due))
    return store


# ----------------------------------------------------------------------- the runs


async def baseline(ports: list[int], seconds: float, concurrency: int) -> float:
    """Requests a second the same client gets from the same server: no store, no
    detection, ``concurrency`` requests in flight (as the collector's hosts allow)."""
    from unerased import net

    make = net.client_factory(env={"UNERASED_ALLOW_HOSTS": "127.0.0.0/8"})
    done = 0
    end = time.perf_counter() + seconds
    async with make() as client:
        async def worker(k: int) -> None:
            nonlocal done
            port = ports[k % len(ports)]
            i = 0
            while time.perf_counter() < end:
                aid = 100000 + (k * 7919 + i) % 10000
                path = "statuses" if i % 2 else ""
                r = await client.get(f"http://127.0.0.1:{port}/api/v1/accounts/{aid}/{path}"
                                     .rstrip("/"))
                await r.aread()
                done += 1
                i += 1

        await asyncio.gather(*(worker(k) for k in range(concurrency)))
    return done / seconds


async def run_collector(store: Any, interval: float, start: datetime, per_host: int,
                        max_in_flight: int) -> dict[str, Any]:
    from unerased.collector import Collector, CollectorOptions, budgets_from
    from unerased.watch.runner import RunContext, WatchConfig, default_client_factory

    cfg = WatchConfig(interval=timedelta(seconds=interval), per_host_concurrency=per_host,
                      fetch_media=False, lease=timedelta(seconds=max(60.0, interval)),
                      checkpoint_every=timedelta(days=1))
    ctx = RunContext(store, default_client_factory(), cfg)
    col = Collector(ctx, budgets=budgets_from({"default": (10**9, 1.0)}),
                    options=CollectorOptions(max_in_flight=max_in_flight, tick=0.2,
                                             heartbeat_every=timedelta(seconds=10)))
    t0 = time.perf_counter()
    await col.run(duration=interval + (start - datetime.now(UTC)).total_seconds())
    wall = time.perf_counter() - t0
    return {"wall": wall, "errors": col.stats.errors, "checks": col.stats.checks,
            "writer_busy": col.writer.busy / wall}


def one(n: int, interval: float, per_host: int, max_in_flight: int,
        ports: list[int]) -> dict[str, Any]:
    """One pass of N accounts due evenly over one interval, every check a first check
    (the heaviest: the account and its posts are new to the archive). Measured: the
    accounts due in the first 90 % of the interval (the others may start on time after
    the run ends), on time when their check started within 10 % of the interval."""
    from unerased.model import parse_iso

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["UNERASED_ALLOW_HOSTS"] = "127.0.0.0/8"
        t = time.perf_counter()
        start = datetime.now(UTC) + timedelta(seconds=3)
        store = make_archive(Path(tmp) / "home", n, ports, interval, start)
        setup = time.perf_counter() - t
        start = datetime.now(UTC) + timedelta(seconds=1)
        with store.writer() as w:  # due times from now: spread evenly over one interval
            for k, row in enumerate(store.list_accounts(watched_only=True)):
                due = start + timedelta(seconds=interval * k / n)
                w.update_account(row["id"], next_check=due.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        rows = store.list_accounts(watched_only=True)
        due_at = {r["id"]: parse_iso(r["next_check"]) for r in rows}
        res = asyncio.run(run_collector(store, interval, start, per_host, max_in_flight))
        after = store.list_accounts(watched_only=True)
        store.close()
    tol = 0.1 * interval
    cut = start + timedelta(seconds=0.9 * interval)
    late: list[float] = []
    expected = 0
    for r in after:
        due = due_at[r["id"]]
        if due is None or due >= cut:
            continue
        expected += 1
        began = parse_iso(r["last_check"])
        late.append(float("inf") if began is None else (began - due).total_seconds())
    on_time = sum(1 for x in late if x <= tol)
    lat_sorted = sorted(late) or [float("nan")]
    return {"n": n, "interval_s": interval, "setup_s": round(setup, 1),
            "checks": res["checks"], "checks_per_s": round(res["checks"] / res["wall"], 1),
            "on_time_share": round(on_time / max(1, expected), 4),
            "median_late_s": round(statistics.median(lat_sorted), 2),
            "p99_late_s": round(lat_sorted[int(0.99 * (len(lat_sorted) - 1))], 2),
            "writer_busy_share": round(res["writer_busy"], 2), "errors": res["errors"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, nargs="+", default=[1000, 5000, 10000, 20000])
    ap.add_argument("--interval", type=float, default=300.0,
                    help="seconds between two checks of an account (default 300)")
    ap.add_argument("--hosts", type=int, default=20, help="simulated instances (ports)")
    ap.add_argument("--per-host", type=int, default=4, help="checks at once per host")
    ap.add_argument("--max-in-flight", type=int, default=200)
    args = ap.parse_args()
    if args.serve:
        asyncio.run(_server_main(args.serve))
        return
    server, ports = start_server(args.hosts)
    try:
        conc = min(args.max_in_flight, args.hosts * args.per_host)
        rate = asyncio.run(baseline(ports, 10.0, conc))
        print(f"baseline: {rate:,.0f} requests/s (httpx, {conc} in flight, no store) -> "
              f"at most {rate * args.interval / 2:,.0f} accounts at a {args.interval:g} s "
              "interval (2 requests a check)", flush=True)
        for n in args.n:
            r = one(n, args.interval, args.per_host, args.max_in_flight, ports)
            print(json.dumps(r), flush=True)
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()

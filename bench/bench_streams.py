#!/usr/bin/env python3
"""Stream ingest benchmark (issue 10, part 7), beside baselines measured in the same run.

  PYTHONPATH=src .venv/bin/python bench/bench_streams.py                # 1,000,000 lines
  PYTHONPATH=src .venv/bin/python bench/bench_streams.py --events 200000 --rounds 3

(a) Jetstream: a file of ``--events`` mixed events (the real relay window's 152
    production Jetstream lines, repeated with their DIDs varied over a pool of 200,000
    DIDs; written to a temporary directory and read back) filtered to 10,000 watched
    DIDs by ``JetstreamDecoder.decode`` (matching events become StreamEvents), beside a
    bare ``json.loads`` loop over the same lines. Target: ratio >= 1.0.
(b) Firehose: the relay window's 150 raw frames, repeated with DIDs varied (same length,
    so the CBOR stays valid), through ``FirehoseDecoder.decode``, beside a bare
    ``libipld.decode_dag_cbor_multi`` loop. Target: ratio >= 0.5.
(c) Only matching events: the rate at which they become StreamEvents with captures
    (Jetstream and firehose), and at which those captures are stored through
    ``Store.writer()`` (SQLite, a temporary home; batches of 1,000 per transaction).

Medians of ``--rounds`` rounds (CPU time, process_time). Needs zstandard (the test
extra) to read the relay window. Not a test.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import libipld
import zstandard

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

from shared_data import PLATFORMS  # noqa: E402
from unerased.model import utcnow  # noqa: E402
from unerased.store import Store  # noqa: E402
from unerased.streams import FirehoseDecoder, JetstreamDecoder, StreamEvent  # noqa: E402

RELAY = PLATFORMS / "bluesky" / "relay-2026-07-04"
B32 = "abcdefghijklmnopqrstuvwxyz234567"


def _did(rng: random.Random) -> str:
    return "did:plc:" + "".join(rng.choice(B32) for _ in range(24))


def _frames() -> list[bytes]:
    data = zstandard.ZstdDecompressor().decompressobj().decompress(
        (RELAY / "frames.bin.zst").read_bytes())
    out, i = [], 0
    while i < len(data):
        (n,) = struct.unpack_from("<I", data, i)
        out.append(data[i + 4:i + 4 + n])
        i += 4 + n
    return out


def _varied(items: list[tuple[bytes, bytes]], n: int, pool: list[bytes],
            rng: random.Random) -> list[bytes]:
    """``n`` items, each a template with its DID replaced by one drawn from ``pool``."""
    out = []
    for k in range(n):
        body, did = items[k % len(items)]
        out.append(body.replace(did, rng.choice(pool)) if did else body)
    return out


def _median_rate(fn: Callable[[], int], rounds: int) -> tuple[float, int]:
    rates, count = [], 0
    for _ in range(rounds):
        t0 = time.process_time()
        count = fn()
        dt = time.process_time() - t0
        rates.append(count / dt if dt > 0 else float("inf"))
    return statistics.median(rates), count


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--frames", type=int, default=150_000)
    ap.add_argument("--watched", type=int, default=10_000)
    ap.add_argument("--pool", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    pool_s = [_did(rng) for _ in range(args.pool)]
    watched = pool_s[:args.watched]
    pool = [d.encode() for d in pool_s]
    now = utcnow()

    lines_t = [(ln, json.loads(ln)["did"].encode())
               for ln in (RELAY / "expected_v1.jsonl").read_bytes().splitlines()]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "jetstream.jsonl"
        path.write_bytes(b"\n".join(_varied(lines_t, args.events, pool, rng)) + b"\n")
        lines = path.read_bytes().splitlines()
        print(f"(a) Jetstream: {len(lines):,} lines ({path.stat().st_size / 1e6:.0f} MB), "
              f"{args.watched:,} watched DIDs of {args.pool:,}")

        def bare_json() -> int:
            for ln in lines:
                json.loads(ln)
            return len(lines)

        jet = JetstreamDecoder("wss://jetstream.example/subscribe", watched)
        matched_lines: list[bytes] = []

        def jet_filter() -> int:
            matched_lines.clear()
            n = 0
            for ln in lines:
                evs = jet.decode(ln, now)
                if evs:
                    n += len(evs)
                    matched_lines.append(ln)
            return len(lines)

        base, _ = _median_rate(bare_json, args.rounds)
        filt, _ = _median_rate(jet_filter, args.rounds)
        print(f"    bare json.loads loop   {base:>12,.0f} lines/s")
        print(f"    unerased filter path   {filt:>12,.0f} lines/s  "
              f"({len(matched_lines):,} lines made StreamEvents)  "
              f"ratio {filt / base:.2f} (target >= 1.0)")

        frames_t = []
        for f in _frames():
            _h, body = libipld.decode_dag_cbor_multi(f)
            did = body.get("repo") or body.get("did")
            frames_t.append((f, did.encode() if isinstance(did, str) else b""))
        frames = _varied(frames_t, args.frames, pool, rng)
        print(f"(b) firehose: {len(frames):,} frames "
              f"({sum(map(len, frames)) / 1e6:.0f} MB), same watched DIDs")

        def bare_cbor() -> int:
            for f in frames:
                libipld.decode_dag_cbor_multi(f)
            return len(frames)

        fire = FirehoseDecoder("wss://relay.example/xrpc/com.atproto.sync.subscribeRepos",
                               watched)
        matched_frames: list[bytes] = []

        def fire_filter() -> int:
            matched_frames.clear()
            for f in frames:
                if fire.decode(f, now):
                    matched_frames.append(f)
            return len(frames)

        base_c, _ = _median_rate(bare_cbor, args.rounds)
        filt_c, _ = _median_rate(fire_filter, args.rounds)
        print(f"    bare decode_dag_cbor_multi {base_c:>10,.0f} frames/s")
        print(f"    unerased filter path       {filt_c:>10,.0f} frames/s  "
              f"({len(matched_frames):,} frames made StreamEvents)  "
              f"ratio {filt_c / base_c:.2f} (target >= 0.5)")

        print("(c) matching events only -> StreamEvents with captures")
        made: list[StreamEvent] = []

        def to_events(decoder: JetstreamDecoder | FirehoseDecoder,
                      items: list[bytes]) -> Callable[[], int]:
            def run() -> int:
                made.clear()
                for it in items:
                    made.extend(decoder.decode(it, now))
                return len(made)
            return run

        r_j, n_j = _median_rate(to_events(jet, matched_lines), args.rounds)
        print(f"    Jetstream  {r_j:>10,.0f} events/s ({n_j:,} events)")
        r_f, n_f = _median_rate(to_events(fire, matched_frames), args.rounds)
        print(f"    firehose   {r_f:>10,.0f} events/s ({n_f:,} events)")
        store = Store.open(Path(tmp) / "home")
        caps = [e.capture for e in made]

        def stored() -> int:
            for k in range(0, len(caps), 1000):
                with store.writer() as w:
                    for c in caps[k:k + 1000]:
                        w.add_capture(c)
            return len(caps)

        t0 = time.perf_counter()
        n = stored()
        dt = time.perf_counter() - t0
        print(f"    stored through Store.writer(): {n / dt:>8,.0f} captures/s "
              f"({n:,} firehose captures, wall time, one round)")
        store.close()


if __name__ == "__main__":
    main()

"""Merkle ledger benchmark (a script, not a test).

    .venv/bin/python bench/bench_merkle.py [--leaves 1000000] [--records 200000] [--repeat 5]

Prints, with medians over repeated runs:
* append throughput of MemoryTree, and of new_nodes_for_append into a dict (the
  store's code path), against bare hashlib.sha256 over the same records;
* inclusion / consistency proof generation and verification at --leaves leaves
  (target: inclusion proof <= 1 ms);
* root computation at sizes near --leaves.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from unerased.ledger.merkle import (  # noqa: E402
    MemoryTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    new_nodes_for_append,
    root,
    verify_consistency,
    verify_inclusion,
)

PAYLOAD = b'{"platform":"weibo","post_id":"%d","status":"present","sha256":"' + b"ab" * 32 + b'"}'


def records(n: int) -> list[bytes]:
    return [PAYLOAD % i for i in range(n)]


def run_sha256(recs: list[bytes]) -> None:
    sha = hashlib.sha256
    for r in recs:
        sha(r).digest()


def run_hash_floor(recs: list[bytes]) -> None:
    """The hashing an RFC 9162 append cannot avoid: one leaf hash, ~one node hash."""
    sha = hashlib.sha256
    for r in recs:
        h = sha(b"\x00" + r).digest()
        sha(b"\x01" + h + h).digest()


def run_memory_tree(recs: list[bytes]) -> None:
    tree = MemoryTree()
    for r in recs:
        tree.append(r)


def run_store_path(recs: list[bytes]) -> None:
    table: dict[tuple[int, int], bytes] = {}
    get = table.__getitem__

    def getter(level: int, index: int) -> bytes:
        return get((level, index))

    for size, r in enumerate(recs):
        for level, index, h in new_nodes_for_append(size, leaf_hash(r), getter):
            table[(level, index)] = h


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def per_op_us(fn: Callable[[int], object], args: list[int]) -> tuple[float, float]:
    samples = []
    for a in args:
        t0 = time.perf_counter_ns()
        fn(a)
        samples.append((time.perf_counter_ns() - t0) / 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--leaves", type=int, default=1_000_000)
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--samples", type=int, default=2000)
    args = ap.parse_args()
    rng = random.Random(9162)

    print(f"python {sys.version.split()[0]}, {args.records:,} records of {len(PAYLOAD % 0)} bytes")
    print(f"\n== append throughput (median of {args.repeat} runs)")
    recs = records(args.records)
    base = statistics.median(timed(lambda: run_sha256(recs), args.repeat))
    rows = [("hashlib.sha256 per record", base)]
    rows.append(
        (
            "hash floor (leaf + node hash)",
            statistics.median(timed(lambda: run_hash_floor(recs), args.repeat)),
        )
    )
    rows.append(
        ("MemoryTree.append", statistics.median(timed(lambda: run_memory_tree(recs), args.repeat)))
    )
    rows.append(
        (
            "new_nodes_for_append + dict",
            statistics.median(timed(lambda: run_store_path(recs), args.repeat)),
        )
    )
    for name, secs in rows:
        rate = args.records / secs
        print(
            f"  {name:<30} {rate:>12,.0f} leaves/s  {secs / args.records * 1e6:7.2f} us/leaf  x{secs / base:5.2f}"
        )

    print(f"\n== building a {args.leaves:,}-leaf MemoryTree")
    t0 = time.perf_counter()
    tree = MemoryTree()
    for i in range(args.leaves):
        tree.append(PAYLOAD % i)
    build = time.perf_counter() - t0
    # millions of live hashes: keep the cyclic GC from scanning them during the timings
    gc.collect()
    gc.freeze()
    print(f"  {build:.1f} s ({args.leaves / build:,.0f} leaves/s)")
    n = tree.size
    get = tree.get_node
    table = {(lv, ix): h for lv, nodes in enumerate(tree.levels) for ix, h in enumerate(nodes)}

    def dict_get(level: int, index: int) -> bytes:
        return table[(level, index)]

    idx = [rng.randrange(n) for _ in range(args.samples)]
    olds = [rng.randrange(1, n) for _ in range(args.samples)]
    sizes = [rng.randrange(n - n // 10, n + 1) for _ in range(args.samples)]
    rt = tree.root()
    proofs = {i: inclusion_proof(i, n, get) for i in idx[:200]}
    cproofs = {m: consistency_proof(m, n, get) for m in olds[:200]}
    old_roots = {m: tree.root(m) for m in olds[:200]}

    print(f"\n== at {n:,} leaves ({args.samples:,} samples; median / p99 in us)")
    cases: list[tuple[str, Callable[[int], object], list[int]]] = [
        ("inclusion_proof (MemoryTree)", lambda i: inclusion_proof(i, n, get), idx),
        ("inclusion_proof (dict getter)", lambda i: inclusion_proof(i, n, dict_get), idx),
        (
            "verify_inclusion",
            lambda i: verify_inclusion(i, n, get(0, i), proofs[i], rt),
            idx[:200],
        ),
        ("consistency_proof", lambda m: consistency_proof(m, n, get), olds),
        (
            "verify_consistency",
            lambda m: verify_consistency(m, n, old_roots[m], rt, cproofs[m]),
            olds[:200],
        ),
        ("root(size) near n", lambda s: root(s, get), sizes),
        ("root(size) (dict getter)", lambda s: root(s, dict_get), sizes),
    ]
    for name, fn, sample in cases:
        med, p99 = per_op_us(fn, sample)
        note = ""
        if name.startswith("inclusion_proof"):
            note = "  (target <= 1000 us: %s)" % ("met" if med <= 1000 else "MISSED")
        print(f"  {name:<30} {med:9.1f} {p99:9.1f}{note}")
    print(f"\n  proof length at {n:,}: {len(inclusion_proof(n // 3, n, get))} hashes")


if __name__ == "__main__":
    main()

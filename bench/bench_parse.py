#!/usr/bin/env python3
"""X archive parser benchmark: the previous importer (tests/_twitter_reference.py) beside
the current one, same archive, alternating, CPU time (process_time).

  .venv/bin/python bench/bench_parse.py                 # 40,000 tweets, 5 runs each
  .venv/bin/python bench/bench_parse.py --tweets 100000 --runs 7

Two ways of consuming the iterator are timed: ``list(...)`` (every snapshot kept, so the
cyclic GC repeatedly walks the growing heap of tweet dicts: the same cost for both
parsers) and ``for _ in ...`` (streamed, as ``unerased import`` does in batches).
Prints the median of each and the new/old ratio. Not a test.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

import _twitter_reference as reference  # noqa: E402
from unerased.importers.twitter import iter_twitter_archive  # noqa: E402
from unerased.sim.archives import make_twitter_archive  # noqa: E402


def keep(importer: Callable[..., Iterator[Any]], path: Path) -> int:
    return len(list(importer(path)))


def stream(importer: Callable[..., Iterator[Any]], path: Path) -> int:
    n = 0
    for _ in importer(path):
        n += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tweets", type=int, default=40_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--archive", type=Path, help="an existing X archive zip instead")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.archive or Path(tmp) / "bench.zip"
        if args.archive is None:
            make_twitter_archive(path, n_tweets=args.tweets, seed=args.seed)
        importers = {"old": reference.iter_twitter_archive, "new": iter_twitter_archive}
        for label, consume in (("list()", keep), ("streamed", stream)):
            times: dict[str, list[float]] = {"old": [], "new": []}
            counts = set()
            for _ in range(args.runs):
                for name, importer in importers.items():
                    gc.collect()
                    t0 = time.process_time()
                    counts.add(consume(importer, path))
                    times[name].append(time.process_time() - t0)
            assert len(counts) == 1, counts
            old, new = (statistics.median(times[k]) for k in ("old", "new"))
            print(f"{label:9} {counts.pop():>8} snapshots   old {old:6.3f} s   new {new:6.3f} s"
                  f"   new/old {new / old:.2f}  ({(1 - new / old) * 100:.0f}% less CPU)")


if __name__ == "__main__":
    main()

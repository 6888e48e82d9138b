#!/usr/bin/env python3
"""Encryption at rest (issue 12): what an encrypted home costs, beside a plain home on
the same data in the same run.

  .venv/bin/python bench/bench_encrypt.py               # a 5,000-post sample archive
  .venv/bin/python bench/bench_encrypt.py --posts 20000

- **unlock**: unwrapping the data key with the default Argon2id (3 passes, 64 MiB, 4
  lanes) — paid once per command;
- **import**: the sample X archive imported into an encrypted home (SQLCipher, sealed
  blobs), beside a plain home;
- **verify**: `verify` of each (every leaf, row and blob: the blobs decrypted);
- **search**: 50 searches of each;
- **rotate**: `key rotate` of the encrypted home (every blob re-sealed, the database
  re-keyed), beside the plain home's `verify` as a yardstick of a full pass.
Medians of three runs (unlock: five); the encrypted home's keys use cheap Argon2id
parameters except in **unlock**.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from unerased.ingest import import_archive  # noqa: E402
from unerased.ledger.verify import verify_archive  # noqa: E402
from unerased.sim.archives import make_twitter_archive  # noqa: E402
from unerased.store import Store, rotate_keys  # noqa: E402
from unerased.vault import DEFAULT_KDF, KdfParams, Secret, create_keys, unlock  # noqa: E402

CHEAP = KdfParams(1, 1024, 1)
SECRET = Secret(passphrase="bench passphrase")


def _median(f: Callable[[], object], n: int = 3) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=5000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as td:
        root = Path(td)
        sample = root / "sample.zip"
        make_twitter_archive(sample, n_tweets=args.posts, seed=1, media_every=5)

        create_keys(root / "kdf", SECRET, DEFAULT_KDF)
        t_unlock = _median(lambda: unlock(root / "kdf", SECRET), 5)
        print(f"unlock (Argon2id {DEFAULT_KDF.iterations} passes, "
              f"{DEFAULT_KDF.memory_kib // 1024} MiB, {DEFAULT_KDF.lanes} lanes): "
              f"{t_unlock:.2f} s")

        homes: dict[str, Path] = {}
        stores: dict[str, Store] = {}
        imp: dict[str, list[float]] = {"plain": [], "encrypted": []}
        for run in range(3):
            for kind in ("plain", "encrypted"):
                home = root / f"{kind}{run}"
                keys = create_keys(home, SECRET, CHEAP) if kind == "encrypted" else None
                st = Store.open(home, keys=keys)
                t = time.perf_counter()
                import_archive(lambda st=st: st, "twitter-archive", sample)
                imp[kind].append(time.perf_counter() - t)
                homes[kind], stores[kind] = home, st
        for kind in ("plain", "encrypted"):
            print(f"import {args.posts} posts, {kind}: {statistics.median(imp[kind]):.2f} s")
        print(f"  ratio encrypted/plain: {statistics.median(imp['encrypted']) / statistics.median(imp['plain']):.2f}")

        ver = {k: _median(lambda s=s: verify_archive(s)) for k, s in stores.items()}
        for k, v in ver.items():
            print(f"verify, {k}: {v:.2f} s")
        print(f"  ratio encrypted/plain: {ver['encrypted'] / ver['plain']:.2f}")

        words = ["the", "letter", "students", "morning", "审查", "删除"] * 9
        srch = {k: _median(lambda s=s: [s.search(w, limit=20) for w in words[:50]])
                for k, s in stores.items()}
        for k, v in srch.items():
            print(f"50 searches, {k}: {v * 1000:.0f} ms")
        print(f"  ratio encrypted/plain: {srch['encrypted'] / srch['plain']:.2f}")

        for s in stores.values():
            s.close()
        resealed: list[int] = []
        t_rot = _median(lambda: resealed.append(rotate_keys(homes["encrypted"], None, SECRET)))
        print(f"key rotate, encrypted ({resealed[-1]} blobs re-sealed, the database re-keyed): "
              f"{t_rot:.2f} s (plain verify: {ver['plain']:.2f} s; ratio "
              f"{t_rot / ver['plain']:.2f})")


if __name__ == "__main__":
    main()

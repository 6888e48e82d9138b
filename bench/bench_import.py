#!/usr/bin/env python3
"""Import benchmark (issue 2): our CLI import beside a bare baseline, same file, same run.

  .venv/bin/python bench/bench_import.py --tweets 40000 --repeat 3
  .venv/bin/python bench/bench_import.py --tweets 1000000 --repeat 1
  .venv/bin/python bench/bench_import.py --also-src /tmp/old/src   # another tree, in turn

Generates a synthetic X archive in the real layout (mixed Chinese/English, some media,
edit chains, deleted tweets), then times, alternately, in child processes:
  baseline: unzip everything to disk + stdlib json.loads of the tweets files +
            sqlite3.executemany into one plain table, one commit;
  unerased: `unerased import twitter-archive ZIP` into a fresh home (SQLite, WAL,
            synchronous=FULL, full-text index, ledger leaves, media blobs fsynced).
Prints wall time, tweets/s and peak RSS (ru_maxrss of the child) for each, medians and
the ratio. Not a test: the figures go into the README.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable

BASELINE = r"""
import json, sqlite3, sys, zipfile, os
zpath, out = sys.argv[1], sys.argv[2]
ex = os.path.join(out, "x")
with zipfile.ZipFile(zpath) as z:
    z.extractall(ex)
db = sqlite3.connect(os.path.join(out, "bare.sqlite"))
db.execute("CREATE TABLE tweets (id TEXT PRIMARY KEY, created_at TEXT, text TEXT, json TEXT)")
data = os.path.join(ex, "data")
n = 0
for name in sorted(os.listdir(data)):
    if not (name.startswith("tweets") or name.startswith("tweet.")) or not name.endswith(".js"):
        continue
    with open(os.path.join(data, name), encoding="utf-8") as f:
        text = f.read()
    items = json.loads(text[text.index("=") + 1:])
    rows = []
    for it in items:
        t = it.get("tweet", it)
        rows.append((t["id_str"], t["created_at"], t["full_text"], json.dumps(t)))
    db.executemany("INSERT OR REPLACE INTO tweets VALUES (?, ?, ?, ?)", rows)
    n += len(rows)
db.commit()
print(n)
"""


def run_child(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MB, stdout) of one child process."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    out = p.stdout.read().decode() if p.stdout else ""
    err = p.stderr.read().decode() if p.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"child failed: {' '.join(cmd)}\n{err[-2000:]}")
    return wall, ru.ru_maxrss / 1024.0, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tweets", type=int, default=40000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--also-src", type=Path, default=None,
                    help="also time `unerased import` with this source tree first on "
                         "PYTHONPATH (e.g. a checkout from before a change), in turn")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from unerased.sim.archives import make_twitter_archive

    work = Path(tempfile.mkdtemp(prefix="unerased-bench-"))
    zpath = work / "archive.zip"
    t0 = time.perf_counter()
    make_twitter_archive(zpath, n_tweets=args.tweets, seed=1)
    print(f"generated {args.tweets} tweets ({zpath.stat().st_size / 1e6:.1f} MB zip) "
          f"in {time.perf_counter() - t0:.1f}s")
    unerased = str(Path(PY).parent / "unerased")
    base_t, base_rss, our_t, our_rss, also_t = [], [], [], [], []
    also_env = None
    if args.also_src is not None:
        also_env = {**os.environ, "PYTHONPATH": str(args.also_src.resolve())}
    for i in range(args.repeat):
        d = work / f"b{i}"
        d.mkdir()
        w, r, out = run_child([PY, "-c", BASELINE, str(zpath), str(d)])
        base_t.append(w)
        base_rss.append(r)
        shutil.rmtree(d)
        h = work / f"h{i}"
        w, r, _ = run_child([unerased, "--home", str(h), "import", "twitter-archive", str(zpath)])
        our_t.append(w)
        our_rss.append(r)
        shutil.rmtree(h)
        if also_env is not None:
            w, _, _ = run_child([unerased, "--home", str(h), "import", "twitter-archive",
                                 str(zpath)], also_env)
            also_t.append(w)
            shutil.rmtree(h)
        also = f" | also-src {also_t[-1]:.2f}s" if also_t else ""
        print(f"run {i + 1}: baseline {base_t[-1]:.2f}s {base_rss[-1]:.0f}MB | "
              f"unerased {our_t[-1]:.2f}s {our_rss[-1]:.0f}MB{also}")
    mb, mo = statistics.median(base_t), statistics.median(our_t)
    print()
    print(f"{'':<10}{'median wall':>12}{'tweets/s':>12}{'peak RSS':>12}")
    print(f"{'baseline':<10}{mb:>11.2f}s{args.tweets / mb:>12.0f}{max(base_rss):>10.0f}MB")
    print(f"{'unerased':<10}{mo:>11.2f}s{args.tweets / mo:>12.0f}{max(our_rss):>10.0f}MB")
    print(f"ratio unerased/baseline (median wall): {mo / mb:.2f}x   (target <= 2x)")
    if also_t:
        ma = statistics.median(also_t)
        print(f"{'also-src':<10}{ma:>11.2f}s{args.tweets / ma:>12.0f}   "
              f"(ratio to baseline {ma / mb:.2f}x; unerased/also-src {mo / ma:.2f}x)")
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()

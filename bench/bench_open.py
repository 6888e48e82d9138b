#!/usr/bin/env python3
"""Store.open benchmark: a new archive's schema made directly beside Alembic's way.

  PYTHONPATH=src .venv/bin/python bench/bench_open.py --repeat 20
  PYTHONPATH=src .venv/bin/python bench/bench_open.py --before-src /tmp/old/src

Times, alternately, each in a fresh child process (as the CLI pays it: Alembic is
imported only when it is used), ``Store.open`` of:
  new:     a new home (SQLite), its schema created directly (store/_fresh.py);
  alembic: a new home with the fast path switched off, so that Alembic replays every
           migration (what every new archive did before the fast path);
  reopen:  an existing home (one query: the schema is at head);
  before:  (with --before-src DIR) a new home opened by the code in DIR.
The child's time is Store.open alone, after ``import unerased.store``. Prints the
median of each and the ratios. Not a test.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import sys, time
from pathlib import Path
import unerased.store
from unerased.store import Store
if sys.argv[2] == "alembic":
    # never the scripts' head: Alembic makes the schema (sys.modules: the package's
    # own name _engine is a function)
    sys.modules["unerased.store._engine"].FAST_SCHEMA_REVISION = ""
t0 = time.perf_counter()
st = Store.open(Path(sys.argv[1]))
t = time.perf_counter() - t0
st.close()
assert ("alembic" in sys.modules) == (sys.argv[2] in ("alembic", "before")), sys.argv[2]
print(t)
"""


def child(src: Path, home: Path, arm: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run([sys.executable, "-c", CHILD, str(home), arm], env=env,
                         capture_output=True, text=True, check=True).stdout
    return float(out.split()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--before-src", type=Path, help="a source tree of an earlier unerased")
    args = ap.parse_args()
    src = ROOT / "src"
    arms = ["new", "alembic", "reopen"] + (["before"] if args.before_src else [])
    times: dict[str, list[float]] = {a: [] for a in arms}
    work = Path(tempfile.mkdtemp(prefix="unerased-bench-open-"))
    try:
        existing = work / "existing"
        child(src, existing, "new")  # made once, reopened every round
        for i in range(args.repeat):
            for arm in arms:
                if arm == "reopen":
                    times[arm].append(child(src, existing, arm))
                    continue
                home = work / f"{arm}{i}"
                where = args.before_src if arm == "before" else src
                times[arm].append(child(where, home, arm))
                shutil.rmtree(home)
    finally:
        shutil.rmtree(work)
    med = {a: statistics.median(t) for a, t in times.items()}
    print(f"Store.open, median of {args.repeat} (each in a fresh process, SQLite)")
    labels = {"new": "new home, schema made directly", "alembic": "new home, through Alembic",
              "reopen": "existing home", "before": f"new home, {args.before_src}"}
    for a in arms:
        print(f"  {labels[a]:<40} {med[a] * 1000:8.1f} ms  "
              f"(min {min(times[a]) * 1000:.1f}, max {max(times[a]) * 1000:.1f})")
    print(f"  Alembic / direct: {med['alembic'] / med['new']:.1f}x")
    if "before" in med:
        print(f"  before / direct: {med['before'] / med['new']:.1f}x")


if __name__ == "__main__":
    main()

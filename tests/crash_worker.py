"""A worker for tests/test_crash.py: ingests posts, captures, events and checkpoints in
many small transactions and prints what each committed transaction holds.

    python tests/crash_worker.py HOME DB_URL|- RUN

After each commit it prints one line per acknowledged item and flushes:
``post <post_id>``, ``capture <id>``, ``event <id>``, ``checkpoint <size>``. A line is
printed only after its transaction committed, so every complete line is a promise the
archive must keep, however the process dies. ``ready`` is printed once the store is open.
"""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from unerased.ledger import log
from unerased.model import (
    AccountSnapshot,
    AccountStatus,
    Capture,
    Event,
    EventType,
    MediaItem,
    PostSnapshot,
)
from unerased.store import Store

T0 = datetime(2021, 3, 4, tzinfo=UTC)


def main() -> None:
    home, db, run = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    store = Store.open(home, None if db == "-" else db)
    rng = random.Random(run)
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    statuses = [AccountStatus.ACTIVE, AccountStatus.ACTIVE, AccountStatus.PROTECTED]
    for i in range(1_000_000):
        acked: list[str] = []
        at = T0 + timedelta(seconds=run * 100_000 + i)
        with store.writer() as w:
            a = w.upsert_account(
                AccountSnapshot("x", "crash", handle="crash", status=rng.choice(statuses),
                                observed_at=at), f"run:{run}")
            snaps = []
            for k in range(rng.randint(1, 3)):
                pid = f"{run}-{i}-{k}"
                media = ([MediaItem(filename=f"{pid}.bin", content=rng.randbytes(64))]
                         if rng.random() < 0.3 else [])
                snaps.append(PostSnapshot("x", "crash", pid, f"post {pid} 帖子", created_at=at,
                                          media=media))
            if i and rng.random() < 0.3:  # an edit of an earlier post of this run
                old = f"{run}-{rng.randrange(i)}-0"
                snaps.append(PostSnapshot("x", "crash", old, f"edited at {i}", created_at=T0))
            w.add_posts(a, snaps, f"run:{run}")
            acked += [f"post {s.post_id}" for s in snaps]
            cap = Capture("GET", f"https://crash.test/{run}/{i}", at, {"n": str(i)},
                          rng.randbytes(8) if rng.random() < 0.3 else b"", 200, "OK",
                          [("content-type", "application/octet-stream")], rng.randbytes(200))
            cid = w.add_capture(cap, a["id"])
            acked.append(f"capture {cid}")
            if rng.random() < 0.2:
                ev = w.add_event(Event(EventType.POST_DELETED, at, "x", "crash", "crash",
                                       snaps[0].post_id, {"reason": "unknown"}, [cid]), a["id"])
                acked.append(f"event {ev}")
        out.write("".join(line + "\n" for line in acked))
        out.flush()
        if i % 7 == 6:
            cp = log.make_checkpoint(store)
            out.write(f"checkpoint {cp.size}\n")
            out.flush()


if __name__ == "__main__":
    main()

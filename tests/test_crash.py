"""Crash safety: a worker ingesting in many small transactions is killed with SIGKILL at
random points, again and again, continuing each time from where the archive stands.
Afterwards the archive must verify (ledger, blobs, checkpoints) and every item the worker
acknowledged as committed must be there."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from unerased.ledger import log
from unerased.ledger.verify import verify_archive
from unerased.store import Store
from unerased.store import _schema as schema

WORKER = Path(__file__).with_name("crash_worker.py")
KILLS = {"sqlite": 20, "postgres": 12}
BUDGET_S = 60.0


def _run_once(home: Path, db_url: str | None, run: int, rng: random.Random) -> list[str]:
    """Start the worker, let it work a random while, SIGKILL it; the complete lines it
    printed (each one acknowledged after a commit)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).resolve().parents[1] / "src"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), str(home), db_url or "-", str(run)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()  # "ready": the store is open, migrations done
    if first != b"ready\n":
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"worker did not start: {first!r} {err.decode()[-2000:]}")
    time.sleep(rng.uniform(0.0, 0.35))
    proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate()
    assert proc.returncode == -signal.SIGKILL, err.decode()[-2000:]
    text = out.decode("utf-8", "replace")
    complete = text if text.endswith("\n") else text[: text.rfind("\n") + 1]
    return complete.splitlines()


@pytest.mark.slow
def test_sigkill_at_random_points_loses_nothing_acknowledged(
    home: Path, db_url: str | None
) -> None:
    backend = "sqlite" if db_url is None else "postgres"
    rng = random.Random(20261126)
    acked: list[str] = []
    started = time.monotonic()
    for run in range(KILLS[backend]):
        acked += _run_once(home, db_url, run, rng)
    elapsed = time.monotonic() - started
    assert elapsed < BUDGET_S, f"{KILLS[backend]} kills took {elapsed:.0f}s"

    posts = {a.split(" ", 1)[1] for a in acked if a.startswith("post ")}
    captures = {a.split(" ", 1)[1] for a in acked if a.startswith("capture ")}
    events = {int(a.split(" ", 1)[1]) for a in acked if a.startswith("event ")}
    sizes = [int(a.split(" ", 1)[1]) for a in acked if a.startswith("checkpoint ")]
    assert len(posts) > 20 and len(captures) > 10, "the worker hardly worked: kills too early"

    store = Store.open(home, db_url)
    try:
        rep = verify_archive(store)
        assert rep.ok, rep.summary()
        assert rep.leaves == log.tree_size(store) > len(posts)
        with store.reader() as conn:
            have_posts = set(conn.execute(select(schema.posts.c.post_id)).scalars())
            have_caps = set(conn.execute(select(schema.captures.c.id)).scalars())
            have_events = set(conn.execute(select(schema.events.c.id)).scalars())
            n_cps = conn.execute(select(func.count()).select_from(schema.checkpoints)).scalar()
            have_sizes = {c.size for c in log.list_checkpoints(conn)}
        assert posts <= have_posts, sorted(posts - have_posts)[:5]
        assert captures <= have_caps
        assert events <= have_events
        assert set(sizes) <= have_sizes
        assert rep.checkpoints == n_cps
        # and the log carries on: a new checkpoint extends every earlier one
        with store.writer() as w:
            a = w.account_row("x", "crash")
            assert a is not None
        assert verify_archive(store).ok
        if log.tree_size(store):
            log.make_checkpoint(store)
            assert verify_archive(store).ok
    finally:
        store.close()

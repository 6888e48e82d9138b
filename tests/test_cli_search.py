"""``search`` prints the true number of matches, not its ``--limit`` (before: "50
matches" for 300). SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from cli_world import X_ALICE, cli_run, jsonl
from unerased.model import PostSnapshot
from unerased.store import Store


def test_search_prints_the_true_total(home: Path, db_url: str | None, store: Store) -> None:
    posts = [PostSnapshot("x", "1001", str(i), f"post {i} about 审查" if i % 3 else f"other {i}")
             for i in range(90)]
    with store.writer() as w:
        w.add_posts(w.upsert_account(X_ALICE, "t"), posts, "t")
    r = cli_run(home, db_url, "search", "审查", "--limit", "7")
    assert r.exit_code == 0, r.output
    assert r.stderr.strip().splitlines()[-1] == "60 matches (showing 7)"
    r = cli_run(home, db_url, "search", "审查", "--limit", "7", "--json")
    rows = jsonl(r.stdout)  # stdout: the rows only
    assert len(rows) == 7 and all("审查" in p["text"] for p in rows)
    assert r.stderr.strip().splitlines()[-1] == "60 matches (showing 7)"
    r = cli_run(home, db_url, "search", "审查", "--account", "x:alice", "--limit", "500")
    assert r.stderr.strip().splitlines()[-1] == "60 matches (showing 60)"
    r = cli_run(home, db_url, "search", "nowhere")
    assert r.exit_code == 0 and r.stderr.strip().splitlines()[-1] == "0 matches (showing 0)"

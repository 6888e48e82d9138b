"""Redaction and the collector: a poll against the simulated platform that sees a
redacted post again does not store it, says so (``redacted_seen``), and redacts the raw
answer that held it (docs/redaction.md)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from test_redaction import checkpointed, files_holding
from test_watch_runner import make_ctx, rounds, watch_alice, world
from unerased.ledger.verify import verify_archive
from unerased.store import RedactedError, Store
from unerased.watch.runner import poll


def test_poll_does_not_bring_a_redacted_post_back(store: Store, home: Path) -> None:
    sim, clock = world()
    ctx = make_ctx(store, sim, clock)
    watch_alice(ctx)
    rounds(ctx, clock)
    victim_text = "第5条：网络审查 post 5"
    (victim,) = [p for p in store.iter_posts() if p["text"] == victim_text]
    row = store.resolve_post(f"row:{victim['id']}")
    done = store.redact(reason="asked by the author", account_pk=int(row["account_pk"]),
                        post_pk=int(row["id"]))
    assert done.versions == 1 and done.captures  # the listing that held it went too
    assert verify_archive(store).ok
    for _ in range(2):  # each poll sees it again, and each time it stays out
        clock.advance(timedelta(minutes=20))
        (res,) = asyncio.run(poll(ctx, once=True))
        assert res.outcome == "ok", res.error
        assert res.redacted_seen == 1 and res.to_json()["redacted_seen"] == 1
        assert res.events == []  # no "new post" or "restored" event for it
        assert victim_text not in {p["text"] for p in store.iter_posts()}
        rep = verify_archive(store)
        assert rep.ok, rep.summary()
    assert len(list(store.iter_posts())) == 11
    assert [r["target"] for r in rep.redactions] == ["post", "recapture", "recapture"]
    checkpointed(store)
    store.scrub()
    assert files_holding(home, victim_text.encode()) == []
    assert store.search("网络审查 post 5") == [] and store.search("网络审查 post 4")
    if store.engine.dialect.name == "sqlite":  # the file did hold such texts: neighbours
        assert files_holding(home, "第4条：网络审查 post 4".encode()) == ["unerased.sqlite"]


def test_watch_add_of_a_redacted_account_is_refused(store: Store) -> None:
    sim, clock = world()
    ctx = make_ctx(store, sim, clock)
    watch_alice(ctx)
    rounds(ctx, clock)
    (acc,) = store.list_accounts(watched_only=True)
    done = store.redact(reason="forget me", account_pk=int(acc["id"]))
    assert done.target == "account" and store.list_accounts() == []
    assert verify_archive(store).ok
    with pytest.raises(RedactedError) as info:
        watch_alice(ctx)
    assert "unredact" in str(info.value) and "\n" not in str(info.value)
    assert store.list_accounts() == []


def test_redaction_on_an_encrypted_home(tmp_path: Path, db_url: str | None) -> None:
    """Blobs encrypted at rest: the body search decrypts them, the freed files go, and the
    archive still verifies with the redaction named; the CLI takes the passphrase."""
    from encrypt_world import init_encrypted, open_store, run
    from test_redaction import SECRET, world

    home = tmp_path / "enc"
    init_encrypted(home, db_url)
    st = open_store(home, db_url)
    try:
        world(st)
        blobs_before = {p.name for p in (home / "blobs").rglob("*") if p.is_file()}
    finally:
        st.close()
    r = run(home, "redact", "1", "--reason", "asked", "--yes", "--json", db=db_url)
    assert r.exit_code == 0, r.output
    assert '"captures": 2' in r.stdout and '"versions": 2' in r.stdout
    r = run(home, "verify", db=db_url)
    assert r.exit_code == 0, r.output
    assert "leaves redacted by 1 redaction" in r.stdout
    st = open_store(home, db_url)
    try:
        assert st.search(SECRET) == [] and {p["post_id"] for p in st.iter_posts()} == {"2", "3"}
        gone = blobs_before - {p.name for p in (home / "blobs").rglob("*") if p.is_file()}
        assert len(gone) >= 3  # the post's own picture, the listing's and the lookup's bodies
    finally:
        st.close()

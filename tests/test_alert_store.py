"""The alert rules and outbox in the store (store/_alerts.py) and enqueue_new, on SQLite
and PostgreSQL: idempotent enqueue, leased claims, marks, counts, the event cursor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from unerased.alerts import CURSOR_KEY, enqueue_new
from unerased.model import AccountSnapshot, Event, EventType, PostSnapshot
from unerased.store import Store

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


def _rule(st: Store, **kw: Any) -> dict[str, Any]:
    return st.add_alert_rule("https://hooks.example/x", secret="ab" * 32,
                             now=T0 - timedelta(hours=1), **kw)


def test_rules_crud(store: Any) -> None:
    st: Store = store
    a = _rule(st, on_types=["account_deleted"], tag=("risk", "high"))
    b = _rule(st, min_posts=3, within_s=600, silent_days=7)
    assert a["id"] != b["id"]
    got = st.alert_rules()
    assert [r["id"] for r in got] == [a["id"], b["id"]]
    assert got[0]["on_types"] == ["account_deleted"] and got[0]["tag_key"] == "risk"
    assert got[0]["enabled"] is True and got[1]["on_types"] is None
    assert st.alert_rule(b["id"])["min_posts"] == 3  # type: ignore[index]
    assert st.remove_alert_rule(a["id"]) is True
    assert st.remove_alert_rule(a["id"]) is False
    assert [r["id"] for r in st.alert_rules()] == [b["id"]]
    assert st.alert_rule(a["id"]) is None


def test_enqueue_is_idempotent_and_claims_are_leased(store: Any) -> None:
    st: Store = store
    rid = _rule(st)["id"]
    assert st.enqueue_alert("d1", rid, "test", {"kind": "test"}, T0) is True
    assert st.enqueue_alert("d1", rid, "test", {"kind": "other"}, T0) is False  # one row
    assert st.enqueue_alert("d2", rid, "test", {"kind": "test"}, T0) is True
    assert st.outbox_counts()["pending"] == 2
    first = st.claim_deliveries(T0, LEASE)
    assert [r["delivery_id"] for r in first] == ["d1", "d2"]
    assert first[0]["target"] == "https://hooks.example/x" and first[0]["attempts"] == 1
    assert st.claim_deliveries(T0 + timedelta(minutes=1), LEASE) == []  # leased
    st.mark_delivered(first[0]["id"], T0 + timedelta(seconds=1))
    st.record_delivery_failure(first[1]["id"], "HTTP 500", T0 + timedelta(seconds=30))
    assert [r["delivery_id"] for r in st.claim_deliveries(T0 + timedelta(seconds=31), LEASE)
            ] == ["d2"]  # the failed one is due at its next attempt; the delivered one never
    st.record_delivery_failure(first[1]["id"], "HTTP 404", None)
    assert st.claim_deliveries(T0 + timedelta(days=9), LEASE) == []
    counts = st.outbox_counts()
    assert (counts["pending"], counts["delivered"], counts["failed"]) == (0, 1, 1)
    assert counts["last_error"] == "HTTP 404"
    rows = {r["delivery_id"]: r for r in st.outbox()}
    assert rows["d1"]["state"] == "delivered" and rows["d1"]["delivered_at"] is not None
    assert rows["d2"]["state"] == "failed" and rows["d2"]["attempts"] == 2
    assert rows["d1"]["payload"] == {"kind": "test"}


def test_a_crashed_claim_is_due_again_after_its_lease(store: Any) -> None:
    st: Store = store
    rid = _rule(st)["id"]
    st.enqueue_alert("d1", rid, "test", {}, T0)
    assert len(st.claim_deliveries(T0, LEASE)) == 1  # then the collector dies
    assert st.claim_deliveries(T0 + LEASE - timedelta(seconds=1), LEASE) == []
    again = st.claim_deliveries(T0 + LEASE + timedelta(seconds=1), LEASE)
    assert [r["attempts"] for r in again] == [2]


def test_claim_only_named_deliveries(store: Any) -> None:
    st: Store = store
    rid = _rule(st)["id"]
    st.enqueue_alert("d1", rid, "test", {}, T0)
    st.enqueue_alert("d2", rid, "test", {}, T0)
    assert [r["delivery_id"] for r in st.claim_deliveries(T0, LEASE, delivery_ids=["d2"])
            ] == ["d2"]


def test_removing_a_rule_drops_its_pending_deliveries(store: Any) -> None:
    st: Store = store
    rid = _rule(st)["id"]
    st.enqueue_alert("d1", rid, "test", {}, T0)
    st.enqueue_alert("d2", rid, "test", {}, T0)
    st.mark_delivered(st.claim_deliveries(T0, LEASE, delivery_ids=["d1"])[0]["id"], T0)
    st.remove_alert_rule(rid)
    assert [r["delivery_id"] for r in st.outbox()] == ["d1"]  # the record of what was sent


ALICE = AccountSnapshot("bluesky", "did:plc:alice", handle="alice.test")
BOB = AccountSnapshot("bluesky", "did:plc:bob", handle="bob.test")


def _world(st: Store, deletions: int = 0, at: datetime = T0) -> dict[str, int]:
    with st.writer() as w:
        a = w.upsert_account(ALICE, "test")
        b = w.upsert_account(BOB, "test")
        w.update_account(a["id"], watched=True, tags_json='{"risk": "high"}')
        w.update_account(b["id"], watched=True)
        posts = [PostSnapshot("bluesky", "did:plc:alice", f"p{i}", f"post {i}",
                              created_at=T0 - timedelta(days=10)) for i in range(deletions)]
        w.add_posts(a, posts, "test")
        for i in range(deletions):
            w.add_event(Event(EventType.POST_DELETED, at + timedelta(minutes=i), "bluesky",
                              "alice.test", "did:plc:alice", f"p{i}"), a["id"])
    return {"alice": a["id"], "bob": b["id"]}


def _events(st: Store, pk: int, *types: EventType, at: datetime = T0) -> None:
    with st.writer() as w:
        for t in types:
            w.add_event(Event(t, at, "bluesky", "bob.test", "did:plc:bob"), pk)


def test_enqueue_new_turns_events_into_alerts_once(store: Any) -> None:
    st: Store = store
    pks = _world(st)
    _rule(st)  # the default: closures and mass deletions
    _rule(st, on_types=["post_deleted"], tag=("risk", "high"))
    _events(st, pks["bob"], EventType.ACCOUNT_SUSPENDED, EventType.POST_EDITED)
    assert enqueue_new(st, T0) == 1
    assert st.get_state(CURSOR_KEY) == 2  # both events read; the cursor moved with them
    assert enqueue_new(st, T0 + timedelta(minutes=1)) == 0  # nothing new
    (row,) = st.outbox()
    assert row["kind"] == "account_suspended" and row["payload"]["account"]["account"] == \
        "bob.test"


def test_enqueue_new_one_alert_per_mass_deletion(store: Any) -> None:
    st: Store = store
    _world(st, deletions=8)  # eight deletions of alice, a minute apart
    mass = _rule(st, min_posts=5, within_s=600)
    per_post = _rule(st, on_types=["post_deleted"], tag=("risk", "high"))
    assert enqueue_new(st, T0 + timedelta(minutes=9), batch=3) == 1 + 8  # batches of 3
    rows = st.outbox(limit=100)
    (m,) = [r for r in rows if r["rule_id"] == mass["id"]]
    assert m["kind"] == "mass_deletion" and m["payload"]["count"] == 5
    assert [e["post_id"] for e in m["payload"]["events"]] == [f"p{i}" for i in range(5)]
    assert len([r for r in rows if r["rule_id"] == per_post["id"]]) == 8
    # the cursor reached the end: a second pass (another collector, a restart) adds none
    st.set_state(CURSOR_KEY, 0, T0)
    assert enqueue_new(st, T0 + timedelta(minutes=10)) == 0  # same delivery ids


def test_enqueue_new_silence_and_dead_man(store: Any) -> None:
    st: Store = store
    _world(st, deletions=1)
    silent = _rule(st, on_types=[], silent_days=7)
    dead = _rule(st, on_types=["collector_silent"], within_s=1800)
    beat = _rule(st, on_types=["heartbeat"], within_s=600)
    st.set_state("heartbeat:laptop", "2026-03-01T11:00:00Z", T0)
    st.set_state("heartbeat:vps", "2026-03-01T11:59:00Z", T0)
    assert enqueue_new(st, T0, collector="vps") == 3
    kinds = {r["rule_id"]: r for r in st.outbox()}
    assert kinds[silent["id"]]["payload"]["account"]["account"] == "alice.test"
    assert kinds[dead["id"]]["payload"]["collector"] == "laptop"
    assert kinds[beat["id"]]["kind"] == "heartbeat"
    assert enqueue_new(st, T0 + timedelta(minutes=5), collector="vps") == 0  # same period
    assert enqueue_new(st, T0 + timedelta(minutes=10), collector="vps") == 1  # next beat
    for r in st.claim_deliveries(T0 + timedelta(minutes=10), LEASE):
        st.mark_delivered(r["id"], T0 + timedelta(minutes=10))
    # a day later: vps is silent too (its heartbeat was not renewed here), a new beat
    assert enqueue_new(st, T0 + timedelta(days=1, minutes=15), collector="vps") == 2
    left = sorted(r["kind"] for r in st.outbox())  # delivered heartbeats a day old: dropped
    assert left == ["account_silent", "collector_silent", "collector_silent", "heartbeat"]


def test_enqueue_new_without_rules_keeps_the_cursor_at_the_end(store: Any) -> None:
    st: Store = store
    pks = _world(st)
    _events(st, pks["bob"], EventType.ACCOUNT_DELETED)
    assert enqueue_new(st, T0) == 0
    assert st.get_state(CURSOR_KEY) == 1


def test_rule_ids_are_never_reused(store: Any) -> None:
    """A rule's id is in its alerts' delivery ids and its outbox rows: a new rule must
    not take the id of a removed one (its alerts would be taken for the old ones)."""
    st: Store = store
    first = _rule(st)["id"]
    st.remove_alert_rule(first)
    assert _rule(st)["id"] > first


def test_release_gives_a_claim_back_uncounted(store: Any) -> None:
    st: Store = store
    rid = _rule(st)["id"]
    st.enqueue_alert("d1", rid, "test", {}, T0)
    (row,) = st.claim_deliveries(T0, LEASE)
    st.release_deliveries([row["id"]], T0 + timedelta(seconds=1))
    (again,) = st.claim_deliveries(T0 + timedelta(seconds=1), LEASE)
    assert again["attempts"] == 1


def test_two_collectors_claiming_at_once_never_share_a_delivery(store: Any) -> None:
    import threading

    st: Store = store
    rid = _rule(st)["id"]
    for i in range(60):
        st.enqueue_alert(f"d{i}", rid, "test", {}, T0)
    got: list[list[str]] = [[], []]
    start = threading.Barrier(2)

    def collector(k: int) -> None:
        start.wait()
        for _ in range(6):
            got[k] += [r["delivery_id"] for r in st.claim_deliveries(T0, LEASE, limit=7)]

    threads = [threading.Thread(target=collector, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not set(got[0]) & set(got[1])
    assert sorted(got[0] + got[1]) == sorted(f"d{i}" for i in range(60))


def test_silences_are_looked_for_at_most_hourly(store: Any) -> None:
    st: Store = store
    _world(st, deletions=1)  # alice's only post is ten days old
    _rule(st, on_types=[], silent_days=7)
    assert enqueue_new(st, T0) == 1
    st.remove_alert_rule(1)
    _rule(st, on_types=[], silent_days=3)  # a new rule: a new delivery id
    assert enqueue_new(st, T0 + timedelta(minutes=59)) == 0  # not looked for yet
    assert enqueue_new(st, T0 + timedelta(minutes=61)) == 1

"""The post state machine of docs/detection.md, one test per row (P1…)."""

from __future__ import annotations

from detect_cases import (
    ACCT,
    AS,
    CFG,
    CHECK_ERROR,
    ET,
    PS,
    Tracker,
    absent,
    account_check,
    account_gone,
    active,
    at,
    err,
    forbidden,
    gone,
    known,
    listing,
    snap,
    types,
)
from unerased.model import (
    DeletionReason,
)
from unerased.watch.detect import (
    DetectConfig,
    detect,
    plan_lookups,
)

# --- post machine ----------------------------------------------------------------------


def test_P1_new_post_is_a_version_without_event() -> None:
    d = detect(active(), {}, account_check(), listing(snap("p1", "first")), [], at(0), CFG)
    assert d.events == []
    st = d.posts["p1"]
    assert st.status == PS.PRESENT and st.last_seen == at(0) and st.gone_count == 0
    assert st.content_hash == snap("p1", "first").content_hash()
    assert st.created_at == at(-10) and st.seen_evidence == ("cap-list",)
    assert [v.post_id for v in d.new_versions] == ["p1"]
    assert d.new_versions[0].observed_at == at(0)


def test_P2_answers_about_unknown_posts_create_nothing() -> None:
    d = detect(active(), {}, account_check(), listing(),
               [gone("x1"), err("x2"), forbidden("x3"), account_gone("x4")], at(0), CFG)
    assert d.posts == {} and d.events == []


def test_P3_same_version_updates_last_seen_only() -> None:
    d = detect(active(), {"p1": known("p1")}, account_check(), listing(snap("p1")), [], at(0), CFG)
    assert d.events == [] and d.new_versions == []
    assert d.posts["p1"].last_seen == at(0)


def test_P4_edit() -> None:
    edited = at(-0.5)
    d = detect(active(), {"p1": known("p1", "hello")}, account_check(),
               listing(snap("p1", "hello, edited", edited_at=edited)), [], at(0), CFG)
    assert types(d) == [ET.POST_EDITED]
    e = d.events[0]
    assert e.post_id == "p1" and list(e.evidence) == ["cap-list"]
    assert e.detail == {"previous_hash": snap("p1", "hello").content_hash(),
                        "new_hash": snap("p1", "hello, edited").content_hash(),
                        "previous_version_key": None, "new_version_key": None,
                        "edited_at": "2024-06-01T11:30:00Z"}
    assert [v.text for v in d.new_versions] == ["hello, edited"]
    assert d.posts["p1"].content_hash == snap("p1", "hello, edited").content_hash()


def test_P4_version_keys_decide_when_both_present() -> None:
    base = known("p1", "hello", version_key="cid1")
    # same key, different hash (e.g. a rotated media URL): same version
    d = detect(active(), {"p1": base}, account_check(),
               listing(snap("p1", "hello!", version_key="cid1")), [], at(0), CFG)
    assert d.events == [] and d.new_versions == []
    # different key, same content: the platform says it is a new version
    d = detect(active(), {"p1": base}, account_check(),
               listing(snap("p1", "hello", version_key="cid2")), [], at(0), CFG)
    assert types(d) == [ET.POST_EDITED] and len(d.new_versions) == 1
    # a key appearing where we had none, same content: adopted silently
    d = detect(active(), {"p1": known("p1")}, account_check(),
               listing(snap("p1", version_key="cid9")), [], at(0), CFG)
    assert d.events == [] and d.new_versions == [] and d.posts["p1"].version_key == "cid9"


def test_P5_stale_copy_is_not_an_edit() -> None:
    st = known("p1", "v2", edited_at=at(-1))
    d = detect(active(), {"p1": st}, account_check(),
               listing(snap("p1", "v1", edited_at=at(-5))), [], at(0), CFG)
    assert d.events == [] and d.new_versions == []
    assert d.posts["p1"].last_seen == at(0) and d.posts["p1"].content_hash == st.content_hash


def test_P6_absence_alone_changes_nothing_but_plans_a_lookup() -> None:
    posts = {"p1": known("p1"), "p2": known("p2")}
    lst = listing(snap("p2"))
    d = detect(active(), posts, account_check(), lst, [], at(0), CFG)
    assert "p1" not in d.posts and d.events == []
    assert plan_lookups(posts, lst, active(), at(0), CFG) == ["p1"]


def test_P7_first_gone_is_only_a_suspicion() -> None:
    d = detect(active(), {"p1": known("p1")}, account_check(), listing(), [gone("p1")], at(0), CFG)
    assert d.events == []
    st = d.posts["p1"]
    assert (st.status, st.gone_count, st.first_missing, st.last_gone) == (
        PS.MISSING, 1, at(0), at(0))
    assert st.evidence == ("cap-list", "cap-gone-p1")
    assert st.platform_detail == "RecordNotFound"


def test_P7_with_one_confirmation_deletes_at_once() -> None:
    d = detect(active(), {"p1": known("p1")}, account_check(), listing(), [gone("p1")], at(0),
               DetectConfig(confirmations=1))
    assert types(d) == [ET.POST_DELETED] and d.posts["p1"].status == PS.DELETED


def test_P8_lookup_error_changes_nothing() -> None:
    d = detect(active(), {"p1": known("p1")}, account_check(), listing(), [err("p1")], at(0), CFG)
    assert d.posts == {} and d.events == []


def test_P9_forbidden_is_noted_not_deletion() -> None:
    t = Tracker(active(), [known("p1")])
    t.check(0, listing=listing(), lookups=[forbidden("p1")])
    assert t.status("p1") == PS.PRESENT and t.posts["p1"].gone_count == 0
    assert t.posts["p1"].note == "forbidden: authorized fetch"
    t.check(1, listing=listing(), lookups=[forbidden("p1")])
    assert t.last is not None and t.last.posts == {}  # noted once, idempotent
    t.check(2, listing=listing(snap("p1")))
    assert t.posts["p1"].note is None
    assert t.events == []


def test_P10_account_gone_answer_asks_for_an_account_recheck() -> None:
    d = detect(active(), {"p1": known("p1")}, account_check(), listing(), [account_gone("p1")],
               at(0), CFG)
    assert d.posts == {} and d.events == [] and d.account_recheck
    d = detect(active(), {"p1": known("p1")}, account_check(), listing(), [err("p1")], at(0), CFG)
    assert not d.account_recheck


def test_P11_P17_P23_hidden_account_marks_posts_unavailable() -> None:
    posts = {"a": known("a"), "m": known("m", status=PS.MISSING, gone_count=1,
                                          first_missing=at(-2), last_gone=at(-2)),
             "d": known("d", status=PS.DELETED, deleted_at=at(-3))}
    d = detect(active(), posts, account_check(AS.SUSPENDED), listing(),
               [gone("a"), gone("m"), gone("d")], at(0), CFG)
    assert types(d) == [ET.ACCOUNT_SUSPENDED]
    assert d.posts["a"].status == PS.UNAVAILABLE
    m = d.posts["m"]
    assert (m.status, m.gone_count, m.first_missing, m.last_gone) == (
        PS.UNAVAILABLE, 0, None, None)
    assert "d" not in d.posts  # a declared deletion stays
    assert plan_lookups(posts, listing(), d.account, at(0), CFG) == []


def test_P12_missing_seen_again_is_silent() -> None:
    st = known("p1", status=PS.MISSING, gone_count=1, first_missing=at(-1), last_gone=at(-1),
               evidence=("cap-gone",))
    d = detect(active(), {"p1": st}, account_check(), listing(snap("p1")), [], at(0), CFG)
    assert d.events == []
    n = d.posts["p1"]
    assert (n.status, n.gone_count, n.first_missing, n.last_gone, n.evidence) == (
        PS.PRESENT, 0, None, None, ())


def test_P13_P14_second_separate_gone_confirms() -> None:
    t = Tracker(active(), [known("p1")], DetectConfig(confirmations=3))
    t.check(0, listing=listing(cap="L0"), lookups=[gone("p1", cap="G0")])
    t.check(1, listing=listing(cap="L1"), lookups=[gone("p1", cap="G1")])
    assert t.status("p1") == PS.MISSING and t.posts["p1"].gone_count == 2
    assert t.events == []
    t.check(2, listing=listing(cap="L2"),
            lookups=[gone("p1", DeletionReason.USER_DELETED, "Status deleted", cap="G2")])
    assert t.types() == [(ET.POST_DELETED, "p1")]
    e = t.events[0]
    assert e.to_json() == {
        "type": "post_deleted", "at": "2024-06-01T14:00:00Z", "platform": "bluesky",
        "account": "alice.bsky.social", "account_id": ACCT, "post_id": "p1",
        "detail": {"reason": "user_deleted", "last_seen": "2024-06-01T11:00:00Z",
                   "first_missing": "2024-06-01T12:00:00Z", "platform_detail": "Status deleted",
                   "confirmations": 3},
        "evidence": ["cap-seen-p1", "L0", "G0", "L1", "G1", "L2", "G2"]}
    st = t.posts["p1"]
    assert st.status == PS.DELETED and st.deleted_at == at(2)
    assert st.reason == DeletionReason.USER_DELETED


def test_P15_gone_twice_within_the_interval_counts_once() -> None:
    t = Tracker(active(), [known("p1")])
    t.check(0, listing=listing(), lookups=[gone("p1")])
    t.check(0.02, listing=listing(), lookups=[gone("p1")])  # 72 s later: a retry
    t.check(0, listing=listing(), lookups=[gone("p1")])  # same instant replayed
    assert t.posts["p1"].gone_count == 1 and t.events == []
    # two GONE lookups in one check count once
    t2 = Tracker(active(), [known("p1")])
    t2.check(0, listing=listing(), lookups=[gone("p1"), gone("p1", cap="again")])
    assert t2.posts["p1"].gone_count == 1


def test_P16_missing_unchanged_by_flaky_answers() -> None:
    st = known("p1", status=PS.MISSING, gone_count=1, first_missing=at(-1), last_gone=at(-1))
    for lk in ([err("p1")], [account_gone("p1")], []):
        d = detect(active(), {"p1": st}, account_check(), listing(), lk, at(0), CFG)
        assert d.posts == {} and d.events == []
    d = detect(active(), {"p1": st}, account_check(), listing(), [forbidden("p1")], at(0), CFG)
    assert d.posts["p1"].gone_count == 1 and d.posts["p1"].status == PS.MISSING


def test_P18_P19_P20_unavailable_posts_after_the_account_returns() -> None:
    posts = {"a": known("a", status=PS.UNAVAILABLE), "b": known("b", status=PS.UNAVAILABLE),
             "c": known("c", status=PS.UNAVAILABLE)}
    # P20: still hidden: nothing about posts
    d = detect(active(status=AS.SUSPENDED), posts, account_check(AS.SUSPENDED), listing(),
               [gone("a")], at(0), CFG)
    assert d.posts == {} and d.events == []
    # back: a is seen, b is gone, c not looked up
    t = Tracker(active(status=AS.SUSPENDED), posts.values())
    t.check(1, listing=listing(snap("a")), lookups=[gone("b")])
    assert t.types() == [(ET.ACCOUNT_RESTORED, None)]
    assert t.status("a") == PS.PRESENT
    assert t.status("b") == PS.MISSING and t.posts["b"].gone_count == 1
    assert t.status("c") == PS.UNAVAILABLE
    assert plan_lookups(t.posts, listing(snap("a")), t.account, at(2), CFG) == ["b", "c"]


def test_P21_deleted_post_back_is_restored() -> None:
    st = known("p1", status=PS.DELETED, deleted_at=at(-2), gone_count=2, first_missing=at(-3))
    t = Tracker(active(), [st])
    t.check(0, listing=listing(snap("p1")))
    t.check(1, listing=listing(snap("p1")))
    assert t.types() == [(ET.POST_RESTORED, "p1")]
    e = t.events[0]
    assert e.detail == {"deleted_at": "2024-06-01T10:00:00Z",
                        "restored_at": "2024-06-01T12:00:00Z"}
    assert list(e.evidence) == ["cap-list"]
    assert t.status("p1") == PS.PRESENT and t.posts["p1"].gone_count == 0


def test_P22_deleted_stays_deleted() -> None:
    st = known("p1", status=PS.DELETED, deleted_at=at(-2))
    for lk in ([gone("p1")], [err("p1")], [forbidden("p1")], []):
        d = detect(active(), {"p1": st}, account_check(), listing(), lk, at(0), CFG)
        assert d.posts == {} and d.events == []
    assert plan_lookups({"p1": st}, listing(), active(), at(0), CFG) == []


def test_P24_failed_account_check_keeps_sightings_judges_nothing() -> None:
    posts = {"a": known("a"), "m": known("m", status=PS.MISSING, gone_count=1,
                                          last_gone=at(-5), first_missing=at(-5)),
             "d": known("d", status=PS.DELETED, deleted_at=at(-3))}
    d = detect(active(), posts, CHECK_ERROR,
               listing(snap("new"), snap("d"), snap("a", "edited")), [gone("m")], at(0), CFG)
    assert d.account == active()
    assert sorted(types(d)) == sorted([ET.POST_EDITED, ET.POST_RESTORED])
    assert d.posts["new"].status == PS.PRESENT and "m" not in d.posts
    assert sorted(v.post_id for v in d.new_versions) == ["a", "new"]
    # no account known at all: events take their identity from the snapshot
    d = detect(None, {"a": known("a")}, CHECK_ERROR, listing(snap("a", "x")), [], at(0), CFG)
    assert d.account is None and d.events[0].account_id == ACCT
    assert d.events[0].platform == "bluesky" and d.events[0].account is None


def test_P25_incomplete_listing_infers_no_absence() -> None:
    posts = {"p1": known("p1"), "p2": known("p2")}
    lst = listing(snap("p2"), complete=False)
    assert plan_lookups(posts, lst, active(), at(0), CFG) == []
    d = detect(active(), posts, account_check(), lst, [], at(0), CFG)
    assert d.events == [] and set(d.posts) == {"p2"}
    # a GONE lookup still counts; the incomplete listing is just not evidence
    d = detect(active(), posts, account_check(), lst, [gone("p1")], at(0), CFG)
    assert d.posts["p1"].evidence == ("cap-gone-p1",)


def test_P26_aged_out_of_the_feed_window_is_not_missing() -> None:
    old = known("old", created_at=at(-100))
    recent = known("recent", created_at=at(-5))
    undated = known("undated", created_at=None)
    posts = {p.post_id: p for p in (old, recent, undated)}
    lst = listing(snap("newest", created=-1), window_start=at(-10))
    assert plan_lookups(posts, lst, active(), at(0), CFG) == ["recent"]
    # no window: the listing covers everything
    assert plan_lookups(posts, listing(snap("newest")), active(), at(0), CFG) == [
        "recent", "old", "undated"]
    d = detect(active(), posts, account_check(), lst, [], at(0), CFG)
    assert set(d.posts) == {"newest"} and d.events == []


def test_P27_seen_while_hidden_is_kept() -> None:
    d = detect(active(), {"p1": known("p1")}, account_check(AS.PROTECTED),
               listing(snap("p1"), snap("p2")), [], at(0), CFG)
    assert types(d) == [ET.ACCOUNT_PROTECTED]
    assert d.posts["p1"].status == PS.PRESENT and d.posts["p2"].status == PS.PRESENT


def test_P28_pending_account_disappearance_judges_no_post() -> None:
    """A whole-feed 404 must not spray post_deleted, nor mark posts unavailable: until the
    disappearance is confirmed only sightings count and nothing is looked up."""
    posts = {"a": known("a"), "b": known("b"),
             "m": known("m", status=PS.MISSING, gone_count=1, last_gone=at(-5),
                        first_missing=at(-5)),
             "u": known("u", status=PS.UNAVAILABLE),
             "d": known("d", status=PS.DELETED, deleted_at=at(-3))}
    d = detect(active(), posts, absent(), listing(snap("a", "edited")),
               [gone("b"), gone("m"), gone("u")], at(0), CFG)
    assert d.account is not None and d.account.pending is not None
    assert types(d) == [ET.POST_EDITED]
    assert set(d.posts) == {"a"} and d.posts["a"].status == PS.PRESENT
    assert plan_lookups(posts, listing(), d.account, at(0), CFG) == []
    t = Tracker(active(), posts.values())
    for h in range(2):  # the confirming check: one account event, posts unavailable
        t.check(h, absent(), listing(), [gone(p) for p in posts])
    assert t.types() == [(ET.ACCOUNT_DELETED, None)]
    assert {p: t.status(p) for p in posts} == {"a": PS.UNAVAILABLE, "b": PS.UNAVAILABLE,
                                               "m": PS.UNAVAILABLE, "u": PS.UNAVAILABLE,
                                               "d": PS.DELETED}

"""The named false alarms that trackers in this field are known for, and whole
sequences of checks (confirmations, restorations, edits, mass deletions)."""

from __future__ import annotations

import pytest

from detect_cases import (
    ACCOUNT_EVENTS,
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
    present,
    snap,
    types,
)
from unerased.model import (
    DeletionReason,
    LookupResult,
    PostLookup,
)
from unerased.watch.detect import (
    detect,
    plan_lookups,
)

# --- named false alarms ----------------------------------------------------------------


@pytest.mark.parametrize("words", ["ReadTimeout", "HTTP 500", "HTTP 503", "HTTP 429",
                                   "truncated body", "unparseable JSON"])
def test_false_alarm_flaky_lookup_never_deletes(words: str) -> None:
    t = Tracker(active(), [known("p1")])
    for h in range(10):
        t.check(h, listing=listing(), lookups=[err("p1", words)])
    assert t.events == [] and t.status("p1") == PS.PRESENT


def test_false_alarm_listing_omits_a_post_once() -> None:
    t = Tracker(active(), [known("p1"), known("p2")])
    t.check(0, listing=listing(snap("p2")))
    t.check(1, listing=listing(snap("p1"), snap("p2")))
    assert t.events == [] and t.status("p1") == PS.PRESENT


def test_false_alarm_incomplete_listings() -> None:
    t = Tracker(active(), [known("p1"), known("p2")])
    for h in range(5):
        lst = listing(complete=False)
        assert plan_lookups(t.posts, lst, t.account, at(h), CFG) == []
        t.check(h, listing=lst)
    assert t.events == [] and {p.status for p in t.posts.values()} == {PS.PRESENT}


def test_false_alarm_aged_out_of_feed() -> None:
    posts = [known(f"p{i}", created_at=at(-100 - i)) for i in range(20)]
    t = Tracker(active(), posts)
    for h in range(5):
        lst = listing(*[snap(f"n{i}", created=i - 1) for i in range(h + 1)],
                      window_start=at(-50))
        assert plan_lookups(t.posts, lst, t.account, at(h), CFG) == []
        t.check(h, listing=lst)
    assert t.events == []


def test_false_alarm_suspension_does_not_spray_post_deleted() -> None:
    posts = [known(f"p{i}") for i in range(30)]
    t = Tracker(active(), posts)
    for h in range(4):
        t.check(h, account_check(AS.SUSPENDED), listing(),
                [gone(f"p{i}") for i in range(30)] + [account_gone("p0")])
    assert t.types() == [(ET.ACCOUNT_SUSPENDED, None)]
    assert {p.status for p in t.posts.values()} == {PS.UNAVAILABLE}


def test_false_alarm_deactivate_and_reactivate() -> None:
    posts = [known(f"p{i}") for i in range(6)]
    t = Tracker(active(), posts)
    t.check(0, account_check(AS.DEACTIVATED), listing(), [gone(f"p{i}") for i in range(6)])
    t.check(1, account_check(AS.DEACTIVATED), listing())
    t.check(2, account_check(AS.ACTIVE), listing(*[snap(f"p{i}") for i in range(6)]))
    assert t.types() == [(ET.ACCOUNT_DEACTIVATED, None), (ET.ACCOUNT_RESTORED, None)]
    assert {p.status for p in t.posts.values()} == {PS.PRESENT}


def test_false_alarm_single_gone_not_confirmed() -> None:
    t = Tracker(active(), [known("p1")])
    t.check(0, listing=listing(), lookups=[gone("p1")])
    assert t.events == [] and t.status("p1") == PS.MISSING


def test_gone_error_gone_confirms_at_two() -> None:
    t = Tracker(active(), [known("p1")])
    t.check(0, listing=listing(), lookups=[gone("p1")])
    t.check(1, listing=listing(), lookups=[err("p1")])
    assert t.events == []
    t.check(2, listing=listing(), lookups=[gone("p1")])
    assert t.types() == [(ET.POST_DELETED, "p1")]
    assert t.events[0].detail["first_missing"] == "2024-06-01T12:00:00Z"


def test_gone_then_present_is_silent() -> None:
    t = Tracker(active(), [known("p1")])
    t.check(0, listing=listing(), lookups=[gone("p1")])
    t.check(1, listing=listing(), lookups=[present("p1")])
    t.check(2, listing=listing(), lookups=[gone("p1")])
    assert t.events == [] and t.posts["p1"].gone_count == 1


def test_deleted_then_back_then_deleted_again() -> None:
    t = Tracker(active(), [known("p1")])
    t.check(0, listing=listing(), lookups=[gone("p1")])
    t.check(1, listing=listing(), lookups=[gone("p1")])
    t.check(2, listing=listing(snap("p1")))
    t.check(3, listing=listing(), lookups=[gone("p1")])
    t.check(4, listing=listing(), lookups=[gone("p1")])
    assert t.types() == [(ET.POST_DELETED, "p1"), (ET.POST_RESTORED, "p1"),
                         (ET.POST_DELETED, "p1")]
    assert t.events[2].detail["first_missing"] == "2024-06-01T15:00:00Z"
    assert t.events[2].detail["last_seen"] == "2024-06-01T14:00:00Z"


def test_edit_then_edit_back() -> None:
    t = Tracker(active(), [known("p1", "v1")])
    t.check(0, listing=listing(snap("p1", "v2", edited_at=at(-0.5))))
    t.check(1, listing=listing(snap("p1", "v1", edited_at=at(0.5))))
    t.check(2, listing=listing(snap("p1", "v1", edited_at=at(0.5))))
    assert t.types() == [(ET.POST_EDITED, "p1"), (ET.POST_EDITED, "p1")]
    assert t.events[1].detail["new_hash"] == snap("p1", "v1").content_hash()
    assert t.events[1].detail["previous_hash"] == snap("p1", "v2").content_hash()


def test_listing_and_lookup_disagreeing_gives_one_edit() -> None:
    d = detect(active(), {"p1": known("p1", "v1")}, account_check(),
               listing(snap("p1", "v2")), [present("p1", "v3")], at(0), CFG)
    assert types(d) == [ET.POST_EDITED] and [v.text for v in d.new_versions] == ["v3"]


def test_present_lookup_beats_gone_lookup_in_one_check() -> None:
    d = detect(active(), {"p1": known("p1")}, account_check(), listing(),
               [gone("p1"), present("p1")], at(0), CFG)
    assert d.posts["p1"].status == PS.PRESENT and d.events == []
    d = detect(active(), {"p1": known("p1")}, account_check(), listing(),
               [gone("p1"), forbidden("p1")], at(0), CFG)
    assert d.posts["p1"].gone_count == 0


def test_present_lookup_without_snapshot_is_an_error() -> None:
    bad = [PostLookup("p1", LookupResult.PRESENT),
           PostLookup("p1", LookupResult.PRESENT, snapshot=snap("other"))]
    st = known("p1", status=PS.MISSING, gone_count=1, first_missing=at(-1), last_gone=at(-1))
    d = detect(active(), {"p1": st}, account_check(), listing(), bad, at(0), CFG)
    assert d.posts == {} and d.events == []


def test_archive_deleted_flag_in_listing_is_not_a_sighting() -> None:
    st = known("p1", status=PS.DELETED, deleted_at=at(-1))
    d = detect(active(), {"p1": st}, account_check(), listing(snap("p1", deleted=True)), [],
               at(0), CFG)
    assert d.events == [] and d.posts == {}


def test_mass_deletion_flag() -> None:
    posts = [known(f"p{i:02}") for i in range(10)]
    t = Tracker(active(), posts)
    empty = listing()
    # a suddenly empty complete listing is not trusted: everything goes to lookups
    assert sorted(plan_lookups(t.posts, empty, t.account, at(0), CFG)) == sorted(t.posts)
    t.check(0, listing=empty)
    assert t.events == [] and {p.status for p in t.posts.values()} == {PS.PRESENT}
    gone8 = [gone(f"p{i:02}", DeletionReason.PLATFORM_REMOVED) for i in range(8)]
    t.check(1, listing=empty, lookups=gone8)
    t.check(2, listing=empty, lookups=gone8)
    assert [pid for _, pid in t.types()] == [f"p{i:02}" for i in range(8)]
    for e in t.events:
        assert e.detail["mass_deletion"] == {"count": 8, "of": 10}
        assert e.detail["reason"] == "platform_removed"


def test_mass_deletion_confirmed_across_checks_is_one_campaign() -> None:
    """Flaky answers split a campaign's confirmations over several checks (seen in the
    demo: 8 flagged, then 5, then 2 unflagged): every part must carry the flag."""
    t = Tracker(active(), [known(f"p{i:02}") for i in range(10)])
    empty = listing()
    first = [gone(f"p{i:02}") for i in range(5)]
    rest = [gone(f"p{i:02}") for i in range(5, 9)]
    t.check(0, listing=empty, lookups=first)
    t.check(1, listing=empty, lookups=first + rest)
    t.check(2, listing=empty, lookups=rest)
    assert len(t.events) == 9
    assert [e.detail["mass_deletion"]["count"] for e in t.events] == [5] * 5 + [9] * 4
    assert all(e.detail["mass_deletion"]["of"] == 10 for e in t.events)
    later = Tracker(active(), [known(f"p{i:02}") for i in range(10)])
    later.check(0, listing=empty, lookups=first)
    later.check(1, listing=empty, lookups=first)
    later.check(40, listing=empty, lookups=[gone("p09")])  # a day later: a new matter
    later.check(41, listing=empty, lookups=[gone("p09")])
    assert "mass_deletion" not in later.events[-1].detail


def test_no_mass_flag_below_the_thresholds() -> None:
    few = Tracker(active(), [known(f"p{i}") for i in range(6)])
    for h in (0, 1):
        few.check(h, listing=listing(), lookups=[gone(f"p{i}") for i in range(4)])
    assert len(few.events) == 4 and all("mass_deletion" not in e.detail for e in few.events)
    many = Tracker(active(), [known(f"p{i}") for i in range(20)])
    for h in (0, 1):
        many.check(h, listing=listing(), lookups=[gone(f"p{i}") for i in range(6)])
    assert len(many.events) == 6 and all("mass_deletion" not in e.detail for e in many.events)


# --- account false alarms: a disappearance inferred from one absence ---------------------


def test_false_alarm_single_feed_404_is_no_event() -> None:
    t = Tracker(active(), [known(f"p{i}") for i in range(5)])
    d = t.check(0, absent(), listing(complete=False), [gone(f"p{i}") for i in range(5)])
    assert t.events == [] and d.account_recheck
    assert {p.status for p in t.posts.values()} == {PS.PRESENT}


def test_false_alarm_404_then_200_is_no_event() -> None:
    t = Tracker(active(), [known("p1")])
    t.check(0, absent())
    t.check(0.1, account_check(), listing(snap("p1")))
    t.check(0.2, absent())  # an isolated 404 again, after a sighting: a fresh suspicion
    t.check(0.3, account_check(), listing(snap("p1")))
    assert t.events == [] and t.account is not None and t.account.pending is None


def test_false_alarm_404_twice_within_the_interval_is_no_event() -> None:
    t = Tracker(active())
    t.check(0, absent())
    t.check(1 / 60, absent())  # one minute later: not a separate check
    t.check(4 / 60, absent())
    assert t.events == []


def test_404_error_404_on_separate_checks_is_one_event() -> None:
    t = Tracker(active(), [known("p1")])
    t.check(0, absent(cap="c1"))
    t.check(0.1, CHECK_ERROR)
    t.check(0.2, absent(cap="c2"))
    assert t.types() == [(ET.ACCOUNT_DELETED, None)]
    assert tuple(t.events[0].evidence) == ("c1", "c2")
    t.check(0.3, absent(cap="c3"))
    assert len(t.events) == 1


def test_flapping_account_never_announces() -> None:
    """A server that answers 404 every other check (a broken load balancer) never
    yields an account event: every sighting cancels the suspicion."""
    t = Tracker(active())
    for h in range(20):
        t.check(h, absent() if h % 2 == 0 else account_check())
    assert not {e.type for e in t.events} & ACCOUNT_EVENTS

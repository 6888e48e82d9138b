"""Which posts to look up (plan_lookups), the state round trip, the config, and
hostile values."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

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
    active,
    at,
    gone,
    known,
    listing,
    snap,
)
from unerased.model import (
    AccountCheck,
    AccountSnapshot,
    AccountStatus,
    DeletionReason,
    LookupResult,
    PostLookup,
    StatusBasis,
)
from unerased.watch.detect import (
    AccountState,
    DetectConfig,
    DetectError,
    PendingStatus,
    PostState,
    detect,
    initial_post_state,
    next_account_state,
    plan_lookups,
)

# --- plan_lookups, helpers, config -----------------------------------------------------


def test_plan_lookups_priorities() -> None:
    posts = {
        "m_late": known("m_late", status=PS.MISSING, gone_count=1, first_missing=at(-1),
                        last_gone=at(-1)),
        "m_early": known("m_early", status=PS.MISSING, gone_count=1, first_missing=at(-3),
                         last_gone=at(-3)),
        "m_fresh": known("m_fresh", status=PS.MISSING, gone_count=1, first_missing=at(-0.01),
                         last_gone=at(-0.01)),
        "p_old": known("p_old", created_at=at(-20)),
        "p_new": known("p_new", created_at=at(-2)),
        "u": known("u", status=PS.UNAVAILABLE),
        "listed": known("listed"),
        "d": known("d", status=PS.DELETED),
    }
    lst = listing(snap("listed"))
    assert plan_lookups(posts, lst, active(), at(0), CFG) == [
        "m_early", "m_late", "p_new", "p_old", "u"]
    # without a listing only the pending confirmations and unavailable posts
    assert plan_lookups(posts, None, None, at(0), CFG) == ["m_early", "m_late", "u"]


def test_next_account_state_matches_detect() -> None:
    for check in (account_check(AS.SUSPENDED), CHECK_ERROR, account_check(handle="x"),
                  absent()):
        d = detect(active(), {}, check, None, [], at(0), CFG)
        assert next_account_state(active(), check, at(0)) == d.account
    one = DetectConfig(confirmations=1)  # the config decides when an absence is confirmed
    d = detect(active(), {}, absent(), None, [], at(0), one)
    assert next_account_state(active(), absent(), at(0), one) == d.account
    assert d.account is not None and d.account.status == AS.DELETED


def test_naive_now_is_utc() -> None:
    d = detect(active(), {"p1": known("p1")}, account_check(), listing(), [gone("p1")],
               datetime(2024, 6, 1, 12, 0), CFG)
    assert d.posts["p1"].first_missing == at(0)


@pytest.mark.parametrize("kw", [{"confirmations": 0}, {"mass_deletion_fraction": 0.0},
                                {"mass_deletion_fraction": 1.5}, {"mass_deletion_min": 0},
                                {"min_confirm_interval": timedelta(seconds=-1)}])
def test_config_validation(kw: dict[str, object]) -> None:
    with pytest.raises(DetectError):
        DetectConfig(**kw)  # type: ignore[arg-type]


def test_state_json_round_trip() -> None:
    st = known("p1", status=PS.DELETED, deleted_at=at(1), reason=DeletionReason.PLATFORM_REMOVED,
               evidence=("a", "b"), gone_count=2, first_missing=at(0), last_gone=at(1),
               version_key="k", edited_at=at(-2), note="n", platform_detail="w")
    assert PostState.from_json(st.to_json()) == st
    acct = AccountState(account_id=ACCT, handle="h", status=AS.LIMITED, display_name=None,
                        platform="mastodon", status_detail="silenced", status_since=at(0),
                        last_checked=at(1))
    assert AccountState.from_json(acct.to_json()) == acct
    for bad in ({}, {"post_id": 3}, {"post_id": "x", "status": "gone"},
                {"post_id": "x", "last_seen": "yesterday"}, {"post_id": "x", "gone_count": -1}):
        with pytest.raises(DetectError):
            PostState.from_json(bad)
    with pytest.raises(DetectError):
        AccountState.from_json({"account_id": "x", "platform": "x", "status": "nope"})


def test_initial_post_state() -> None:
    st = initial_post_state(snap("p1", version_key="k"), at(0), ("cap",))
    assert st.status == PS.PRESENT and st.last_seen == at(0) and st.version_key == "k"
    assert st.seen_evidence == ("cap",)
    gone_st = initial_post_state(snap("p2", deleted=True), at(0))
    assert gone_st.status == PS.DELETED and gone_st.last_seen is None


def test_hostile_values_do_not_crash() -> None:
    weird = [PostLookup("p1", "weird"), PostLookup("p2", LookupResult.GONE,  # type: ignore[arg-type]
                                                   reason="nonsense", detail="x" * 5000)]  # type: ignore[arg-type]
    t = Tracker(active(), [known("p1"), known("p2")])
    t.check(0, listing=listing(), lookups=weird)
    t.check(1, listing=listing(), lookups=weird)
    assert t.status("p1") == PS.PRESENT
    assert t.types() == [(ET.POST_DELETED, "p2")]
    assert t.events[0].detail["reason"] == "unknown"
    assert len(t.events[0].detail["platform_detail"]) == 1000
    bogus = AccountCheck(AccountSnapshot(platform="bluesky", account_id=ACCT,
                                         status="bogus", profile={"status_detail": 3}))  # type: ignore[arg-type]
    d = detect(active(), {}, bogus, None, [], at(2), CFG)
    assert d.account == active() and d.events == []
    odd = AccountCheck(AccountSnapshot(platform="bluesky", account_id=ACCT,
                                       status=AS.SUSPENDED, profile={"status_detail": ["x"]},
                                       basis=StatusBasis.EXPLICIT))
    d = detect(active(), {}, odd, None, [], at(2), CFG)
    assert d.events[0].detail["platform_detail"] is None


def test_platform_words_from_source_profile_keys() -> None:
    def with_profile(status: AccountStatus, profile: dict[str, str]) -> AccountCheck:
        return AccountCheck(AccountSnapshot(platform="bluesky", account_id=ACCT,
                                            status=status, profile=profile,
                                            basis=StatusBasis.EXPLICIT))
    d = detect(active(), {}, with_profile(AS.SUSPENDED, {"reason": "RepoTakendown"}), None, [],
               at(0), CFG)
    assert d.events[0].detail["platform_detail"] == "RepoTakendown"
    d = detect(active(), {}, with_profile(AS.SUSPENDED, {"x_problem": "User has been suspended",
                                                         "status_detail": "preferred"}),
               None, [], at(0), CFG)
    assert d.events[0].detail["platform_detail"] == "preferred"
    d = detect(active(), {}, with_profile(AS.ACTIVE, {"reason": "feed metadata"}), None, [],
               at(0), CFG)
    assert d.account is not None and d.account.status_detail is None


def test_account_state_with_pending_round_trips_and_old_states_load() -> None:
    pending = PendingStatus(status=AS.DELETED, count=1, first_missing=at(0), last_counted=at(0),
                            last_seen=at(-1), words="HTTP 404", evidence=("c1",))
    acct = AccountState(account_id=ACCT, handle="h", status=AS.ACTIVE, display_name=None,
                        platform="rss", status_since=at(-9), last_checked=at(0),
                        pending=pending)
    data = acct.to_json()
    assert data["pending"] == {"status": "deleted", "count": 1,
                               "first_missing": "2024-06-01T12:00:00Z",
                               "last_counted": "2024-06-01T12:00:00Z",
                               "last_seen": "2024-06-01T11:00:00Z", "words": "HTTP 404",
                               "evidence": ["c1"]}
    assert AccountState.from_json(json.loads(json.dumps(data))) == acct
    # a state stored before pending disappearances existed
    old = {"account_id": ACCT, "handle": "h", "status": "suspended", "display_name": None,
           "platform": "bluesky", "status_detail": "RepoTakendown",
           "status_since": "2024-06-01T12:00:00Z", "last_checked": "2024-06-01T13:00:00Z"}
    loaded = AccountState.from_json(old)
    assert loaded.pending is None and loaded.status == AS.SUSPENDED
    assert loaded.to_json() == {**old, "pending": None}
    for bad in ("x", {"status": "deleted"}, {**data["pending"], "status": "active"},
                {**data["pending"], "count": 0}, {**data["pending"], "evidence": "c1"}):
        with pytest.raises(DetectError):
            AccountState.from_json({**data, "pending": bad})


def test_hostile_basis_is_not_explicit() -> None:
    odd = AccountCheck(AccountSnapshot(platform="bluesky", account_id=ACCT, status=AS.SUSPENDED,
                                       basis="EXPLICIT!")) # type: ignore[arg-type]
    d = detect(active(), {}, odd, None, [], at(0), CFG)
    assert d.events == [] and d.account is not None and d.account.pending is not None

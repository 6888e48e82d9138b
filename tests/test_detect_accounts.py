"""The account state machine of docs/detection.md, one test per row (A1…)."""

from __future__ import annotations

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
    types,
)
from unerased.model import (
    AccountCheck,
    AccountSnapshot,
    AccountStatus,
    EventType,
    StatusBasis,
)
from unerased.watch.detect import (
    DetectConfig,
    DetectError,
    PendingStatus,
    detect,
)

# --- account machine -----------------------------------------------------------------


def test_A1_first_check_failed_establishes_nothing() -> None:
    d = detect(None, {}, CHECK_ERROR, None, [], at(0), CFG)
    assert d.account is None and d.events == [] and d.posts == {}


@pytest.mark.parametrize("status", [AS.ACTIVE, AS.LIMITED])
def test_A2_A3_first_visible_observation_is_silent(status: AccountStatus) -> None:
    d = detect(None, {}, account_check(status, words="silenced"), None, [], at(0), CFG)
    assert d.events == []
    assert d.account is not None
    assert d.account.status == status and d.account.handle == "alice.bsky.social"
    assert d.account.platform == "bluesky" and d.account.status_since == at(0)
    assert d.account.last_checked == at(0)


@pytest.mark.parametrize("status,event", [
    (AS.DELETED, ET.ACCOUNT_DELETED), (AS.SUSPENDED, ET.ACCOUNT_SUSPENDED),
    (AS.DEACTIVATED, ET.ACCOUNT_DEACTIVATED), (AS.PROTECTED, ET.ACCOUNT_PROTECTED)])
def test_A4_to_A7_first_observation_already_hidden_emits_once(
        status: AccountStatus, event: EventType) -> None:
    t = Tracker()
    t.check(0, account_check(status, words="AccountTakedown"))
    t.check(1, account_check(status, words="AccountTakedown"))
    assert t.types() == [(event, None)]
    e = t.events[0]
    assert e.detail == {"from": None, "to": str(status), "platform_detail": "AccountTakedown",
                        "basis": "explicit", "confirmations": 1,
                        "first_missing": "2024-06-01T12:00:00Z", "last_seen": None}
    assert tuple(e.evidence) == ("cap-acct",)
    # UNKNOWN in a stored state counts as never classified
    d = detect(active(status=AS.UNKNOWN), {}, account_check(status), None, [], at(2), CFG)
    assert types(d) == [event]


def test_A8_unknown_status_snapshot_changes_nothing() -> None:
    old = active()
    d = detect(old, {"p1": known("p1")}, account_check(AS.UNKNOWN), listing(), [gone("p1")],
               at(0), CFG)
    assert d.account == old and d.events == [] and d.posts == {}


def test_A9_check_error_changes_nothing_about_the_account() -> None:
    old = active(status=AS.SUSPENDED)
    d = detect(old, {}, CHECK_ERROR, None, [], at(0), CFG)
    assert d.account is old and d.events == []


def test_A10_active_to_active_no_event_updates_last_checked() -> None:
    d = detect(active(), {}, account_check(), None, [], at(0), CFG)
    assert d.events == []
    assert d.account is not None and d.account.last_checked == at(0)
    assert d.account.status_since == at(-100)


def test_A11_A12_limited_is_recorded_without_event() -> None:
    t = Tracker(active())
    t.check(0, account_check(AS.LIMITED, words="silenced by mastodon.example"))
    assert t.account is not None and t.account.status == AS.LIMITED
    assert t.account.status_detail == "silenced by mastodon.example"
    assert t.account.status_since == at(0)
    t.check(1, account_check(AS.ACTIVE))
    back = t.last.account if t.last else None
    assert back is not None and back.status == AS.ACTIVE and back.status_since == at(1)
    assert t.events == []


@pytest.mark.parametrize("start", [AS.ACTIVE, AS.LIMITED])
@pytest.mark.parametrize("status,event", [
    (AS.DELETED, ET.ACCOUNT_DELETED), (AS.SUSPENDED, ET.ACCOUNT_SUSPENDED),
    (AS.DEACTIVATED, ET.ACCOUNT_DEACTIVATED), (AS.PROTECTED, ET.ACCOUNT_PROTECTED)])
def test_A13_to_A16_visible_to_hidden(start: AccountStatus, status: AccountStatus,
                                      event: EventType) -> None:
    d = detect(active(status=start), {}, account_check(status, words="Account suspended"),
               None, [], at(0), CFG)
    assert types(d) == [event]
    e = d.events[0]
    assert e.to_json() == {
        "type": str(event), "at": "2024-06-01T12:00:00Z", "platform": "bluesky",
        "account": "alice.bsky.social", "account_id": ACCT, "post_id": None,
        "detail": {"from": str(start), "to": str(status), "platform_detail": "Account suspended",
                   "basis": "explicit", "confirmations": 1,
                   "first_missing": "2024-06-01T12:00:00Z",
                   "last_seen": "2024-06-01T11:00:00Z"},  # the last check, which saw it visible
        "evidence": ["cap-acct"]}


@pytest.mark.parametrize("hidden", [AS.DELETED, AS.SUSPENDED, AS.DEACTIVATED, AS.PROTECTED])
@pytest.mark.parametrize("back", [AS.ACTIVE, AS.LIMITED])
def test_A17_A18_hidden_back_to_visible_is_restored(hidden: AccountStatus,
                                                    back: AccountStatus) -> None:
    d = detect(active(status=hidden), {}, account_check(back), None, [], at(0), CFG)
    assert types(d) == [ET.ACCOUNT_RESTORED]
    assert d.events[0].detail == {"from": str(hidden), "to": str(back), "platform_detail": None}


@pytest.mark.parametrize("a,b,event", [
    (AS.DEACTIVATED, AS.DELETED, ET.ACCOUNT_DELETED),
    (AS.SUSPENDED, AS.DEACTIVATED, ET.ACCOUNT_DEACTIVATED),
    (AS.PROTECTED, AS.SUSPENDED, ET.ACCOUNT_SUSPENDED),
    (AS.DELETED, AS.PROTECTED, ET.ACCOUNT_PROTECTED)])
def test_A19_hidden_to_other_hidden(a: AccountStatus, b: AccountStatus, event: EventType) -> None:
    d = detect(active(status=a), {}, account_check(b), None, [], at(0), CFG)
    assert types(d) == [event]


def test_A20_repeated_hidden_status_never_reannounced() -> None:
    t = Tracker(active())
    for h in range(5):
        t.check(h, account_check(AS.SUSPENDED, words=f"words {h}"))
    assert t.types() == [(ET.ACCOUNT_SUSPENDED, None)]
    assert t.account is not None and t.account.status_since == at(0)
    assert t.account.status_detail == "words 4"


def test_A21_rename() -> None:
    t = Tracker(active("alice.bsky.social"))
    t.check(0, account_check(handle="alice.example.com"))
    t.check(1, account_check(handle="alice.example.com"))
    assert t.types() == [(ET.ACCOUNT_RENAMED, None)]
    e = t.events[0]
    assert e.detail == {"from": "alice.bsky.social", "to": "alice.example.com"}
    assert e.account == "alice.example.com"
    assert t.account is not None and t.account.handle == "alice.example.com"


def test_A21_rename_and_suspension_in_one_check() -> None:
    d = detect(active("old"), {}, account_check(AS.SUSPENDED, handle="new"), None, [], at(0), CFG)
    assert types(d) == [ET.ACCOUNT_SUSPENDED, ET.ACCOUNT_RENAMED]
    assert all(e.account == "new" for e in d.events)


def test_A22_case_only_or_missing_handle_is_not_a_rename() -> None:
    d = detect(active("Alice"), {}, account_check(handle="alice"), None, [], at(0), CFG)
    assert d.events == [] and d.account is not None and d.account.handle == "alice"
    d = detect(active("alice"), {}, account_check(AS.SUSPENDED, handle=None), None, [], at(0), CFG)
    assert types(d) == [ET.ACCOUNT_SUSPENDED]
    assert d.account is not None and d.account.handle == "alice"


def test_account_mismatch_raises() -> None:
    other = AccountCheck(AccountSnapshot(platform="bluesky", account_id="did:plc:bob"))
    with pytest.raises(DetectError, match="did:plc:bob"):
        detect(active(), {}, other, None, [], at(0), CFG)


# --- disappearances inferred from an absence: confirmed like a post's deletion ---------

HIDDEN_EVENTS = [(AS.DELETED, ET.ACCOUNT_DELETED), (AS.SUSPENDED, ET.ACCOUNT_SUSPENDED),
                 (AS.DEACTIVATED, ET.ACCOUNT_DEACTIVATED), (AS.PROTECTED, ET.ACCOUNT_PROTECTED)]


@pytest.mark.parametrize("status", [AS.DELETED, AS.SUSPENDED, AS.DEACTIVATED, AS.PROTECTED])
def test_A23_first_absence_is_only_pending(status: AccountStatus) -> None:
    d = detect(active(), {}, absent(status), None, [], at(0), CFG)
    assert d.events == [] and d.account_recheck
    acc = d.account
    assert acc is not None and acc.status == AS.ACTIVE and acc.status_since == at(-100)
    assert acc.pending == PendingStatus(status=status, count=1, first_missing=at(0),
                                        last_counted=at(0), last_seen=at(-1),
                                        words="HTTP 404: Could not find repo",
                                        evidence=("cap-404",))
    assert acc.last_checked == at(0)
    # never classified before: pending too, nothing announced
    d = detect(None, {}, absent(status), None, [], at(0), CFG)
    assert d.events == [] and d.account is not None and d.account_recheck
    assert d.account.status == AS.UNKNOWN and d.account.pending is not None
    assert d.account.pending.last_seen is None


def test_A23_a_source_that_does_not_say_is_confirmed_like_an_absence() -> None:
    d = detect(active(), {}, account_check(AS.DELETED, basis=None), None, [], at(0), CFG)
    assert d.events == [] and d.account is not None and d.account.pending is not None


def test_A24_separate_absence_counts_without_announcing_before_confirmations() -> None:
    t = Tracker(active(), config=DetectConfig(confirmations=3))
    t.check(0, absent(cap="c1"))
    t.check(1, absent(cap="c2"))
    assert t.events == [] and t.account is not None and t.account.pending is not None
    assert t.account.pending.count == 2 and t.account.pending.evidence == ("c1", "c2")
    assert t.account.pending.first_missing == at(0) and t.account.pending.last_counted == at(1)
    t.check(2, absent(cap="c3"))
    assert t.types() == [(ET.ACCOUNT_DELETED, None)]
    assert t.events[0].detail["confirmations"] == 3


@pytest.mark.parametrize("status,event", HIDDEN_EVENTS)
def test_A25_confirming_absence_announces_once(status: AccountStatus, event: EventType) -> None:
    t = Tracker(active())
    t.check(0, absent(status, cap="c1"))
    t.check(0.5, absent(status, cap="c2", words="HTTP 410"))
    assert t.types() == [(event, None)]
    e = t.events[0]
    assert e.detail == {"from": "active", "to": str(status), "platform_detail": "HTTP 410",
                        "basis": "absence", "confirmations": 2,
                        "first_missing": "2024-06-01T12:00:00Z",
                        "last_seen": "2024-06-01T11:00:00Z"}
    assert tuple(e.evidence) == ("c1", "c2")  # the captures of every confirming check
    acc = t.account
    assert acc is not None and acc.status == status and acc.pending is None
    assert acc.status_since == at(0) and acc.status_detail == "HTTP 410"
    assert t.last is not None and not t.last.account_recheck
    t.check(1, absent(status, cap="c3"))
    t.check(2, absent(status, cap="c4"))
    assert len(t.events) == 1  # repeats never re-announce (A20)


def test_A25_the_latest_inferred_status_is_announced() -> None:
    """Two absences that suggest different statuses (an old Mastodon's 410, then a 404)
    both count: the account is not visible; the latest answer names the status."""
    t = Tracker(active())
    t.check(0, absent(AS.SUSPENDED, words="HTTP 410 Gone"))
    t.check(1, absent(AS.DELETED, words="HTTP 404"))
    assert t.types() == [(ET.ACCOUNT_DELETED, None)]
    assert t.events[0].detail["platform_detail"] == "HTTP 404"


def test_A25_one_confirmation_announces_an_absence_at_once() -> None:
    d = detect(active(), {}, absent(), None, [], at(0), DetectConfig(confirmations=1))
    assert types(d) == [ET.ACCOUNT_DELETED]
    assert d.events[0].detail["basis"] == "absence" and d.events[0].detail["confirmations"] == 1


def test_A26_absence_again_too_soon_counts_once() -> None:
    t = Tracker(active())
    t.check(0, absent(cap="c1"))
    pending = t.account.pending if t.account else None
    for minutes in (0, 1, 4.9):
        t.check(minutes / 60, absent(cap="c-soon"))
    assert t.events == [] and t.account is not None and t.account.pending == pending
    t.check(5 / 60, absent(cap="c2"))  # min_confirm_interval (5 minutes) later: separate
    assert t.types() == [(ET.ACCOUNT_DELETED, None)]
    assert tuple(t.events[0].evidence) == ("c1", "c2")


@pytest.mark.parametrize("back", [AS.ACTIVE, AS.LIMITED])
def test_A27_sighting_cancels_a_pending_disappearance_silently(back: AccountStatus) -> None:
    t = Tracker(active())
    t.check(0, absent())
    t.check(1, account_check(back))
    assert t.events == []
    assert t.account is not None and t.account.pending is None and t.account.status == back
    assert t.last is not None and not t.last.account_recheck
    t.check(2, absent(cap="again"))  # a new absence starts a fresh count
    assert t.events == [] and t.account.pending is not None and t.account.pending.count == 1
    assert t.account.pending.first_missing == at(2)


@pytest.mark.parametrize("status,event", HIDDEN_EVENTS)
def test_A28_explicit_status_while_pending_counts_at_once(status: AccountStatus,
                                                          event: EventType) -> None:
    t = Tracker(active())
    t.check(0, absent(AS.DELETED, cap="c404"))
    t.check(0.01, account_check(status, words="RepoTakendown", cap="c-explicit"))
    assert t.types() == [(event, None)]
    e = t.events[0]
    assert e.detail == {"from": "active", "to": str(status), "platform_detail": "RepoTakendown",
                        "basis": "explicit", "confirmations": 1,
                        "first_missing": "2024-06-01T12:00:00Z",  # not visible since the 404
                        "last_seen": "2024-06-01T11:00:00Z"}
    assert tuple(e.evidence) == ("c404", "c-explicit")
    assert t.account is not None and t.account.pending is None and t.account.status == status


def test_A29_failed_or_unknown_check_keeps_the_pending_disappearance() -> None:
    t = Tracker(active())
    t.check(0, absent(cap="c1"))
    before = t.account
    d = t.check(1, CHECK_ERROR)
    assert d.account is before and d.events == [] and d.account_recheck
    d = t.check(2, account_check(AS.UNKNOWN))
    assert d.account == before and d.events == [] and d.account_recheck
    t.check(3, absent(cap="c2"))  # 404, ERROR, 404 on separate checks: confirmed
    assert t.types() == [(ET.ACCOUNT_DELETED, None)]
    assert tuple(t.events[0].evidence) == ("c1", "c2")


def test_A30_hidden_account_then_inferred_other_status_needs_confirmation() -> None:
    t = Tracker(active(status=AS.DEACTIVATED), [known("p1", status=PS.UNAVAILABLE)])
    t.check(0, absent(AS.DELETED, cap="c1"), listing(), [gone("p1")])
    assert t.events == [] and t.account is not None and t.account.status == AS.DEACTIVATED
    assert t.account.pending is not None and t.status("p1") == PS.UNAVAILABLE
    t.check(1, absent(AS.DELETED, cap="c2"))
    assert t.types() == [(ET.ACCOUNT_DELETED, None)]
    assert t.events[0].detail["from"] == "deactivated"
    assert t.events[0].detail["last_seen"] == "2024-06-01T11:00:00Z"


@pytest.mark.parametrize("basis", [StatusBasis.EXPLICIT, StatusBasis.ABSENCE])
def test_A31_the_current_hidden_status_again_drops_a_pending_other(basis: StatusBasis) -> None:
    t = Tracker(active(status=AS.SUSPENDED))
    t.check(0, absent(AS.DELETED))
    t.check(1, account_check(AS.SUSPENDED, basis=basis))
    assert t.events == [] and t.account is not None
    assert t.account.status == AS.SUSPENDED and t.account.pending is None
    assert t.account.status_since == at(-100)

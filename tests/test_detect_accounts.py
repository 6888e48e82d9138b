"""The account state machine of docs/detection.md, one test per row (A1…)."""

from __future__ import annotations

import pytest

from detect_cases import (
    ACCT,
    AS,
    CFG,
    CHECK_ERROR,
    ET,
    Tracker,
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
)
from unerased.watch.detect import (
    DetectError,
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
    assert e.detail == {"from": None, "to": str(status), "platform_detail": "AccountTakedown"}
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
        "detail": {"from": str(start), "to": str(status), "platform_detail": "Account suspended"},
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

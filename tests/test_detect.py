"""The detector's state machines, one test per row of docs/detection.md (A1…, P1…), and
the named false alarms that trackers in this field are known for."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from unerased.model import (
    AccountCheck,
    AccountSnapshot,
    AccountStatus,
    DeletionReason,
    Event,
    EventType,
    Listing,
    LookupResult,
    PostLookup,
    PostSnapshot,
    PostStatus,
)
from unerased.watch.detect import (
    AccountState,
    DetectConfig,
    DetectError,
    Detection,
    PostState,
    detect,
    initial_post_state,
    next_account_state,
    plan_lookups,
)

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
ACCT = "did:plc:alice"
AS = AccountStatus
PS = PostStatus
ET = EventType


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def snap(pid: str, text: str = "hello", *, created: float = -10.0,
         version_key: str | None = None, edited_at: datetime | None = None,
         deleted: bool = False) -> PostSnapshot:
    return PostSnapshot(platform="bluesky", account_id=ACCT, post_id=pid, text=text,
                        created_at=at(created), version_key=version_key,
                        edited_at=edited_at, deleted=deleted)


def account_check(status: AccountStatus = AS.ACTIVE, handle: str | None = "alice.bsky.social",
                  words: str | None = None, cap: str = "cap-acct") -> AccountCheck:
    profile = {"status_detail": words} if words else {}
    return AccountCheck(AccountSnapshot(platform="bluesky", account_id=ACCT, handle=handle,
                                        display_name="Alice", status=status, profile=profile),
                        capture_ids=(cap,))


CHECK_ERROR = AccountCheck(None, error="ReadTimeout", capture_ids=("cap-acct-timeout",))


def listing(*snaps: PostSnapshot, complete: bool = True, window_start: datetime | None = None,
            cap: str = "cap-list") -> Listing:
    return Listing(posts=snaps, complete=complete, window_start=window_start,
                   error=None if complete else "HTTP 502 on page 2", capture_ids=(cap,))


def present(pid: str, text: str = "hello", **kw: object) -> PostLookup:
    return PostLookup(pid, LookupResult.PRESENT, snapshot=snap(pid, text, **kw),  # type: ignore[arg-type]
                      capture_ids=(f"cap-present-{pid}",))


def gone(pid: str, reason: DeletionReason = DeletionReason.UNKNOWN,
         words: str | None = "RecordNotFound", cap: str | None = None) -> PostLookup:
    return PostLookup(pid, LookupResult.GONE, reason=reason, detail=words,
                      capture_ids=(cap or f"cap-gone-{pid}",))


def err(pid: str, words: str = "ReadTimeout") -> PostLookup:
    return PostLookup(pid, LookupResult.ERROR, detail=words, capture_ids=(f"cap-err-{pid}",))


def forbidden(pid: str) -> PostLookup:
    return PostLookup(pid, LookupResult.FORBIDDEN, detail="authorized fetch",
                      capture_ids=(f"cap-403-{pid}",))


def account_gone(pid: str) -> PostLookup:
    return PostLookup(pid, LookupResult.ACCOUNT_GONE, detail="RepoNotFound",
                      capture_ids=(f"cap-repo-{pid}",))


def active(handle: str = "alice.bsky.social", status: AccountStatus = AS.ACTIVE) -> AccountState:
    return AccountState(account_id=ACCT, handle=handle, status=status, display_name="Alice",
                        platform="bluesky", status_since=at(-100), last_checked=at(-1))


def known(pid: str, text: str = "hello", status: PostStatus = PS.PRESENT,
          **kw: object) -> PostState:
    s = snap(pid, text)
    fields: dict[str, object] = {
        "post_id": pid, "status": status, "last_seen": at(-1), "content_hash": s.content_hash(),
        "created_at": s.created_at, "seen_evidence": (f"cap-seen-{pid}",)}
    fields.update(kw)
    return PostState(**fields)  # type: ignore[arg-type]


CFG = DetectConfig()


class Tracker:
    """Threads the detector's output back into its input, as the runner and store do."""

    def __init__(self, account: AccountState | None = None,
                 posts: Iterable[PostState] = (), config: DetectConfig = CFG) -> None:
        self.account = account
        self.posts = {p.post_id: p for p in posts}
        self.config = config
        self.events: list[Event] = []
        self.last: Detection | None = None

    def check(self, hours: float, check: AccountCheck | None = None,
              listing: Listing | None = None, lookups: Sequence[PostLookup] = ()) -> Detection:
        d = detect(self.account, self.posts, check or account_check(), listing, lookups,
                   at(hours), self.config)
        self.account = d.account
        self.posts.update(d.posts)
        self.events.extend(d.events)
        self.last = d
        return d

    def types(self) -> list[tuple[EventType, str | None]]:
        return [(e.type, e.post_id) for e in self.events]

    def status(self, pid: str) -> PostStatus:
        return self.posts[pid].status


def types(d: Detection) -> list[EventType]:
    return [e.type for e in d.events]


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
    for check in (account_check(AS.SUSPENDED), CHECK_ERROR, account_check(handle="x")):
        d = detect(active(), {}, check, None, [], at(0), CFG)
        assert next_account_state(active(), check, at(0)) == d.account


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
                                       status=AS.SUSPENDED, profile={"status_detail": ["x"]}))
    d = detect(active(), {}, odd, None, [], at(2), CFG)
    assert d.events[0].detail["platform_detail"] is None


def test_platform_words_from_source_profile_keys() -> None:
    def with_profile(status: AccountStatus, profile: dict[str, str]) -> AccountCheck:
        return AccountCheck(AccountSnapshot(platform="bluesky", account_id=ACCT,
                                            status=status, profile=profile))
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

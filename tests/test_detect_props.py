"""Property tests of the detector: a simulated platform whose answers are flaky but never
lie (timeouts, 5xx, forbidden, omissions, incomplete listings, failed account checks)
must never produce a false post_deleted; a truly deleted post is declared deleted exactly
once once honest answers come; identical observations never duplicate events; no single
absence of an account (a 404/410) ever yields an account event."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from detect_cases import ACCOUNT_EVENTS
from unerased.model import (
    AccountCheck,
    AccountSnapshot,
    AccountStatus,
    Event,
    EventType,
    Listing,
    LookupResult,
    PostLookup,
    PostSnapshot,
    PostStatus,
    StatusBasis,
)
from unerased.watch.detect import (
    AccountState,
    DetectConfig,
    PostState,
    detect,
    next_account_state,
    plan_lookups,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)
ACCT = "42"
VISIBLE = (AccountStatus.ACTIVE, AccountStatus.LIMITED)
HIDDEN = (AccountStatus.SUSPENDED, AccountStatus.DEACTIVATED, AccountStatus.PROTECTED)
ALL_HIDDEN = (*HIDDEN, AccountStatus.DELETED)
STEPS = [timedelta(0), timedelta(minutes=1), timedelta(minutes=10), timedelta(hours=2)]
FLAKY = [LookupResult.ERROR, LookupResult.FORBIDDEN, LookupResult.ACCOUNT_GONE]


@dataclass
class Truth:
    """The simulated platform: what really exists."""

    status: AccountStatus = AccountStatus.ACTIVE
    basis: StatusBasis = StatusBasis.EXPLICIT  # how the platform answers a hidden status
    texts: dict[str, str] = field(default_factory=dict)  # existing posts
    created: dict[str, datetime] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)

    def snap(self, pid: str) -> PostSnapshot:
        return PostSnapshot(platform="x", account_id=ACCT, post_id=pid, text=self.texts[pid],
                            created_at=self.created[pid])

    def account_check(self) -> AccountCheck:
        return AccountCheck(AccountSnapshot(platform="x", account_id=ACCT, handle="someone",
                                            status=self.status, basis=self.basis),
                            capture_ids=("acct",))


@dataclass
class Watcher:
    """The detector's state, threaded through checks as the runner would."""

    config: DetectConfig = field(default_factory=DetectConfig)
    account: AccountState | None = None
    posts: dict[str, PostState] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)

    def check(self, check: AccountCheck, listing: Listing | None,
              lookups: list[PostLookup], now: datetime) -> list[Event]:
        d = detect(self.account, self.posts, check, listing, lookups, now, self.config)
        self.account = d.account
        self.posts.update(d.posts)
        self.events.extend(d.events)
        return d.events


def observe(data: st.DataObject, truth: Truth, w: Watcher, now: datetime,
            honest: bool = False) -> list[Event]:
    """One check of the simulated platform. Flaky unless ``honest``; never a lie."""
    check = truth.account_check()
    if not honest and data.draw(st.booleans(), label="account check fails"):
        check = AccountCheck(None, error="ReadTimeout")
    visible = truth.status in VISIBLE
    existing = sorted(truth.texts) if visible else []
    kind = "complete" if honest else data.draw(
        st.sampled_from(["complete", "omitting", "incomplete", "windowed", "none"]), label="listing")
    listing: Listing | None
    if kind == "none":
        listing = None
    elif kind == "complete":
        listing = Listing([truth.snap(p) for p in existing], capture_ids=("list",))
    elif kind == "windowed" and existing:
        start = data.draw(st.sampled_from([truth.created[p] for p in existing]))
        listing = Listing([truth.snap(p) for p in existing if truth.created[p] >= start],
                          window_start=start, capture_ids=("list",))
    else:
        shown = data.draw(st.lists(st.sampled_from(existing), unique=True)) if existing else []
        listing = Listing([truth.snap(p) for p in shown], complete=(kind == "omitting"),
                          capture_ids=("list",))
    planned = plan_lookups(w.posts, listing,
                           next_account_state(w.account, check, now, w.config), now, w.config)
    if not honest and w.posts:
        planned += data.draw(st.lists(st.sampled_from(sorted(w.posts)), max_size=3))
    lookups = []
    for pid in planned:
        if visible and pid in truth.texts:
            honest_answer = LookupResult.PRESENT
        elif visible:
            honest_answer = LookupResult.GONE
        else:  # platforms often answer "no such post" for a hidden account's posts
            honest_answer = data.draw(st.sampled_from([LookupResult.GONE,
                                                       LookupResult.ACCOUNT_GONE]))
        result = honest_answer if honest else data.draw(
            st.sampled_from([honest_answer, *FLAKY]), label=f"lookup {pid}")
        snapshot = truth.snap(pid) if result == LookupResult.PRESENT else None
        lookups.append(PostLookup(pid, result, snapshot=snapshot, capture_ids=(f"l-{pid}",)))
    return w.check(check, listing, lookups, now)


class FlakyPlatform(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.truth = Truth()
        self.w = Watcher()
        self.now = T0
        self.n = 0
        self.history: dict[str, list[EventType]] = {}
        self.ever_deleted: set[str] = set()

    def _tick(self, data: st.DataObject) -> None:
        self.now += data.draw(st.sampled_from(STEPS), label="time passes")

    @rule()
    def create(self) -> None:
        pid = f"p{self.n}"
        self.n += 1
        self.truth.texts[pid] = "first"
        self.truth.created[pid] = self.now

    @rule(data=st.data())
    def edit(self, data: st.DataObject) -> None:
        if self.truth.texts:
            pid = data.draw(st.sampled_from(sorted(self.truth.texts)))
            self.truth.texts[pid] = data.draw(st.sampled_from(["first", "second", "third"]))

    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        if self.truth.texts:
            pid = data.draw(st.sampled_from(sorted(self.truth.texts)))
            del self.truth.texts[pid]
            self.truth.deleted.add(pid)
            self.ever_deleted.add(pid)

    @rule(data=st.data())
    def undelete(self, data: st.DataObject) -> None:
        """A post comes back (an appeal won, a takedown lifted, a reactivation)."""
        if self.truth.deleted:
            pid = data.draw(st.sampled_from(sorted(self.truth.deleted)))
            self.truth.deleted.discard(pid)
            self.truth.texts[pid] = "back"

    @rule(status=st.sampled_from([*VISIBLE, *ALL_HIDDEN]),
          basis=st.sampled_from([StatusBasis.EXPLICIT, StatusBasis.ABSENCE]))
    def account_changes(self, status: AccountStatus, basis: StatusBasis) -> None:
        """A hidden status the platform states, or one we only infer from an absence (a
        deleted account is always only an absence: a 404, "Could not find user")."""
        self.truth.status = status
        self.truth.basis = StatusBasis.ABSENCE if status == AccountStatus.DELETED else basis

    @rule(data=st.data())
    def flaky_check(self, data: st.DataObject) -> None:
        self._tick(data)
        self._record(observe(data, self.truth, self.w, self.now))

    @rule(data=st.data())
    def honest_checks(self, data: st.DataObject) -> None:
        """Honest answers, spaced apart: every known, truly deleted post of a visible
        account is declared deleted, by the end, exactly once."""
        for _ in range(self.w.config.confirmations + 1):
            self.now += timedelta(hours=1)
            self._record(observe(data, self.truth, self.w, self.now, honest=True))
        if self.truth.status in VISIBLE:
            for pid, state in self.w.posts.items():
                expected = PostStatus.DELETED if pid in self.truth.deleted else PostStatus.PRESENT
                assert state.status == expected, (pid, state)
        assert self.w.account is not None and self.w.account.status == self.truth.status
        assert self.w.account.pending is None

    def _record(self, events: list[Event]) -> None:
        for e in events:
            if e.type in ACCOUNT_EVENTS:  # never a false alarm about the account either
                assert e.detail["to"] == str(self.truth.status), (e, self.truth.status)
            if e.type in ACCOUNT_EVENTS - {EventType.ACCOUNT_RESTORED}:
                assert e.detail["basis"] == str(self.truth.basis)
                if self.truth.basis == StatusBasis.ABSENCE:
                    assert e.detail["confirmations"] >= self.w.config.confirmations
            if e.type == EventType.POST_DELETED:
                assert e.post_id in self.truth.deleted, f"false alarm on {e.post_id}"
                assert self.truth.status in VISIBLE
            if e.type == EventType.POST_RESTORED:
                assert e.post_id in self.truth.texts, f"restored {e.post_id} that is gone"
            if e.type in (EventType.POST_DELETED, EventType.POST_RESTORED):
                assert e.post_id is not None
                self.history.setdefault(e.post_id, []).append(e.type)

    @invariant()
    def deletions_and_restorations_alternate(self) -> None:
        """Each deletion is declared once; a declared deletion that comes back is
        restored before it can be declared again."""
        for pid, kinds in self.history.items():
            expected = [EventType.POST_DELETED, EventType.POST_RESTORED] * len(kinds)
            assert kinds == expected[:len(kinds)], (pid, kinds)

    @invariant()
    def existing_posts_never_judged_deleted(self) -> None:
        for pid, state in self.w.posts.items():
            if pid not in self.ever_deleted:
                assert state.status != PostStatus.DELETED, pid


TestFlakyPlatform = FlakyPlatform.TestCase
TestFlakyPlatform.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), n_posts=st.integers(1, 8), n_checks=st.integers(1, 25))
def test_existing_posts_under_flaky_answers_are_never_deleted(
        data: st.DataObject, n_posts: int, n_checks: int) -> None:
    truth = Truth(texts={f"p{i}": "t" for i in range(n_posts)},
                  created={f"p{i}": T0 - timedelta(days=i) for i in range(n_posts)})
    w = Watcher()
    if data.draw(st.booleans(), label="already watched"):
        w.account = AccountState(account_id=ACCT, handle="someone", status=AccountStatus.ACTIVE,
                                 display_name=None, platform="x")
        w.posts = {p: PostState(post_id=p, content_hash=truth.snap(p).content_hash(),
                                created_at=truth.created[p], last_seen=T0) for p in truth.texts}
    now = T0
    for _ in range(n_checks):
        truth.status = data.draw(st.sampled_from([*VISIBLE, *HIDDEN]), label="account")
        now += data.draw(st.sampled_from(STEPS))
        events = observe(data, truth, w, now)
        assert not [e for e in events if e.type == EventType.POST_DELETED]
    assert all(p.status != PostStatus.DELETED for p in w.posts.values())


@settings(max_examples=200, deadline=None)
@given(data=st.data(), n_checks=st.integers(1, 30))
def test_isolated_spurious_gone_never_deletes(data: st.DataObject, n_checks: int) -> None:
    """A GONE that lies (replication lag) is never repeated without a sighting in between,
    so with two confirmations it never becomes a deletion."""
    w = Watcher(account=AccountState(account_id=ACCT, handle="h", status=AccountStatus.ACTIVE,
                                     display_name=None, platform="x"))
    check = Truth().account_check()
    snap = PostSnapshot(platform="x", account_id=ACCT, post_id="p", text="t")
    now = T0
    last_gone = False
    for _ in range(n_checks):
        now += data.draw(st.sampled_from(STEPS))
        choices = [LookupResult.PRESENT, *FLAKY] + ([] if last_gone else [LookupResult.GONE])
        result = data.draw(st.sampled_from(choices))
        if result == LookupResult.GONE:
            last_gone = True
        elif result == LookupResult.PRESENT:
            last_gone = False
        look = PostLookup("p", result, snapshot=snap if result == LookupResult.PRESENT else None)
        listing = Listing([], complete=data.draw(st.booleans()))
        w.check(check, listing, [look], now)
    assert not [e for e in w.events if e.type == EventType.POST_DELETED]


@settings(max_examples=200, deadline=None)
@given(data=st.data(), n_posts=st.integers(1, 6), n_checks=st.integers(1, 12))
def test_identical_observations_never_duplicate_events(
        data: st.DataObject, n_posts: int, n_checks: int) -> None:
    pids = [f"p{i}" for i in range(n_posts)]
    status = data.draw(st.sampled_from([*VISIBLE, *HIDDEN, AccountStatus.DELETED]))
    handle = data.draw(st.sampled_from(["someone", "renamed"]))
    check = AccountCheck(AccountSnapshot(platform="x", account_id=ACCT, handle=handle,
                                         status=status))
    if data.draw(st.booleans()):
        check = AccountCheck(None, error="timeout")
    states = {p: PostState(post_id=p, status=data.draw(st.sampled_from(list(PostStatus))),
                           content_hash=PostSnapshot("x", ACCT, p, "old").content_hash(),
                           last_seen=T0 - timedelta(days=1)) for p in pids}
    shown = data.draw(st.lists(st.sampled_from(pids), unique=True))
    text = data.draw(st.sampled_from(["old", "new"]))
    listing = data.draw(st.sampled_from([
        None, Listing([PostSnapshot("x", ACCT, p, text) for p in shown],
                      complete=data.draw(st.booleans()))]))
    lookups = [PostLookup(p, r, snapshot=PostSnapshot("x", ACCT, p, text)
                          if r == LookupResult.PRESENT else None)
               for p, r in data.draw(st.lists(st.tuples(st.sampled_from(pids),
                                                        st.sampled_from(list(LookupResult)))))]
    w = Watcher(account=AccountState(account_id=ACCT, handle="someone",
                                     status=AccountStatus.ACTIVE, display_name=None,
                                     platform="x"),
                posts=dict(states))
    now = T0
    for _ in range(n_checks):
        w.check(check, listing, lookups, now)
        # replaying the very same check changes nothing at all
        replay = detect(w.account, w.posts, check, listing, lookups, now, w.config)
        assert replay.events == [] and replay.posts == {} and replay.new_versions == []
        assert replay.account == w.account
        now += data.draw(st.sampled_from(STEPS))
    seen = Counter((e.type, e.post_id) for e in w.events)
    assert all(n == 1 for n in seen.values()), seen


@settings(max_examples=300, deadline=None)
@given(data=st.data(), n_posts=st.integers(0, 5))
def test_no_single_absence_yields_an_account_event(data: st.DataObject, n_posts: int) -> None:
    """Whatever we knew before (no pending disappearance), one check that infers a hidden
    status from an absence yields no account event, no post_deleted, and makes no post of
    a visible account unavailable, whatever the posts' lookups say."""
    prior = data.draw(st.sampled_from([None, *AccountStatus]), label="known status")
    config = DetectConfig(confirmations=data.draw(st.integers(2, 4)),
                          min_confirm_interval=data.draw(st.sampled_from(STEPS)))
    account = None if prior is None else AccountState(
        account_id=ACCT, handle="someone", status=prior, display_name=None, platform="x",
        last_checked=T0 - timedelta(hours=1))
    status = data.draw(st.sampled_from(ALL_HIDDEN), label="inferred status")
    basis = data.draw(st.sampled_from([StatusBasis.ABSENCE, None, "bogus"]))
    check = AccountCheck(AccountSnapshot(platform="x", account_id=ACCT, handle="someone",
                                         status=status, basis=basis),  # type: ignore[arg-type]
                         capture_ids=("404",))
    pids = [f"p{i}" for i in range(n_posts)]
    posts = {p: PostState(post_id=p, status=data.draw(st.sampled_from(list(PostStatus))),
                          content_hash=PostSnapshot("x", ACCT, p, "t").content_hash(),
                          last_seen=T0 - timedelta(days=1), gone_count=1,
                          last_gone=T0 - timedelta(days=1)) for p in pids}
    lookups = [PostLookup(p, r) for p, r in data.draw(st.lists(st.tuples(
        st.sampled_from(pids), st.sampled_from([LookupResult.GONE, LookupResult.ACCOUNT_GONE,
                                                LookupResult.ERROR]))))] if pids else []
    listing = data.draw(st.sampled_from([None, Listing([]), Listing([], complete=False)]))
    now = T0 + data.draw(st.sampled_from(STEPS))
    d = detect(account, posts, check, listing, lookups, now, config)
    assert not [e for e in d.events if e.type in ACCOUNT_EVENTS], d.events
    assert not [e for e in d.events if e.type == EventType.POST_DELETED]
    if prior is None or prior not in ALL_HIDDEN:
        assert d.account_recheck and d.account is not None and d.account.pending is not None
        assert all(st.status == posts[p].status for p, st in d.posts.items())


@settings(max_examples=200, deadline=None)
@given(data=st.data(), n_checks=st.integers(1, 30))
def test_isolated_absences_never_announce(data: st.DataObject, n_checks: int) -> None:
    """A 404 of a visible account that is never repeated without a sighting in between
    (failed checks and unknown answers do not count as sightings) is never announced,
    however the checks are spaced: no account event, no post event, nothing unavailable."""
    w = Watcher(account=AccountState(account_id=ACCT, handle="h", status=AccountStatus.ACTIVE,
                                     display_name=None, platform="x"),
                posts={"p": PostState(post_id="p", content_hash=PostSnapshot(
                    "x", ACCT, "p", "t").content_hash(), last_seen=T0)})
    seen = PostSnapshot(platform="x", account_id=ACCT, post_id="p", text="t")
    now = T0
    suspicious = False  # an absence since the last sighting
    for _ in range(n_checks):
        now += data.draw(st.sampled_from(STEPS))
        kinds = ["sighting", "failed", "unknown"] + ([] if suspicious else ["absence"])
        kind = data.draw(st.sampled_from(kinds))
        status = {"sighting": data.draw(st.sampled_from(VISIBLE)), "failed": None,
                  "unknown": AccountStatus.UNKNOWN,
                  "absence": data.draw(st.sampled_from(ALL_HIDDEN))}[kind]
        check = (AccountCheck(None, error="timeout") if status is None else AccountCheck(
            AccountSnapshot(platform="x", account_id=ACCT, handle="h", status=status,
                            basis=StatusBasis.ABSENCE)))
        suspicious = (suspicious or kind == "absence") and kind != "sighting"
        listing = Listing([seen]) if kind == "sighting" else data.draw(
            st.sampled_from([None, Listing([]), Listing([], complete=False)]))
        lookups = [PostLookup("p", data.draw(st.sampled_from(
            [LookupResult.GONE, LookupResult.ACCOUNT_GONE, LookupResult.ERROR])))]
        w.check(check, listing, lookups if kind != "sighting" else [], now)
        assert w.posts["p"].status in (PostStatus.PRESENT, PostStatus.MISSING)
    assert not [e for e in w.events if e.type in ACCOUNT_EVENTS | {EventType.POST_DELETED}]

"""The schedule of docs/schedule.md, one test per row (S1…), and its properties."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unerased.watch.schedule import (
    AccountLoad,
    AccountSchedule,
    KnownPost,
    ScheduleConfig,
    allocate,
    defer,
    due_posts,
    expected_spend,
    fresh_share,
    is_high_risk,
    jitter_fraction,
    observe_posts,
    plan_account,
    post_interval,
    rate_interval,
    resume,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NOJ = ScheduleConfig(jitter=0.0)
M = timedelta(minutes=1)
H = timedelta(hours=1)
D = timedelta(days=1)
ROOT = Path(__file__).resolve().parents[1]


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def test_S1_interval_follows_the_posting_rate_by_the_square_root_rule() -> None:
    assert rate_interval(NOJ.reference_rate, NOJ) == NOJ.base_interval
    four = rate_interval(NOJ.reference_rate * 4, NOJ)
    assert four == NOJ.base_interval / 2  # 4× the posts: checked 2× as often
    assert rate_interval(NOJ.reference_rate / 4, NOJ) == NOJ.base_interval * 2
    st0 = AccountSchedule()
    assert plan_account(st0, "a", T0, NOJ).interval_s == NOJ.base_interval.total_seconds()


def test_S2_first_observation_estimates_the_rate_from_the_spacing_listed() -> None:
    times = [at(-h) for h in (2, 4, 6, 8)]  # 4 posts in the last 8 h: 12 a day
    s = observe_posts(AccountSchedule(), times, T0, NOJ)
    assert s.rate(T0, NOJ) == pytest.approx(12.0)
    assert s.newest == at(-2)
    silent = observe_posts(AccountSchedule(), [at(-240 - h) for h in (2, 4, 6, 8)], T0, NOJ)
    assert silent.rate(T0, NOJ) == pytest.approx(4 / (248 / 24))  # a silence since counts
    one = observe_posts(AccountSchedule(), [at(-1)], T0, NOJ)
    assert one.rate(T0, NOJ) == pytest.approx(NOJ.prior_rate)
    assert AccountSchedule().rate(T0, NOJ) == NOJ.prior_rate


def test_S3_later_observations_count_only_new_posts_and_decay_by_the_half_life() -> None:
    s = observe_posts(AccountSchedule(), [at(-3), at(-1)], T0, NOJ)  # 12 a day
    r0 = s.rate(T0, NOJ)
    again = observe_posts(s, [at(-3), at(-1)], T0 + H, NOJ)  # the same listing again
    assert again.rate(T0 + H, NOJ) == pytest.approx(s.rate(T0 + H, NOJ))
    assert s.rate(T0 + NOJ.rate_half_life, NOJ) == pytest.approx(r0 / 2)
    more = observe_posts(s, [at(-1), at(0.5), at(0.9)], at(1), NOJ)
    assert more.newest == at(0.9)
    assert more.rate(at(1), NOJ) > s.rate(at(1), NOJ)


def test_S4_risk_high_tag_multiplies_the_interval() -> None:
    assert is_high_risk({"risk": "high"}) and is_high_risk({"risk": " HIGH "})
    assert not is_high_risk({"risk": "normal"}) and not is_high_risk({}) \
        and not is_high_risk(None)
    normal = plan_account(AccountSchedule(), "a", T0, NOJ)
    high = plan_account(AccountSchedule(), "a", T0, NOJ, high_risk=True)
    assert high.interval_s == pytest.approx(normal.interval_s * NOJ.high_risk_factor)  # type: ignore[operator]


def test_S5_a_fresh_post_keeps_its_account_dense_for_its_first_hours() -> None:
    s = observe_posts(AccountSchedule(), [at(-0.5)], T0, NOJ)
    assert plan_account(s, "a", T0, NOJ).interval_s == NOJ.fresh_interval.total_seconds()
    later = T0 + NOJ.fresh_age
    assert plan_account(s, "a", later, NOJ).interval_s == pytest.approx(
        rate_interval(s.rate(later, NOJ), NOJ).total_seconds())


def test_S6_a_pending_disappearance_is_rechecked_at_the_recheck_interval() -> None:
    s = plan_account(AccountSchedule(), "a", T0, NOJ, pending=True)
    assert s.interval_s == NOJ.recheck_interval.total_seconds()
    assert s.next_due == T0 + NOJ.recheck_interval


def test_S7_intervals_stay_within_the_bounds() -> None:
    cfg = ScheduleConfig(min_interval=2 * M, max_interval=H, jitter=0.3)
    busy = observe_posts(AccountSchedule(), [at(-h / 100) for h in range(100)], T0, cfg)
    quiet = observe_posts(AccountSchedule(), [at(-400), at(-200)], T0, cfg)
    for st0 in (busy, quiet):
        for k in range(50):
            s = plan_account(st0, f"acct{k}", T0, cfg, high_risk=k % 2 == 0)
            assert 120 <= (s.interval_s or 0) <= 3600
    assert plan_account(busy, "a", T0, cfg).interval_s == pytest.approx(120, rel=0.31)
    with pytest.raises(ValueError):
        ScheduleConfig(min_interval=H, max_interval=M)


def test_S8_jitter_is_deterministic_per_account_seed_and_time() -> None:
    cfg = ScheduleConfig(jitter=0.2)
    a = plan_account(AccountSchedule(), "alice", T0, cfg)
    assert a == plan_account(AccountSchedule(), "alice", T0, cfg)
    fr = [jitter_fraction(f"acct{k}", T0, cfg) for k in range(200)]
    assert all(-0.2 <= f <= 0.2 for f in fr) and len(set(fr)) == 200
    assert min(fr) < -0.1 and max(fr) > 0.1  # spread over the whole range
    assert jitter_fraction("alice", T0, ScheduleConfig(jitter=0.2, seed=1)) != fr[0]
    assert jitter_fraction("alice", T0 + M, cfg) != jitter_fraction("alice", T0, cfg)


def test_S9_posts_are_looked_up_on_a_ladder_by_their_age() -> None:
    assert post_interval(10 * M, NOJ) == 5 * M
    assert post_interval(2 * H, NOJ) == H
    assert post_interval(D, NOJ) == 3 * H
    assert post_interval(10 * D, NOJ) == D
    assert post_interval(90 * D, NOJ) == 30 * D
    cfg = ScheduleConfig(post_ladder=((H, 2 * M),), post_ladder_tail=D)
    assert post_interval(30 * M, cfg) == 2 * M and post_interval(2 * H, cfg) == D
    with pytest.raises(ValueError):
        ScheduleConfig(post_ladder=((D, M), (H, M)))


def test_S10_due_posts_are_those_whose_rung_has_passed_most_overdue_first() -> None:
    posts = [
        KnownPost("young-due", at(-0.5), last_checked=at(-0.1)),      # 6 min of 5: 1.2×
        KnownPost("young-not-due", at(-0.5), last_checked=at(-0.02)),  # 1.2 min of 5
        KnownPost("old-due", at(-24 * 10), last_checked=at(-48)),      # 2 d of 1 d: 2×
        KnownPost("never", at(-24 * 40)),
        KnownPost("ancient-not-due", at(-24 * 100), last_checked=at(-24 * 20)),
    ]
    assert due_posts(posts, T0, NOJ, limit=10) == ["never", "old-due", "young-due"]


def test_S11_due_posts_are_bounded_by_the_limit() -> None:
    posts = [KnownPost(f"p{k}", at(-24 * 5), last_checked=at(-24 - k)) for k in range(50)]
    got = due_posts(posts, T0, NOJ, limit=7)
    assert got == [f"p{k}" for k in range(49, 42, -1)]
    assert due_posts(posts, T0, NOJ, limit=0) == []


def test_S12_a_rate_limit_pushes_the_hosts_due_times_past_the_reset_without_burst() -> None:
    due = {f"a{k}": at(-k / 60) for k in range(10)} | {"later": at(2)}
    out = defer(due, at(1), per_second=1 / 30)
    moved = sorted((t, k) for k, t in out.items() if k != "later")
    assert moved[0] == (at(1), "a9")  # the most overdue first, at the reset
    gaps = {(b[0] - a[0]).total_seconds() for a, b in zip(moved, moved[1:], strict=False)}
    assert gaps == {30.0}
    assert out["later"] == at(2)
    with pytest.raises(ValueError):
        defer(due, at(1), per_second=0)


def test_S13_resume_spreads_the_overdue_over_one_interval() -> None:
    due: dict[str, datetime | None] = {f"a{k}": at(-5 - k) for k in range(60)}
    due |= {"future": at(0.2), "never": None}
    out = resume(due, T0, timedelta(minutes=15))
    assert out["future"] == at(0.2)
    starts = sorted(t for k, t in out.items() if k != "future")
    assert starts[0] == T0 and starts[-1] < T0 + timedelta(minutes=15)
    assert out["never"] == T0  # never scheduled: first
    assert out["a59"] < out["a0"]  # most overdue next
    per_minute = max(sum(1 for t in starts if s <= t < s + M) for s in starts)
    assert per_minute <= 5  # 61 over 15 minutes, not 61 at once


def test_S14_resume_within_a_budget_stretches_the_spread() -> None:
    due: dict[str, datetime | None] = {f"a{k}": at(-1) for k in range(100)}
    out = resume(due, T0, timedelta(minutes=15), per_window=20, window=timedelta(minutes=15))
    ts = sorted(out.values())
    assert ts[-1] >= T0 + timedelta(minutes=15) * 4.9
    assert sum(1 for t in ts if t < T0 + timedelta(minutes=15)) == 20


def test_S15_allocate_spends_the_budget_weighted_by_rate_and_risk() -> None:
    accts = [AccountLoad("slow", 1.0), AccountLoad("fast", 16.0),
             AccountLoad("risky", 1.0, high_risk=True), AccountLoad("costly", 1.0, cost=3)]
    cfg = ScheduleConfig(min_interval=timedelta(seconds=1), max_interval=30 * D,
                         fresh_age=timedelta(0))  # no fresh-post rule here (S19)
    iv = allocate(accts, budget=400, window=D, cfg=cfg)
    spent = sum(a.cost * D / iv[a.account_id] for a in accts)
    assert spent == pytest.approx(400)
    assert iv["slow"] / iv["fast"] == pytest.approx(4.0)  # sqrt(16)
    assert iv["slow"] / iv["risky"] == pytest.approx(1 / cfg.high_risk_factor)
    assert iv["costly"] == iv["slow"]


def test_S16_allocate_redistributes_what_the_bounds_clip() -> None:
    cfg = ScheduleConfig(min_interval=10 * M, max_interval=6 * H, fresh_age=timedelta(0))
    accts = [AccountLoad("hot", 10000.0)] + [AccountLoad(f"q{k}", 0.01) for k in range(9)]
    iv = allocate(accts, budget=96 * 3, window=D, cfg=cfg)
    assert iv["hot"] == 10 * M  # clipped at the floor
    assert all(10 * M <= v <= 6 * H for v in iv.values())
    spent = sum(D / v for v in iv.values())
    assert spent == pytest.approx(96 * 3)  # what the floor freed went to the others
    tight = allocate(accts, budget=10, window=D, cfg=cfg)
    assert all(v == 6 * H for v in tight.values())  # the bound wins over a tiny budget
    with pytest.raises(ValueError):
        allocate(accts, budget=0, window=D, cfg=cfg)


def test_S17_the_state_round_trips_through_json_and_bad_json_starts_over() -> None:
    s = plan_account(observe_posts(AccountSchedule(), [at(-3), at(-1)], T0, NOJ),
                     "a", T0, NOJ)
    assert AccountSchedule.from_json(s.to_json()) == s
    assert json.loads(s.to_json())["v"] == 1
    for bad in (None, "", "[]", "{", '{"v": 2}', '{"v": 1, "at": "yesterday"}',
                '{"v": 1, "at": "2026-01-01T00:00:00"}', '{"v": 1, "mass": "x"}'):
        assert AccountSchedule.from_json(bad) == AccountSchedule()


def test_S18_an_allotted_interval_replaces_the_rates() -> None:
    s = plan_account(AccountSchedule(), "a", T0, NOJ, allotted=42 * M)
    assert s.interval_s == 42 * 60
    assert plan_account(AccountSchedule(), "a", T0, NOJ, allotted=42 * M,
                        pending=True).interval_s == NOJ.recheck_interval.total_seconds()


def test_S19_allocate_counts_the_fresh_post_rules_extra_checks() -> None:
    assert fresh_share(0, NOJ) == 0
    assert fresh_share(24, NOJ) == pytest.approx(1 - 2.718281828 ** -1)  # 1 an hour, 1 h
    assert fresh_share(24, NOJ, 60 * M) == pytest.approx(1 - 2.718281828 ** -0.5)  # seen late
    assert fresh_share(24, NOJ, 3 * H) == 0
    accts = [AccountLoad("prolific", 48.0), AccountLoad("quiet", 0.5)]
    iv = allocate(accts, budget=400, window=D, cfg=NOJ)
    assert expected_spend(accts, iv, D, NOJ) == pytest.approx(400, rel=1e-6)
    plain = sum(D / v for v in iv.values())
    assert plain < 400  # the intervals alone would leave room the fresh checks use
    nofresh = ScheduleConfig(jitter=0.0, fresh_age=timedelta(0))
    assert allocate(accts, 400, D, nofresh)["quiet"] < iv["quiet"]


# --- the rows of docs/schedule.md and their tests ------------------------------------


def test_every_documented_row_has_exactly_one_test_and_back() -> None:
    doc = (ROOT / "docs" / "schedule.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| ([SB]\d+) \|", doc, re.MULTILINE)
    assert rows and len(rows) == len(set(rows)), "duplicate rows in docs/schedule.md"
    tests: list[str] = []
    for name in ("test_schedule.py", "test_budget.py"):
        src = (ROOT / "tests" / name).read_text(encoding="utf-8")
        tests += re.findall(r"^def test_([SB]\d+)_", src, re.MULTILINE)
    assert sorted(tests) == sorted(rows), "rows of docs/schedule.md ↔ test_S*/test_B*"


# --- properties --------------------------------------------------------------------

CFGS = st.builds(
    ScheduleConfig,
    min_interval=st.integers(1, 600).map(lambda s: timedelta(seconds=s)),
    max_interval=st.integers(600, 86400).map(lambda s: timedelta(seconds=s)),
    jitter=st.floats(0, 0.5),
    high_risk_factor=st.floats(0.1, 1.0),
    seed=st.integers(0, 1000),
)


@settings(max_examples=200, deadline=None)
@given(CFGS, st.lists(st.floats(-500, 0), max_size=30), st.booleans(), st.booleans(),
       st.text(max_size=8), st.floats(0, 500))
def test_intervals_always_within_bounds(cfg: ScheduleConfig, ages: list[float], risk: bool,
                                        pending: bool, acct: str, later: float) -> None:
    s = observe_posts(AccountSchedule(), [at(a) for a in ages], T0, cfg)
    s = observe_posts(s, [at(a + later / 2) for a in ages], at(later), cfg)
    p = plan_account(s, acct, at(later), cfg, high_risk=risk, pending=pending)
    assert cfg.min_interval.total_seconds() <= (p.interval_s or 0) \
        <= cfg.max_interval.total_seconds()
    assert p.next_due == at(later) + timedelta(seconds=p.interval_s or 0)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-10**6, 10**4), min_size=1, max_size=200),
       st.integers(60, 7200), st.integers(1, 50), st.integers(60, 3600))
def test_resume_never_puts_more_than_the_budget_in_any_window(
        offsets: list[int], over_s: int, per_window: int, window_s: int) -> None:
    due: dict[str, datetime | None] = {f"a{k}": T0 + timedelta(seconds=o)
                                       for k, o in enumerate(offsets)}
    window = timedelta(seconds=window_s)
    out = resume(due, T0, timedelta(seconds=over_s), per_window=per_window, window=window)
    assert set(out) == set(due)
    late = sorted(out[k] for k, t in due.items() if t is not None and t <= T0)
    assert all(t >= T0 for t in out.values())
    for i, t in enumerate(late):  # any window starting at an overdue one's time
        assert sum(1 for u in late[i:] if u < t + window) <= per_window


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(0.01, 500), st.booleans(), st.integers(1, 4)),
                min_size=1, max_size=40), st.floats(10, 5000))
def test_allocation_respects_bounds_and_spends_at_most_the_budget_when_feasible(
        loads: list[tuple[float, bool, int]], budget: float) -> None:
    cfg = ScheduleConfig(min_interval=5 * M, max_interval=12 * H)
    accts = [AccountLoad(f"a{k}", r, h, c) for k, (r, h, c) in enumerate(loads)]
    iv = allocate(accts, budget, D, cfg)
    assert all(cfg.min_interval <= v <= cfg.max_interval for v in iv.values())
    spent = expected_spend(accts, iv, D, cfg)
    floor = expected_spend(accts, dict.fromkeys(iv, cfg.max_interval), D, cfg)  # all at max
    ceiling = expected_spend(accts, dict.fromkeys(iv, cfg.min_interval), D, cfg)
    assert spent <= max(budget, floor) * (1 + 1e-6)  # timedelta keeps microseconds
    if floor <= budget <= ceiling:
        assert spent == pytest.approx(budget, rel=1e-6)

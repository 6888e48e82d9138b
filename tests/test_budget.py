"""The per-host budgets of docs/schedule.md, one test per row (B1…), on the platforms'
recorded headers where we have them, and the budget's properties."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared_data import PLATFORMS
from unerased.watch.budget import (
    Budgets,
    HostLimits,
    month_start,
    parse_reset,
    parse_retry_after,
)
from unerased.watch.schedule import defer

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
S = timedelta(seconds=1)
M = timedelta(minutes=1)
X = "api.x.com"
MASTO = "mastodon.social"


def recorded(path: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PLATFORMS / path).read_text(encoding="utf-8"))
    return data


def small(limit: int = 10, window: timedelta = 15 * M, **kw: Any) -> Budgets:
    return Budgets(default=HostLimits(limit=limit, window=window, burst=limit, **kw))


def take_all(b: Budgets, host: str, now: datetime) -> int:
    n = 0
    while b.take(host, now) == 0:
        n += 1
    return n


def test_B1_a_request_within_the_window_goes_and_is_counted() -> None:
    b = small()
    assert b.take(X, T0) == 0 and b.take(X, T0, cost=3) == 0
    snap = b.snapshot(T0)[X]
    assert snap["spent"] == 4 and snap["remaining"] == 6 and snap["limit"] == 10


def test_B2_an_exhausted_window_waits_for_its_reset_and_takes_nothing() -> None:
    b = small()
    assert take_all(b, X, T0) == 10
    wait = b.take(X, T0 + 5 * M)
    assert wait == pytest.approx((10 * M).total_seconds())
    assert b.snapshot(T0 + 5 * M)[X]["spent"] == 10  # the refusal took nothing
    assert b.take(X, T0 + 5 * M, cost=20) > 0


def test_B3_the_pace_spreads_a_window_instead_of_spending_it_at_once() -> None:
    b = Budgets(default=HostLimits(limit=900, window=15 * M, burst=5))  # 1 a second
    assert take_all(b, X, T0) == 5
    assert b.take(X, T0) == pytest.approx(1.0)
    assert b.take(X, T0 + S) == 0  # one token a second comes back
    assert b.take(X, T0 + S) > 0
    assert HostLimits(limit=300).capacity == 30 and HostLimits(limit=5).capacity == 1


def test_B4_the_window_rolls_over_at_its_reset() -> None:
    b = small()
    take_all(b, X, T0)
    assert b.take(X, T0 + 15 * M) == 0
    snap = b.snapshot(T0 + 15 * M)[X]
    assert snap["spent"] == 1 and snap["remaining"] == 9
    assert snap["window_reset"] == (T0 + 30 * M).isoformat()
    assert b.snapshot(T0 + 47 * M)[X]["window_reset"] == (T0 + 60 * M).isoformat()


def test_B5_x_rate_limit_headers_as_recorded() -> None:
    for obs in recorded("x/rate_limit_headers_observed.json")["observed"]:
        now = parsedate_to_datetime(obs["date"].replace("UTC", "GMT"))
        headers = {k: v for k, v in obs.items() if k.startswith("x-")}
        b = Budgets()
        b.observe(X, 200, headers, now)
        snap = b.snapshot(now)[X]
        limit, left = int(obs["x-rate-limit-limit"]), int(obs["x-rate-limit-remaining"])
        assert snap["limit"] == limit and snap["remaining"] == left
        assert snap["spent"] == limit - left and snap["stated_by_host"] is True
        reset = datetime.fromtimestamp(int(obs["x-rate-limit-reset"]), UTC)
        assert snap["window_reset"] == reset.isoformat()
        assert b.take(X, now) == 0  # requests left: go


def test_B6_mastodon_ratelimit_headers_with_an_iso_reset_as_recorded() -> None:
    rec = recorded("mastodon/account_get_200_remote_mastodon_social.json")["response"]
    h = rec["headers"]
    now = parsedate_to_datetime(h["date"])
    b = Budgets()
    b.observe(MASTO, rec["status"], h, now)
    snap = b.snapshot(now)[MASTO]
    assert snap["limit"] == 300 and snap["remaining"] == 299
    reset = datetime.fromisoformat(h["x-ratelimit-reset"].replace("Z", "+00:00"))
    assert snap["window_reset"] == reset.isoformat()
    # the same host says 0 remaining: wait for that reset, not our own window
    b.observe(MASTO, 200, {**h, "x-ratelimit-remaining": "0"}, now)
    assert b.take(MASTO, now) == pytest.approx((reset - now).total_seconds())
    assert b.take(MASTO, reset) == 0


def test_B7_retry_after_in_seconds_or_as_an_http_date_blocks_the_host() -> None:
    b = Budgets()
    b.observe(X, 503, {"Retry-After": "120"}, T0)
    assert b.take(X, T0) == pytest.approx(120)
    assert b.take(X, T0 + 2 * M) == 0
    b.observe(MASTO, 429, {"retry-after": format_datetime(T0 + 5 * M, usegmt=True)}, T0)
    assert b.take(MASTO, T0 + M) == pytest.approx(240)
    assert parse_retry_after("soon", T0) is None
    assert b.snapshot(T0)[MASTO]["blocked_until"] == (T0 + 5 * M).isoformat()


def test_B8_a_429_blocks_until_the_reset_or_for_a_doubling_penalty() -> None:
    rec = recorded("x/rate_limited_429.json")["response"]  # no rate headers recorded
    b = Budgets(default=HostLimits(penalty=60 * S, window=15 * M))
    b.observe(X, rec["status"], rec["headers"], T0)
    assert b.take(X, T0) == pytest.approx(60)
    b.observe(X, 429, rec["headers"], T0 + M)
    assert b.take(X, T0 + M) == pytest.approx(120)
    for _ in range(10):
        b.observe(X, 429, {}, T0 + M)
    assert b.take(X, T0 + M) == pytest.approx(15 * 60)  # never past one window
    b.observe(X, 200, {}, T0 + 20 * M)
    b.observe(X, 429, {}, T0 + 20 * M)
    assert b.take(X, T0 + 20 * M) == pytest.approx(60)  # a success forgave the strikes
    reset = int((T0 + 7 * M).timestamp())
    c = Budgets()
    c.observe(X, 429, {"x-rate-limit-limit": "300", "x-rate-limit-remaining": "0",
                       "x-rate-limit-reset": str(reset)}, T0)
    assert c.take(X, T0) == pytest.approx(7 * 60)


def test_B9_a_monthly_quota_beside_the_window() -> None:
    t = datetime(2026, 3, 31, 23, 0, tzinfo=UTC)
    b = Budgets(default=HostLimits(limit=100, burst=100, monthly=5, billing_day=1))
    assert take_all(b, X, t) == 5
    snap = b.snapshot(t)[X]["monthly"]
    assert snap == {"used": 5, "limit": 5, "resets": "2026-04-01T00:00:00+00:00"}
    assert b.take(X, t) == pytest.approx(3600)
    assert b.take(X, t + timedelta(hours=1)) == 0  # a new month
    assert b.snapshot(t + timedelta(hours=1))[X]["monthly"]["used"] == 1
    assert month_start(datetime(2026, 1, 10, tzinfo=UTC), 15) == datetime(2025, 12, 15,
                                                                         tzinfo=UTC)


def test_B10_the_snapshot_is_json_for_unerased_status() -> None:
    b = Budgets(limits={X: HostLimits(limit=300, monthly=10000)})
    b.take(X, T0)
    b.take(MASTO, T0)
    snap = json.loads(json.dumps(b.snapshot(T0)))
    assert sorted(snap) == [X, MASTO]
    assert set(snap[X]) == {"limit", "window_s", "spent", "remaining", "window_reset",
                            "stated_by_host", "blocked_until", "monthly"}
    assert snap[X]["monthly"]["used"] == 1 and snap[MASTO]["monthly"] is None


def test_B11_budgets_are_kept_per_host_not_per_platform() -> None:
    b = small()
    take_all(b, "mastodon.social", T0)
    assert b.take("fosstodon.org", T0) == 0  # another Mastodon host: its own budget
    assert b.take("MASTODON.social", T0) > 0  # host names are case-insensitive
    b.observe("bsky.social", 429, {"retry-after": "30"}, T0)
    assert b.take("pds.example", T0) == 0


def test_B12_the_ietf_ratelimit_reset_in_seconds_or_as_a_unix_time() -> None:
    assert parse_reset("30", T0) == T0 + 30 * S
    assert parse_reset(str(int((T0 + M).timestamp())), T0) == T0 + M
    assert parse_reset("2026-03-10T12:05:00Z", T0) == T0 + 5 * M
    for bad in ("never", "-5", "nan"):
        assert parse_reset(bad, T0) is None
    b = Budgets()
    b.observe("bsky.social", 200, {"RateLimit-Limit": "3000", "RateLimit-Remaining": "0",
                                   "RateLimit-Reset": "45"}, T0)
    assert b.take("bsky.social", T0) == pytest.approx(45)


def test_B13_what_matters_survives_a_restart_through_json() -> None:
    b = Budgets(default=HostLimits(limit=100, burst=100, monthly=50))
    for _ in range(30):
        b.take(X, T0)
    b.observe(MASTO, 429, {"retry-after": "600"}, T0)
    again = Budgets(default=HostLimits(limit=100, burst=100, monthly=50))
    again.load(json.loads(json.dumps(b.dump())))
    assert again.snapshot(T0 + M) == b.snapshot(T0 + M)
    assert again.snapshot(T0)[X]["monthly"]["used"] == 30
    assert again.take(MASTO, T0 + M) == pytest.approx(540)  # still blocked
    broken = Budgets()
    broken.load({X: {"limit": "x"}, MASTO: {**b.dump()[MASTO], "reset": "2026-01-01T00:00"}})
    assert broken.hosts == {}
    assert Budgets().snapshot() == {}


# --- properties --------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 50), st.integers(60, 3600), st.integers(1, 50),
       st.lists(st.tuples(st.integers(0, 600), st.integers(1, 3)), max_size=300))
def test_never_more_requests_than_the_limit_in_any_window(
        limit: int, window_s: int, burst: int, steps: list[tuple[int, int]]) -> None:
    window = timedelta(seconds=window_s)
    b = Budgets(default=HostLimits(limit=limit, window=window, burst=burst))
    now = T0
    taken: list[datetime] = []
    for dt, cost in steps:
        now += timedelta(seconds=dt)
        if b.take(X, now, cost) == 0:
            taken += [now] * cost
        else:
            assert b.take(X, now, cost) > 0  # a refusal is stable
    # windows follow one another from the host's first request, as the host's do
    origin = T0 + timedelta(seconds=steps[0][0]) if steps else T0
    for t in taken:
        start = origin + ((t - origin) // window) * window
        assert sum(1 for u in taken if start <= u < start + window) <= limit


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from([200, 404, 429, 500, 503]), max_size=30),
       st.integers(0, 900))
def test_a_wait_is_never_negative_and_following_it_succeeds(statuses: list[int],
                                                            gap: int) -> None:
    b = Budgets(default=HostLimits(limit=20, window=15 * M, burst=20))
    now = T0
    for s in statuses:
        b.observe(X, s, {}, now)
        w = b.take(X, now)
        assert w >= 0
        if w > 0:
            now += timedelta(seconds=w)
            assert b.take(X, now) == 0
        now += timedelta(seconds=gap)


def test_a_429_defers_the_hosts_accounts_past_the_block_without_a_burst() -> None:
    rec = recorded("x/rate_limited_429.json")["response"]
    b = Budgets(default=HostLimits(limit=300, window=15 * M, penalty=60 * S))
    b.observe(X, rec["status"], rec["headers"], T0)
    until = b.not_before(X, T0)
    assert until == T0 + 60 * S
    due = {f"acct{k}": T0 - k * S for k in range(30)}
    out = defer(due, until, per_second=300 / (15 * 60))
    assert min(out.values()) == until
    assert max(out.values()) == until + 29 * 3 * S  # one every 3 s: 300 per 15 min
    for t in sorted(out.values()):
        assert b.take(X, t) == 0  # each one goes when its time comes

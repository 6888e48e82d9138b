"""The campaign's ground truth: the time-to-deletion shares, determinism, the sweep."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

import pytest

from unerased.sim.campaign import (
    PROVINCES,
    TTD,
    Campaign,
    generate_campaign,
    snowflake,
    timeline,
)

M, H = timedelta(minutes=1), timedelta(hours=1)


def test_ttd_shares_after_zhu_et_al() -> None:
    rng = random.Random(1)
    draws = [TTD.sample(rng) for _ in range(40_000)]
    n = len(draws)
    share_5_30 = sum(5 * M <= d < 30 * M for d in draws) / n
    share_24h = sum(d < 24 * H for d in draws) / n
    assert 0.28 <= share_5_30 <= 0.32
    assert 0.88 <= share_24h <= 0.92
    assert min(draws) >= 1 * M and max(draws) <= timedelta(days=7)
    # the exact mixture agrees with the draws
    assert TTD.share_within(5 * M, 30 * M) == pytest.approx(0.30)
    assert TTD.share_within(timedelta(0), 24 * H) == pytest.approx(0.90)
    assert TTD.share_within(timedelta(0), 30 * M) == pytest.approx(share_5_30 + sum(
        d < 5 * M for d in draws) / n, abs=0.01)


def test_campaign_deletions_follow_the_ttd() -> None:
    """Over a long campaign (so few deletions fall past its end) the observed TTDs keep the
    mixture's shares."""
    c = generate_campaign(3, accounts=120, hours=24 * 20, sweep_at_hours=24 * 20,
                          delete_share=0.5, delete_share_high=0.5)
    ttds = [p.ttd for p in c.deleted if p.ttd is not None and not p.wiped]
    assert len(ttds) > 3000
    n = len(ttds)
    assert 0.27 <= sum(5 * M <= d < 30 * M for d in ttds) / n <= 0.34
    assert 0.87 <= sum(d < 24 * H for d in ttds) / n <= 0.94


def _key(c: Campaign) -> list[tuple[object, ...]]:
    return [(p.account, p.post_id, p.text, p.created_at, p.deleted_at, tuple(p.edits))
            for p in c.posts] + [(a.username, a.province, a.risk, a.posts_per_day,
                                  a.closed_at, a.closure) for a in c.accounts]


def test_deterministic_by_seed() -> None:
    assert _key(generate_campaign(5)) == _key(generate_campaign(5))
    assert _key(generate_campaign(5)) != _key(generate_campaign(6))


def test_accounts_provinces_rates_and_ids() -> None:
    c = generate_campaign(0)
    assert len(c.accounts) == 60
    assert Counter(a.province for a in c.accounts) == {p: 10 for p in PROVINCES}
    assert len({a.username for a in c.accounts}) == 60
    assert all(a.tags["province"] == a.province for a in c.accounts)
    assert 0 < sum(a.risk == "high" for a in c.accounts) < 30
    rates = sorted(a.posts_per_day for a in c.accounts)
    assert rates[-1] >= 20 and rates[len(rates) // 2] < 5  # a few prolific, many quiet
    ids = [p.post_id for p in c.posts]
    assert len(set(ids)) == len(ids)
    assert [int(i) for i in ids] == sorted(int(i) for i in ids)  # time-ordered, as Mastodon
    assert snowflake(c.start, 1) < snowflake(c.start + M, 0)
    assert sum(bool(p.edits) for p in c.posts) >= 3
    for p in c.posts:
        for at, _ in p.edits:
            assert p.created_at < at and (p.deleted_at is None or at < p.deleted_at)
        if p.deleted_at is not None:
            assert p.created_at < p.deleted_at < c.end


def test_sweep_closes_two_provinces() -> None:
    c = generate_campaign(0)
    closed = c.closed
    assert {a.province for a in closed} == {"Chongqing", "Fujian"}
    assert len(closed) == 20
    assert all(c.sweep_at <= a.closed_at < c.sweep_at + timedelta(minutes=90)
               for a in closed if a.closed_at)
    assert {a.closure for a in closed} <= {"suspended", "deactivated"}
    for a in closed:
        assert a.closed_at is not None
        assert all(p.created_at < a.closed_at for p in c.posts_of(a.username))
    # one man's tweets: all deleted just before his account is closed
    wiped = [a for a in closed if a.wiped]
    assert len(wiped) >= 2
    for a in wiped:
        assert a.closed_at is not None
        posts = c.posts_of(a.username)
        assert posts and all(p.deleted_at is not None and p.deleted_at < a.closed_at
                             for p in posts)
        wipes = {p.deleted_at for p in posts if p.wiped}
        assert len(wipes) == 1  # all at once
        (at,) = wipes
        assert at is not None and 1 * H <= a.closed_at - at <= 3 * H
    # other provinces post on after the sweep
    assert any(p.created_at > c.sweep_at + 2 * H for p in c.posts
               if c.account(p.account).province == "Beijing")
    other = generate_campaign(0, swept=("Hubei", "Guangdong"))
    assert {a.province for a in other.closed} == {"Hubei", "Guangdong"}
    with pytest.raises(ValueError):
        generate_campaign(0, swept=("Tibet",))


def test_timeline_is_ordered_and_complete() -> None:
    c = generate_campaign(2, accounts=12, hours=12, sweep_at_hours=6)
    acts = timeline(c)
    assert [a.at for a in acts] == sorted(a.at for a in acts)
    kinds = Counter(a.kind for a in acts)
    assert kinds["post"] == len(c.posts)
    assert kinds["delete"] == len(c.deleted)
    assert kinds["close"] == len(c.closed) == 4
    assert kinds["edit"] == sum(len(p.edits) for p in c.posts)

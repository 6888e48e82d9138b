"""When each watched account and each known post is next due: a pure schedule.

No I/O and no clock reads: every function takes ``now``; the jitter comes from a hash of
the account id, a seed and the time, so the same inputs give the same schedule. The rules
are the rows S1… of docs/schedule.md, each with its test in tests/test_schedule.py.

- **Accounts** (:func:`plan_account`): the interval follows the account's posting rate (an
  exponentially weighted count of the creation times seen, :class:`AccountSchedule`, kept
  as ``accounts.schedule_json``), is shorter for ``risk=high``, dense while its youngest
  post is fresh, short while a disappearance is pending, clipped to bounds and jittered.
- **Posts** (:func:`post_interval`, :func:`due_posts`): a post that fell off its account's
  listing is looked up directly on a ladder by its age (every few minutes in its first
  hour, then backing off to a month).
- **Rate limits** (:func:`defer`): a 429, ``Retry-After`` or ``x-rate-limit-reset`` moves
  a host's due times past the reset, spread at the rate the host allows (no burst).
- **Restart** (:func:`resume`): accounts overdue because the collector was down are spread
  over one interval instead of all being due at once.
- **Allocation** (:func:`allocate`): the intervals that spend a given request budget,
  weighted by rate and risk (the square-root rule of crawler freshness), so the adaptive
  schedule can be compared with uniform polling at the same budget.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

__all__ = [
    "AccountLoad",
    "AccountSchedule",
    "KnownPost",
    "ScheduleConfig",
    "allocate",
    "defer",
    "due_posts",
    "expected_spend",
    "fresh_share",
    "is_high_risk",
    "jitter_fraction",
    "observe_posts",
    "plan_account",
    "post_interval",
    "rate_interval",
    "resume",
]

DAY = 86400.0


@dataclass(frozen=True)
class ScheduleConfig:
    """The schedule's tunables (docs/schedule.md)."""

    base_interval: timedelta = timedelta(minutes=15)
    """The interval of an account posting ``reference_rate`` posts a day."""
    reference_rate: float = 4.0
    rate_exponent: float = 0.5
    """interval = base × (reference_rate / rate) ** rate_exponent (square-root rule)."""
    prior_rate: float = 4.0
    """Posts a day assumed of an account never seen."""
    rate_half_life: timedelta = timedelta(days=2)
    high_risk_factor: float = 0.5
    """The interval of an account tagged ``risk=high`` is multiplied by this."""
    fresh_age: timedelta = timedelta(hours=1)
    fresh_interval: timedelta = timedelta(minutes=5)
    """While the youngest known post is younger than ``fresh_age``, at most this (the
    post ladder's first rung)."""
    recheck_interval: timedelta = timedelta(minutes=5)
    """While a disappearance (account or post) is pending confirmation, at most this."""
    min_interval: timedelta = timedelta(minutes=1)
    max_interval: timedelta = timedelta(hours=6)
    jitter: float = 0.1
    """Each interval is moved by up to ± this fraction, deterministically."""
    seed: int = 0
    post_ladder: tuple[tuple[timedelta, timedelta], ...] = (
        (timedelta(hours=1), timedelta(minutes=5)),
        (timedelta(hours=6), timedelta(hours=1)),
        (timedelta(days=2), timedelta(hours=3)),
        (timedelta(days=30), timedelta(days=1)),
    )
    """(up to this age, look the post up this often); older posts: ``post_ladder_tail``."""
    post_ladder_tail: timedelta = timedelta(days=30)

    def __post_init__(self) -> None:
        if not timedelta(0) < self.min_interval <= self.max_interval:
            raise ValueError("need 0 < min_interval <= max_interval")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter is a fraction in [0, 1)")
        if self.reference_rate <= 0 or self.prior_rate < 0 or self.high_risk_factor <= 0:
            raise ValueError("rates and factors must be positive")
        ages = [a for a, _ in self.post_ladder]
        if ages != sorted(ages) or any(i <= timedelta(0) for _, i in self.post_ladder):
            raise ValueError("post_ladder: ages ascending, intervals positive")


# --- the per-account state ----------------------------------------------------------


@dataclass(frozen=True)
class AccountSchedule:
    """What the schedule keeps of one account (``accounts.schedule_json``).

    ``mass`` is the exponentially decayed count of posts at time ``at`` (each post weighs
    ``2 ** -(age / half_life)``); the rate in posts a day is ``mass / tau`` with ``tau`` the
    decay's mean life in days. ``newest`` is the creation time of the youngest post seen.
    """

    mass: float | None = None
    at: datetime | None = None
    newest: datetime | None = None
    next_due: datetime | None = None
    interval_s: float | None = None

    def rate(self, now: datetime, cfg: ScheduleConfig) -> float:
        """Posts a day at ``now`` (the prior for an account never observed)."""
        if self.mass is None or self.at is None:
            return cfg.prior_rate
        tau = _tau(cfg)
        return self.mass * _decay(max(0.0, (now - self.at).total_seconds()), tau) / (tau / DAY)

    def to_json(self) -> str:
        return json.dumps({
            "v": 1, "mass": self.mass, "at": _iso(self.at), "newest": _iso(self.newest),
            "next_due": _iso(self.next_due), "interval_s": self.interval_s,
        }, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> AccountSchedule:
        """The state stored by :meth:`to_json`; a fresh one for ``None``, ``""`` or a
        document of another version (the schedule then starts over, it never fails)."""
        if not text:
            return cls()
        try:
            d = json.loads(text)
            if not isinstance(d, dict) or d.get("v") != 1:
                return cls()
            mass = d.get("mass")
            ivl = d.get("interval_s")
            return cls(mass=None if mass is None else float(mass), at=_dt(d.get("at")),
                       newest=_dt(d.get("newest")), next_due=_dt(d.get("next_due")),
                       interval_s=None if ivl is None else float(ivl))
        except (ValueError, TypeError):
            return cls()


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat()


def _dt(v: object) -> datetime | None:
    if v is None:
        return None
    if not isinstance(v, str):
        raise TypeError(v)
    t = datetime.fromisoformat(v)
    if t.tzinfo is None:
        raise ValueError("naive time")
    return t


def _tau(cfg: ScheduleConfig) -> float:
    return cfg.rate_half_life.total_seconds() / math.log(2)


def _decay(seconds: float, tau: float) -> float:
    return math.exp(-seconds / tau)


def observe_posts(state: AccountSchedule, created: Iterable[datetime], now: datetime,
                  cfg: ScheduleConfig) -> AccountSchedule:
    """Fold the creation times one check saw into the rate (S2, S3).

    Only posts younger than the youngest already counted are new (a listing repeats what
    the last one showed). The first observation estimates the rate from the posts listed
    over the time from the oldest of them to now (a listing shows a window, not a history;
    a silence since the newest counts), when there are at least two.
    """
    tau = _tau(cfg)
    times = sorted(t for t in created if t <= now)
    if state.mass is None or state.at is None:
        if len(times) >= 2:  # the posts listed over the window they cover, up to now
            span = (now - times[0]).total_seconds() / DAY
            rate = len(times) / max(span, 1 / 24)
        else:
            rate = cfg.prior_rate
        newest = times[-1] if times else state.newest
        return replace(state, mass=rate * tau / DAY, at=now, newest=newest)
    new = [t for t in times if state.newest is None or t > state.newest]
    mass = state.mass * _decay(max(0.0, (now - state.at).total_seconds()), tau)
    mass += sum(_decay((now - t).total_seconds(), tau) for t in new)
    newest = max([*new, *([state.newest] if state.newest else [])], default=None)
    return replace(state, mass=mass, at=max(now, state.at), newest=newest)


# --- accounts -----------------------------------------------------------------------


def is_high_risk(tags: Mapping[str, str] | None) -> bool:
    """``risk=high`` among an account's tags (``--tag risk=high``), case-insensitively."""
    return bool(tags) and str((tags or {}).get("risk", "")).strip().lower() == "high"


def _clip(seconds: float, cfg: ScheduleConfig) -> float:
    return min(max(seconds, cfg.min_interval.total_seconds()), cfg.max_interval.total_seconds())


def rate_interval(rate: float, cfg: ScheduleConfig, *, high_risk: bool = False) -> timedelta:
    """The interval a posting rate earns, before freshness and pending (S1, S4)."""
    r = max(rate, 1e-6)
    s = cfg.base_interval.total_seconds() * (cfg.reference_rate / r) ** cfg.rate_exponent
    if high_risk:
        s *= cfg.high_risk_factor
    return timedelta(seconds=_clip(s, cfg))


def jitter_fraction(key: str, now: datetime, cfg: ScheduleConfig) -> float:
    """A number in [-jitter, +jitter] from the account id, the seed and the time (S8)."""
    h = hashlib.blake2b(f"{cfg.seed}\x00{key}\x00{now.isoformat()}".encode(),
                        digest_size=8).digest()
    u = int.from_bytes(h, "big") / 2 ** 64
    return (2 * u - 1) * cfg.jitter


def plan_account(state: AccountSchedule, account_id: str, now: datetime, cfg: ScheduleConfig,
                 *, high_risk: bool = False, pending: bool = False,
                 allotted: timedelta | None = None) -> AccountSchedule:
    """The account's next due time after a check at ``now`` (S1–S8).

    ``allotted`` replaces the rate's interval with one given by :func:`allocate`; the
    fresh-post and pending rules and the bounds apply on top of either.
    """
    base = (allotted if allotted is not None
            else rate_interval(state.rate(now, cfg), cfg, high_risk=high_risk))
    s = base.total_seconds()
    if state.newest is not None and now - state.newest < cfg.fresh_age:
        s = min(s, cfg.fresh_interval.total_seconds())
    if pending:
        s = min(s, cfg.recheck_interval.total_seconds())
    s = _clip(s, cfg)
    s = _clip(s * (1 + jitter_fraction(account_id, now, cfg)), cfg)
    return replace(state, next_due=now + timedelta(seconds=s), interval_s=s)


# --- posts --------------------------------------------------------------------------


def post_interval(age: timedelta, cfg: ScheduleConfig) -> timedelta:
    """How often a post of this age that left its listing is looked up (S9)."""
    for up_to, every in cfg.post_ladder:
        if age < up_to:
            return every
    return cfg.post_ladder_tail


@dataclass(frozen=True)
class KnownPost:
    """A known post outside its account's listing window, as :func:`due_posts` sees it."""

    post_id: str
    created_at: datetime
    last_checked: datetime | None = None


def due_posts(posts: Iterable[KnownPost], now: datetime, cfg: ScheduleConfig,
              limit: int) -> list[str]:
    """The posts due for a direct lookup at ``now``, at most ``limit``, most overdue first
    (overdue measured in their own intervals, so a young post waits less) (S10, S11)."""
    if limit <= 0:
        return []
    ranked: list[tuple[float, str]] = []
    for p in posts:
        every = post_interval(now - p.created_at, cfg).total_seconds()
        if p.last_checked is None:
            ranked.append((math.inf, p.post_id))
            continue
        late = (now - p.last_checked).total_seconds() / every
        if late >= 1:
            ranked.append((late, p.post_id))
    ranked.sort(key=lambda x: (-x[0], x[1]))
    return [pid for _, pid in ranked[:limit]]


# --- rate limits and restarts --------------------------------------------------------


def defer(due: Mapping[str, datetime], until: datetime, per_second: float
          ) -> dict[str, datetime]:
    """Due times of one host after the host said "not before ``until``" (S12).

    Those due before ``until`` keep their order and start at ``until``, one every
    ``1 / per_second`` seconds (the rate the host allows), so the reset brings no burst;
    the others are unchanged unless the spread reaches them.
    """
    if per_second <= 0:
        raise ValueError("per_second must be positive")
    step = timedelta(seconds=1 / per_second)
    out = dict(due)
    order = sorted(due.items(), key=lambda kv: (kv[1], kv[0]))
    slot = until
    for key, t in order:
        if t < slot:
            out[key] = slot
            slot += step
        else:
            slot = t + step
    return out


def resume(due: Mapping[str, datetime | None], now: datetime, over: timedelta,
           *, per_window: int | None = None, window: timedelta | None = None
           ) -> dict[str, datetime]:
    """Due times after a restart (S13, S14).

    Accounts due in the past (or never scheduled) are spread evenly over ``over`` from
    ``now``, most overdue first; with a budget (``per_window`` checks per ``window``) the
    spread is stretched so no window holds more than the budget. Future ones stay.
    """
    late = sorted(((t, k) for k, t in due.items() if t is None or t <= now),
                  key=lambda x: (x[0] is not None, x[0] or now, x[1]))
    out = {k: t for k, t in due.items() if t is not None and t > now}
    n = len(late)
    if not n:
        return out
    span = over.total_seconds()
    if per_window is not None and window is not None and per_window > 0:
        span = max(span, n * window.total_seconds() / per_window)
    step = span / n
    for i, (_, k) in enumerate(late):
        out[k] = now + timedelta(seconds=i * step)
    return out


# --- allocation ---------------------------------------------------------------------


@dataclass(frozen=True)
class AccountLoad:
    """One account as :func:`allocate` weighs it."""

    account_id: str
    rate: float
    """Posts a day."""
    high_risk: bool = False
    cost: float = 1.0
    """Requests one check of it costs."""


def fresh_share(rate: float, cfg: ScheduleConfig, interval: timedelta | None = None) -> float:
    """The share of time an account posting ``rate`` a day (Poisson) is checked at the
    fresh interval: while the youngest post it has *seen* is younger than ``fresh_age``.
    A post is seen half an ``interval`` after it is written on average, so it keeps the
    account fresh for ``fresh_age - interval / 2`` (S5, S19)."""
    lag = 0.0 if interval is None else interval.total_seconds() / 2
    span = max(0.0, cfg.fresh_age.total_seconds() - lag)
    return 1.0 - math.exp(-max(rate, 0.0) / DAY * span)


def expected_spend(accounts: Sequence[AccountLoad], intervals: Mapping[str, timedelta],
                   window: timedelta, cfg: ScheduleConfig) -> float:
    """Requests per ``window`` the accounts cost at these allotted intervals, the
    fresh-post rule included (each account's :func:`fresh_share` of the time at
    ``min(interval, fresh_interval)``) (S19)."""
    win = window.total_seconds()
    fresh = _clip(cfg.fresh_interval.total_seconds(), cfg)
    out = 0.0
    for a in accounts:
        s = intervals[a.account_id].total_seconds()
        f = fresh_share(a.rate, cfg, intervals[a.account_id])
        out += a.cost * win * ((1 - f) / s + f / min(s, fresh))
    return out


def allocate(accounts: Sequence[AccountLoad], budget: float, window: timedelta,
             cfg: ScheduleConfig) -> dict[str, timedelta]:
    """Intervals that spend ``budget`` requests per ``window`` (S15, S16, S19).

    Account *i* gets an interval ∝ 1 / w_i with w_i = rate_i ** rate_exponent (times
    ``1 / high_risk_factor`` when high risk), scaled so that what they cost
    (:func:`expected_spend`: Σ cost_i × window / interval_i, the fresh-post rule's extra
    checks included, since :func:`plan_account` applies it on top) meets the budget, then
    clipped to the bounds; what clipping frees or costs is redistributed among the others
    (water-filling), so the total meets the budget whenever the bounds allow it: with
    everyone at ``max_interval`` it spends more (the bound wins), with everyone at
    ``min_interval`` less.
    """
    if budget <= 0:
        raise ValueError("budget must be positive")
    w = {a.account_id: float(max(a.rate, 1e-6) ** cfg.rate_exponent)
         / (cfg.high_risk_factor if a.high_risk else 1.0) for a in accounts}
    lo, hi = cfg.min_interval.total_seconds(), cfg.max_interval.total_seconds()

    def at(c: float) -> dict[str, timedelta]:
        return {k: timedelta(seconds=min(max(c / w[k], lo), hi)) for k in w}

    # interval_k = clip(c / w_k): the spend falls as c grows; find c where it meets the
    # budget by bisection on log c (the clipped accounts' share moves to the others)
    a_lo = math.log(lo * min(w.values(), default=1.0))
    a_hi = math.log(hi * max(w.values(), default=1.0))
    for _ in range(200):
        mid = (a_lo + a_hi) / 2
        if expected_spend(accounts, at(math.exp(mid)), window, cfg) > budget:
            a_lo = mid
        else:
            a_hi = mid
    return at(math.exp(a_hi))

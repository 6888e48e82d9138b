"""Per-host request budgets: token buckets fed from the platforms' rate-limit headers.

Pure: no I/O and no clock reads (``now`` is a parameter); the collector asks
:meth:`Budgets.take` before each request and tells :meth:`Budgets.observe` every answer.
Budgets are keyed by host (``api.x.com``, ``mastodon.social``, a PDS), not by platform:
two Mastodon instances have two budgets, and all the accounts on one host share one.

Each host has
- a **window** (what the platform states: ``limit`` requests per ``window``, ``remaining``
  until ``reset``), taken from X's ``x-rate-limit-limit/-remaining/-reset`` (epoch
  seconds), Mastodon's ``X-RateLimit-Limit/-Remaining/-Reset`` (an ISO time), the IETF
  draft's ``RateLimit-Limit/-Remaining/-Reset`` (seconds, or epoch seconds as the Bluesky
  PDS sends), and counted locally between answers;
- a **pace** (a token bucket refilled at ``limit / window`` a second, holding at most
  ``burst`` tokens), so a window is spent evenly rather than at its start;
- a **block** after a ``429`` or a ``Retry-After`` (seconds or an HTTP date): nothing goes
  before it ends; a 429 without a time blocks for ``penalty`` doubling up to ``window``;
- an optional **monthly quota** (X's paid tiers: N reads a month from a billing day),
  counted beside the window.

The rules are the rows B1… of docs/schedule.md, each tested in tests/test_budget.py.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

__all__ = [
    "Budgets",
    "HostBudget",
    "HostLimits",
    "month_start",
    "parse_reset",
    "parse_retry_after",
]

EPOCH_FLOOR = 1_000_000_000
"""A reset value at least this large is a Unix time, smaller ones are seconds from now."""


@dataclass(frozen=True)
class HostLimits:
    """What a host allows until its answers say otherwise."""

    limit: int = 300
    window: timedelta = timedelta(minutes=15)
    burst: int | None = None
    """Tokens the pace may hold (default: a tenth of the window's limit, at least 1)."""
    monthly: int | None = None
    """Requests a month (X's paid tiers), or ``None`` for no quota."""
    billing_day: int = 1
    """Day of the month the monthly quota starts again."""
    penalty: timedelta = timedelta(seconds=60)
    """The block after a 429 that names no time; doubled on each further one."""

    def __post_init__(self) -> None:
        if self.limit <= 0 or self.window <= timedelta(0):
            raise ValueError("limit and window must be positive")
        if not 1 <= self.billing_day <= 28:
            raise ValueError("billing_day is 1..28")

    @property
    def capacity(self) -> float:
        return float(self.burst if self.burst is not None else max(1, self.limit // 10))


def _header(headers: Mapping[str, str], *names: str) -> str | None:
    low = {k.lower(): v for k, v in headers.items()}
    for n in names:
        v = low.get(n.lower())
        if v is not None and str(v).strip():
            return str(v).strip()
    return None


def parse_reset(value: str, now: datetime) -> datetime | None:
    """A window's reset: an ISO time (Mastodon), Unix seconds (X, the Bluesky PDS) or
    seconds from now (the IETF draft); ``None`` when it is none of those."""
    v = value.strip()
    try:
        n = float(v)
    except ValueError:
        try:
            t = datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            return None
        return t if t.tzinfo else t.replace(tzinfo=UTC)
    if not math.isfinite(n) or n < 0:
        return None
    if n >= EPOCH_FLOOR:
        return datetime.fromtimestamp(n, UTC)
    return now + timedelta(seconds=n)


def parse_retry_after(value: str, now: datetime) -> datetime | None:
    """``Retry-After``: delay-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    v = value.strip()
    if v.isdigit():
        return now + timedelta(seconds=int(v))
    try:
        t = parsedate_to_datetime(v)
    except (TypeError, ValueError, IndexError):
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def month_start(now: datetime, billing_day: int = 1) -> datetime:
    """The start of the quota month holding ``now`` (UTC midnight of the billing day)."""
    t = now.astimezone(UTC)
    start = t.replace(day=billing_day, hour=0, minute=0, second=0, microsecond=0)
    if start > t:
        start = _add_month(start, -1)
    return start


def _add_month(t: datetime, k: int) -> datetime:
    m = t.month - 1 + k
    return t.replace(year=t.year + m // 12, month=m % 12 + 1)


@dataclass
class HostBudget:
    """One host's state (mutable; owned by :class:`Budgets`)."""

    limits: HostLimits
    limit: int
    remaining: float
    reset: datetime
    tokens: float
    paced_at: datetime
    spent: int = 0
    """Requests taken in the current window."""
    blocked_until: datetime | None = None
    strikes: int = 0
    month: datetime | None = None
    monthly_used: int = 0
    stated: bool = False
    """Whether ``remaining``/``reset`` come from the host's own headers."""

    @classmethod
    def new(cls, limits: HostLimits, now: datetime) -> HostBudget:
        return cls(limits=limits, limit=limits.limit, remaining=float(limits.limit),
                   reset=now + limits.window, tokens=limits.capacity, paced_at=now,
                   month=month_start(now, limits.billing_day) if limits.monthly else None)

    def roll(self, now: datetime) -> None:
        """Bring the window, the pace, the month and the block up to ``now``."""
        if now >= self.reset:
            self.remaining = float(self.limit)
            self.spent = 0
            self.stated = False
            # the next window starts at the last reset, stepped past now
            steps = math.floor((now - self.reset) / self.limits.window) + 1
            self.reset = self.reset + steps * self.limits.window
        rate = self.limit / self.limits.window.total_seconds()
        dt = max(0.0, (now - self.paced_at).total_seconds())
        self.tokens = min(self.limits.capacity, self.tokens + dt * rate)
        self.paced_at = max(self.paced_at, now)
        if self.month is not None:
            cur = month_start(now, self.limits.billing_day)
            if cur > self.month:
                self.month, self.monthly_used = cur, 0
        if self.blocked_until is not None and now >= self.blocked_until:
            self.blocked_until = None

    def wait(self, now: datetime, cost: int) -> float:
        """Seconds until ``cost`` requests may go (0: now), without taking them."""
        self.roll(now)
        waits = [0.0]
        if self.blocked_until is not None:
            waits.append((self.blocked_until - now).total_seconds())
        if self.remaining < cost:
            waits.append((self.reset - now).total_seconds())
        if self.tokens < min(cost, self.limits.capacity):
            rate = self.limit / self.limits.window.total_seconds()
            waits.append((min(cost, self.limits.capacity) - self.tokens) / rate)
        if self.limits.monthly is not None and self.month is not None \
                and self.monthly_used + cost > self.limits.monthly:
            waits.append((_add_month(self.month, 1) - now).total_seconds())
        return max(waits)


@dataclass
class Budgets:
    """Every host's budget; ``limits`` per host, ``default`` for the others."""

    default: HostLimits = field(default_factory=HostLimits)
    limits: Mapping[str, HostLimits] = field(default_factory=dict)
    hosts: dict[str, HostBudget] = field(default_factory=dict)

    def host(self, host: str, now: datetime) -> HostBudget:
        key = host.lower()
        if key not in self.hosts:
            self.hosts[key] = HostBudget.new(self.limits.get(key, self.default), now)
        return self.hosts[key]

    def take(self, host: str, now: datetime, cost: int = 1) -> float:
        """Take ``cost`` requests of ``host``'s budget if they may go now and return 0;
        otherwise take nothing and return the seconds to wait (B1–B4, B9)."""
        b = self.host(host, now)
        w = b.wait(now, cost)
        if w > 0:
            return w
        b.remaining -= cost
        b.tokens -= cost
        b.spent += cost
        if b.month is not None:
            b.monthly_used += cost
        return 0.0

    def observe(self, host: str, status: int | None, headers: Mapping[str, str],
                now: datetime) -> None:
        """What one answer of ``host`` says of its budget (B5–B8)."""
        b = self.host(host, now)
        b.roll(now)
        limit = _header(headers, "x-rate-limit-limit", "x-ratelimit-limit", "ratelimit-limit")
        remaining = _header(headers, "x-rate-limit-remaining", "x-ratelimit-remaining",
                            "ratelimit-remaining")
        reset_v = _header(headers, "x-rate-limit-reset", "x-ratelimit-reset", "ratelimit-reset")
        reset = parse_reset(reset_v, now) if reset_v else None
        if limit is not None and limit.isdigit() and int(limit) > 0:
            b.limit = int(limit)
        if reset is not None and reset > now:
            b.reset = reset
        if remaining is not None:
            try:
                r = float(remaining)
            except ValueError:
                r = math.nan
            if math.isfinite(r) and r >= 0:
                b.remaining = min(r, float(b.limit))
                b.spent = max(b.spent, b.limit - int(r))
                b.stated = True
        retry_v = _header(headers, "retry-after")
        retry = parse_retry_after(retry_v, now) if retry_v else None
        until: datetime | None = None
        if retry is not None and retry > now:
            until = retry
        if status == 429:  # the block governs: our own window count is only a guess
            if until is None and reset is not None and reset > now:
                until = reset
            if until is None:
                pen = b.limits.penalty * (2 ** b.strikes)
                until = now + min(pen, b.limits.window)
            b.strikes += 1
        elif status is not None and 200 <= status < 400:
            b.strikes = 0
        if until is not None:
            b.blocked_until = max(until, b.blocked_until or until)

    def not_before(self, host: str, now: datetime) -> datetime:
        """The earliest time one request of ``host`` may go (for :func:`schedule.defer`)."""
        return now + timedelta(seconds=self.host(host, now).wait(now, 1))

    def snapshot(self, now: datetime | None = None) -> dict[str, Any]:
        """Every host's budget as JSON-able data (``unerased status``) (B10): as of ``now``,
        or without ``now`` as of the last time each host was used (no clock is read)."""
        out: dict[str, Any] = {}
        for key in sorted(self.hosts):
            b = self.hosts[key]
            b.roll(now or b.paced_at)
            d: dict[str, Any] = {
                "limit": b.limit, "window_s": b.limits.window.total_seconds(),
                "spent": b.spent, "remaining": int(b.remaining),
                "window_reset": b.reset.isoformat(), "stated_by_host": b.stated,
                "blocked_until": b.blocked_until.isoformat() if b.blocked_until else None,
                "monthly": None,
            }
            if b.limits.monthly is not None and b.month is not None:
                d["monthly"] = {"used": b.monthly_used, "limit": b.limits.monthly,
                                "resets": _add_month(b.month, 1).isoformat()}
            out[key] = d
        return out

    def dump(self) -> dict[str, Any]:
        """What must survive a restart, JSON-able (a monthly quota's count above all;
        the collector keeps it in ``collector_state``) (B13)."""
        return {key: {
            "limit": b.limit, "remaining": b.remaining, "reset": b.reset.isoformat(),
            "tokens": b.tokens, "paced_at": b.paced_at.isoformat(), "spent": b.spent,
            "blocked_until": b.blocked_until.isoformat() if b.blocked_until else None,
            "strikes": b.strikes, "month": b.month.isoformat() if b.month else None,
            "monthly_used": b.monthly_used, "stated": b.stated,
        } for key, b in sorted(self.hosts.items())}

    def load(self, data: Mapping[str, Any]) -> None:
        """Take back what :meth:`dump` gave (limits stay those configured); an entry that
        does not parse is dropped, the host then starts afresh (B13)."""
        for key, d in data.items():
            try:
                limits = self.limits.get(key.lower(), self.default)
                month = _when(d.get("month"))
                b = HostBudget(
                    limits=limits, limit=int(d["limit"]), remaining=float(d["remaining"]),
                    reset=_need(d["reset"]), tokens=float(d["tokens"]),
                    paced_at=_need(d["paced_at"]), spent=int(d["spent"]),
                    blocked_until=_when(d.get("blocked_until")),
                    strikes=int(d.get("strikes", 0)),
                    month=month if limits.monthly else None,
                    monthly_used=int(d.get("monthly_used", 0)), stated=bool(d.get("stated")))
            except (KeyError, TypeError, ValueError, AttributeError):
                continue
            if b.limit > 0:
                self.hosts[key.lower()] = b


def _when(v: object) -> datetime | None:
    return None if v is None else _need(v)


def _need(v: object) -> datetime:
    if not isinstance(v, str):
        raise TypeError(v)
    t = datetime.fromisoformat(v)
    if t.tzinfo is None:
        raise ValueError("naive time")
    return t

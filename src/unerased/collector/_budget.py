"""Per-host request budgets: one token bucket per host (not per platform: two Mastodon
instances have two budgets, the requests of every platform to one host share one).

A bucket holds up to ``limit`` tokens and refills at ``limit`` per ``per`` seconds. A
check takes one token to start and is charged the rest of its requests when it ends, so
a bucket may go below zero: the host's next checks then wait until it is positive
again. A host that answered 429 (or ``X-RateLimit-Remaining: 0``) is blocked until the
time it named. Times come from the caller (an injected clock in tests)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..model import iso

__all__ = ["Bucket", "HostBudgets"]


@dataclass
class Bucket:
    limit: int
    per: float  # seconds
    tokens: float
    at: datetime
    spent: int = 0
    blocked_until: datetime | None = None

    def refill(self, now: datetime) -> None:
        dt = (now - self.at).total_seconds()
        if dt > 0:
            self.tokens = min(float(self.limit), self.tokens + dt * self.limit / self.per)
            self.at = now

    def ready_at(self, now: datetime, n: float = 1.0) -> datetime | None:
        """None when ``n`` tokens may be taken now, else when they may be."""
        self.refill(now)
        if self.blocked_until is not None:
            if self.blocked_until > now:
                return self.blocked_until
            self.blocked_until = None
        if self.tokens >= n:
            return None
        return now + timedelta(seconds=(n - self.tokens) * self.per / self.limit)


class HostBudgets:
    """The buckets of every host one collector talks to; ``budgets`` maps a host (or
    ``default``) to ``(limit, per seconds)`` (:meth:`unerased.config.Settings.budgets`)."""

    def __init__(self, budgets: Mapping[str, tuple[int, float]]) -> None:
        self._conf = {k.lower(): v for k, v in budgets.items()}
        self._buckets: dict[str, Bucket] = {}

    def bucket(self, host: str, now: datetime) -> Bucket:
        b = self._buckets.get(host)
        if b is None:
            limit, per = self._conf.get(host.lower()) or self._conf.get("default", (300, 300.0))
            b = self._buckets[host] = Bucket(limit, per, float(limit), now)
        return b

    def take(self, host: str, now: datetime) -> datetime | None:
        """Take one token to start a check: None when taken, else when to try again."""
        b = self.bucket(host, now)
        when = b.ready_at(now)
        if when is None:
            b.tokens -= 1
            b.spent += 1
        return when

    def charge(self, host: str, now: datetime, requests: int) -> None:
        """A check that made ``requests`` requests ended (its first was taken)."""
        if requests > 1:
            b = self.bucket(host, now)
            b.refill(now)
            b.tokens -= requests - 1
            b.spent += requests - 1

    def block(self, host: str, until: datetime) -> None:
        """The host asked us to wait (429, ``Retry-After``, a reset time)."""
        b = self._buckets.get(host)
        if b is None:
            b = self.bucket(host, until)
        if b.blocked_until is None or until > b.blocked_until:
            b.blocked_until = until

    def report(self, now: datetime) -> dict[str, Any]:
        """Host → ``{limit, per_s, remaining, spent, blocked_until}`` (status, heartbeat)."""
        out: dict[str, Any] = {}
        for host, b in sorted(self._buckets.items()):
            b.refill(now)
            blocked = b.blocked_until if b.blocked_until and b.blocked_until > now else None
            out[host] = {"limit": b.limit, "per_s": b.per, "remaining": int(b.tokens),
                         "spent": b.spent, "blocked_until": iso(blocked)}
        return out

"""Spending the per-host request budgets (``watch/budget.py``, pure) from the daemon:
a check takes one request of its host's budget to start and is charged the rest when
it ends; every answer it got is shown to the budget of the host that gave it (its
``X-RateLimit-*``, ``Retry-After``, a 429), so what a platform says of its limits is
what the next checks obey."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from ..model import Capture
from ..watch.budget import Budgets, HostLimits

__all__ = ["blocked_until", "budgets_from", "charge", "observe_captures", "per_second"]


def budgets_from(conf: Mapping[str, tuple[int, float]]) -> Budgets:
    """``{host or "default": (requests, per seconds)}`` (``Settings.budgets()``) as
    :class:`~unerased.watch.budget.Budgets`."""
    def limits(n: int, per: float) -> HostLimits:
        return HostLimits(limit=n, window=timedelta(seconds=per))

    default = limits(*conf.get("default", (300, 300.0)))
    return Budgets(default=default, limits={h.lower(): limits(*v) for h, v in conf.items()
                                            if h != "default"})


def charge(budgets: Budgets, host: str, now: datetime, requests: int) -> None:
    """A check that made ``requests`` requests ended; its first was taken to start it."""
    extra = requests - 1
    if extra > 0:
        b = budgets.host(host, now)
        b.roll(now)
        b.remaining -= extra
        b.tokens -= extra
        b.spent += extra
        if b.month is not None:
            b.monthly_used += extra


def _host(url: str) -> str | None:
    try:
        return urlsplit(url).netloc.lower() or None
    except ValueError:
        return None


def observe_captures(budgets: Budgets, captures: Iterable[Capture], now: datetime) -> None:
    """Every answer a check got, shown to its host's budget (``now``: when the check
    ended, on the collector's clock; a ``Retry-After`` in seconds counts from then)."""
    for cap in captures:
        host = _host(cap.url)
        if host is None or cap.status is None:
            continue
        budgets.observe(host, cap.status, dict(cap.response_headers), now)


def blocked_until(budgets: Budgets, host: str, now: datetime) -> datetime | None:
    """When ``host`` said it may be asked again (a 429, ``Retry-After``), if later."""
    b = budgets.hosts.get(host.lower())
    if b is None:
        return None
    b.roll(now)
    return b.blocked_until


def per_second(budgets: Budgets, host: str, now: datetime) -> float:
    """The pace ``host`` allows (requests a second)."""
    b = budgets.host(host, now)
    return b.limit / b.limits.window.total_seconds()

"""``unerased demo``: a censorship campaign on a simulated platform, watched live.

The campaign (:mod:`unerased.sim.campaign`: about 60 accounts of six provinces, deletions
with a time to deletion after Zhu et al. 2013, a sweep closing the accounts of two
provinces half-way) is played on a simulated Mastodon-API platform
(:mod:`unerased.sim.platform`, mildly flaky: timeouts, 5xx, 429, truncated bodies,
listings that omit posts). The real collector (sources → detect → store → ledger) watches
every account with its poll path, on an injected simulated clock accelerated so that the
campaign's ``hours`` fit in the run's wall ``seconds``. :mod:`unerased.sim.demo_view`
shows what it detects as it happens; :mod:`unerased.sim.score` scores the archive
against the campaign's ground truth at the end.

How the collector is driven is one function, :func:`poll_due` (a pass over the accounts
due at the simulated time); :func:`run_demo` takes another with the same signature.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import httpx

from ..store import Store
from ..watch.runner import CheckOutcome, RunContext, WatchConfig, add_watch, poll
from ..watch.uri import parse_uri
from .campaign import Action, Campaign, generate_campaign, timeline
from .platform import BASE, HOST, Flaky, SimAccount, SimPlatform, demo_clock
from .score import Score, score

__all__ = [
    "Collect",
    "DemoResult",
    "DemoView",
    "Round",
    "World",
    "poll_due",
    "run_demo",
]

Collect = Callable[[RunContext], list[CheckOutcome]]


def poll_due(ctx: RunContext) -> list[CheckOutcome]:
    """The demo's one call into the collector: check every account due at ``ctx.now()``
    (the collector's existing poll path; its outcomes, events included)."""
    return asyncio.run(poll(ctx, once=False, report_busy=False))


class World:
    """The campaign played on a :class:`SimPlatform`: :meth:`advance` applies every
    action up to a simulated time (posts, edits, deletions, closures)."""

    def __init__(self, campaign: Campaign, sim: SimPlatform) -> None:
        self.campaign = campaign
        self.sim = sim
        self.accounts: dict[str, SimAccount] = {
            a.username: sim.add_account(a.username, a.display_name) for a in campaign.accounts}
        for a in campaign.accounts:
            self.accounts[a.username].note = f"{a.province} · {a.display_name}"
        self._actions = timeline(campaign)
        self._next = 0

    def advance(self, t: datetime) -> list[Action]:
        done: list[Action] = []
        while self._next < len(self._actions) and self._actions[self._next].at <= t:
            act = self._actions[self._next]
            self._next += 1
            self._apply(act)
            done.append(act)
        return done

    def _apply(self, act: Action) -> None:
        acc = self.accounts[act.account]
        post = act.post
        if act.kind == "post" and post is not None:
            self.sim.post(acc, post.text, at=post.created_at, id=post.post_id)
        elif act.kind == "edit" and post is not None:
            self.sim.edit(self.sim.statuses[post.post_id], act.text)
        elif act.kind == "delete" and post is not None:
            self.sim.delete(self.sim.statuses[post.post_id])
        elif act.kind == "close":
            if act.text == "deactivated":
                acc.deleted = True  # the account is gone: its profile answers 404
            else:
                acc.suspended = True


@dataclass
class Round:
    """What one round did: the simulated time it ran at, the world's changes since the
    last round, the checks' outcomes."""

    no: int
    at: datetime
    actions: list[Action]
    outcomes: list[CheckOutcome]


@dataclass
class DemoResult:
    campaign: Campaign
    events: list[dict[str, Any]] = field(default_factory=list)
    rounds: int = 0
    checks: int = 0
    failed_checks: int = 0
    requests: int = 0
    covered: timedelta = timedelta(0)  # simulated time the run covered
    wall: float = 0.0  # wall seconds it took
    score: Score | None = None

    def to_json(self) -> dict[str, Any]:
        c = self.campaign
        return {
            "seed": c.seed, "accounts": len(c.accounts), "posts": len(c.posts),
            "start": c.start.isoformat(), "sweep_at": c.sweep_at.isoformat(),
            "swept": list(c.swept), "simulated_s": self.covered.total_seconds(),
            "wall_s": round(self.wall, 3), "rounds": self.rounds, "checks": self.checks,
            "failed_checks": self.failed_checks, "requests": self.requests,
            "events": len(self.events),
            "score": self.score.to_json() if self.score else None,
        }


class DemoView(Protocol):
    """Where the demo shows itself (:class:`unerased.sim.demo_view.LiveView`)."""

    def begin(self, campaign: Campaign, store: Store, rate: float) -> None: ...
    def show(self, rnd: Round, result: DemoResult) -> None: ...
    def end(self, result: DemoResult) -> None: ...


def run_demo(
    store: Store,
    *,
    seconds: float,
    hours: float = 12.0,
    round_seconds: float = 0.5,
    seed: int = 7,
    accounts: int = 60,
    flaky: Flaky | None = None,
    view: DemoView | None = None,
    collect: Collect = poll_due,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> DemoResult:
    """Play a campaign of ``hours`` simulated hours (the sweep half-way, spread over an
    eighth of the campaign, 90 minutes at most) in ``seconds`` of wall time, watched by
    the collector; a round every ``round_seconds`` at most (sooner when the checks take
    longer: the simulated time follows the wall clock). Returns what happened, scored
    against the ground truth up to the simulated time reached."""
    wall0 = monotonic()
    campaign = generate_campaign(seed, accounts=accounts, hours=hours, sweep_at_hours=hours / 2,
                                 sweep_spread_minutes=min(90.0, hours * 60 / 8))
    clock = demo_clock(campaign.start)
    sim = SimPlatform(seed=seed, flaky=Flaky(), clock=clock)
    world = World(campaign, sim)
    world.advance(campaign.start)  # the posts written before the watch begins

    def factory() -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=sim.transport())

    ctx = RunContext(store, factory, WatchConfig(
        source_options={"mastodon": {"clock": clock}}, fetch_media=False), now=clock)
    for a in campaign.accounts:
        asyncio.run(add_watch(ctx, parse_uri(f"mastodon:@{a.username}@{HOST}"),
                              service=BASE, tags=a.tags))
    sim.flaky = flaky if flaky is not None else Flaky.mild()
    result = DemoResult(campaign)
    span = (campaign.end - campaign.start).total_seconds()
    t0 = monotonic()
    deadline = wall0 + seconds
    rate = span / max(deadline - t0, 0.1)  # simulated seconds per wall second
    if view:
        view.begin(campaign, store, rate)
    took = 0.0  # wall seconds the last round's checks took
    while True:
        began = monotonic()
        target = min(campaign.end, campaign.start + timedelta(seconds=(began - t0) * rate))
        if began + max(round_seconds, took) >= deadline:
            target = campaign.end  # the last round (by the last one's length): the end
        if target > clock():
            clock.advance(target - clock())
        acts = world.advance(clock())
        outcomes = collect(ctx)
        took = monotonic() - began
        result.rounds += 1
        result.checks += sum(o.outcome in ("ok", "error") for o in outcomes)
        result.failed_checks += sum(o.outcome == "error" for o in outcomes)
        for o in outcomes:
            result.events.extend(o.events)
        result.covered = clock() - campaign.start
        result.requests = sim.requests
        if view:
            view.show(Round(result.rounds, clock(), acts, outcomes), result)
        left = deadline - monotonic()
        if left <= 0 or clock() >= campaign.end:
            break
        sleep(min(left, max(0.0, round_seconds - (monotonic() - began))))
    result.wall = monotonic() - wall0
    result.score = score(campaign, store, until=clock() + timedelta(microseconds=1))
    if view:
        view.end(result)
    return result

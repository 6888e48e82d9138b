"""Adaptive scheduling beside uniform polling at one request budget, on the campaign's truth.

    PYTHONPATH=src .venv/bin/python bench/bench_schedule.py [--seeds 10] [--hours 48] [--verbose]

A discrete-event simulation over ``unerased.sim.campaign.generate_campaign`` (60 accounts,
its time-to-deletion ``TTD`` after Zhu et al. 2013: 5 % 1–5 min, 30 % 5–30 min, 55 %
30 min–24 h, 10 % 1–7 days after posting). Three policies watch the same campaign:

uniform          today's ``unerased run``: every account every 15 minutes (+ up to 10 %
                 jitter), every 5 minutes while a deletion waits for its confirming check.
adaptive         ``unerased.watch.schedule``: intervals from ``allocate`` (rates learnt by
                 the EWMA of ``observe_posts``, ``risk=high``), the fresh-post and pending
                 rules of ``plan_account``, and direct lookups of posts that left the
                 listing window on the post ladder (``due_posts``); every request is taken
                 from a ``unerased.watch.budget`` bucket holding uniform's spend.
adaptive+stream  the same, plus a stream delivering every create and delete 1–5 s after it
                 happens, except during outages (2 of 10 minutes, at seeded times), whose
                 events are lost; after an outage every account is re-listed (spread by
                 ``resume``). A delete the stream announces is looked up at once and, if
                 the platform answers gone, confirmed at once (docs/detection.md).

The budget is what uniform spends over the same simulated time; the adaptive policies'
buckets (``unerased.watch.budget``) allow that many requests per 15-minute window, evenly,
and never more: 80 % for account checks and 20 % for direct lookups. Every hour
``allocate`` plans the checks to spend 90 % of the budget less what the lookups spent in
the last hour (the 10 % leaves room for pending rechecks), scaled by what the checks
really spent against the last plan (damped). A lookup the bucket refuses waits for a
later check (detection's own lookups come before the post ladder's); a check may use what
the lookups leave unspent.

bound            not a policy: the best any periodic polling can archive at this budget,
                 knowing every account's true posting rate and deletion probability,
                 spending every request on account checks (none on lookups) — each
                 account's interval chosen to minimise the expected number of deleted posts
                 never listed, E[max(0, 1 - TTD / interval)] per post.

What the model assumes:
- a check of an account costs 1 request (the account) + 1 (a listing page of its 20
  newest live posts) + 1 per direct lookup; a closed account costs 1 (no listing);
- a post is archived when a check lists it (or the stream delivers it) before its deletion;
- a deleted post is noticed when a check's listing no longer shows it while it is within
  the listing's window (or, adaptive only, when a post-ladder lookup of an older post
  answers gone); like detection, one GONE is a suspicion and a second GONE at least 5
  minutes later at another check confirms it (a stream-announced delete with a GONE lookup
  confirms at once); after an account's closure its posts are no longer judged;
- the platform never errs (no timeouts or 5xx): a best case for every policy alike;
- the first 24 hours are a warm-up (the adaptive schedule learns the posting rates); the
  figures count posts created after it; the simulation runs 2 hours past the campaign's
  end so late deletions can be confirmed.

Figures per seed and their medians over the seeds: the share of later-deleted posts whose
content was archived before deletion; the median delay from deletion to detection (over
the deleted posts that were archived, a deletion never detected counting as infinite;
posts wiped just before their account's closure are left out of the delay: the closure
is their event); the share of those deletions detected; the requests spent.
"""

from __future__ import annotations

import argparse
import heapq
import inspect
import math
import random
import statistics
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from unerased.sim.campaign import TTD, Campaign, CampaignPost, generate_campaign
from unerased.watch.budget import Budgets, HostLimits
from unerased.watch.schedule import (
    AccountLoad,
    AccountSchedule,
    KnownPost,
    ScheduleConfig,
    allocate,
    due_posts,
    is_high_risk,
    observe_posts,
    plan_account,
    resume,
)

M = timedelta(minutes=1)
PAGE = 20
CONFIRM = 5 * M
UNIFORM = 15 * M
RECHECK = 5 * M
WINDOW = 15 * M
LOOKUP_SHARE = 0.2  # of the budget kept for direct lookups (its own bucket)
SLACK = 0.1  # of the checks' share allocate() leaves for pending rechecks
REALLOCATE = timedelta(hours=1)
LOOKUPS = 5  # post-ladder lookups per check at most
HOST = "platform.example"
TAIL = timedelta(hours=2)
WARMUP_H = 24.0


@dataclass
class World:
    """The campaign as the simulated platform answers it."""

    c: Campaign
    by_account: dict[str, list[CampaignPost]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for p in self.c.posts:
            self.by_account.setdefault(p.account, []).append(p)
        for ps in self.by_account.values():
            ps.sort(key=lambda p: (p.created_at, p.post_id))
        self.closed = {a.username: a.closed_at for a in self.c.accounts}

    def is_closed(self, acct: str, t: datetime) -> bool:
        at = self.closed[acct]
        return at is not None and t >= at

    def listing(self, acct: str, t: datetime) -> tuple[list[CampaignPost], datetime | None]:
        """The 20 newest live posts at ``t`` and the window's start (None: all listed)."""
        live = [p for p in self.by_account.get(acct, ())
                if p.created_at <= t and (p.deleted_at is None or p.deleted_at > t)]
        page = live[-PAGE:]
        return page, (page[0].created_at if len(live) > PAGE else None)


@dataclass
class Tally:
    """What one policy archived and detected, and what it spent."""

    archived: dict[str, datetime] = field(default_factory=dict)
    detected: dict[str, datetime] = field(default_factory=dict)
    pending: dict[str, datetime] = field(default_factory=dict)  # post -> first GONE
    looked: dict[str, datetime] = field(default_factory=dict)   # post -> last lookup
    requests: int = 0


class Sim:
    """One policy over one campaign."""

    def __init__(self, world: World, policy: str, seed: int, per_window: float | None) -> None:
        self.w, self.policy, self.rng = world, policy, random.Random(seed * 7919 + 17)
        self.t = Tally()
        self.cfg = ScheduleConfig(seed=seed)
        self.state = {a.username: AccountSchedule() for a in world.c.accounts}
        self.risk = {a.username: is_high_risk(a.tags) for a in world.c.accounts}
        self.alloc: dict[str, timedelta] = {}
        self.budget: Budgets | None = None  # account checks
        self.lbudget: Budgets | None = None  # direct lookups
        self.per_window = per_window
        if per_window is not None:
            checks = max(1, int(per_window * (1 - LOOKUP_SHARE)))
            self.budget = Budgets(default=HostLimits(limit=checks, window=WINDOW))
            self.lbudget = Budgets(default=HostLimits(
                limit=max(1, int(per_window) - checks), window=WINDOW))
        self.k = 1.0  # feedback: planned / spent, folded into the next allocation
        self.check_spent = 0
        self.lookup_spent = 0
        self.planned: float | None = None
        self.heap: list[tuple[datetime, int, str, str]] = []
        self.seq = 0
        self.due: dict[str, datetime] = {}

    # --- the event queue --------------------------------------------------------
    def push(self, at: datetime, kind: str, key: str) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (at, self.seq, kind, key))
        if kind == "check":
            self.due[key] = at

    def take(self, now: datetime, cost: int, *, lookup: bool = False) -> float:
        b = self.lbudget if lookup else self.budget
        if b is None:
            self.t.requests += cost
            return 0.0
        wait = b.take(HOST, now, cost)
        if wait > 0 and not lookup and self.lbudget is not None:
            # work-conserving: a check may use what the lookups leave unspent
            wait = min(wait, self.lbudget.take(HOST, now, cost))
        if wait == 0:
            self.t.requests += cost
            if lookup:
                self.lookup_spent += cost
            else:
                self.check_spent += cost
        return wait

    # --- a check of one account ---------------------------------------------------
    def check(self, acct: str, now: datetime) -> bool:
        """Check ``acct``; False when the budget refused it (rescheduled by the caller)."""
        closed = self.w.is_closed(acct, now)
        if self.take(now, 1 if closed else 2) > 0:
            return False
        known = [p for p in self.w.by_account.get(acct, ()) if p.post_id in self.t.archived]
        if closed:  # hidden account: its posts are not judged
            for p in known:
                self.t.pending.pop(p.post_id, None)
            return True
        page, start = self.w.listing(acct, now)
        listed = {p.post_id for p in page}
        fresh = []
        for p in page:
            if p.post_id not in self.t.archived:
                self.t.archived[p.post_id] = now
                fresh.append(p.created_at)
            self.t.pending.pop(p.post_id, None)
            self.t.looked[p.post_id] = now
        look: list[CampaignPost] = []
        older: list[CampaignPost] = []
        for p in known:
            pid = p.post_id
            if pid in listed or pid in self.t.detected:
                continue
            if pid in self.t.pending:
                if now - self.t.pending[pid] >= CONFIRM:
                    look.append(p)
            elif start is None or p.created_at >= start:
                look.append(p)
            else:
                older.append(p)
        if self.policy != "uniform" and older:
            byid = {p.post_id: p for p in older}
            for pid in due_posts([KnownPost(p.post_id, p.created_at, self.t.looked.get(
                    p.post_id)) for p in older], now, self.cfg, LOOKUPS):
                look.append(byid[pid])
        for p in look:
            if self.take(now, 1, lookup=True) > 0:
                break
            self.lookup(p, now, announced=False)
        self.state[acct] = observe_posts(self.state[acct], fresh, now, self.cfg)
        return True

    def lookup(self, p: CampaignPost, now: datetime, *, announced: bool) -> None:
        pid = p.post_id
        self.t.looked[pid] = now
        if self.w.is_closed(p.account, now):
            return
        if p.deleted_at is None or p.deleted_at > now:
            self.t.pending.pop(pid, None)
            return
        first = self.t.pending.get(pid)
        if announced or (first is not None and now - first >= CONFIRM):
            self.t.detected[pid] = now
            self.t.pending.pop(pid, None)
        elif first is None:
            self.t.pending[pid] = now

    def has_pending(self, acct: str) -> bool:
        return any(p.post_id in self.t.pending
                   for p in self.w.by_account.get(acct, ()))

    # --- scheduling ----------------------------------------------------------------
    def next_due(self, acct: str, now: datetime) -> datetime:
        pending = self.has_pending(acct)
        if self.policy == "uniform":
            base = RECHECK if pending else UNIFORM
            return now + base * (1 + 0.1 * self.rng.random())
        s = plan_account(self.state[acct], acct, now, self.cfg, high_risk=self.risk[acct],
                         pending=pending, allotted=self.alloc.get(acct))
        self.state[acct] = s
        assert s.next_due is not None
        return s.next_due

    def reallocate(self, now: datetime) -> None:
        if self.per_window is None:
            return
        loads = [AccountLoad(a, self.state[a].rate(now, self.cfg), self.risk[a],
                             1.0 if self.w.is_closed(a, now) else 2.0) for a in self.state]
        looks = (LOOKUP_SHARE * self.per_window if self.planned is None
                 else self.lookup_spent / (REALLOCATE / WINDOW))
        share = max(1.0, self.per_window * (1 - SLACK) - looks)
        if self.planned is not None and self.check_spent > 0:
            # the model's estimate of the spend is only an estimate: steer by what the
            # checks really spent since the last allocation (damped, bounded)
            self.k = min(2.0, max(0.25, self.k * (self.planned / self.check_spent) ** 0.5))
        self.planned = share * (REALLOCATE / WINDOW)
        self.check_spent = self.lookup_spent = 0
        self.alloc = allocate(loads, share * self.k, WINDOW, self.cfg)

    def run(self, outages: list[tuple[datetime, datetime]]) -> Tally:
        c = self.w.c
        start, stop = c.start, c.end + TAIL
        for a in self.state:
            self.push(start + UNIFORM * self.rng.random(), "check", a)
        if self.policy != "uniform":
            self.push(start, "alloc", "")
        if self.policy == "adaptive+stream":
            for p in c.posts:
                if p.created_at >= start:
                    self.stream(p.created_at, "create", p.post_id, outages)
                if p.deleted_at is not None:
                    self.stream(p.deleted_at, "delete", p.post_id, outages)
            for _, end in outages:
                self.push(end, "gap", "")
        posts = {p.post_id: p for p in c.posts}
        while self.heap:
            now, _, kind, key = heapq.heappop(self.heap)
            if now >= stop:
                break
            if kind == "check":
                if self.due.get(key) != now:
                    continue  # superseded
                if self.check(key, now):
                    self.push(self.next_due(key, now), "check", key)
                else:
                    self.push(now + self.wait(now), "check", key)
            elif kind == "alloc":
                self.reallocate(now)
                self.push(now + REALLOCATE, "alloc", "")
            elif kind == "create":
                p = posts[key]
                self.t.archived.setdefault(key, now)
                self.state[p.account] = observe_posts(self.state[p.account], [p.created_at],
                                                      now, self.cfg)
            elif kind == "delete":
                p = posts[key]
                if key in self.t.archived and key not in self.t.detected:
                    if self.take(now, 1, lookup=True) > 0:
                        self.push(now + timedelta(seconds=5), "delete", key)
                    else:
                        self.lookup(p, now, announced=True)
            elif kind == "gap":  # re-list everyone, spread out (no burst)
                overdue: dict[str, datetime | None] = {a: now for a in self.state}
                per = max(1, int((self.per_window or 2) * (1 - LOOKUP_SHARE)) // 2)
                for a, t in resume(overdue, now, RECHECK, per_window=per,
                                   window=WINDOW).items():
                    self.push(t, "check", a)
        return self.t

    def wait(self, now: datetime) -> timedelta:
        assert self.budget is not None
        return timedelta(seconds=max(1.0, self.budget.host(HOST, now).wait(now, 2)))

    def stream(self, at: datetime, kind: str, pid: str,
               outages: list[tuple[datetime, datetime]]) -> None:
        if any(a <= at < b for a, b in outages):
            return  # lost in the outage
        self.push(at + timedelta(seconds=self.rng.uniform(1, 5)), kind, pid)


@dataclass
class Figures:
    archived: float
    median_delay_s: float
    detected: float
    requests: int


def score(c: Campaign, t: Tally, since: datetime) -> Figures:
    deleted = [p for p in c.posts if p.deleted_at is not None and p.created_at >= since]
    kept = [p for p in deleted if p.post_id in t.archived
            and t.archived[p.post_id] < (p.deleted_at or p.created_at)]
    judged = [p for p in kept if not p.wiped]
    delays = sorted((t.detected[p.post_id] - p.deleted_at).total_seconds()
                    if p.post_id in t.detected and p.deleted_at else math.inf
                    for p in judged)
    med = statistics.median(delays) if delays else math.nan
    return Figures(len(kept) / max(1, len(deleted)), med,
                   sum(1 for d in delays if d < math.inf) / max(1, len(delays)), t.requests)


class Bound:
    """The expected archived share of the best periodic polling at a budget (see the
    module's docstring): a Lagrangian over a grid of intervals, 1 minute to 6 hours."""

    def __init__(self, c: Campaign, seed: int) -> None:
        params = inspect.signature(generate_campaign).parameters
        q_hi = float(params["delete_share_high"].default)
        q_lo = float(params["delete_share"].default)
        rng = random.Random(seed)
        ttd = [TTD.sample(rng).total_seconds() for _ in range(4000)]
        self.grid = [60.0 * float(360.0 ** (k / 99)) for k in range(100)]
        self.miss = [sum(max(0.0, 1 - d / i) for d in ttd) / len(ttd) for i in self.grid]
        self.dels = [(a.posts_per_day / 86400 * (q_hi if a.risk == "high" else q_lo))
                     for a in c.accounts]

    def _pick(self, mu: float) -> list[int]:
        g, m = self.grid, self.miss
        return [min(range(len(g)), key=lambda j: r * m[j] + mu * 2 / g[j]) for r in self.dels]

    def share(self, per_window: float) -> float:
        per_s = per_window / WINDOW.total_seconds()
        lo, hi = 1e-12, 1.0
        for _ in range(60):
            mu = math.sqrt(lo * hi)
            if sum(2 / self.grid[j] for j in self._pick(mu)) > per_s:
                lo = mu
            else:
                hi = mu
        chosen = self._pick(hi)
        return 1 - sum(r * self.miss[j] for r, j in zip(self.dels, chosen, strict=True)
                       ) / sum(self.dels)

    def budget_for(self, target: float, per_window: float) -> float | None:
        """The smallest multiple of ``per_window`` at which the bound reaches ``target``
        (None: not even at 64×, or with a check every minute)."""
        if self.share(64 * per_window) < target:
            return None
        lo, hi = 1.0, 64.0
        if self.share(lo * per_window) >= target:
            return lo
        for _ in range(12):
            mid = math.sqrt(lo * hi)
            lo, hi = (lo, mid) if self.share(mid * per_window) >= target else (mid, hi)
        return hi


def outages_for(c: Campaign, seed: int, since: datetime) -> list[tuple[datetime, datetime]]:
    rng = random.Random(seed * 31 + 5)
    span = (c.end - since).total_seconds() - 600
    out = []
    for _ in range(2):
        a = since + timedelta(seconds=rng.uniform(0, span))
        out.append((a, a + 10 * M))
    return sorted(out)


def one_seed(seed: int, hours: float
             ) -> tuple[dict[str, Figures], int, float, float, float | None]:
    c = generate_campaign(seed, hours=hours + WARMUP_H, sweep_at_hours=WARMUP_H + hours / 2)
    w = World(c)
    since = c.start + timedelta(hours=WARMUP_H)
    uni = Sim(w, "uniform", seed, None).run([])
    windows = (c.end + TAIL - c.start) / WINDOW
    per_window = uni.requests / windows
    out = {"uniform": score(c, uni, since)}
    for pol in ("adaptive", "adaptive+stream"):
        tally = Sim(w, pol, seed, per_window).run(outages_for(c, seed, since))
        out[pol] = score(c, tally, since)
    n = sum(1 for p in c.posts if p.deleted_at is not None and p.created_at >= since)
    bnd = Bound(c, seed)
    return out, n, per_window, bnd.share(per_window), bnd.budget_for(0.98, per_window)


def _fmt_delay(s: float) -> str:
    if math.isinf(s):
        return "never"
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.1f} min"


def rows(figs: dict[str, list[Figures]]) -> Iterator[str]:
    yield f"{'policy':<17}{'archived':>10}{'median delay':>14}{'detected':>10}{'requests':>10}"
    for pol, fs in figs.items():
        a = statistics.median(f.archived for f in fs)
        d = statistics.median(f.median_delay_s for f in fs)
        det = statistics.median(f.detected for f in fs)
        r = statistics.median(f.requests for f in fs)
        yield f"{pol:<17}{a:>9.1%}{_fmt_delay(d):>14}{det:>9.1%}{r:>10.0f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--hours", type=float, default=48.0, help="scored hours after warm-up")
    ap.add_argument("--verbose", action="store_true", help="every seed's figures")
    args = ap.parse_args()
    print(f"time to deletion (TTD): {TTD.share_within(timedelta(0), 5 * M):.0%} < 5 min, "
          f"{TTD.share_within(5 * M, 30 * M):.0%} 5-30 min, "
          f"{TTD.share_within(timedelta(0), timedelta(hours=24)):.0%} within 24 h "
          "(unerased.sim.campaign.TTD, after Zhu et al. 2013)")
    figs: dict[str, list[Figures]] = {}
    bounds: list[float] = []
    needs: list[float] = []
    for seed in range(args.seeds):
        out, n, per_window, bnd, need = one_seed(seed, args.hours)
        bounds.append(bnd)
        needs.append(math.inf if need is None else need)
        for pol, f in out.items():
            figs.setdefault(pol, []).append(f)
        if args.verbose:
            print(f"seed {seed}: {n} deleted posts scored; budget {per_window:.1f} "
                  f"requests / 15 min; bound {bnd:.1%}; 98 % needs {need or math.inf:.1f}x")
            for pol, f in out.items():
                print(f"  {pol:<16} archived {f.archived:.1%}  median delay "
                      f"{_fmt_delay(f.median_delay_s)}  detected {f.detected:.1%}  "
                      f"requests {f.requests}")
    print(f"medians over {args.seeds} seeds; {args.hours:g} h scored after a "
          f"{WARMUP_H:g} h warm-up; one budget: uniform's spend")
    for line in rows(figs):
        print(line)
    print(f"{'bound':<17}{statistics.median(bounds):>9.1%}   (expected archived share of the "
          "best periodic polling at this budget: true rates, every request a check)")
    med = {p: (statistics.median(f.archived for f in fs),
               statistics.median(f.median_delay_s for f in fs)) for p, fs in figs.items()}
    ua, ud = med["uniform"]
    aa, ad = med["adaptive"]
    sa, sd = med["adaptive+stream"]
    bnd = statistics.median(bounds)
    print("targets (issue 10):")
    print(f"  adaptive archived >= 98 % where uniform < 90 %: {aa:.1%} vs {ua:.1%} -> "
          f"{'met' if aa >= 0.98 and ua < 0.90 else 'NOT met'}")
    if bnd < 0.98:
        print(f"    infeasible by polling at this budget: the best periodic polling, knowing "
              f"the true rates, archives {bnd:.1%} in expectation; 98 % would need "
              f"{statistics.median(needs):.1f}x this budget")
    print(f"  adaptive median delay <= half of uniform's: {_fmt_delay(ad)} vs "
          f"{_fmt_delay(ud)} -> {'met' if ad <= ud / 2 else 'NOT met'}")
    if ad > ud / 2:
        left = ud / 2 - CONFIRM.total_seconds()
        print(f"    a polled deletion is confirmed by a second GONE >= "
              f"{CONFIRM.total_seconds() / 60:.0f} min after the first (docs/detection.md): "
              f"half of uniform's median leaves {max(left, 0) / 60:.1f} min to notice it, "
              f"checks every <= {max(2 * left, 0) / 60:.1f} min of the deleting accounts "
              f"(uniform: {UNIFORM.total_seconds() / 60:.0f})")
    print(f"  with a stream archived >= 99.5 % and median delay < 30 s: {sa:.1%}, "
          f"{_fmt_delay(sd)} -> {'met' if sa >= 0.995 and sd < 30 else 'NOT met'}")

if __name__ == "__main__":
    main()

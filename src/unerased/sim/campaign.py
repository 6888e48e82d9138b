"""A censorship campaign with its ground truth: who posts what, when the censor deletes it,
when accounts are closed. Pure and seeded (no clock, no I/O): the same seed gives the same
campaign, so the demo, the tests and the benchmarks score against the same truth.

The story (shared seed): police in **Beijing, Chongqing, Shandong, Hubei, Fujian and
Guangdong** forced dissidents to close their Twitter accounts; one man's tweets were all
deleted and his account closed; 200,000 other accounts were shut down. Here:

- **Accounts** (``accounts``, default 60) are dealt round-robin over the six provinces and
  tagged ``province=<name>``; about one in five is ``risk=high``.
- **Posting rates** are heterogeneous (a three-part mixture, drawn per account): 10 %
  prolific (20–60 posts/day), 30 % regular (3–10/day), 60 % quiet (0.3–2/day), uniform
  within each part. Posts arrive as a Poisson process over ``[start, end)``. Every account
  also has a few older posts (1–30 days before ``start``) the campaign's deletions do not
  touch (only a sweep does).
- **Deletions**: each new post is deleted with probability ``delete_share`` (``risk=high``
  accounts: ``delete_share_high``), after a time-to-deletion drawn from :data:`TTD`. A
  deletion that would fall after ``end`` or after the account's closure is not in the truth
  (``deleted_at`` None): nobody could observe it.
- **Time to deletion** (:data:`TTD`), after Zhu et al., "The Velocity of Censorship:
  High-Fidelity Detection of Microblog Post Deletions" (USENIX Security 2013), who found on
  Weibo about 30 % of deletions 5–30 minutes after posting and about 90 % within 24 hours.
  The exact mixture used:

  ======  =====================  ==============
  weight  time after posting     within the part
  ======  =====================  ==============
  5 %     1–5 min                uniform
  30 %    5–30 min               log-uniform
  55 %    30 min–24 h            log-uniform
  10 %    24 h–7 days            log-uniform
  ======  =====================  ==============

  so 35 % within 30 min, 30 % in 5–30 min, 90 % within 24 h.
- **The sweep**: at ``sweep_at_hours`` every account of the ``swept`` provinces (default
  Chongqing and Fujian, the two arrested men's provinces) is closed within the next
  ``sweep_spread_minutes``: ``suspended`` by the platform, or ``deactivated`` under
  pressure; the first account of each swept province has all its posts deleted at once
  1–3 h before its closure (a third to all of ``min(3 h, sweep_at_hours / 2)``) and posts
  nothing after — "all his tweets were deleted": a mass deletion a collector sees if it
  looks in between. Posts of a suspended account are hidden, not deleted: their ``deleted_at``
  stays None, the closure is the event.
- **Edits**: a few posts (``edit_share``) are edited once, 10 min–6 h after posting.

:func:`timeline` turns a campaign into time-ordered world actions for a simulator.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

__all__ = [
    "PROVINCES",
    "TTD",
    "Action",
    "Campaign",
    "CampaignAccount",
    "CampaignPost",
    "TimeToDeletion",
    "generate_campaign",
    "snowflake",
    "timeline",
]

PROVINCES: tuple[str, ...] = ("Beijing", "Chongqing", "Shandong", "Hubei", "Fujian", "Guangdong")
_PINYIN = {"Beijing": "bj", "Chongqing": "cq", "Shandong": "sd", "Hubei": "hb",
           "Fujian": "fj", "Guangdong": "gd"}
_ZH = {"Beijing": "北京", "Chongqing": "重庆", "Shandong": "山东", "Hubei": "湖北",
       "Fujian": "福建", "Guangdong": "广东"}
_SURNAMES = ("liu", "pan", "wu", "cai", "he", "sheng", "bao", "lin", "zhou", "chen", "sun",
             "ma", "zhang", "wang", "li", "zhao", "huang", "xu", "guo", "luo")
_PHRASES = (
    "今天又有朋友被约谈，要求删除推特。", "网络审查越来越严，我们要保存记录。",
    "The police asked me to close my account.", "言论自由是宪法保障的权利。",
    "Keeping a copy of everything, just in case.", "我的账号随时可能被封。",
    "清理推特行动开始了。", "200,000 accounts closed this month.",
    "转发：关于言论自由的文章。", "If I go quiet, you know why.",
    "黑夜总会过去。", "They called my landlord today.",
    "{zh}的国保又来了。", "Police in {en} are visiting everyone who tweets.",
    "不知道什么时候还能再说话。", "Forwarding an article on the constitution.",
)
_EDIT_PREFIX = "【已修改】"
DEFAULT_START = datetime(2026, 11, 8, tzinfo=UTC)


@dataclass(frozen=True)
class TimeToDeletion:
    """A mixture of (weight, low, high, log-uniform?) parts, delays after posting."""

    parts: tuple[tuple[float, timedelta, timedelta, bool], ...]

    def sample(self, rng: random.Random) -> timedelta:
        r = rng.random() * sum(p[0] for p in self.parts)
        part = self.parts[-1]
        for cand in self.parts:
            if r < cand[0]:
                part = cand
                break
            r -= cand[0]
        _, lo, hi, log = part
        a, b = lo.total_seconds(), hi.total_seconds()
        u = rng.random()
        s = math.exp(math.log(a) + u * (math.log(b) - math.log(a))) if log else a + u * (b - a)
        return timedelta(seconds=s)

    def share_within(self, lo: timedelta, hi: timedelta) -> float:
        """The mixture's exact probability of a delay in ``[lo, hi)``."""
        total = sum(p[0] for p in self.parts)
        got = 0.0
        for weight, a, b, log in self.parts:
            x0, x1 = max(a, lo), min(b, hi)
            if x1 <= x0:
                continue
            if log:
                frac = (math.log(x1.total_seconds()) - math.log(x0.total_seconds())) / (
                    math.log(b.total_seconds()) - math.log(a.total_seconds()))
            else:
                frac = (x1 - x0) / (b - a)
            got += weight * frac
        return got / total


_M, _H, _D = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
TTD = TimeToDeletion((
    (0.05, 1 * _M, 5 * _M, False),
    (0.30, 5 * _M, 30 * _M, True),
    (0.55, 30 * _M, 24 * _H, True),
    (0.10, 24 * _H, 7 * _D, True),
))
"""Time to deletion after Zhu et al. 2013: 30 % in 5–30 min, 90 % within 24 h."""


@dataclass
class CampaignAccount:
    username: str
    province: str
    risk: str  # "high" | "normal"
    posts_per_day: float
    display_name: str = ""
    closed_at: datetime | None = None
    closure: str | None = None  # "suspended" | "deactivated"
    wiped: bool = False  # all its posts deleted just before the closure

    @property
    def tags(self) -> dict[str, str]:
        return {"province": self.province, "risk": self.risk}


@dataclass
class CampaignPost:
    account: str  # username
    post_id: str  # the status id the simulator serves (a Mastodon-style snowflake)
    text: str
    created_at: datetime
    deleted_at: datetime | None = None
    edits: list[tuple[datetime, str]] = field(default_factory=list)
    wiped: bool = False  # deleted by the pre-closure wipe, not by the TTD draw

    @property
    def ttd(self) -> timedelta | None:
        return None if self.deleted_at is None else self.deleted_at - self.created_at


@dataclass
class Campaign:
    seed: int
    start: datetime
    end: datetime
    sweep_at: datetime
    swept: tuple[str, ...]
    accounts: list[CampaignAccount]
    posts: list[CampaignPost]

    def account(self, username: str) -> CampaignAccount:
        return next(a for a in self.accounts if a.username == username)

    def posts_of(self, username: str) -> list[CampaignPost]:
        return [p for p in self.posts if p.account == username]

    @property
    def deleted(self) -> list[CampaignPost]:
        return [p for p in self.posts if p.deleted_at is not None]

    @property
    def closed(self) -> list[CampaignAccount]:
        return [a for a in self.accounts if a.closed_at is not None]


@dataclass(frozen=True)
class Action:
    """One change of the world at ``at``: kind "post" | "edit" | "delete" | "close"."""

    at: datetime
    kind: str
    account: str
    post: CampaignPost | None = None
    text: str = ""  # the new text of an edit; the closure kind of a "close"


def snowflake(at: datetime, seq: int) -> str:
    """A Mastodon-style id: milliseconds since the epoch << 16, plus a sequence number."""
    return str((int(at.timestamp() * 1000) << 16) | (seq & 0xFFFF))


def _rate(rng: random.Random) -> float:
    r = rng.random()
    if r < 0.10:
        return rng.uniform(20, 60)
    if r < 0.40:
        return rng.uniform(3, 10)
    return rng.uniform(0.3, 2)


def _text(rng: random.Random, province: str, n: int) -> str:
    phrase = rng.choice(_PHRASES).format(zh=_ZH[province], en=province)
    return f"{phrase} #{n}"


def generate_campaign(
    seed: int = 0,
    *,
    accounts: int = 60,
    hours: float = 48,
    sweep_at_hours: float = 24,
    start: datetime = DEFAULT_START,
    swept: Sequence[str] = ("Chongqing", "Fujian"),
    sweep_spread_minutes: float = 90,
    delete_share: float = 0.15,
    delete_share_high: float = 0.4,
    edit_share: float = 0.02,
    high_risk_share: float = 0.2,
    backlog: int = 5,
    ttd: TimeToDeletion = TTD,
) -> Campaign:
    """The campaign for ``seed`` (see the module's docstring for every distribution)."""
    if accounts < 1 or hours <= 0 or not 0 <= sweep_at_hours <= hours:
        raise ValueError("need accounts >= 1, hours > 0 and 0 <= sweep_at_hours <= hours")
    unknown = [p for p in swept if p not in PROVINCES]
    if unknown:
        raise ValueError(f"unknown province(s): {', '.join(unknown)}")
    rng = random.Random(seed)
    end = start + timedelta(hours=hours)
    sweep_at = start + timedelta(hours=sweep_at_hours)
    accs: list[CampaignAccount] = []
    for i in range(accounts):
        prov = PROVINCES[i % len(PROVINCES)]
        sur = _SURNAMES[(i // len(PROVINCES) + 3 * (i % len(PROVINCES))) % len(_SURNAMES)]
        name = f"{_PINYIN[prov]}_{sur}{i // len(PROVINCES) + 1:02d}"
        risk = "high" if rng.random() < high_risk_share else "normal"
        accs.append(CampaignAccount(name, prov, risk, round(_rate(rng), 3),
                                    display_name=f"{sur.capitalize()} ({_ZH[prov]})"))
    # closures first: they bound what can still be posted and deleted
    first_of: set[str] = set()
    wipe: dict[str, datetime] = {}  # the wiped accounts: when all their posts go
    lead_max = min(180.0, sweep_at_hours * 60 / 2)  # never before half-way to the sweep
    for acc in accs:
        if acc.province in swept:
            closed_at = sweep_at + timedelta(minutes=rng.uniform(0, sweep_spread_minutes))
            closure = "suspended" if rng.random() < 0.6 else "deactivated"
            if closed_at >= end:
                continue  # the sweep would finish after the campaign: not in the truth
            acc.closed_at, acc.closure = closed_at, closure
            if acc.province not in first_of:
                first_of.add(acc.province)
                acc.wiped = True
                lead = rng.uniform(lead_max / 3, lead_max)
                wipe[acc.username] = closed_at - timedelta(minutes=lead)
    seq = 0
    posts: list[CampaignPost] = []
    for acc in accs:
        n = 0
        stop = min(end, wipe.get(acc.username) or acc.closed_at or end)
        own: list[CampaignPost] = []
        for k in range(backlog):
            at = start - timedelta(days=rng.uniform(1, 30), seconds=k)
            n += 1
            seq += 1
            own.append(CampaignPost(acc.username, snowflake(at, seq),
                                    _text(rng, acc.province, n), at))
        t = start
        rate_s = acc.posts_per_day / 86400
        p_del = delete_share_high if acc.risk == "high" else delete_share
        while True:
            t = t + timedelta(seconds=rng.expovariate(rate_s))
            if t >= stop:
                break
            n += 1
            seq += 1
            post = CampaignPost(acc.username, snowflake(t, seq), _text(rng, acc.province, n), t)
            if rng.random() < p_del:
                gone = t + ttd.sample(rng)
                if gone < stop:
                    post.deleted_at = gone
            if rng.random() < edit_share:
                at = t + timedelta(minutes=rng.uniform(10, 360))
                if at < (post.deleted_at or stop):
                    post.edits.append((at, _EDIT_PREFIX + post.text))
            own.append(post)
        wipe_at = wipe.get(acc.username)
        if wipe_at is not None:  # every post still there goes at once; it posts no more
            for p in own:
                if p.deleted_at is None:
                    p.deleted_at, p.wiped = wipe_at, True
        posts.extend(own)
    posts.sort(key=lambda p: (p.created_at, p.post_id))
    return Campaign(seed, start, end, sweep_at, tuple(swept), accs, posts)


def timeline(campaign: Campaign) -> list[Action]:
    """Every change of the world in time order (posts already in the backlog included, at
    their creation time)."""
    acts: list[Action] = []
    for p in campaign.posts:
        acts.append(Action(p.created_at, "post", p.account, p))
        for at, text in p.edits:
            acts.append(Action(at, "edit", p.account, p, text))
        if p.deleted_at is not None:
            acts.append(Action(p.deleted_at, "delete", p.account, p))
    for a in campaign.accounts:
        if a.closed_at is not None:
            acts.append(Action(a.closed_at, "close", a.username, None, a.closure or ""))
    order = {"post": 0, "edit": 1, "delete": 2, "close": 3}
    acts.sort(key=lambda x: (x.at, order[x.kind]))
    return acts

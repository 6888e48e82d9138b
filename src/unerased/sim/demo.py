"""``unerased demo``: a simulated platform under a censorship campaign, watched live.

Six accounts post in Chinese and English on a simulated Mastodon-API platform whose
answers are mildly flaky (timeouts, 5xx, 429, truncated bodies, listings that omit posts).
A campaign unfolds: a post deleted, one edited, an account suspended, one account's posts
all deleted at once, a deletion undone. The real collector (sources → detect → store →
ledger) watches it; every event is printed as it is detected. Simulated time advances
twenty minutes per round so confirmations can happen within seconds.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx

from ..store import Store
from ..watch.runner import CheckOutcome, RunContext, WatchConfig, add_watch, poll
from ..watch.uri import parse_uri
from .platform import BASE, HOST, Flaky, SimPlatform, demo_clock

ACCOUNTS = [
    ("lin_demo", "林 (demo)"), ("zhou_demo", "周 (demo)"), ("chen_demo", "陈 (demo)"),
    ("he_demo", "何 (demo)"), ("sun_demo", "孙 (demo)"), ("ma_demo", "马 (demo)"),
]
PHRASES = [
    "今天又有朋友被约谈，要求删除推特。", "网络审查越来越严，我们要保存记录。",
    "The police asked me to close my account.", "言论自由是宪法保障的权利。",
    "Keeping a copy of everything, just in case.", "我的账号随时可能被封。",
    "清理推特行动开始了", "200,000 accounts closed this month.",
]


def _campaign(sim: SimPlatform, rnd: random.Random) -> dict[int, tuple[str, Callable[[], None]]]:
    accs = [sim.by_username(u) for u, _ in ACCOUNTS]
    a, b, c, d = accs[0], accs[1], accs[2], accs[3]
    victim = sim.live_statuses(a)[3]

    def delete_one() -> None:
        sim.delete(victim)

    def edit_one() -> None:
        sim.edit(sim.live_statuses(b)[0], "【已修改】" + sim.live_statuses(b)[0].text)

    def suspend() -> None:
        c.suspended = True

    def wipe() -> None:
        for st in sim.live_statuses(d):
            sim.delete(st)

    def undo() -> None:
        sim.restore(victim)

    return {
        2: (f"the censor deletes one post of @{a.username}", delete_one),
        4: (f"@{b.username} edits a post", edit_one),
        6: (f"the platform suspends @{c.username}", suspend),
        8: (f"all posts of @{d.username} are deleted at once", wipe),
        12: (f"the post of @{a.username} comes back", undo),
    }


def run_demo(
    store: Store,
    *,
    seconds: float,
    round_seconds: float = 1.5,
    seed: int = 7,
    say: Callable[[str], None] = print,
    on_event: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Run the demo for ``seconds`` of wall time; returns every event detected."""
    clock = demo_clock()
    sim = SimPlatform(seed=seed, flaky=Flaky(), clock=clock)
    rnd = random.Random(seed)
    for username, name in ACCOUNTS:
        acc = sim.add_account(username, name)
        for i in range(15):
            sim.post(acc, f"{rnd.choice(PHRASES)} #{i}",
                     at=clock() - timedelta(hours=40 - i),
                     media=b"\x89PNG\r\n\x1a\n demo image" if i % 7 == 3 else None)

    def factory() -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=sim.transport())

    ctx = RunContext(store, factory,
                     WatchConfig(source_options={"mastodon": {"clock": clock}}), now=clock)
    say(f"simulated platform {BASE}: {len(ACCOUNTS)} accounts, 15 posts each")
    for username, _ in ACCOUNTS:
        asyncio.run(add_watch(ctx, parse_uri(f"mastodon:@{username}@{HOST}"), service=BASE,
                              tags={"demo": "yes"}))
    say("watching all of them; answers are flaky (timeouts, 5xx, 429, omissions) — "
        "none of that may raise a false alarm")
    sim.flaky = Flaky.mild()
    campaign = _campaign(sim, rnd)
    events: list[dict[str, Any]] = []
    start = time.monotonic()
    rnd_no = 0
    while time.monotonic() - start < seconds:
        rnd_no += 1
        if rnd_no in campaign:
            what, act = campaign[rnd_no]
            act()
            say(f"[round {rnd_no}] campaign: {what}")
        clock.advance(timedelta(minutes=20))

        def show(res: CheckOutcome) -> None:
            for e in res.events:
                events.append(e)
                if on_event:
                    on_event(e)

        asyncio.run(poll(ctx, once=True, on_result=show))
        left = seconds - (time.monotonic() - start)
        if left > 0:
            time.sleep(min(round_seconds, left))
    say(f"{rnd_no} rounds, {sim.requests} requests to the platform, {len(events)} events")
    return events

"""The campaign-scale demo: the live view, the closures of the swept provinces, and the
summary's figures against the campaign's ground truth. The wall clock is injected (each
round is the same slice of simulated time however long its checks take)."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta
from pathlib import Path

from rich.console import Console

from unerased.sim.campaign import generate_campaign
from unerased.sim.demo import DemoResult, run_demo
from unerased.sim.demo_view import LiveView
from unerased.sim.score import CLOSURE_EVENTS, score, score_records
from unerased.store import Store
from unerased.watch.runner import CheckOutcome, RunContext


def _run(tmp_path: Path, **kw: object) -> tuple[DemoResult, str, Store]:
    wall = [0.0]

    def sleep(s: float) -> None:
        wall[0] += max(s, 0.0)

    out = io.StringIO()
    store = Store.open(tmp_path / "demo")
    view = LiveView(Console(file=out, width=240, force_terminal=False, color_system=None))
    result = run_demo(store, seconds=8, hours=4, round_seconds=0.5, accounts=12, seed=7,
                      view=view, monotonic=lambda: wall[0], sleep=sleep, **kw)  # type: ignore[arg-type]
    return result, out.getvalue(), store


def test_demo_campaign_live_view_and_summary(tmp_path: Path) -> None:
    result, text, store = _run(tmp_path)
    c = result.campaign
    truth = generate_campaign(7, accounts=12, hours=4, sweep_at_hours=2,
                              sweep_spread_minutes=30)
    assert [(p.post_id, p.deleted_at) for p in truth.posts] == [
        (p.post_id, p.deleted_at) for p in c.posts]
    # bounded: 8 injected wall seconds, 0.5 per round: the whole campaign, 16 rounds
    assert result.covered == timedelta(hours=4) and 15 <= result.rounds <= 17
    prov = {a.username: a.province for a in c.accounts}
    closed = {str(e["account"]).split("@")[0] for e in result.events
              if e["type"] in CLOSURE_EVENTS}
    assert {prov[u] for u in closed} == set(c.swept) == {"Chongqing", "Fujian"}
    assert closed == {a.username for a in c.closed}  # every closure seen, nothing else
    # the live view: closures with their province, deletions with the erased text
    closure_lines = [ln for ln in text.splitlines() if "ACCOUNT CLOSED" in ln]
    assert len(closure_lines) == len(closed)
    assert all(("Chongqing" in ln) or ("Fujian" in ln) for ln in closure_lines)
    texts = {p.text for p in c.posts} | {t for p in c.posts for _, t in p.edits}
    deleted_lines = [ln for ln in text.splitlines() if "✗ DELETED" in ln]
    assert deleted_lines
    for ln in deleted_lines:
        m = re.search(r"«(.*)»", ln)
        assert m and m.group(1) in texts  # the archived text is the text really written
    n_direct = sum(e["type"] == "post_deleted" for e in result.events)
    mass_users = {str(e["account"]).split("@")[0] for e in result.events
                  if e["type"] == "post_deleted" and e["detail"].get("mass_deletion")}
    mass_lines = [ln for ln in text.splitlines() if "MASS DELETION" in ln]
    assert len(mass_lines) == len(mass_users)  # one line per mass deletion
    assert all(re.search(r": ([5-9]|\d\d+) posts erased at once", ln) for ln in mass_lines)
    assert len(deleted_lines) + len(mass_lines) <= n_direct
    assert len(re.findall(r"── .*simulated.* checks .* posts archived .* deletions seen",
                          text)) >= 2  # tickers between events
    # the summary: consistent with the ground truth
    s = result.score
    assert s is not None
    assert s.deleted == len([p for p in c.posts if p.deleted_at and p.deleted_at <= c.end])
    assert s.closed == len(c.closed) == 4 and s.closed_detected == 4
    assert s.false_alarms == 0
    assert s.archived_before <= s.deleted and s.detected <= s.deleted
    assert len(s.delays) == s.detected and all(d >= 0 for d in s.delays)
    direct = {str(e["post_id"]) for e in result.events if e["type"] == "post_deleted"}
    assert s.detected - s.detected_via_closure == len(direct)
    assert sum(t["deleted"] for t in s.by_province.values()) == s.deleted
    assert {p for p, t in s.by_province.items() if t["closed"]} == set(c.swept)
    assert s.to_json() == score(c, store, until=c.end).to_json()
    share = f"{100 * (s.share_archived or 0):.1f} %"
    assert f"archived before their deletion: {s.archived_before} of {s.deleted} ({share})" in text
    assert "false alarms: 0" in text
    store.close()


def test_demo_is_bounded_by_wall_time(tmp_path: Path) -> None:
    """A slow machine: the run still ends on time (its last round at the campaign's end,
    the rounds before it further apart in simulated time), and the summary scores the
    whole campaign against what little was checked."""
    wall = [0.0]
    ats: list[datetime] = []

    def slow_collect(ctx: RunContext) -> list[CheckOutcome]:
        ats.append(ctx.now())
        wall[0] += 3.0  # every round takes three wall seconds
        return []

    store = Store.open(tmp_path / "d")
    result = run_demo(store, seconds=8, hours=4, accounts=6, monotonic=lambda: wall[0],
                      sleep=lambda s: None, collect=slow_collect)
    c = result.campaign
    assert result.rounds == 3 and result.wall == 9.0
    # 8 wall seconds for 4 hours: rounds at 0 and 3 s (0 h, 1.5 h), the last one at the end
    assert ats == [c.start, c.start + timedelta(hours=1.5), c.end]
    assert result.covered == timedelta(hours=4)
    assert result.score is not None and result.score.detected == 0
    assert result.score.deleted == len(c.deleted) > 0
    store.close()


def test_score_records_exact() -> None:
    c = generate_campaign(1, accounts=30, hours=12, sweep_at_hours=6)
    closed = c.closed[0]
    gone = [p for p in c.posts if p.deleted_at and p.account != closed.username][:3]
    assert len(gone) == 3
    a, b, d = gone
    assert a.deleted_at and b.deleted_at and d.deleted_at
    keep = next(p for p in c.posts if p.deleted_at is None)

    def iso(t: datetime) -> str:
        return t.isoformat()

    posts = [
        {"post_id": a.post_id, "first_seen": iso(a.created_at + timedelta(minutes=1)),
         "versions": [{"observed_at": iso(a.created_at + timedelta(minutes=1))}]},
        {"post_id": b.post_id, "versions": [{"observed_at": iso(b.deleted_at)}]},  # too late
    ]
    events = [
        {"type": "post_deleted", "post_id": a.post_id, "account": a.account,
         "at": iso(a.deleted_at + timedelta(seconds=30))},
        {"type": "post_deleted", "post_id": a.post_id, "account": a.account,
         "at": iso(a.deleted_at + timedelta(seconds=90))},  # the first one counts
        {"type": "post_deleted", "post_id": keep.post_id, "account": keep.account,
         "at": iso(c.end)},  # never deleted: a false alarm
    ]
    assert closed.closed_at
    events.append({"type": "account_suspended", "account": f"{closed.username}@h",
                   "at": iso(closed.closed_at + timedelta(minutes=10))})
    s = score_records(c, posts, events)
    assert s.deleted == len(c.deleted)
    assert s.archived_before == 1
    wiped = [p for p in c.posts_of(closed.username) if p.deleted_at]
    assert wiped and all(p.deleted_at and p.deleted_at < closed.closed_at for p in wiped)
    assert s.detected == 1 + len(wiped) and s.detected_via_closure == len(wiped)
    assert 30.0 in s.delays
    assert s.closed == len(c.closed) and s.closed_detected == 1 and s.closure_delays == [600.0]
    assert s.false_alarms == 1
    assert d.post_id not in {p["post_id"] for p in posts}

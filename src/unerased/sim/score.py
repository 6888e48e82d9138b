"""Scoring an archive against a campaign's ground truth (:mod:`unerased.sim.campaign`).

The two figures of issue 10's benchmarks, and the demo's closing summary:

- **archived before deletion**: of the posts the campaign deletes (within the watched
  window), the share whose content the archive holds from a capture made before the
  deletion (the post's ``first_seen``, the time of its first captured version, earlier
  than the true ``deleted_at``);
- **deletion → detection delay**: for each of those posts that the archive reports gone,
  the time from the true deletion to the first event that tells it: a ``post_deleted``
  event for the post, or — for a post whose account was closed — the account's closure
  event (``account_suspended`` / ``account_deleted`` / ``account_deactivated``), when
  that comes first. Posts never reported gone count as undetected (no delay).

Account closures are scored the same way: each closed account, the first closure event
for it and its delay. A ``post_deleted`` event for a post the truth has not deleted by
then, or a closure event for an account not closed by then, is a false alarm. Everything is read through the store's public queries
(``iter_posts``, ``iter_events``); times are the archive's own (the collector's clock,
the simulated one in the demo).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..model import parse_iso
from .campaign import Campaign

__all__ = [
    "CLOSURE_EVENTS",
    "Score",
    "fmt_delay",
    "score",
    "score_records",
]

CLOSURE_EVENTS = frozenset({"account_suspended", "account_deleted", "account_deactivated"})


@dataclass
class Score:
    """What an archive caught of a campaign. ``delays`` and ``closure_delays`` are in
    seconds (deletion/closure → first event that reports it)."""

    deleted: int = 0  # true deletions within the window
    archived_before: int = 0  # of them, content captured before the deletion
    detected: int = 0  # of them, reported gone (post event or account closure)
    detected_via_closure: int = 0  # of the detected, only through the account's closure
    delays: list[float] = field(default_factory=list)
    closed: int = 0
    closed_detected: int = 0
    closure_delays: list[float] = field(default_factory=list)
    false_alarms: int = 0  # post_deleted / closure events the truth does not back
    by_province: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def share_archived(self) -> float | None:
        return self.archived_before / self.deleted if self.deleted else None

    @property
    def median_delay(self) -> float | None:
        return statistics.median(self.delays) if self.delays else None

    @property
    def median_closure_delay(self) -> float | None:
        return statistics.median(self.closure_delays) if self.closure_delays else None

    def to_json(self) -> dict[str, Any]:
        return {
            "deleted": self.deleted, "archived_before_deletion": self.archived_before,
            "share_archived": self.share_archived, "detected": self.detected,
            "detected_via_closure": self.detected_via_closure,
            "median_delay_s": self.median_delay, "closed": self.closed,
            "closed_detected": self.closed_detected,
            "median_closure_delay_s": self.median_closure_delay,
            "false_alarms": self.false_alarms,
            "by_province": self.by_province,
        }


def score(campaign: Campaign, store: Any, *, until: datetime | None = None) -> Score:
    """Score ``store`` (a :class:`unerased.store.Store`) against ``campaign``; only what
    the truth has happen before ``until`` (default: the campaign's end) counts."""
    return score_records(campaign, store.iter_posts(), store.iter_events(), until=until)


def _first(times: Iterable[datetime | None]) -> datetime | None:
    got = [t for t in times if t is not None]
    return min(got) if got else None


def score_records(
    campaign: Campaign,
    posts: Iterable[Mapping[str, Any]],
    events: Iterable[Mapping[str, Any]],
    *,
    until: datetime | None = None,
) -> Score:
    """:func:`score` over the archive's post and event JSON (as ``posts --json`` and
    ``events --json`` print them)."""
    until = until or campaign.end
    first_seen: dict[str, datetime] = {}
    for p in posts:
        seen = _first(parse_iso(v.get("observed_at")) for v in p.get("versions") or ())
        seen = seen or parse_iso(p.get("first_seen"))
        if seen is not None:
            pid = str(p["post_id"])
            first_seen[pid] = min(seen, first_seen.get(pid, seen))
    gone_at: dict[str, datetime] = {}
    closed_at: dict[str, datetime] = {}  # by account handle's username
    for e in events:
        at = parse_iso(e.get("at"))
        if at is None:
            continue
        if e.get("type") == "post_deleted" and e.get("post_id"):
            pid = str(e["post_id"])
            gone_at[pid] = min(at, gone_at.get(pid, at))
        elif e.get("type") in CLOSURE_EVENTS:
            user = str(e.get("account") or "").lstrip("@").split("@")[0]
            closed_at[user] = min(at, closed_at.get(user, at))
    out = Score()
    truth_post = {p.post_id: p for p in campaign.posts}
    truth_acc = {a.username: a for a in campaign.accounts}
    for pid, at in gone_at.items():
        tp = truth_post.get(pid)
        out.false_alarms += tp is None or tp.deleted_at is None or tp.deleted_at > at
    for user, at in closed_at.items():
        ta = truth_acc.get(user)
        out.false_alarms += ta is None or ta.closed_at is None or ta.closed_at > at
    prov_of = {a.username: a.province for a in campaign.accounts}
    tally: dict[str, Counter[str]] = {p: Counter() for p in sorted(set(prov_of.values()))}
    for post in campaign.posts:
        if post.deleted_at is None or post.deleted_at >= until:
            continue
        out.deleted += 1
        t = tally[prov_of[post.account]]
        t["deleted"] += 1
        seen = first_seen.get(post.post_id)
        if seen is not None and seen < post.deleted_at:
            out.archived_before += 1
            t["archived_before_deletion"] += 1
        direct = gone_at.get(post.post_id)
        via = closed_at.get(post.account)
        if via is not None and via < post.deleted_at:
            via = None  # a closure reported before the deletion does not report it
        found = _first((direct, via))
        if found is not None:
            out.detected += 1
            t["detected"] += 1
            out.detected_via_closure += direct is None
            out.delays.append(max(0.0, (found - post.deleted_at).total_seconds()))
    for acc in campaign.accounts:
        if acc.closed_at is None or acc.closed_at >= until:
            continue
        out.closed += 1
        t = tally[acc.province]
        t["closed"] += 1
        seen_closed = closed_at.get(acc.username)
        if seen_closed is not None and seen_closed >= acc.closed_at:
            out.closed_detected += 1
            t["closed_detected"] += 1
            out.closure_delays.append((seen_closed - acc.closed_at).total_seconds())
    keys = ("deleted", "archived_before_deletion", "detected", "closed", "closed_detected")
    out.by_province = {p: {k: c[k] for k in keys} for p, c in tally.items()}
    return out


def fmt_delay(seconds: float | None) -> str:
    """A delay for people: ``42 s``, ``17 min``, ``3.5 h``; ``-`` for none."""
    if seconds is None:
        return "-"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


"""Detection: from what we knew and what one check observed, to new states and events.

Pure: no I/O, no clock reads (``now`` is an argument). The rules, as tables, are in
``docs/detection.md``; in short:

- what we saw, we keep; what we did not see, we do not judge;
- a post is gone only when the platform's own answer says so, on ``confirmations``
  separate checks; ERROR, FORBIDDEN and ACCOUNT_GONE answers count for nothing;
- while an account is hidden (deleted, suspended, deactivated, protected) its posts are
  not judged, and a failed account check judges nothing;
- an account status the platform states (``RepoTakendown``, ``suspended: true``) counts at
  once; one inferred from an absence (a 404/410, ``RepoNotFound``) is pending until
  ``confirmations`` separate checks say so, and meanwhile no post is judged;
- a declared deletion that comes back is ``post_restored``, never silence;
- a deletion the platform's own stream ``announced``, with a direct lookup that answers
  GONE, is confirmed at once; on the announcement alone, never.

This module is the public face; the parts live beside it: ``_detect_base`` (the states,
the configuration, shared helpers), ``_detect_accounts`` (the account state machine) and
``_detect_posts`` (the post steps).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from ..errors import DetectError
from ..model import (
    AccountCheck,
    AccountStatus,
    Event,
    EventType,
    Listing,
    LookupResult,
    PostLookup,
    PostSnapshot,
    PostStatus,
)
from ._detect_accounts import _account_step
from ._detect_base import (
    HIDDEN_STATUSES,
    VISIBLE_STATUSES,
    AccountState,
    Announced,
    Announcement,
    DetectConfig,
    Detection,
    PendingStatus,
    PostState,
    _announcements,
    _enum,
    _last_words,
    _utc,
)
from ._detect_posts import (
    _answers,
    _due,
    _listed_ids,
    _meaningful_absence,
    _on_announced_gone,
    _on_gone,
    _on_seen,
    _sightings,
    _unavailable,
    _usable_present,
    initial_post_state,
)

__all__ = [
    "HIDDEN_STATUSES",
    "VISIBLE_STATUSES",
    "AccountState",
    "Announced",
    "Announcement",
    "DetectConfig",
    "DetectError",
    "Detection",
    "PendingStatus",
    "PostState",
    "detect",
    "initial_post_state",
    "next_account_state",
    "plan_lookups",
]


# --- public functions ------------------------------------------------------------------


def next_account_state(account: AccountState | None, check: AccountCheck, now: datetime,
                       config: DetectConfig | None = None) -> AccountState | None:
    """The account state after ``check``, as :func:`detect` computes it (no events).
    Unchanged when the check gave no usable answer. ``config`` decides when a
    disappearance inferred from an absence is confirmed (pass the one ``detect`` gets)."""
    return _account_step(account, check, _utc(now), config or DetectConfig())[0]


def plan_lookups(posts: Mapping[str, PostState], listing: Listing | None,
                 account: AccountState | None, now: datetime,
                 config: DetectConfig | None = None, *,
                 announced: Announced = frozenset()) -> list[str]:
    """The posts to look up directly in this check, in priority order: the deletions a
    stream ``announced`` (known or not, due or not, unless held as deleted: each is
    confirmed or refuted at once), then missing posts due for confirmation, then present
    posts absent from a complete listing (within its window; newest first), then
    unavailable posts. Nothing while ``account`` (pass :func:`next_account_state`) is
    hidden or its disappearance is pending."""
    cfg = config or DetectConfig()
    now = _utc(now)
    if account is not None and (account.status in HIDDEN_STATUSES
                                or account.pending is not None):
        return []
    first = [pid for pid in _announcements(announced)
             if pid not in posts or posts[pid].status != PostStatus.DELETED]
    listed = _listed_ids(listing) | set(first)
    pending: list[tuple[datetime, str]] = []
    absent: list[tuple[datetime, str]] = []
    undated: list[str] = []
    unavailable: list[str] = []
    for pid, state in posts.items():
        if pid in listed:
            continue
        if state.status == PostStatus.MISSING:
            if _due(state, now, cfg):
                pending.append((_utc(state.first_missing or now), pid))
        elif state.status == PostStatus.UNAVAILABLE:
            unavailable.append(pid)
        elif state.status == PostStatus.PRESENT and _meaningful_absence(state, listing):
            if state.created_at is None:
                undated.append(pid)
            else:
                absent.append((_utc(state.created_at), pid))
    pending.sort()
    absent.sort(key=lambda t: (-t[0].timestamp(), t[1]))
    return (first + [pid for _, pid in pending] + [pid for _, pid in absent] + sorted(undated)
            + sorted(unavailable))


def detect(account: AccountState | None, posts: Mapping[str, PostState], check: AccountCheck,
           listing: Listing | None, lookups: Sequence[PostLookup], now: datetime,
           config: DetectConfig | None = None, *,
           announced: Announced = frozenset()) -> Detection:
    """Judge one check of one account. ``posts`` are the account's known posts;
    ``listing`` may be None (a lookup-only check). ``announced``: the deletions the
    platform's own stream announced (post ids, or post id → :class:`Announcement` with the
    stream messages' capture ids); one whose direct lookup answers GONE is deleted at
    once, with what the listing (a stream's creates) showed of it kept as a version. See
    docs/detection.md (P29…)."""
    cfg = config or DetectConfig()
    now = _utc(now)
    new_account, events = _account_step(account, check, now, cfg)
    usable = check.snapshot is not None and _enum(
        check.snapshot.status, AccountStatus, AccountStatus.UNKNOWN) != AccountStatus.UNKNOWN
    # while a disappearance is pending nothing about the posts is judged (a whole-feed 404
    # must not spray post_deleted) and nothing is marked unavailable (nothing was announced)
    pending = new_account is not None and new_account.pending is not None
    judged = (usable and new_account is not None and new_account.status in VISIBLE_STATUSES
              and not pending)
    hidden = usable and new_account is not None and new_account.status in HIDDEN_STATUSES

    seen = _sightings(listing, lookups)
    answers = _answers(lookups)
    listing_caps = tuple(listing.capture_ids) if listing is not None else ()
    changed: dict[str, PostState] = {}
    versions: list[PostSnapshot] = []
    post_events: list[Event] = []
    deleted_now: list[str] = []
    recheck = pending
    ann = _announcements(announced)
    looked_present = {lk.post_id for lk in lookups if _usable_present(lk)}

    for pid in sorted(set(posts) | set(seen)):
        old = posts.get(pid)
        new: PostState | None = old
        a = ann.get(pid)
        if (a is not None and judged and new_account is not None and pid not in looked_present
                and pid in answers and answers[pid][0] == LookupResult.GONE):
            absence = (listing_caps if old is not None and pid not in seen
                       and _meaningful_absence(old, listing) else ())
            new, evs, version = _on_announced_gone(old, seen.get(pid), answers[pid][1],
                                                   absence, now, cfg, new_account, a)
            post_events.extend(evs)
            if version is not None:
                versions.append(version)
            if any(e.type == EventType.POST_DELETED for e in evs):
                deleted_now.append(pid)
        elif pid in seen:
            snapshot, caps = seen[pid]
            new, evs, version = _on_seen(old, snapshot, caps, now, new_account)
            post_events.extend(evs)
            if version is not None:
                versions.append(version)
        elif old is None:
            continue
        elif hidden:
            if old.status in (PostStatus.PRESENT, PostStatus.MISSING):
                new = _unavailable(old)
        elif judged and new_account is not None and pid in answers:
            result, group = answers[pid]
            if result == LookupResult.GONE:
                absence = listing_caps if _meaningful_absence(old, listing) else ()
                new, ev = _on_gone(old, group, absence, now, cfg, new_account)
                if ev is not None:
                    post_events.append(ev)
                    deleted_now.append(pid)
            elif result == LookupResult.FORBIDDEN and old.status != PostStatus.DELETED:
                words = _last_words(group)
                new = replace(old, note="forbidden" + (f": {words}" if words else ""))
            elif result == LookupResult.ACCOUNT_GONE:
                recheck = True
        if new is not None and new != old:
            changed[pid] = new

    if deleted_now:
        since = now - cfg.mass_deletion_window
        recent = sum(1 for s in posts.values() if s.status == PostStatus.DELETED
                     and s.deleted_at is not None and _utc(s.deleted_at) >= since
                     and s.last_seen is not None)  # watched going, not imported as deleted
        held = sum(1 for s in posts.values() if s.status != PostStatus.DELETED) + recent
        n = len(deleted_now) + recent
        if n >= cfg.mass_deletion_min and n >= cfg.mass_deletion_fraction * held:
            mass = {"count": n, "of": held}
            post_events = [
                replace(e, detail={**e.detail, "mass_deletion": mass})
                if e.type == EventType.POST_DELETED else e
                for e in post_events
            ]
    return Detection(account=new_account, posts=changed, events=events + post_events,
                     new_versions=versions, account_recheck=recheck)


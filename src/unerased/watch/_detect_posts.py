"""The post state machine's steps (docs/detection.md, rows P1…): sightings, the
answers of direct lookups, and what each does to a post's state. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from ..model import (
    DeletionReason,
    Event,
    EventType,
    Listing,
    LookupResult,
    PostLookup,
    PostSnapshot,
    PostStatus,
    iso,
)
from ._detect_base import (
    AccountState,
    Announcement,
    DetectConfig,
    PostState,
    _dedup,
    _enum,
    _last_words,
    _separate,
    _utc,
    _utc_opt,
)

__all__: list[str] = []  # private to watch.detect: the post steps


def _sightings(listing: Listing | None,
               lookups: Sequence[PostLookup]) -> dict[str, tuple[PostSnapshot, tuple[str, ...]]]:
    """One sighting per post: the last PRESENT lookup (the direct answer) wins over the
    listing; within the listing, the last occurrence."""
    seen: dict[str, tuple[PostSnapshot, tuple[str, ...]]] = {}
    if listing is not None:
        for s in listing.posts:
            if not s.deleted and s.post_id and isinstance(s.post_id, str):
                seen[s.post_id] = (s, tuple(listing.capture_ids))
    for lk in lookups:
        if _usable_present(lk) and lk.snapshot is not None:
            seen[lk.post_id] = (lk.snapshot, tuple(lk.capture_ids))
    return seen


_PRIORITY = (LookupResult.ACCOUNT_GONE, LookupResult.FORBIDDEN, LookupResult.GONE,
             LookupResult.ERROR)


def _answers(lookups: Sequence[PostLookup]) -> dict[str, tuple[LookupResult,
                                                                 list[PostLookup]]]:
    """The non-PRESENT answer per post, conflicting answers resolved so that GONE counts
    only when nothing in this check contradicts it."""
    groups: dict[str, list[PostLookup]] = {}
    for lk in lookups:
        if isinstance(lk.post_id, str):
            groups.setdefault(lk.post_id, []).append(lk)
    out: dict[str, tuple[LookupResult, list[PostLookup]]] = {}
    for pid, group in groups.items():
        results = {_result(lk) for lk in group}
        for r in _PRIORITY:
            if r in results:
                out[pid] = (r, [lk for lk in group if _result(lk) == r])
                break
    return out


def _result(lk: PostLookup) -> LookupResult:
    r = _enum(lk.result, LookupResult, LookupResult.ERROR)
    if r == LookupResult.PRESENT and not _usable_present(lk):
        return LookupResult.ERROR
    return r


def _usable_present(lk: PostLookup) -> bool:
    return (_enum(lk.result, LookupResult, LookupResult.ERROR) == LookupResult.PRESENT
            and lk.snapshot is not None and lk.snapshot.post_id == lk.post_id)


def _on_seen(old: PostState | None, snap: PostSnapshot, caps: tuple[str, ...], now: datetime,
             account: AccountState | None) -> tuple[PostState, list[Event], PostSnapshot | None]:
    version = snap if snap.observed_at is not None else replace(snap, observed_at=now)
    if old is None:
        state = initial_post_state(version, now, caps)
        return replace(state, last_seen=now), [], version
    h = snap.content_hash()
    key = snap.version_key or None
    edited_at = _utc_opt(snap.edited_at)
    events: list[Event] = []
    new_version: PostSnapshot | None = None
    content_hash, version_key, held_edit = old.content_hash, old.version_key, old.edited_at
    stale = (edited_at is not None and old.edited_at is not None
             and edited_at < _utc(old.edited_at))
    if not stale:
        if old.version_key is not None and key is not None:
            same = old.version_key == key
        else:
            same = old.content_hash == h
        if not same:
            new_version = version
            if old.content_hash is not None or old.version_key is not None:
                events.append(_post_event(EventType.POST_EDITED, now, account, snap, {
                    "previous_hash": old.content_hash, "new_hash": h,
                    "previous_version_key": old.version_key, "new_version_key": key,
                    "edited_at": iso(edited_at)}, caps))
            content_hash, version_key = h, key
            held_edit = edited_at or old.edited_at
        elif old.version_key is None and key is not None:
            version_key = key
    if old.status == PostStatus.DELETED:
        events.append(_post_event(EventType.POST_RESTORED, now, account, snap, {
            "deleted_at": iso(old.deleted_at), "restored_at": iso(now)}, caps))
    state = replace(
        old, status=PostStatus.PRESENT, last_seen=now, first_missing=None, gone_count=0,
        last_gone=None, reason=None, platform_detail=None, evidence=(), seen_evidence=caps,
        deleted_at=None, note=None, content_hash=content_hash, version_key=version_key,
        edited_at=held_edit, created_at=old.created_at or _utc_opt(snap.created_at))
    return state, events, new_version


def _on_gone(old: PostState, group: list[PostLookup], absence: tuple[str, ...], now: datetime,
             cfg: DetectConfig, account: AccountState,
             announced: Announcement | None = None) -> tuple[PostState, Event | None]:
    """A GONE answer that nothing in this check contradicts. ``announced``: the platform's
    own stream announced the deletion, so this GONE confirms it at once (no separate check
    needed, whatever the count)."""
    if old.status == PostStatus.DELETED:
        return old, None
    was_missing = old.status == PostStatus.MISSING
    if was_missing and announced is None and not _due(old, now, cfg):
        return old, None
    count = (old.gone_count if was_missing else 0) + 1
    first_missing = (old.first_missing if was_missing else None) or (
        min(_utc(announced.at), now) if announced is not None and announced.at else now)
    specific = [r for r in (_enum(lk.reason, DeletionReason, DeletionReason.UNKNOWN)
                            for lk in group) if r != DeletionReason.UNKNOWN]
    reason = specific[-1] if specific else (old.reason if was_missing else None)
    words = _last_words(group) or (old.platform_detail if was_missing else None)
    evidence = _dedup((old.evidence if was_missing else ()) + absence
                      + tuple(c for lk in group for c in lk.capture_ids)
                      + (announced.capture_ids if announced is not None else ()))
    state = replace(old, status=PostStatus.MISSING, gone_count=count, first_missing=first_missing,
                    last_gone=now, reason=reason or DeletionReason.UNKNOWN,
                    platform_detail=words, evidence=evidence)
    if count < cfg.confirmations and announced is None:
        return state, None
    state = replace(state, status=PostStatus.DELETED, deleted_at=now)
    detail: dict[str, Any] = {
        "reason": str(state.reason), "last_seen": iso(old.last_seen),
        "first_missing": iso(first_missing), "platform_detail": words, "confirmations": count}
    if announced is not None:
        detail |= {"announced": True, "announced_at": iso(announced.at)}
    event = Event(
        type=EventType.POST_DELETED, at=now, platform=account.platform, account=account.handle,
        account_id=account.account_id, post_id=old.post_id, detail=detail,
        evidence=_dedup(old.seen_evidence + evidence))
    return state, event


def _on_announced_gone(
    old: PostState | None, sighting: tuple[PostSnapshot, tuple[str, ...]] | None,
    group: list[PostLookup], absence: tuple[str, ...], now: datetime, cfg: DetectConfig,
    account: AccountState, announced: Announcement,
) -> tuple[PostState | None, list[Event], PostSnapshot | None]:
    """A deletion the stream announced and the direct lookup confirms (docs/detection.md,
    P29–P31): what the stream (or a listing) showed of the post before is kept as a
    version, then the post is deleted at once. A post we hold as deleted stays so."""
    if old is not None and old.status == PostStatus.DELETED:
        return old, [], None
    events: list[Event] = []
    version: PostSnapshot | None = None
    base = old
    if sighting is not None:
        snap, caps = sighting
        base, evs, version = _on_seen(old, snap, caps, now, account)
        events += [e for e in evs if e.type == EventType.POST_EDITED]
        if snap.observed_at is not None:  # when the stream showed it, not when we asked
            base = replace(base, last_seen=min(_utc(snap.observed_at), now))
    if base is None:  # never seen, nothing captured: nothing to declare
        return None, [], None
    new, ev = _on_gone(base, group, absence, now, cfg, account, announced)
    return new, events + ([ev] if ev is not None else []), version


def _unavailable(old: PostState) -> PostState:
    return replace(old, status=PostStatus.UNAVAILABLE, gone_count=0, first_missing=None,
                   last_gone=None, reason=None, platform_detail=None, evidence=())


def _post_event(kind: EventType, now: datetime, account: AccountState | None,
                snap: PostSnapshot, detail: dict[str, Any], caps: tuple[str, ...]) -> Event:
    if account is not None:
        platform, handle, account_id = account.platform, account.handle, account.account_id
    else:  # the account was never established: the snapshot says whose post it is
        platform, handle, account_id = snap.platform, None, snap.account_id
    return Event(type=kind, at=now, platform=platform, account=handle, account_id=account_id,
                 post_id=snap.post_id, detail=detail, evidence=caps)


def _due(state: PostState, now: datetime, cfg: DetectConfig) -> bool:
    """Would a GONE now count as a separate check?"""
    return state.last_gone is None or _separate(state.last_gone, now, cfg)


def _listed_ids(listing: Listing | None) -> set[str]:
    if listing is None:
        return set()
    return {s.post_id for s in listing.posts if not s.deleted}


def _meaningful_absence(state: PostState, listing: Listing | None) -> bool:
    """Does this listing's silence about the post mean something? Only if it is complete
    and the post is not older than its window (unknown age with a window: no)."""
    if listing is None or not listing.complete:
        return False
    if listing.window_start is None:
        return True
    return state.created_at is not None and _utc(state.created_at) >= _utc(listing.window_start)


def initial_post_state(snapshot: PostSnapshot, now: datetime,
                       capture_ids: Sequence[str] = ()) -> PostState:
    """The state of a post first learnt from ``snapshot`` (an import, a first sighting).
    A snapshot flagged ``deleted`` (an archive's record of a deleted post) is DELETED."""
    seen = _utc(snapshot.observed_at or now)
    return PostState(
        post_id=snapshot.post_id,
        status=PostStatus.DELETED if snapshot.deleted else PostStatus.PRESENT,
        last_seen=None if snapshot.deleted else seen,
        content_hash=snapshot.content_hash(),
        version_key=snapshot.version_key or None,
        created_at=_utc_opt(snapshot.created_at),
        edited_at=_utc_opt(snapshot.edited_at),
        seen_evidence=tuple(capture_ids),
    )

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
- a declared deletion that comes back is ``post_restored``, never silence.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from ..errors import DetectError
from ..model import (
    AccountCheck,
    AccountStatus,
    DeletionReason,
    Event,
    EventType,
    Listing,
    LookupResult,
    PostLookup,
    PostSnapshot,
    PostStatus,
    StatusBasis,
    iso,
    parse_iso,
)

__all__ = [
    "HIDDEN_STATUSES",
    "VISIBLE_STATUSES",
    "AccountState",
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

VISIBLE_STATUSES = frozenset({AccountStatus.ACTIVE, AccountStatus.LIMITED})
"""Account statuses whose posts can be seen, hence judged."""
HIDDEN_STATUSES = frozenset({
    AccountStatus.DELETED, AccountStatus.SUSPENDED, AccountStatus.DEACTIVATED,
    AccountStatus.PROTECTED,
})
"""Account statuses under which posts are not judged (they become unavailable)."""

_STATUS_EVENT = {
    AccountStatus.DELETED: EventType.ACCOUNT_DELETED,
    AccountStatus.SUSPENDED: EventType.ACCOUNT_SUSPENDED,
    AccountStatus.DEACTIVATED: EventType.ACCOUNT_DEACTIVATED,
    AccountStatus.PROTECTED: EventType.ACCOUNT_PROTECTED,
}
_E = TypeVar("_E", AccountStatus, LookupResult, DeletionReason, PostStatus)
_MAX_WORDS = 1000  # the platform's words are hostile input: keep them bounded


@dataclass(frozen=True, slots=True)
class DetectConfig:
    """``confirmations``: GONE answers on separate checks needed to declare a deletion
    (the first GONE counts as 1). Checks are separate when at least
    ``min_confirm_interval`` apart. A detection that newly declares at least
    ``mass_deletion_min`` posts, and at least ``mass_deletion_fraction`` of the posts held
    as not deleted, flags them as a mass deletion. Deletions declared within the last
    ``mass_deletion_window`` count with this batch (a campaign confirmed across several
    checks, because some answers were flaky, is still one campaign)."""

    confirmations: int = 2
    mass_deletion_fraction: float = 0.5
    mass_deletion_min: int = 5
    min_confirm_interval: timedelta = timedelta(minutes=5)
    mass_deletion_window: timedelta = timedelta(hours=24)

    def __post_init__(self) -> None:
        if not isinstance(self.confirmations, int) or self.confirmations < 1:
            raise DetectError(f"confirmations must be an integer >= 1, not {self.confirmations!r}")
        if not 0.0 < self.mass_deletion_fraction <= 1.0:
            raise DetectError(
                f"mass_deletion_fraction must be in (0, 1], not {self.mass_deletion_fraction!r}")
        if not isinstance(self.mass_deletion_min, int) or self.mass_deletion_min < 1:
            raise DetectError(
                f"mass_deletion_min must be an integer >= 1, not {self.mass_deletion_min!r}")
        if self.min_confirm_interval < timedelta(0):
            raise DetectError("min_confirm_interval must not be negative")
        if self.mass_deletion_window < timedelta(0):
            raise DetectError("mass_deletion_window must not be negative")


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingStatus:
    """An account disappearance inferred from an absence (a 404/410, RepoNotFound…), not
    yet confirmed, hence not announced. ``status``: the hidden status the latest absence
    suggests; ``count``: separate checks that found the account absent, ``first_missing``
    the first of them and ``last_counted`` the last; ``last_seen``: the last check before,
    which still showed the account as it was; ``words`` the platform's latest words;
    ``evidence`` the captures of every check that counted."""

    status: AccountStatus
    count: int
    first_missing: datetime
    last_counted: datetime
    last_seen: datetime | None = None
    words: str | None = None
    evidence: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "status": str(self.status), "count": self.count,
            "first_missing": iso(self.first_missing), "last_counted": iso(self.last_counted),
            "last_seen": iso(self.last_seen), "words": self.words,
            "evidence": list(self.evidence),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PendingStatus:
        r = _Reader(data, "pending account status")
        status = r.enum("status", AccountStatus, AccountStatus.UNKNOWN)
        if status not in HIDDEN_STATUSES:
            raise r.fail("status")
        count = r.count("count")
        if count < 1:
            raise r.fail("count")
        first_missing, last_counted = r.time("first_missing"), r.time("last_counted")
        if first_missing is None:
            raise r.fail("first_missing")
        if last_counted is None:
            raise r.fail("last_counted")
        return cls(status=status, count=count, first_missing=first_missing,
                   last_counted=last_counted, last_seen=r.time("last_seen"),
                   words=r.text("words"), evidence=r.ids("evidence"))


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountState:
    """What we know about one account. ``status_detail`` holds the platform's words for
    the current status (e.g. why it is limited); ``status_since`` when we first saw the
    current status; ``last_checked`` the last usable account answer. ``pending``: a
    disappearance inferred from an absence, awaiting confirmation (``status`` is unchanged
    meanwhile: nothing was announced)."""

    account_id: str
    handle: str | None
    status: AccountStatus
    display_name: str | None
    platform: str
    status_detail: str | None = None
    status_since: datetime | None = None
    last_checked: datetime | None = None
    pending: PendingStatus | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id, "handle": self.handle, "status": str(self.status),
            "display_name": self.display_name, "platform": self.platform,
            "status_detail": self.status_detail, "status_since": iso(self.status_since),
            "last_checked": iso(self.last_checked),
            "pending": None if self.pending is None else self.pending.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AccountState:
        r = _Reader(data, "account state")
        return cls(
            account_id=r.text("account_id", required=True) or "",
            handle=r.text("handle"),
            status=r.enum("status", AccountStatus, AccountStatus.UNKNOWN),
            display_name=r.text("display_name"),
            platform=r.text("platform", required=True) or "",
            status_detail=r.text("status_detail"),
            status_since=r.time("status_since"),
            last_checked=r.time("last_checked"),
            pending=r.pending("pending"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class PostState:
    """What we know about one post.

    ``last_seen``: last time the platform showed it, with ``seen_evidence`` the captures
    that did. While missing: ``first_missing`` (first GONE), ``gone_count`` (GONE answers on
    separate checks), ``last_gone`` (when the last one counted), ``reason`` and
    ``platform_detail`` (from the GONE answers) and ``evidence`` (captures of the listings
    it was absent from and of the GONE lookups). ``deleted_at``: when it was declared
    deleted. ``content_hash``/``version_key``/``edited_at`` identify the version we hold.
    ``note``: a non-judging remark (a FORBIDDEN answer)."""

    post_id: str
    status: PostStatus = PostStatus.PRESENT
    last_seen: datetime | None = None
    first_missing: datetime | None = None
    gone_count: int = 0
    content_hash: str | None = None
    version_key: str | None = None
    created_at: datetime | None = None
    reason: DeletionReason | None = None
    evidence: tuple[str, ...] = ()
    seen_evidence: tuple[str, ...] = ()
    last_gone: datetime | None = None
    deleted_at: datetime | None = None
    edited_at: datetime | None = None
    platform_detail: str | None = None
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "post_id": self.post_id, "status": str(self.status), "last_seen": iso(self.last_seen),
            "first_missing": iso(self.first_missing), "gone_count": self.gone_count,
            "content_hash": self.content_hash, "version_key": self.version_key,
            "created_at": iso(self.created_at),
            "reason": None if self.reason is None else str(self.reason),
            "evidence": list(self.evidence), "seen_evidence": list(self.seen_evidence),
            "last_gone": iso(self.last_gone), "deleted_at": iso(self.deleted_at),
            "edited_at": iso(self.edited_at), "platform_detail": self.platform_detail,
            "note": self.note,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PostState:
        r = _Reader(data, "post state")
        reason = r.text("reason")
        return cls(
            post_id=r.text("post_id", required=True) or "",
            status=r.enum("status", PostStatus, PostStatus.PRESENT),
            last_seen=r.time("last_seen"),
            first_missing=r.time("first_missing"),
            gone_count=r.count("gone_count"),
            content_hash=r.text("content_hash"),
            version_key=r.text("version_key"),
            created_at=r.time("created_at"),
            reason=None if reason is None else r.enum("reason", DeletionReason,
                                                      DeletionReason.UNKNOWN),
            evidence=r.ids("evidence"),
            seen_evidence=r.ids("seen_evidence"),
            last_gone=r.time("last_gone"),
            deleted_at=r.time("deleted_at"),
            edited_at=r.time("edited_at"),
            platform_detail=r.text("platform_detail"),
            note=r.text("note"),
        )


@dataclass(frozen=True, slots=True)
class Detection:
    """The outcome of one check. ``account`` is the new account state (None only when the
    account was never established and this check failed); ``posts`` holds only the
    states that changed or are new; ``new_versions`` the snapshots to store as versions;
    ``account_recheck`` is True when a lookup answered about the account (ACCOUNT_GONE)
    while the account check said it was visible, or while a disappearance inferred from
    an absence awaits confirmation: check the account again soon."""

    account: AccountState | None
    posts: dict[str, PostState] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    new_versions: list[PostSnapshot] = field(default_factory=list)
    account_recheck: bool = False


# --- public functions ------------------------------------------------------------------


def next_account_state(account: AccountState | None, check: AccountCheck, now: datetime,
                       config: DetectConfig | None = None) -> AccountState | None:
    """The account state after ``check``, as :func:`detect` computes it (no events).
    Unchanged when the check gave no usable answer. ``config`` decides when a
    disappearance inferred from an absence is confirmed (pass the one ``detect`` gets)."""
    return _account_step(account, check, _utc(now), config or DetectConfig())[0]


def plan_lookups(posts: Mapping[str, PostState], listing: Listing | None,
                 account: AccountState | None, now: datetime,
                 config: DetectConfig | None = None) -> list[str]:
    """The known posts to look up directly in this check, in priority order: missing
    posts due for confirmation, then present posts absent from a complete listing (within
    its window; newest first), then unavailable posts. Nothing while ``account`` (pass
    :func:`next_account_state`) is hidden or its disappearance is pending."""
    cfg = config or DetectConfig()
    now = _utc(now)
    if account is not None and (account.status in HIDDEN_STATUSES
                                or account.pending is not None):
        return []
    listed = _listed_ids(listing)
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
    return ([pid for _, pid in pending] + [pid for _, pid in absent] + sorted(undated)
            + sorted(unavailable))


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


def detect(account: AccountState | None, posts: Mapping[str, PostState], check: AccountCheck,
           listing: Listing | None, lookups: Sequence[PostLookup], now: datetime,
           config: DetectConfig | None = None) -> Detection:
    """Judge one check of one account. ``posts`` are the account's known posts;
    ``listing`` may be None (a lookup-only check). See docs/detection.md."""
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

    for pid in sorted(set(posts) | set(seen)):
        old = posts.get(pid)
        new: PostState | None = old
        if pid in seen:
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


# --- accounts --------------------------------------------------------------------------


def _account_step(old: AccountState | None, check: AccountCheck, now: datetime,
                  cfg: DetectConfig) -> tuple[AccountState | None, list[Event]]:
    """The account state after ``check`` and the account events it yields."""
    snap = check.snapshot
    if snap is None:
        return old, []
    status = _enum(snap.status, AccountStatus, AccountStatus.UNKNOWN)
    if status == AccountStatus.UNKNOWN:
        return old, []
    if old is not None and (snap.account_id != old.account_id or snap.platform != old.platform):
        raise DetectError(
            f"account check is for {snap.platform}:{snap.account_id}, "
            f"not {old.platform}:{old.account_id}")
    words = _status_words(snap.profile) if status != AccountStatus.ACTIVE else None
    caps = tuple(check.capture_ids)
    was = old or AccountState(account_id=snap.account_id, handle=None,
                              status=AccountStatus.UNKNOWN, display_name=None,
                              platform=snap.platform)
    base = replace(
        was, handle=snap.handle or was.handle,
        display_name=snap.display_name if snap.display_name is not None else was.display_name,
        last_checked=now)
    current, p = was.status, was.pending
    explicit = isinstance(snap.basis, str) and snap.basis == StatusBasis.EXPLICIT
    announce: dict[str, Any] | None = None  # how a hidden status announced now was established

    if status in HIDDEN_STATUSES and status != current and not explicit:
        # inferred from an absence: confirmed on separate checks, like a post's deletion
        if p is None:
            p = PendingStatus(status=status, count=1, first_missing=now, last_counted=now,
                              last_seen=was.last_checked, words=words, evidence=caps)
        elif _separate(p.last_counted, now, cfg):
            p = replace(p, status=status, count=p.count + 1, last_counted=now,
                        words=words if words is not None else p.words,
                        evidence=_dedup(p.evidence + caps))
        else:  # not a separate check: counts for nothing
            return replace(base, pending=p), _renamed(old, base, caps, now)
        if p.count < cfg.confirmations:
            return replace(base, pending=p), _renamed(old, base, caps, now)
        new = replace(base, status=p.status, status_detail=p.words, status_since=p.first_missing,
                      pending=None)
        announce = {"basis": str(StatusBasis.ABSENCE), "confirmations": p.count,
                    "first_missing": iso(p.first_missing), "last_seen": iso(p.last_seen)}
        evidence = p.evidence
    elif status in HIDDEN_STATUSES and status != current:
        # the platform said so: at once (a pending absence only tells since when)
        new = replace(base, status=status, status_detail=words, status_since=now, pending=None)
        announce = {"basis": str(StatusBasis.EXPLICIT), "confirmations": 1,
                    "first_missing": iso(p.first_missing if p else now),
                    "last_seen": iso(p.last_seen if p else was.last_checked)}
        evidence = _dedup((p.evidence if p else ()) + caps)
    else:
        # the account seen as it is (visible, or its current hidden status): a pending
        # disappearance ends silently, since it was never announced
        new = replace(base, status=status, status_detail=words, pending=None,
                      status_since=was.status_since if status == current else now)
        evidence = caps

    events: list[Event] = []
    change = {"from": None if current == AccountStatus.UNKNOWN else str(current),
              "to": str(new.status), "platform_detail": new.status_detail}
    if announce is not None:
        events.append(_account_event(_STATUS_EVENT[new.status], new, {**change, **announce},
                                     evidence, now))
    elif current in HIDDEN_STATUSES and new.status in VISIBLE_STATUSES:
        events.append(_account_event(EventType.ACCOUNT_RESTORED, new, change, evidence, now))
    return new, events + _renamed(old, new, caps, now)


def _renamed(old: AccountState | None, new: AccountState, caps: tuple[str, ...],
             now: datetime) -> list[Event]:
    if (old is not None and old.handle and new.handle
            and old.handle.casefold() != new.handle.casefold()):
        return [_account_event(EventType.ACCOUNT_RENAMED, new,
                               {"from": old.handle, "to": new.handle}, caps, now)]
    return []


def _account_event(kind: EventType, account: AccountState, detail: dict[str, Any],
                   evidence: tuple[str, ...], now: datetime) -> Event:
    return Event(type=kind, at=now, platform=account.platform, account=account.handle,
                 account_id=account.account_id, detail=detail, evidence=evidence)


def _separate(last: datetime, now: datetime, cfg: DetectConfig) -> bool:
    """Is a check at ``now`` separate from the one at ``last``?"""
    last = _utc(last)
    return now > last and now - last >= cfg.min_confirm_interval


# --- posts -----------------------------------------------------------------------------


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
             cfg: DetectConfig, account: AccountState) -> tuple[PostState, Event | None]:
    if old.status == PostStatus.DELETED:
        return old, None
    was_missing = old.status == PostStatus.MISSING
    if was_missing and not _due(old, now, cfg):
        return old, None
    count = (old.gone_count if was_missing else 0) + 1
    first_missing = (old.first_missing if was_missing else None) or now
    specific = [r for r in (_enum(lk.reason, DeletionReason, DeletionReason.UNKNOWN)
                            for lk in group) if r != DeletionReason.UNKNOWN]
    reason = specific[-1] if specific else (old.reason if was_missing else None)
    words = _last_words(group) or (old.platform_detail if was_missing else None)
    evidence = _dedup((old.evidence if was_missing else ()) + absence
                      + tuple(c for lk in group for c in lk.capture_ids))
    state = replace(old, status=PostStatus.MISSING, gone_count=count, first_missing=first_missing,
                    last_gone=now, reason=reason or DeletionReason.UNKNOWN,
                    platform_detail=words, evidence=evidence)
    if count < cfg.confirmations:
        return state, None
    state = replace(state, status=PostStatus.DELETED, deleted_at=now)
    event = Event(
        type=EventType.POST_DELETED, at=now, platform=account.platform, account=account.handle,
        account_id=account.account_id, post_id=old.post_id,
        detail={"reason": str(state.reason), "last_seen": iso(old.last_seen),
                "first_missing": iso(first_missing), "platform_detail": words,
                "confirmations": count},
        evidence=_dedup(old.seen_evidence + evidence))
    return state, event


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


# --- small helpers ---------------------------------------------------------------------


def _utc(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def _utc_opt(dt: datetime | None) -> datetime | None:
    return None if dt is None else _utc(dt)


def _enum(value: object, kind: type[_E], default: _E) -> _E:
    if not isinstance(value, str):
        return default
    try:
        return kind(value)
    except ValueError:
        return default


def _words(value: object) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value[:_MAX_WORDS]


_WORDS_KEYS = ("status_detail", "reason", "x_problem")
"""Profile keys where sources put the platform's words about an account's status:
``status_detail`` is the convention; the others are what sources already send."""


def _status_words(profile: object) -> str | None:
    if not isinstance(profile, Mapping):
        return None
    for key in _WORDS_KEYS:
        words = _words(profile.get(key))
        if words:
            return words
    return None


def _last_words(group: Iterable[PostLookup]) -> str | None:
    words = [w for w in (_words(lk.detail) for lk in group) if w]
    return words[-1] if words else None


def _dedup(ids: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(ids))


class _Reader:
    """Reads a stored state back, turning any corruption into one DetectError line."""

    def __init__(self, data: Mapping[str, Any], what: str) -> None:
        if not isinstance(data, Mapping):
            raise DetectError(f"{what} is not an object")
        self.data, self.what = data, what

    def fail(self, key: str) -> DetectError:
        return DetectError(f"{self.what}: bad {key!r}: {self.data.get(key)!r:.80}")

    def pending(self, key: str) -> PendingStatus | None:
        v = self.data.get(key)
        if v is None:
            return None
        if not isinstance(v, Mapping):
            raise self.fail(key)
        return PendingStatus.from_json(v)

    def text(self, key: str, *, required: bool = False) -> str | None:
        v = self.data.get(key)
        if v is None and not required:
            return None
        if not isinstance(v, str) or (required and not v):
            raise self.fail(key)
        return v

    def time(self, key: str) -> datetime | None:
        v = self.text(key)
        try:
            return parse_iso(v)
        except ValueError:
            raise self.fail(key) from None

    def count(self, key: str) -> int:
        v = self.data.get(key, 0)
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise self.fail(key)
        return v

    def ids(self, key: str) -> tuple[str, ...]:
        v = self.data.get(key, [])
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise self.fail(key)
        return tuple(v)

    def enum(self, key: str, kind: type[_E], default: _E) -> _E:
        v = self.data.get(key)
        if v is None:
            return default
        try:
            return kind(v)
        except ValueError:
            raise self.fail(key) from None

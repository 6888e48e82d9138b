"""The detector's states, its configuration and the small helpers its parts share
(``watch/detect.py`` is the public face; the rules are in ``docs/detection.md``). Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from ..errors import DetectError
from ..model import (
    AccountStatus,
    DeletionReason,
    Event,
    EventType,
    LookupResult,
    PostLookup,
    PostSnapshot,
    PostStatus,
    iso,
    parse_iso,
)

__all__ = [
    "HIDDEN_STATUSES",
    "VISIBLE_STATUSES",
    "AccountState",
    "Announced",
    "Announcement",
    "DetectConfig",
    "Detection",
    "PendingStatus",
    "PostState",
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
class Announcement:
    """A deletion the platform's own stream announced (a firehose ``#commit`` delete op, a
    Jetstream delete, a Mastodon ``delete`` event): ``capture_ids`` are the stream
    messages that said so (the evidence; for a firehose commit, the signed commit is in
    the frame), ``at`` when the first of them was received (None: not known)."""

    capture_ids: tuple[str, ...] = ()
    at: datetime | None = None


Announced = AbstractSet[str] | Mapping[str, Announcement | Sequence[str]]
"""What ``detect``/``plan_lookups`` take as ``announced``: post ids (a frozenset, no
evidence), or post id → :class:`Announcement` (or → the capture ids of the messages)."""


def _announcements(announced: Announced) -> dict[str, Announcement]:
    """``announced`` in one shape: post id → Announcement (non-string ids dropped)."""
    if isinstance(announced, Mapping):
        out: dict[str, Announcement] = {}
        for pid, a in announced.items():
            if not isinstance(pid, str):
                continue
            if isinstance(a, Announcement):
                out[pid] = a
            else:
                out[pid] = Announcement(capture_ids=(a,) if isinstance(a, str) else tuple(a))
        return out
    return {pid: Announcement() for pid in announced if isinstance(pid, str)}


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



def _separate(last: datetime, now: datetime, cfg: DetectConfig) -> bool:
    """Is a check at ``now`` separate from the one at ``last``?"""
    last = _utc(last)
    return now > last and now - last >= cfg.min_confirm_interval



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

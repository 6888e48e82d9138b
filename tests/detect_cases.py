"""Shared builders for the detector's tests (test_detect_*.py): observations, states and a
Tracker that threads the detector's output back into its input, as the runner does."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from unerased.model import (
    AccountCheck,
    AccountSnapshot,
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
)
from unerased.watch.detect import (
    AccountState,
    DetectConfig,
    Detection,
    PostState,
    detect,
)

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
ACCT = "did:plc:alice"
AS = AccountStatus
PS = PostStatus
ET = EventType
ACCOUNT_EVENTS = frozenset({ET.ACCOUNT_DELETED, ET.ACCOUNT_SUSPENDED, ET.ACCOUNT_DEACTIVATED,
                            ET.ACCOUNT_PROTECTED, ET.ACCOUNT_RESTORED})
"""Every event about the account itself (not one of its posts)."""


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def snap(pid: str, text: str = "hello", *, created: float = -10.0,
         version_key: str | None = None, edited_at: datetime | None = None,
         deleted: bool = False) -> PostSnapshot:
    return PostSnapshot(platform="bluesky", account_id=ACCT, post_id=pid, text=text,
                        created_at=at(created), version_key=version_key,
                        edited_at=edited_at, deleted=deleted)


def account_check(status: AccountStatus = AS.ACTIVE, handle: str | None = "alice.bsky.social",
                  words: str | None = None, cap: str = "cap-acct",
                  basis: StatusBasis | None = StatusBasis.EXPLICIT) -> AccountCheck:
    """The platform's answer about the account; a hidden status is an explicit one (the
    platform said so) unless ``basis`` says otherwise."""
    profile = {"status_detail": words} if words else {}
    return AccountCheck(AccountSnapshot(platform="bluesky", account_id=ACCT, handle=handle,
                                        display_name="Alice", status=status, profile=profile,
                                        basis=basis),
                        capture_ids=(cap,))


def absent(status: AccountStatus = AS.DELETED, cap: str = "cap-404",
           words: str | None = "HTTP 404: Could not find repo") -> AccountCheck:
    """A hidden status inferred from an absence (a 404/410, RepoNotFound…)."""
    return account_check(status, words=words, cap=cap, basis=StatusBasis.ABSENCE)


CHECK_ERROR = AccountCheck(None, error="ReadTimeout", capture_ids=("cap-acct-timeout",))


def listing(*snaps: PostSnapshot, complete: bool = True, window_start: datetime | None = None,
            cap: str = "cap-list") -> Listing:
    return Listing(posts=snaps, complete=complete, window_start=window_start,
                   error=None if complete else "HTTP 502 on page 2", capture_ids=(cap,))


def present(pid: str, text: str = "hello", **kw: object) -> PostLookup:
    return PostLookup(pid, LookupResult.PRESENT, snapshot=snap(pid, text, **kw),  # type: ignore[arg-type]
                      capture_ids=(f"cap-present-{pid}",))


def gone(pid: str, reason: DeletionReason = DeletionReason.UNKNOWN,
         words: str | None = "RecordNotFound", cap: str | None = None) -> PostLookup:
    return PostLookup(pid, LookupResult.GONE, reason=reason, detail=words,
                      capture_ids=(cap or f"cap-gone-{pid}",))


def err(pid: str, words: str = "ReadTimeout") -> PostLookup:
    return PostLookup(pid, LookupResult.ERROR, detail=words, capture_ids=(f"cap-err-{pid}",))


def forbidden(pid: str) -> PostLookup:
    return PostLookup(pid, LookupResult.FORBIDDEN, detail="authorized fetch",
                      capture_ids=(f"cap-403-{pid}",))


def account_gone(pid: str) -> PostLookup:
    return PostLookup(pid, LookupResult.ACCOUNT_GONE, detail="RepoNotFound",
                      capture_ids=(f"cap-repo-{pid}",))


def active(handle: str = "alice.bsky.social", status: AccountStatus = AS.ACTIVE) -> AccountState:
    return AccountState(account_id=ACCT, handle=handle, status=status, display_name="Alice",
                        platform="bluesky", status_since=at(-100), last_checked=at(-1))


def known(pid: str, text: str = "hello", status: PostStatus = PS.PRESENT,
          **kw: object) -> PostState:
    s = snap(pid, text)
    fields: dict[str, object] = {
        "post_id": pid, "status": status, "last_seen": at(-1), "content_hash": s.content_hash(),
        "created_at": s.created_at, "seen_evidence": (f"cap-seen-{pid}",)}
    fields.update(kw)
    return PostState(**fields)  # type: ignore[arg-type]


CFG = DetectConfig()


class Tracker:
    """Threads the detector's output back into its input, as the runner and store do."""

    def __init__(self, account: AccountState | None = None,
                 posts: Iterable[PostState] = (), config: DetectConfig = CFG) -> None:
        self.account = account
        self.posts = {p.post_id: p for p in posts}
        self.config = config
        self.events: list[Event] = []
        self.last: Detection | None = None

    def check(self, hours: float, check: AccountCheck | None = None,
              listing: Listing | None = None, lookups: Sequence[PostLookup] = ()) -> Detection:
        d = detect(self.account, self.posts, check or account_check(), listing, lookups,
                   at(hours), self.config)
        self.account = d.account
        self.posts.update(d.posts)
        self.events.extend(d.events)
        self.last = d
        return d

    def types(self) -> list[tuple[EventType, str | None]]:
        return [(e.type, e.post_id) for e in self.events]

    def status(self, pid: str) -> PostStatus:
        return self.posts[pid].status


def types(d: Detection) -> list[EventType]:
    return [e.type for e in d.events]

"""The data model shared by every layer: snapshots, captures and events.

Pure: no I/O. Sources and importers *produce* these; the store persists them; the
detector turns them into events. Everything a platform sent us is kept as received
in ``raw`` / :class:`Capture` bodies, because the raw answer is the evidence.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

PLATFORMS = ("bluesky", "mastodon", "rss", "x")
"""Platform names as they appear in URIs, JSON and the database (Twitter is ``x``)."""


class AccountStatus(StrEnum):
    ACTIVE = "active"
    DELETED = "deleted"  # gone, no reason given (e.g. "Could not find user", RepoNotFound)
    SUSPENDED = "suspended"  # removed by the platform (takedown, suspension)
    DEACTIVATED = "deactivated"  # closed by its owner (may come back)
    PROTECTED = "protected"  # posts hidden from the public (X protected, locked)
    LIMITED = "limited"  # Mastodon "limited"/silenced: still visible, degraded
    UNKNOWN = "unknown"  # never classified yet


class StatusBasis(StrEnum):
    """How a hidden account status was established (see docs/detection.md)."""

    EXPLICIT = "explicit"  # the platform said so: RepoTakendown, "suspended": true, …
    ABSENCE = "absence"  # inferred from something missing: 404/410, RepoNotFound, …


class PostStatus(StrEnum):
    PRESENT = "present"
    MISSING = "missing"  # absent from a listing or a lookup said gone; not yet confirmed
    DELETED = "deleted"  # confirmed deleted (or imported from deleted-tweets.js)
    UNAVAILABLE = "unavailable"  # its account is gone; the post itself was not judged


class EventType(StrEnum):
    POST_DELETED = "post_deleted"
    POST_EDITED = "post_edited"
    POST_RESTORED = "post_restored"
    ACCOUNT_DELETED = "account_deleted"
    ACCOUNT_SUSPENDED = "account_suspended"
    ACCOUNT_DEACTIVATED = "account_deactivated"
    ACCOUNT_PROTECTED = "account_protected"
    ACCOUNT_RENAMED = "account_renamed"
    ACCOUNT_RESTORED = "account_restored"


class DeletionReason(StrEnum):
    USER_DELETED = "user_deleted"
    PLATFORM_REMOVED = "platform_removed"
    UNKNOWN = "unknown"


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime | None) -> str | None:
    """ISO 8601 UTC with a ``Z``, second precision kept to microseconds when present."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    v = value.strip()
    if v.endswith("Z"):
        v = v[:-1] + "+00:00"
    dt = datetime.fromisoformat(v)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def canonical_json(value: Any) -> bytes:
    """The one canonical serialisation used for hashing (ledger leaves, capture ids):
    UTF-8, sorted keys, no whitespace, no NaN."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8", "surrogatepass")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(s: str) -> str:
    """``s`` with U+FFFD in place of any lone surrogate. A platform's JSON may carry half
    of an emoji (``"\\ud83d"``): Python decodes it, but no UTF-8 database column can
    store it, and one such post must not stop an account's archive. (The raw answer, as
    received, stays in its capture.)"""
    if s.isascii():
        return s
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", s)
    return s


def storable_json(value: Any, *, sort_keys: bool = False) -> str:
    """Compact JSON text that a UTF-8 column can store: as written (``ensure_ascii``
    off), unless a lone surrogate is in it; then every non-ASCII character is escaped,
    which keeps the value exact (``\\ud83d``)."""
    s = json.dumps(value, ensure_ascii=False, sort_keys=sort_keys, separators=(",", ":"))
    if not s.isascii():
        try:
            s.encode("utf-8")
        except UnicodeEncodeError:
            return json.dumps(value, ensure_ascii=True, sort_keys=sort_keys, separators=(",", ":"))
    return s


def _clean_fields(obj: Any, names: tuple[str, ...]) -> None:
    for name in names:
        v = getattr(obj, name)
        if v.__class__ is str and not v.isascii():
            c = clean_text(v)
            if c is not v:
                object.__setattr__(obj, name, c)


@dataclass(frozen=True, slots=True)
class MediaItem:
    """A media file attached to a post. ``content`` holds the bytes when the producer has
    them (an archive member, a fetched blob); ``url`` is where the platform served it."""

    url: str | None = None
    filename: str | None = None
    mime: str | None = None
    content: bytes | None = None
    alt: str | None = None
    kind: str | None = None  # image | video | gif | audio | other

    def __post_init__(self) -> None:
        _clean_fields(self, ("url", "filename", "mime", "alt", "kind"))


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    platform: str
    account_id: str  # the platform's stable id (X user id, DID, Mastodon id@host, feed URL)
    handle: str | None = None  # @name / handle.bsky.social / user@host
    display_name: str | None = None
    status: AccountStatus = AccountStatus.ACTIVE
    profile: Mapping[str, Any] = field(default_factory=dict)  # bio, avatar url, counts…
    url: str | None = None
    created_at: datetime | None = None
    observed_at: datetime | None = None
    # for a hidden status: EXPLICIT (counts at once) or ABSENCE (needs confirming checks);
    # None (a source that does not say) is confirmed like an absence
    basis: StatusBasis | None = None

    def __post_init__(self) -> None:
        _clean_fields(self, ("platform", "account_id", "handle", "display_name", "url"))


@dataclass(frozen=True, slots=True)
class PostSnapshot:
    """One version of one post as seen at one time (or as recorded in an archive).

    An edit chain is several snapshots with the same ``post_id`` and different
    ``version_key``. ``version_key`` is the platform's own version identifier when it has
    one (X edit tweet id, Bluesky record CID, Mastodon ``edited_at``); when None the
    store uses the content hash.
    """

    platform: str
    account_id: str
    post_id: str
    text: str
    created_at: datetime | None = None
    url: str | None = None
    html: str | None = None  # as sent by the platform: untrusted, sanitise before display
    kind: str = "post"  # post | reply | repost | quote
    reply_to: str | None = None
    repost_of: str | None = None
    quote_of: str | None = None
    lang: str | None = None
    edited_at: datetime | None = None
    version_key: str | None = None
    media: Sequence[MediaItem] = ()
    raw: Mapping[str, Any] | None = None  # the platform's JSON for this post
    deleted: bool = False  # known deleted at the source (X deleted-tweets.js)
    observed_at: datetime | None = None

    def __post_init__(self) -> None:
        _clean_fields(self, _POST_TEXT_FIELDS)

    def content_hash(self) -> str:
        """What makes two versions 'the same content': text and media identity."""
        parts = [self.text]
        for m in self.media:
            parts += [m.url or m.filename or "", m.alt or ""]
        # a JSON array of strings: unambiguous, and far cheaper than a sorted-key object
        return sha256_hex(
            json.dumps(parts, ensure_ascii=False, separators=(",", ":")).encode(
                "utf-8", "surrogatepass"
            )
        )


@dataclass(frozen=True, slots=True)
class Capture:
    """One HTTP exchange exactly as it happened. ``status`` is None when the request
    failed before an answer (timeout, refused); then ``error`` says why."""

    method: str
    url: str
    started_at: datetime
    request_headers: Mapping[str, str] = field(default_factory=dict)
    request_body: bytes = b""
    status: int | None = None
    reason: str | None = None
    response_headers: Sequence[tuple[str, str]] = ()
    body: bytes = b""
    error: str | None = None
    http_version: str = "HTTP/1.1"

    @property
    def body_sha256(self) -> str:
        return sha256_hex(self.body)

    def record(self) -> dict[str, Any]:
        """The canonical record (body by digest) whose sha256 is the capture id."""
        return {
            "method": self.method,
            "url": self.url,
            "started_at": iso(self.started_at),
            "request_headers": dict(sorted(self.request_headers.items())),
            "request_body_sha256": sha256_hex(self.request_body),
            "status": self.status,
            "reason": self.reason,
            "response_headers": [list(h) for h in self.response_headers],
            "body_sha256": self.body_sha256,
            "error": self.error,
            "http_version": self.http_version,
        }

    @property
    def id(self) -> str:
        return sha256_hex(canonical_json(self.record()))


@dataclass(frozen=True, slots=True)
class Event:
    type: EventType
    at: datetime
    platform: str
    account: str | None  # handle as known at detection time
    account_id: str
    post_id: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    evidence: Sequence[str] = ()  # capture ids

    def to_json(self) -> dict[str, Any]:
        return {
            "type": str(self.type),
            "at": iso(self.at),
            "platform": self.platform,
            "account": self.account,
            "account_id": self.account_id,
            "post_id": self.post_id,
            "detail": dict(self.detail),
            "evidence": list(self.evidence),
        }


# --- Observations: what one check of one account saw (produced by sources, judged by
# watch.detect). Capture ids point at the raw exchanges that show it.


class LookupResult(StrEnum):
    PRESENT = "present"  # the platform returned the post
    GONE = "gone"  # the platform's own answer: no such post (404, RecordNotFound, "Could not find tweet")
    FORBIDDEN = "forbidden"  # exists or not, we may not see it (protected, private, authorized fetch)
    ACCOUNT_GONE = "account_gone"  # the answer is about the account, not the post (repo not found…)
    ERROR = "error"  # no usable answer: timeout, 5xx, 429, truncated or unparseable body


@dataclass(frozen=True, slots=True)
class PostLookup:
    """The answer to looking one post up directly."""

    post_id: str
    result: LookupResult
    snapshot: PostSnapshot | None = None  # when PRESENT
    reason: DeletionReason = DeletionReason.UNKNOWN  # when GONE, as far as the answer tells
    detail: str | None = None  # the platform's words ("RecordNotFound", "Could not find tweet…")
    capture_ids: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class AccountCheck:
    """The answer to 'what is this account now?'. ``snapshot`` is None when no usable
    answer came back (then ``error`` says why); an answer that the account is suspended,
    deactivated or gone is a usable answer with that status."""

    snapshot: AccountSnapshot | None
    error: str | None = None
    capture_ids: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class Listing:
    """The posts an account's listing (timeline, listRecords, feed) showed.

    ``complete`` is False when pagination stopped early on an error: then absence from
    the listing means nothing. ``window_start`` is the creation time of the oldest post
    the listing covers (a feed's window, a page limit): a known post older than it that
    is absent has aged out, it is not missing. None means the listing covers everything.
    """

    posts: Sequence[PostSnapshot]
    complete: bool = True
    window_start: datetime | None = None
    error: str | None = None
    capture_ids: Sequence[str] = ()


_POST_TEXT_FIELDS = ("platform", "account_id", "post_id", "text", "url", "html", "kind",
                     "reply_to", "repost_of", "quote_of", "lang", "version_key")

"""What every live stream yields: :class:`StreamEvent` (issue 10, contract 2). Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..model import Capture, PostSnapshot

SOURCES = ("firehose", "jetstream", "mastodon")
KINDS = ("create", "update", "delete", "account", "identity", "sync", "gap")


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One thing a stream said about one watched account (or, for a ``gap`` with
    ``account_id`` None, about all of them).

    - ``source``: ``"firehose"`` | ``"jetstream"`` | ``"mastodon"``.
    - ``kind``: ``"create"`` | ``"update"`` | ``"delete"`` | ``"account"`` |
      ``"identity"`` | ``"sync"`` | ``"gap"``. A ``gap`` means events may have been
      missed for ``account_id`` (None: every watched account): re-list and diff.
    - ``platform``: ``"bluesky"`` | ``"mastodon"``.
    - ``account_id``: the DID, or the Mastodon ``id@host`` (as the sources store it).
    - ``post_id``: exactly the source's ``PostSnapshot.post_id``: Bluesky the record's
      ``at://DID/app.bsky.feed.post/RKEY``; Mastodon the status id on the instance
      streamed from (the id ``MastodonSource`` stores for that account's statuses).
    - ``snapshot``: for create/update, the record parsed by the source's own code.
    - ``status``: for ``account``: ``"active"``, ``"deactivated"``, ``"takendown"``,
      ``"suspended"``, ``"deleted"``… (the stream's word).
    - ``cursor``: where to resume from (firehose seq, Jetstream ``time_us``, Mastodon
      stream position when it has one).
    - ``capture``: the raw message as evidence (method ``WS``, the stream URL without
      secrets, status 101, body the raw frame bytes; a firehose commit's frame holds
      the signed commit block in its CAR).
    - ``detail``: anything else (``{"prev": cid}``, ``{"rev": …}``, a gap's reason).
    """

    source: str
    kind: str
    platform: str
    account_id: str | None
    post_id: str | None
    snapshot: PostSnapshot | None
    status: str | None
    cursor: str | None
    received_at: datetime
    capture: Capture
    detail: Mapping[str, Any] = field(default_factory=dict)


__all__ = ["KINDS", "SOURCES", "StreamEvent"]

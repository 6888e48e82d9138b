"""Live streams (issue 10): the AT Protocol firehose, Jetstream and Mastodon streaming,
each a client on one base (connect, reconnect with back-off, cursor, clean close) that
turns messages about watched accounts into :class:`StreamEvent`. Every connection goes
through :mod:`unerased.net` (the fetch guard; the configured proxy or, explicitly, none).
See ``docs/streams.md``. The clients load only when first used (``StreamEvent`` is
cheap to import: pure).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import exports
from .event import KINDS, SOURCES, StreamEvent

if TYPE_CHECKING:
    from ._base import StreamClient, backoff_delay
    from .commit import signed_commit, verify_commit
    from .firehose import FirehoseClient, FirehoseDecoder
    from .jetstream import JetstreamClient, JetstreamDecoder
    from .mastodon import MastodonStream

__all__ = ["KINDS", "SOURCES", "FirehoseClient", "FirehoseDecoder", "JetstreamClient",
           "JetstreamDecoder", "MastodonStream", "StreamClient", "StreamEvent",
           "backoff_delay", "signed_commit", "verify_commit"]

__getattr__ = exports(__name__, {
    "StreamClient": "_base", "backoff_delay": "_base", "FirehoseClient": "firehose",
    "FirehoseDecoder": "firehose", "JetstreamClient": "jetstream",
    "JetstreamDecoder": "jetstream", "MastodonStream": "mastodon",
    "signed_commit": "commit", "verify_commit": "commit",
})

"""Live streams (issue 10): the AT Protocol firehose, Jetstream and Mastodon streaming,
each a client on one base (connect, reconnect with back-off, cursor, clean close) that
turns messages about watched accounts into :class:`StreamEvent`. Every connection goes
through :mod:`unerased.net` (the fetch guard; the configured proxy or, explicitly, none).
See ``docs/streams.md``. The clients load only when first used.
"""

from __future__ import annotations

from .event import KINDS, SOURCES, StreamEvent

__all__ = ["KINDS", "SOURCES", "StreamEvent"]

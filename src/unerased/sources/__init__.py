"""Platform sources: one module per platform (bluesky, mastodon, rss, x), each speaking
the platform's real protocol through an injected ``httpx`` client and turning answers
into snapshots. Every exchange goes through a :class:`Recorder`, which keeps it as a raw
capture (the raw answer is the evidence); :class:`Source` is the protocol each platform
class follows. A platform's module loads only when its class is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import exports
from ._base import Recorder, Source

if TYPE_CHECKING:
    from .bluesky import BlueskySource
    from .mastodon import MastodonSource
    from .rss import RssSource
    from .x import XSource

__all__ = ["BlueskySource", "MastodonSource", "Recorder", "RssSource", "Source", "XSource"]

__getattr__ = exports(__name__, {
    "BlueskySource": "bluesky", "MastodonSource": "mastodon", "RssSource": "rss",
    "XSource": "x",
})

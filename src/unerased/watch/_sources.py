"""Which source class serves which platform (imported lazily: a platform's module loads
only when an account of it is watched)."""

from __future__ import annotations

import copy
import importlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from ..errors import SourceError
from ..sources import Recorder, Source

_CLASSES = {
    "bluesky": ("unerased.sources.bluesky", "BlueskySource"),
    "mastodon": ("unerased.sources.mastodon", "MastodonSource"),
    "rss": ("unerased.sources.rss", "RssSource"),
    "x": ("unerased.sources.x", "XSource"),
}


def make_source(
    platform: str,
    recorder: Recorder,
    service: str | None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
) -> Source:
    try:
        mod_name, cls_name = _CLASSES[platform]
    except KeyError:
        raise SourceError(f"no source for platform {platform!r}") from None
    cls = getattr(importlib.import_module(mod_name), cls_name)
    opts = dict((options or {}).get(platform, {}))
    return cast(Source, cls(recorder, service=service, **opts))


def for_check(src: Source, recorder: Recorder) -> Source:
    """A long-lived source as one check uses it: a shallow copy with the check's own
    recorder (its captures are the check's); everything the source learnt and keeps —
    the rate-limit back-off of a 429 or ``X-RateLimit-Remaining: 0``, the endpoints it
    resolved — is the same objects, shared with every other check of that source."""
    view = copy.copy(src)
    view.recorder = recorder
    return view


def retry_after(src: Source) -> datetime | None:
    """When the platform asked the source to send again (None: no back-off pending;
    sources without a back-off have none)."""
    got = getattr(src, "retry_after", None)
    return got if isinstance(got, datetime) else None

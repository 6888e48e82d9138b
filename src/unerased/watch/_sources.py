"""Which source class serves which platform (imported lazily: a platform's module loads
only when an account of it is watched)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
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

"""Which source class serves which platform (imported lazily: a platform's module loads
only when an account of it is watched)."""

from __future__ import annotations

import copy
import importlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast
from urllib.parse import urlsplit

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


def _netloc(url: str | None) -> str | None:
    if not url:
        return None
    try:
        return urlsplit(url).netloc.lower() or None
    except ValueError:
        return None


def host_of(row: Mapping[str, Any]) -> str:
    """The host a watch's requests go to (what per-host limits and budgets are keyed
    by): the ``--service`` host; else the Mastodon instance of ``id@host``, the feed's
    host, ``api.x.com``; else the platform's name (a Bluesky DID's PDS is learnt only by
    resolving it)."""
    svc = _netloc(row.get("service"))
    if svc:
        return svc
    platform, aid = str(row.get("platform") or ""), str(row.get("account_id") or "")
    if platform == "mastodon" and "@" in aid:
        return aid.rsplit("@", 1)[1].lower()
    if platform == "rss":
        return _netloc(aid) or "rss"
    if platform == "x":
        return "api.x.com"
    return platform or "unknown"

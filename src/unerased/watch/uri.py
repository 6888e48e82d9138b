"""Watch URIs (DESIGN.md): ``bluesky:HANDLE_OR_DID``, ``mastodon:@user@host``,
``rss:URL``, ``x:USERNAME``. They are parsed in :mod:`unerased.refs`, with every other
way of naming an account or a post; this module keeps their old address."""

from __future__ import annotations

from ..refs import WatchUri, parse_uri

__all__ = ["WatchUri", "parse_uri"]

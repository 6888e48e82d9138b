"""Watch URIs (DESIGN.md): ``bluesky:HANDLE_OR_DID``, ``mastodon:@user@host``,
``rss:URL``, ``x:USERNAME``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import UriError
from ..model import PLATFORMS


@dataclass(frozen=True)
class WatchUri:
    platform: str
    ident: str

    def __str__(self) -> str:
        return f"{self.platform}:{self.ident}"


_MASTODON = re.compile(r"^@?([A-Za-z0-9_.-]+)@([A-Za-z0-9.-]+\.[A-Za-z0-9-]+|localhost(:\d+)?)$")
_X = re.compile(r"^@?[A-Za-z0-9_]{1,15}$")
_BSKY = re.compile(r"^(did:(plc|web):[A-Za-z0-9._:%-]+|@?[A-Za-z0-9.-]+\.[A-Za-z0-9-]+)$")


def parse_uri(text: str) -> WatchUri:
    if ":" not in text:
        raise UriError(
            f"{text!r} is not a watch URI; write bluesky:HANDLE, mastodon:@user@host, "
            "rss:URL or x:USERNAME"
        )
    platform, ident = text.split(":", 1)
    platform = platform.strip().lower()
    ident = ident.strip()
    if platform == "twitter":
        platform = "x"
    if platform not in PLATFORMS:
        raise UriError(f"unknown platform {platform!r} (have: {', '.join(PLATFORMS)})")
    if platform == "mastodon":
        if not _MASTODON.match(ident):
            raise UriError(f"mastodon account must look like @user@host, not {ident!r}")
        ident = "@" + ident.lstrip("@")
    elif platform == "x":
        if not _X.match(ident):
            raise UriError(f"x username must be 1-15 letters, digits or _, not {ident!r}")
        ident = ident.lstrip("@")
    elif platform == "bluesky":
        if not _BSKY.match(ident):
            raise UriError(f"bluesky account must be a handle (name.bsky.social) or a DID, not {ident!r}")
        ident = ident.lstrip("@").lower() if not ident.startswith("did:") else ident
    elif platform == "rss" and not re.match(r"^https?://", ident):
        raise UriError(f"rss feed must be an http(s) URL, not {ident!r}")
    return WatchUri(platform, ident)

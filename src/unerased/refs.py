"""How a person names an account or a post, and the one form an account is printed in.

Pure: no I/O, no SQL. It turns what was typed into *matches* (each a set of conditions
that must all hold; an argument names whatever any of its matches finds); the store turns
them into one query (:meth:`unerased.store.Queries.find_accounts` / ``find_posts``) and
:func:`pick_one` says what to do with what was found: nothing is :class:`NotFound`
(exit 1), several are an :class:`AmbiguousError` naming them (exit 2).

**The canonical account form** (:func:`account_uri`) is the watch URI of DESIGN.md, made
from what the archive knows now: ``bluesky:HANDLE`` (``bluesky:DID`` while no handle is
known), ``mastodon:@user@host``, ``rss:FEED_URL``, ``x:USERNAME`` (``x:USER_ID`` while no
username is known).

**An account** is accepted as: every printed form (``platform:handle``,
``platform:account_id``, ``twitter:`` for ``x:``, a ``@`` or not); the URI it was watched
as; a profile URL (``https://bsky.app/profile/H``, ``https://host/@user``,
``https://host/users/user``, ``https://x.com/user``, ``https://twitter.com/user``), the
account's own URL, the feed URL; ``at://DID``; a bare handle or account id (DID, X user
id, ``id@host``…) on any platform; ``row:N``, the internal row (``id`` in the JSON). A
bare number is never a row: it is an X user id or handle like any other.

**A post** is accepted as: the platform's post id (an ``at://`` URI for Bluesky); the
post's URL (``https://x.com/u/status/ID``, ``https://bsky.app/profile/H/post/RKEY``,
``https://host/@user/ID``, ``https://host/users/user/statuses/ID``, or the URL the
archive keeps for it); an ``at://`` URI with a handle; ``row:N``.

Also the watch URIs themselves (:func:`parse_uri`), what ``watch add`` takes.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import unquote, urlsplit

from .errors import AmbiguousError, NotFound, UriError, UsageError
from .model import PLATFORMS

__all__ = [
    "ROW",
    "AccountMatch",
    "PostMatch",
    "WatchUri",
    "account_matches",
    "account_uri",
    "parse_uri",
    "pick_one",
    "post_matches",
]

ROW = "row:"
_MAX_ROW = 2**63 - 1
_PREFIXES = {"bluesky": "bluesky", "mastodon": "mastodon", "rss": "rss", "x": "x",
             "twitter": "x"}
_BSKY_HOSTS = ("bsky.app", "www.bsky.app", "staging.bsky.app")
_X_HOSTS = ("x.com", "www.x.com", "mobile.x.com", "twitter.com", "www.twitter.com",
            "mobile.twitter.com")
_BSKY_POST = "app.bsky.feed.post"


# ----------------------------------------------------------------- the printed form


def account_uri(platform: str, handle: str | None, account_id: str) -> str:
    """The canonical form of an account (see the module's documentation)."""
    h = handle if handle and handle != "handle.invalid" else None
    if platform == "mastodon":
        return f"mastodon:@{h.lstrip('@')}" if h else f"mastodon:{account_id}"
    if platform == "rss":
        return f"rss:{account_id}"
    return f"{platform}:{h or account_id}"


# ----------------------------------------------------------------- watch URIs


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
    """A watch URI (``bluesky:HANDLE_OR_DID``, ``mastodon:@user@host``, ``rss:URL``,
    ``x:USERNAME``); UriError (exit 2) when it is not one."""
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


# ----------------------------------------------------------------- accounts


@dataclass(frozen=True)
class AccountMatch:
    """Conditions on one account row, all of which must hold (None: no condition).
    ``handle`` is compared without regard to case."""

    platform: str | None = None
    handle: str | None = None
    account_id: str | None = None
    url: str | None = None
    watch_uri: str | None = None
    row: int | None = None


def account_matches(ref: str) -> tuple[AccountMatch, ...]:
    """The ways ``ref`` can name an account; UsageError for an empty or malformed one."""
    text = ref.strip()
    if not text:
        raise UsageError("no account given: name one as x:USERNAME, bluesky:HANDLE, "
                         "mastodon:@user@host, rss:URL, a profile URL or a handle")
    low = text.lower()
    if low.startswith(ROW):
        return (AccountMatch(row=_row(text)),)
    if low.startswith(("http://", "https://")):
        return _unique(_account_url(text))
    if low.startswith("at://"):
        return _unique(_on("bluesky", _authority(text)))
    head, sep, rest = text.partition(":")
    platform = _PREFIXES.get(head.strip().lower()) if sep else None
    if platform is not None:
        out = _on(platform, rest.strip())
        out.append(AccountMatch(watch_uri=text))
        with contextlib.suppress(UriError):
            out.append(AccountMatch(watch_uri=str(parse_uri(text))))
        return _unique(out)
    bare = text.removeprefix("@")
    return _unique([AccountMatch(handle=bare), AccountMatch(account_id=bare),
                    AccountMatch(account_id=text)])


def _on(platform: str, ident: str) -> list[AccountMatch]:
    """An account of ``platform`` whose handle or account id is ``ident``."""
    if platform == "rss":
        return [AccountMatch(platform="rss", account_id=ident),
                AccountMatch(platform="rss", handle=ident)]
    if platform == "bluesky" and ident.lower().startswith("at://"):
        ident = _authority(ident)
    bare = ident.removeprefix("@")
    return [AccountMatch(platform=platform, handle=bare),
            AccountMatch(platform=platform, account_id=bare),
            AccountMatch(platform=platform, account_id=ident)]


def _authority(at_uri: str) -> str:
    return unquote(at_uri[5:].split("/", 1)[0])


def _account_url(url: str) -> list[AccountMatch]:
    trimmed = url.rstrip("/")
    out = [m for u in dict.fromkeys((url, trimmed, trimmed + "/"))
           for m in (AccountMatch(url=u), AccountMatch(platform="rss", account_id=u))]
    host, segs = _host_and_path(url)
    if not host or not segs:
        return out
    if host in _BSKY_HOSTS and segs[0] == "profile" and len(segs) >= 2:
        out += _on("bluesky", segs[1])
    elif host in _X_HOSTS:
        if segs[0] == "i" and len(segs) >= 3 and segs[1] == "user":
            out.append(AccountMatch(platform="x", account_id=segs[2]))
        elif segs[0] not in ("i", "home", "search", "hashtag"):
            out += _on("x", segs[0])
    elif segs[0].startswith("@") and len(segs[0]) > 1:
        user = segs[0][1:]
        out.append(AccountMatch(platform="mastodon", handle=user if "@" in user
                                else f"{user}@{host}"))
    elif segs[0] == "users" and len(segs) >= 2:
        out.append(AccountMatch(platform="mastodon", handle=f"{segs[1]}@{host}"))
    return out


def _host_and_path(url: str) -> tuple[str, list[str]]:
    """The host (with a port when one is given; lower case) and the decoded path
    segments of ``url``; ("", []) when it cannot be parsed."""
    try:
        u = urlsplit(url)
        port = u.port
    except ValueError:
        return "", []
    host = (u.hostname or "").lower()
    if host and port is not None:
        host = f"{host}:{port}"
    return host, [unquote(s) for s in u.path.split("/") if s]


# ----------------------------------------------------------------- posts


@dataclass(frozen=True)
class PostMatch:
    """Conditions on one post row, all of which must hold (None: no condition).
    ``post_id_suffix``: the post id ends with it; ``account``: the post's account
    matches one of these."""

    platform: str | None = None
    post_id: str | None = None
    post_id_suffix: str | None = None
    url: str | None = None
    row: int | None = None
    account: tuple[AccountMatch, ...] = ()


def post_matches(ref: str) -> tuple[PostMatch, ...]:
    """The ways ``ref`` can name a post; UsageError for an empty or malformed one."""
    text = ref.strip()
    if not text:
        raise UsageError("no post given: name it by its post id, its URL, an at:// URI "
                         "or row:N")
    low = text.lower()
    if low.startswith(ROW):
        return (PostMatch(row=_row(text)),)
    out = [PostMatch(post_id=ref)] + ([PostMatch(post_id=text)] if text != ref else [])
    if low.startswith("at://"):
        out += _at_post(text)
    elif low.startswith(("http://", "https://")):
        out += [PostMatch(url=text), *_post_url(text)]
    return _unique(out)


def _at_post(uri: str) -> list[PostMatch]:
    parts = uri[5:].split("/")
    if len(parts) != 3 or not all(parts):
        return []
    auth, collection, rkey = (unquote(p) for p in parts)
    if auth.startswith("did:"):
        return [PostMatch(platform="bluesky", post_id=f"at://{auth}/{collection}/{rkey}")]
    return [PostMatch(platform="bluesky", post_id_suffix=f"/{collection}/{rkey}",
                      account=(AccountMatch(platform="bluesky", handle=auth),))]


def _post_url(url: str) -> list[PostMatch]:
    host, segs = _host_and_path(url)
    if not host or not segs:
        return []
    if host in _BSKY_HOSTS:
        if len(segs) >= 4 and segs[0] == "profile" and segs[2] == "post":
            return _at_post(f"at://{segs[1]}/{_BSKY_POST}/{segs[3]}")
        return []
    if host in _X_HOSTS:
        for i, seg in enumerate(segs[:-1]):
            if seg in ("status", "statuses") and segs[i + 1].isdigit():
                return [PostMatch(platform="x", post_id=segs[i + 1])]
        return []
    user = status = None
    if len(segs) >= 2 and segs[0].startswith("@") and "@" not in segs[0][1:]:
        user, status = segs[0][1:], segs[1]
    elif len(segs) >= 4 and segs[0] == "users" and segs[2] == "statuses":
        user, status = segs[1], segs[3]
    if user and status and status.isdigit():
        return [PostMatch(platform="mastodon", post_id=status,
                          account=(AccountMatch(platform="mastodon",
                                                handle=f"{user}@{host}"),))]
    return []


# ----------------------------------------------------------------- one of them

T = TypeVar("T")
M = TypeVar("M", AccountMatch, PostMatch)


def pick_one(kind: str, ref: str, found: Sequence[T], describe: Callable[[T], str],
             hint: str) -> T:
    """The one thing ``ref`` names. Nothing: NotFound (exit 1); several: AmbiguousError
    (exit 2) naming them (at most 10) and saying how to choose (``hint``)."""
    if not found:
        raise NotFound(f"no {kind} matches {ref!r}")
    if len(found) > 1:
        named = ", ".join(describe(f) for f in found[:10])
        more = f" and {len(found) - 10} more" if len(found) > 10 else ""
        raise AmbiguousError(f"{ref!r} matches {len(found)} {kind}s: {named}{more}; {hint}")
    return found[0]


def _row(text: str) -> int:
    digits = text[len(ROW):].strip()
    if not digits.isascii() or not digits.isdigit() or not 0 < int(digits) <= _MAX_ROW:
        raise UsageError(f"{text!r}: write row:N with N the row number (\"id\" in the JSON)")
    return int(digits)


def _unique(matches: Sequence[M]) -> tuple[M, ...]:
    return tuple(dict.fromkeys(matches))

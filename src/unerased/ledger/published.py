"""Published receipts: what a receipt may carry when it is made public (``export site``).

A full receipt (``unerased receipt``) holds everything the archive knows about one post,
including the listings that showed it present and then absent: those captures hold the
other posts of the account, and their leaves' salts would let anyone test guesses about
them. A *published* receipt keeps only what concerns its own post (DESIGN.md):

- the post's versions and the media completions of those versions;
- the events about the post itself (its deletion, edits, restoration);
- the raw captures of its *direct lookups*: a request that names this post and no
  other (:func:`is_direct_lookup`);

and says what it left out and why (the manifest's ``withheld``): listings and other
requests that may hold other posts, stream messages, the account's status history and
its account-wide events, the archive imports. The leaves that stay keep their salts and
inclusion proofs; a proof's sibling hashes are salted hashes, which tell nothing about
the leaves they stand for.

Pure: :func:`partition` decides on leaf records, :func:`check_published` is the
verifier's side of the same rule (docs/receipts.md, "Published receipts").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "PUBLISHED_FORMAT",
    "REASONS",
    "check_published",
    "check_withheld",
    "is_direct_lookup",
    "partition",
]

PUBLISHED_FORMAT = "unerased-published-receipt"

REASONS: dict[str, str] = {
    "listing": "a listing, or another request that is not a lookup of this post alone "
               "(a profile, a batch): it may hold other posts",
    "stream": "a stream message, which may carry other posts",
    "account_status": "the account's status history is about the account, not this post",
    "account_event": "an event about the account, not this post",
    "import": "the import of an archive file is about the whole archive, not this post",
}
"""Why a published receipt leaves something out (the ``reason`` of ``withheld``)."""

_KINDS = ("capture", "account_status", "event", "import")
_MASTODON_STATUS = re.compile(r"/api/v1/statuses/([A-Za-z0-9_\-]{1,64})(/history)?")
_X_TWEET = re.compile(r"/2/tweets/(\d{1,25})")
_BSKY_GET_RECORD = {"/xrpc/com.atproto.repo.getRecord": "repo",
                    "/xrpc/com.atproto.sync.getRecord": "did"}


def _params(query: str) -> dict[str, str] | None:
    """The query's parameters, None when one is given twice (nothing may be smuggled)."""
    got = parse_qs(query, keep_blank_values=True)
    if any(len(v) != 1 for v in got.values()):
        return None
    return {k: v[0] for k, v in got.items()}


def is_direct_lookup(platform: str, post_id: str, post_url: str | None,
                     version_keys: Sequence[str], method: str, url: str) -> bool:
    """Is this request a lookup of this post alone? Its answer is then about the post.

    - any platform: a GET of the post's own URL (an RSS entry's link);
    - ``mastodon``: ``GET …/api/v1/statuses/ID`` or ``…/ID/history``, ID the post's id;
    - ``bluesky``: ``GET …/xrpc/com.atproto.repo.getRecord`` (``repo``) or
      ``com.atproto.sync.getRecord`` (``did``) whose repo, ``collection`` and ``rkey``
      make the post's ``at://`` URI;
    - ``x``: ``GET …/2/tweets/ID`` or ``…/2/tweets?ids=…`` naming only the post's id
      and its versions' ids (an edit chain).

    Everything else (listings, profiles, batches naming other posts, stream messages)
    is not."""
    if method != "GET":
        return False
    if post_url and url == post_url:
        return True
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or parts.fragment:
        return False
    params = _params(parts.query)
    if params is None:
        return False
    path = parts.path
    if platform == "mastodon":
        m = _MASTODON_STATUS.search(path)
        return bool(m and path.endswith(m.group(0)) and m.group(1) == post_id and not params)
    if platform == "bluesky":
        for nsid, repo_key in _BSKY_GET_RECORD.items():
            if path.endswith(nsid) and set(params) == {repo_key, "collection", "rkey"}:
                uri = f"at://{params[repo_key]}/{params['collection']}/{params['rkey']}"
                return uri == post_id
        return False
    if platform == "x":
        ids = {post_id, *version_keys}
        m = _X_TWEET.search(path)
        if m and path.endswith(m.group(0)):
            return m.group(1) in ids
        if path.endswith("/2/tweets") and "ids" in params:
            asked = params["ids"].split(",")
            return bool(asked) and set(asked) <= ids
    return False


def _post_of(records: Sequence[Mapping[str, Any]]) -> tuple[str, str, str, str | None,
                                                             list[str]]:
    """(platform, account_id, post_id, url, version keys) from the version records."""
    versions = [r for r in records if r.get("kind") == "post_version"]
    if not versions:
        raise ValueError("no version of the post")
    p = versions[0]["post"]
    keys = [str(r.get("version_key")) for r in versions]
    return str(p["platform"]), str(p["account_id"]), str(p["post_id"]), p.get("url"), keys


def _reason(r: Mapping[str, Any], post: tuple[str, str, str, str | None, list[str]]
            ) -> str | None:
    """None when a record concerns the post (it stays), else why it is withheld."""
    platform, account_id, post_id, url, keys = post
    kind = r.get("kind")
    if kind in ("post_version", "media_completion"):
        return None
    if kind == "event":
        same = (r.get("platform") == platform and r.get("account_id") == account_id
                and r.get("post_id") == post_id)
        return None if same else "account_event"
    if kind == "capture":
        c = r.get("record")
        if not isinstance(c, dict):
            return "listing"
        if c.get("method") == "WS":
            return "stream"
        ok = is_direct_lookup(platform, post_id, url, keys, str(c.get("method")),
                              str(c.get("url")))
        return None if ok else "listing"
    if kind == "account_status":
        return "account_status"
    return "import"


def partition(records: Sequence[Mapping[str, Any]]) -> tuple[list[bool], list[dict[str, Any]]]:
    """For the leaf records of a full receipt (all about one post): which stay in the
    published receipt (one bool per record) and the manifest's ``withheld`` list, one
    entry per reason: ``{"kind", "reason", "count", "ids"}`` — ``ids`` the capture ids
    (records of the receipt name them: a version's source, an event's evidence), empty
    for the other kinds. Sorted by kind then reason."""
    post = _post_of(records)
    keep: list[bool] = []
    groups: dict[tuple[str, str], list[str]] = {}
    counts: dict[tuple[str, str], int] = {}
    for r in records:
        why = _reason(r, post)
        keep.append(why is None)
        if why is None:
            continue
        key = (str(r.get("kind")), why)
        counts[key] = counts.get(key, 0) + 1
        ids = groups.setdefault(key, [])
        if r.get("kind") == "capture" and isinstance(r.get("id"), str):
            ids.append(r["id"])
    withheld = [{"kind": k, "reason": why, "count": counts[(k, why)],
                 "ids": sorted(set(groups[(k, why)]))}
                for k, why in sorted(counts)]
    return keep, withheld


def check_withheld(withheld: Any) -> str | None:
    """The manifest's ``withheld`` list: None when well formed, else what is wrong."""
    if not isinstance(withheld, list):
        return "withheld is not a list"
    last: tuple[str, str] | None = None
    for w in withheld:
        if (not isinstance(w, dict) or set(w) != {"kind", "reason", "count", "ids"}
                or w["kind"] not in _KINDS or w["reason"] not in REASONS
                or not isinstance(w["count"], int) or isinstance(w["count"], bool)
                or w["count"] < 1 or not isinstance(w["ids"], list)
                or not all(isinstance(i, str) and re.fullmatch(r"[0-9a-f]{64}", i)
                           for i in w["ids"])
                or w["ids"] != sorted(set(w["ids"])) or len(w["ids"]) > w["count"]):
            return "malformed withheld entry"
        key = (w["kind"], w["reason"])
        if last is not None and key <= last:
            return "withheld entries are not in strictly increasing order"
        last = key
    return None


def check_published(records: Sequence[Mapping[str, Any]]) -> str | None:
    """The verifier's side: None when every record of a published receipt concerns its
    post (no listing, no stream message, no account history, no import, no event about
    anything else), else the first problem."""
    try:
        post = _post_of(records)
    except (ValueError, KeyError, TypeError):
        return "the receipt holds no version of its post"
    for r in records:
        why = _reason(r, post)
        if why is not None:
            what = r.get("kind")
            ref = r.get("id")
            return (f"a published receipt holds {what} {str(ref)[:64]}, which it must "
                    f"withhold: {REASONS[why]}")
    return None

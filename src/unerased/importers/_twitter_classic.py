"""The classic X/Twitter archive ("Grailbird"), as Twitter gave it from 2012 to early 2019.

Layout (``README.txt``, ``index.html`` and a viewer beside it):

- ``data/js/tweets/YYYY_MM.js``: one file per month, ``Grailbird.data.tweets_YYYY_MM =
  [ … ]``, tweet objects of the v1.1 API (``text``, not ``full_text``; dates as
  ``2019-02-08 08:38:13 +0000``; ``retweeted_status`` on retweets; ``entities``);
- ``data/js/user_details.js``: ``var user_details = {screen_name, full_name, bio, id,
  created_at, …}``; ``data/js/payload_details.js``: ``{tweets, created_at, lang}``;
  ``data/js/tweet_index.js``: the month files and their counts;
- ``tweets.csv`` at the root: the same tweets as CSV (``tweet_id, in_reply_to_status_id,
  in_reply_to_user_id, timestamp, source, text, retweeted_status_id,
  retweeted_status_user_id, retweeted_status_timestamp, expanded_urls``). It is read
  only when it is the only source of tweets (the month files carry more).

A CSV-only archive without ``user_details.js`` names its owner nowhere directly: the
owner's id is then taken from a reply to one of the archive's own tweets (its
``in_reply_to_user_id`` is the owner), and the handle from a link to one of them.
"""

from __future__ import annotations

import csv
import io
import posixpath
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ._errors import ArchiveError
from .safetar import ArchiveFiles

__all__ = ["CSV_FIELDS", "Classic", "classic_layout", "csv_owner", "csv_tweets"]

CSV_FIELDS = ("tweet_id", "in_reply_to_status_id", "in_reply_to_user_id", "timestamp",
              "source", "text", "retweeted_status_id", "retweeted_status_user_id",
              "retweeted_status_timestamp", "expanded_urls")
_MONTH_FILE = re.compile(r"^(?:(.*/))?data/js/tweets/([0-9]{4})_([0-9]{2})\.js$")
_TCO = re.compile(r"https?://t\.co/[A-Za-z0-9]+")
_OWN_STATUS = re.compile(r"^https?://(?:www\.|mobile\.)?(?:twitter|x)\.com/([A-Za-z0-9_]{1,50})"
                         r"/status(?:es)?/([0-9]{1,25})")
_ID = re.compile(r"[0-9]{1,25}")
_URL_LIST = re.compile(r",(?=https?://)")  # a URL may itself hold a comma


@dataclass
class Classic:
    """Where a classic archive keeps things (member names)."""

    months: list[str]  # oldest first
    csv: str | None  # only when there are no month files
    user_details: str | None
    payload: str | None


def classic_layout(names: list[str]) -> Classic | None:
    """The classic layout of these member names, or None when it is not one."""
    months: list[tuple[str, str, str]] = []
    for n in names:
        m = _MONTH_FILE.match(n)
        if m:
            months.append((m.group(1) or "", m.group(2) + m.group(3), n))
    present = set(names)
    if months:
        root = min((r for r, _, _ in months), key=lambda r: (r.count("/"), r))
        files = [n for _, _, n in sorted(x for x in months if x[0] == root)]
    else:
        roots = sorted((n[: -len("tweets.csv")] for n in names
                        if posixpath.basename(n) == "tweets.csv"), key=lambda r: (r.count("/"), r))
        if not roots:
            return None
        root, files = roots[0], []

    def find(rel: str) -> str | None:
        return root + rel if root + rel in present else None

    return Classic(files, None if files else root + "tweets.csv",
                   find("data/js/user_details.js"), find("data/js/payload_details.js"))


# --- tweets.csv -----------------------------------------------------------------------------


class _Counted(io.RawIOBase):
    def __init__(self, inner: Any, on_bytes: Callable[[int], None] | None) -> None:
        super().__init__()
        self._inner, self._on_bytes = inner, on_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        data = self._inner.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        if n and self._on_bytes is not None:
            self._on_bytes(n)
        return n


def _rows(zf: ArchiveFiles, member: str, on_bytes: Callable[[int], None] | None
          ) -> Iterator[tuple[int, dict[str, str]]]:
    raw = zf.open(member)
    try:
        text = io.TextIOWrapper(io.BufferedReader(_Counted(raw, on_bytes)),
                                encoding="utf-8-sig", newline="")
        reader = csv.reader(text, strict=True)
        try:
            header = next(reader, None)
            if header is None:
                raise ArchiveError(zf.path, "is empty", member=member)
            cols = [h.strip() for h in header]
            missing = [c for c in ("tweet_id", "timestamp", "text") if c not in cols]
            if missing:
                raise ArchiveError(zf.path, f"no {missing[0]} column: not a Twitter tweets.csv",
                                   member=member)
            for row in reader:
                if not row:
                    continue
                yield reader.line_num, dict(zip(cols, row, strict=False))
        except csv.Error as e:
            raise ArchiveError(zf.path, f"malformed CSV near line {reader.line_num} ({e})",
                               member=member) from None
        except UnicodeDecodeError:
            raise ArchiveError(zf.path, f"not UTF-8 near line {reader.line_num}",
                               member=member) from None
    finally:
        raw.close()


def _id_or_none(value: str | None) -> str | None:
    value = (value or "").strip()
    return value if _ID.fullmatch(value) else None


def csv_tweets(zf: ArchiveFiles, member: str, on_bytes: Callable[[int], None] | None = None
               ) -> Iterator[dict[str, Any]]:
    """The rows of ``tweets.csv`` as tweet objects in the v1.1 shape the month files use
    (``t.co`` links paired with ``expanded_urls`` in order when their counts agree)."""
    for line, row in _rows(zf, member, on_bytes):
        tid = _id_or_none(row.get("tweet_id"))
        if tid is None:
            raise ArchiveError(zf.path, f"line {line}: no tweet id", member=member)
        text = row.get("text") or ""
        tweet: dict[str, Any] = {"id_str": tid, "created_at": (row.get("timestamp") or "").strip(),
                                 "text": text, "source": row.get("source") or ""}
        if (reply := _id_or_none(row.get("in_reply_to_status_id"))) is not None:
            tweet["in_reply_to_status_id_str"] = reply
        if (ruser := _id_or_none(row.get("in_reply_to_user_id"))) is not None:
            tweet["in_reply_to_user_id_str"] = ruser
        if (rt := _id_or_none(row.get("retweeted_status_id"))) is not None:
            tweet["retweeted_status"] = {
                "id_str": rt,
                "user": {"id_str": _id_or_none(row.get("retweeted_status_user_id"))},
                "created_at": (row.get("retweeted_status_timestamp") or "").strip(),
            }
        expanded = [u for u in _URL_LIST.split(row.get("expanded_urls") or "") if u.strip()]
        links = list(dict.fromkeys(_TCO.findall(text)))
        urls = []
        if expanded and len(links) == len(expanded):
            urls = [{"url": short, "expanded_url": long.strip()}
                    for short, long in zip(links, expanded, strict=True)]
        tweet["entities"] = {"urls": urls}
        if expanded:
            tweet["expanded_urls"] = [u.strip() for u in expanded]
        yield tweet


def csv_owner(zf: ArchiveFiles, member: str) -> tuple[str, str | None]:
    """(owner's user id, handle or None) of a CSV-only archive without user_details.js:
    a reply to one of the archive's own tweets carries the owner's id; a link to one of
    them, the handle. Raises ArchiveError when no such reply exists."""
    own: set[str] = set()
    replies: list[tuple[str, str]] = []
    links: list[tuple[str, str]] = []
    for _line, row in _rows(zf, member, None):
        tid = _id_or_none(row.get("tweet_id"))
        if tid is None:
            continue
        own.add(tid)
        status = _id_or_none(row.get("in_reply_to_status_id"))
        user = _id_or_none(row.get("in_reply_to_user_id"))
        if status and user:
            replies.append((status, user))
        for u in _URL_LIST.split(row.get("expanded_urls") or ""):
            m = _OWN_STATUS.match(u.strip())
            if m:
                links.append((m.group(2), m.group(1)))
    owner = next((user for status, user in replies if status in own), None)
    if owner is None:
        raise ArchiveError(zf.path, "no data/js/user_details.js, and no reply to one of its own "
                           "tweets to tell whose tweets these are", member=member)
    handle = next((name for status, name in links if status in own), None)
    return owner, handle

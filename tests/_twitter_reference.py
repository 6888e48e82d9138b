"""Frozen copy of src/unerased/importers/twitter.py before the speed work: the oracle for
tests/test_import_twitter_speed.py. Do not edit.

Import an X/Twitter "download your data" archive (zip) into snapshots.

Layout read (real archives, 2019-2024):

- ``data/tweets.js`` (+ ``tweets-part1.js``, ``tweets-part2.js``… for big archives), each
  ``window.YTD.tweets.partN = [ {"tweet": {...}}, ... ]``; older archives call it
  ``data/tweet.js`` / ``window.YTD.tweet.part0`` and may omit the ``"tweet"`` wrapper;
- ``data/deleted-tweets.js`` (``window.YTD.deleted_tweets.part0``, same tweet shape plus
  ``deleted_at``) → snapshots with ``deleted=True``;
- ``data/account.js`` (accountId, username, accountDisplayName, createdAt),
  ``data/profile.js`` (description.bio/website/location, avatarMediaUrl, headerMediaUrl),
  ``data/manifest.js`` (``window.__THAR_CONFIG``; archiveInfo.generationDate);
- ``data/note-tweet.js`` (``noteTweet: {noteTweetId, createdAt, core: {text, urls…}}``):
  the full text of tweets longer than 280 characters. Real archives carry no tweet id in
  it, so a note is matched to its tweet by creation second and text prefix;
- ``data/tweets_media/<tweet id>-<name>`` (``tweet_media/`` in old archives,
  ``deleted_tweets_media/`` for deleted tweets): attached as :class:`MediaItem` bytes,
  read when that tweet's snapshot is built, so only one tweet's media is in memory.

Tweet files are streamed with ijson (C backend when installed): memory stays bounded
whatever the size of tweets.js. Edit chains (``edit_info.initial.editTweetIds`` on the
original, ``edit_info.edit.initialTweetId`` on later versions) become one post
(``post_id`` = the initial tweet id) with one snapshot per version in chronological
order; only the members of chains still open are held (a chain's versions sit close
together in the file), with a hard cap.

Everything in the archive is treated as hostile: any problem is an
:class:`ArchiveError` with one line naming the file and the problem.
"""

from __future__ import annotations

import html
import json
import os
import posixpath
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import IO, Any

import ijson

from unerased.errors import ArchiveError
from unerased.importers.safezip import SafeZip
from unerased.model import AccountSnapshot, AccountStatus, MediaItem, PostSnapshot, parse_iso

__all__ = ["ArchiveError", "iter_twitter_archive", "parse_twitter_date", "PLATFORM"]

PLATFORM = "x"
Progress = Callable[[int, int], None]

_CHUNK = 1 << 16
MAX_DEPTH = 256
"""Deepest JSON nesting accepted (real tweets nest about 8 levels). ijson's builder
uses memory quadratic in depth, so depth is checked before bytes reach the parser."""
MAX_ITEM_BYTES = 64 << 20
"""Largest single array item (one tweet) accepted."""
SMALL_FILE_LIMIT = 16 << 20
"""account.js, profile.js, manifest.js are read whole, up to this size."""
MAX_PENDING_TWEETS = 10_000
"""Edit-chain members held while waiting for the rest of their chain."""
DEFAULT_MAX_MEDIA_SIZE = 1 << 30
"""Media members larger than this (declared) are listed without their bytes."""

_PREFIX = re.compile(rb"\s*window\.[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*\s*=\s*")
_QUOTED = re.compile(rb'"[^"]*"')
_BRACKETS = bytes.maketrans(b"[{]}", b"(())")
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{}')
_ID = re.compile(r"[0-9]{1,25}")
_USERNAME = re.compile(r"[A-Za-z0-9_]{1,50}")
_STATUS_URL = re.compile(
    r"^https?://(?:www\.|mobile\.)?(?:twitter|x)\.com/(?!i/)[A-Za-z0-9_]{1,50}/status(?:es)?/([0-9]{1,25})"
)
_SELF_LINK = re.compile(r"^https?://(?:www\.)?(?:twitter|x)\.com/i/web/status/[0-9]+")
_ANY_URL = re.compile(r"https?://\S+")
_TWEET_FILE = re.compile(r"^tweets?(?:-part([0-9]{1,6}))?\.js$")
_DELETED_FILE = re.compile(r"^deleted-tweets(?:-part([0-9]{1,6}))?\.js$")
_NOTE_FILE = re.compile(r"^note-tweet(?:-part([0-9]{1,6}))?\.js$")
_MEDIA_DIRS = ("tweets_media/", "tweet_media/", "deleted_tweets_media/")
_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_MIME = {
    "jpg": ("image/jpeg", "image"), "jpeg": ("image/jpeg", "image"),
    "png": ("image/png", "image"), "gif": ("image/gif", "gif"), "webp": ("image/webp", "image"),
    "mp4": ("video/mp4", "video"), "mov": ("video/quicktime", "video"),
    "m4v": ("video/x-m4v", "video"), "webm": ("video/webm", "video"),
    "mp3": ("audio/mpeg", "audio"), "m4a": ("audio/mp4", "audio"), "aac": ("audio/aac", "audio"),
}
_ENTITY_KIND = {"photo": "image", "video": "video", "animated_gif": "gif"}


# --- small value helpers -------------------------------------------------------------


def _id(value: Any) -> str | None:
    """A tweet/user id as a string of digits, or None (archives send strings; old ones
    sometimes numbers)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value >= 0:
        return str(value)
    if isinstance(value, str) and _ID.fullmatch(value):
        return value
    return None


def _ids(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [i for i in (_id(v) for v in value) if i is not None]


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def parse_twitter_date(value: Any) -> datetime | None:
    """``Wed Oct 10 20:19:24 +0000 2018`` (tweets.js) or ISO 8601 (account.js,
    note-tweet.js) as an aware UTC datetime; None when it is neither."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    if len(value) == 30 and value[19:26] == " +0000 ":
        try:  # the usual case, without splitting
            return datetime(int(value[26:30]), _MONTHS[value[4:7].lower()], int(value[8:10]),
                            int(value[11:13]), int(value[14:16]), int(value[17:19]), tzinfo=UTC)
        except (ValueError, KeyError):
            return None
    parts = value.split()
    if len(parts) == 6:
        try:
            _dow, mon, day, hms, tz, year = parts
            hh, mm, ss = (int(x) for x in hms.split(":"))
            sign = -1 if tz[0] == "-" else 1
            if tz[0] not in "+-" or len(tz) != 5:
                return None
            offset = timedelta(hours=int(tz[1:3]), minutes=int(tz[3:5])) * sign
            dt = datetime(int(year), _MONTHS[mon.lower()], int(day), hh, mm, ss,
                          tzinfo=timezone(offset))
            return dt.astimezone(UTC)
        except (ValueError, KeyError, IndexError, OverflowError):
            return None
    try:
        return parse_iso(value)
    except (ValueError, OverflowError):
        return None


def _first_line(exc: BaseException) -> str:
    arg = exc.args[0] if exc.args else ""
    text = arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg)
    return (text.strip().splitlines() or [type(exc).__name__])[0][:160]


# --- streaming a window.YTD.x.partN = [...] member -------------------------------------


class _YtdStream:
    """A file-like feeding ijson the JSON array of one ``.js`` member: skips the
    ``window.YTD… =`` prefix, drops a trailing ``;``, guards nesting depth and item size
    before the parser sees the bytes, counts bytes for progress and error offsets.

    With ``precise_from`` it hands bytes one at a time from that offset on, so that a
    parse error's position is exact (used only to locate an error)."""

    def __init__(self, zf: SafeZip, member: str, *, on_bytes: Callable[[int], None] | None = None,
                 precise_from: int | None = None) -> None:
        self._zf = zf
        self.member = member
        self._raw: IO[bytes] = zf.open(member)
        self._on_bytes = on_bytes
        self._precise_from = precise_from
        self.prefix_len = 0
        self.delivered = 0  # bytes handed to the parser (after the prefix)
        self.eof = False
        self._buf = b""
        self._pos = 0
        self._held = b""
        self._carry = b""
        self._in_string = False
        self._depth = 0
        self._item_bytes = 0
        self._started = False

    @property
    def offset(self) -> int:
        """Offset in the member just past the last byte handed to the parser."""
        return self.prefix_len + self.delivered

    def _fail(self, problem: str) -> ArchiveError:
        return ArchiveError(self._zf.path, problem, member=self.member)

    def _raw_read(self) -> bytes:
        data = self._raw.read(_CHUNK)
        if data and self._on_bytes is not None:
            self._on_bytes(len(data))
        return data

    def _start(self) -> bytes:
        head = b""
        while len(head) < 512:
            data = self._raw_read()
            if not data:
                break
            head += data
        bom = 3 if head.startswith(b"\xef\xbb\xbf") else 0
        m = _PREFIX.match(head, bom)
        start = m.end() if m else bom
        rest = head[start:].lstrip()
        start = len(head) - len(rest)
        if not rest:
            raise self._fail("is empty: no JSON array in it")
        if not rest.startswith(b"["):
            what = "window.YTD.<name>.partN = [" if m is None else "a JSON array after '='"
            raise self._fail(f"does not start with {what}")
        self.prefix_len = start
        return rest

    def _fill(self) -> None:
        while not self.eof and self._pos >= len(self._buf):
            if not self._started:
                self._started = True
                data = self._start()
            else:
                data = self._raw_read()
            if not data:
                self.eof = True  # held bytes are only whitespace and ';': dropped
                return
            data = self._held + data
            keep = len(data.rstrip(b" \t\r\n;"))
            self._held = data[keep:]
            data = data[:keep]
            if data:
                self._guard(data)
                self._buf, self._pos = data, 0

    def _guard(self, data: bytes) -> None:
        # Reduce the chunk to the structure outside strings, with C-speed bytes
        # operations only: drop escape pairs, keep quotes and brackets, drop strings.
        seg = self._carry + data
        k = len(seg) - len(seg.rstrip(b"\\"))
        self._carry = b"\\" if k % 2 else b""  # an escape split across chunks
        if k:
            seg = seg[: len(seg) - k]
        if b"\\" in seg:
            seg = seg.replace(b"\\\\", b"").replace(b'\\"', b"")
        br = seg.translate(_BRACKETS, _NOT_STRUCTURE)
        if self._in_string:
            br = b'"' + br
        br = br.replace(b'""', b"")  # strings without brackets (nearly all of them)
        self._in_string = False
        if b'"' in br:
            br = _QUOTED.sub(b"", br)
            q = br.find(b'"')
            if q >= 0:  # a string runs on into the next chunk
                self._in_string = True
                br = br[:q]
        passes = 0
        while b"()" in br:
            br = br.replace(b"()", b"")
            passes += 1
            if passes > MAX_DEPTH:
                break
        closes = len(br) - len(br.lstrip(b")"))
        opens = len(br) - closes
        where = self.offset + len(self._buf) - self._pos
        if self._depth + opens + passes > MAX_DEPTH:
            raise self._fail(f"JSON nested deeper than {MAX_DEPTH} levels near byte {where}")
        low = self._depth - closes
        self._depth = max(low + opens, 0)
        if low <= 1:
            self._item_bytes = 0
        else:
            self._item_bytes += len(data)
            if self._item_bytes > MAX_ITEM_BYTES:
                raise self._fail(
                    f"one item is larger than {MAX_ITEM_BYTES >> 20} MiB near byte {where}")

    def read(self, n: int = -1) -> bytes:
        if n == 0:  # ijson probes read(0) to tell bytes from str
            return b""
        self._fill()
        if self._pos >= len(self._buf):
            return b""
        if n is None or n < 0:
            n = len(self._buf)
        if self._precise_from is not None and self.offset >= self._precise_from:
            n = 1
        out = self._buf[self._pos:self._pos + n]
        self._pos += len(out)
        self.delivered += len(out)
        return out

    def close(self) -> None:
        self._raw.close()


def _items(zf: SafeZip, member: str, on_bytes: Callable[[int], None] | None = None
           ) -> Iterator[Any]:
    """The items of one ``window.YTD… = [ … ]`` member, streamed."""
    stream = _YtdStream(zf, member, on_bytes=on_bytes)
    try:
        try:
            yield from ijson.items(stream, "item", use_float=True)
        except ArchiveError:
            raise
        except Exception as e:  # ijson's errors (JSONError, IncompleteJSONError, …)
            raise _locate(zf, member, stream.offset, e) from None
    finally:
        stream.close()


def _locate(zf: SafeZip, member: str, approx: int, first: BaseException) -> ArchiveError:
    """Re-parse up to the failure, one byte at a time near it, to name the exact byte."""
    stream = _YtdStream(zf, member, precise_from=max(approx - 2 * _CHUNK, 0))
    err: BaseException = first
    try:
        for _ in ijson.items(stream, "item", use_float=True):
            pass
        at, eof = approx, False
    except ArchiveError as e:
        return e
    except Exception as e:
        err, at, eof = e, max(stream.offset - 1, 0), stream.eof
    finally:
        stream.close()
    if eof:
        return ArchiveError(zf.path, f"JSON ends early at byte {stream.offset} "
                            f"(truncated file?)", member=member)
    return ArchiveError(zf.path, f"malformed JSON at byte {at} ({_first_line(err)})",
                        member=member)


def _load_small(zf: SafeZip, member: str) -> Any:
    """A small ``window.X = …`` member (account.js, manifest.js), parsed whole."""
    data = zf.read(member, SMALL_FILE_LIMIT)
    bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    m = _PREFIX.match(data, bom)
    start = m.end() if m else bom
    body = data[start:].rstrip(b" \t\r\n;")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ArchiveError(zf.path, f"not UTF-8 at byte {start + e.start}", member=member) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        at = start + len(text[: e.pos].encode("utf-8"))
        raise ArchiveError(zf.path, f"malformed JSON at byte {at} ({e.msg})", member=member) from None
    except RecursionError:
        raise ArchiveError(zf.path, "JSON nested too deeply", member=member) from None


# --- the archive's files ------------------------------------------------------------------


@dataclass
class _Layout:
    data_dir: str
    tweets: list[str]
    deleted: list[str]
    notes: list[str]
    media: dict[str, list[str]]  # tweet id -> member names
    account: str | None
    profile: str | None
    manifest: str | None


def _part_sorted(names: list[tuple[int, str]]) -> list[str]:
    return [n for _, n in sorted(names)]


def _layout(zf: SafeZip) -> _Layout:
    names = zf.names()
    candidates = [n for n in names if _TWEET_FILE.match(posixpath.basename(n))]
    if not candidates:
        raise ArchiveError(zf.path, "no data/tweets.js in it (is this an X archive?)")
    data_dir = min((posixpath.dirname(n) for n in candidates), key=lambda d: (d.count("/"), d))
    prefix = data_dir + "/" if data_dir else ""
    tweets: list[tuple[int, str]] = []
    deleted: list[tuple[int, str]] = []
    notes: list[tuple[int, str]] = []
    media: dict[str, list[str]] = {}
    for n in names:
        if not n.startswith(prefix):
            continue
        rel = n[len(prefix):]
        for regex, bucket in ((_TWEET_FILE, tweets), (_DELETED_FILE, deleted), (_NOTE_FILE, notes)):
            m = regex.match(rel)
            if m:
                bucket.append((int(m.group(1) or 0), n))
        for d in _MEDIA_DIRS:
            if rel.startswith(d) and not rel.endswith("/"):
                base = rel[len(d):]
                tid = base.split("-", 1)[0]
                if "/" not in base and "-" in base and _ID.fullmatch(tid):
                    media.setdefault(("D" if d.startswith("deleted") else "") + tid, []).append(n)
    present = set(names)

    def find(name: str) -> str | None:
        return prefix + name if prefix + name in present else None

    return _Layout(prefix, _part_sorted(tweets), _part_sorted(deleted), _part_sorted(notes),
                   media, find("account.js"), find("profile.js"), find("manifest.js"))


def _first_record(value: Any, key: str) -> dict[str, Any]:
    for item in _list(value):
        inner = _dict(item).get(key)
        if isinstance(inner, dict):
            return inner
    return {}


@dataclass
class _Account:
    account_id: str
    username: str | None
    snapshot: AccountSnapshot
    generated: datetime | None


def _account(zf: SafeZip, lay: _Layout) -> _Account:
    acc = _first_record(_load_small(zf, lay.account), "account") if lay.account else {}
    man = _dict(_load_small(zf, lay.manifest)) if lay.manifest else {}
    user = _dict(man.get("userInfo"))
    generated = parse_twitter_date(_dict(man.get("archiveInfo")).get("generationDate"))
    account_id = _id(acc.get("accountId")) or _id(user.get("accountId"))
    if account_id is None:
        where = "data/account.js" if lay.account else "no data/account.js"
        raise ArchiveError(zf.path, f"{where}: no accountId (is this an X archive?)")
    username = _str(acc.get("username")) or _str(user.get("userName"))
    if username is not None and not _USERNAME.fullmatch(username):
        username = None
    display = _str(acc.get("accountDisplayName")) or _str(user.get("displayName"))
    prof = _first_record(_load_small(zf, lay.profile), "profile") if lay.profile else {}
    desc = _dict(prof.get("description"))
    profile: dict[str, Any] = {
        k: v for k, v in {
            "bio": _str(desc.get("bio")), "website": _str(desc.get("website")),
            "location": _str(desc.get("location")),
            "avatar_url": _str(prof.get("avatarMediaUrl")),
            "header_url": _str(prof.get("headerMediaUrl")),
            "created_via": _str(acc.get("createdVia")),
            "source": "archive",
        }.items() if v is not None
    }
    snap = AccountSnapshot(
        platform=PLATFORM, account_id=account_id, handle=username, display_name=display,
        status=AccountStatus.ACTIVE, profile=profile,
        url=f"https://x.com/{username}" if username else None,
        created_at=parse_twitter_date(acc.get("createdAt")), observed_at=generated,
    )
    return _Account(account_id, username, snap, generated)


# --- note tweets ------------------------------------------------------------------------------


def _match_key(text: str) -> str:
    """Text reduced for prefix comparison: no links, whitespace collapsed, no ellipsis."""
    s = " ".join(_ANY_URL.sub(" ", text).split())
    return s.rstrip("…").rstrip(".").rstrip()


@dataclass
class _Note:
    text: str
    key: str
    tweet_id: str | None


def _expand(text: str, urls: list[Any]) -> str:
    for u in urls:
        d = _dict(u)
        short = _str(d.get("url")) or _str(d.get("shortUrl"))
        long = _str(d.get("expanded_url")) or _str(d.get("expandedUrl"))
        if short and long and short.startswith("http"):
            text = text.replace(short, long)
    return text


def _load_notes(zf: SafeZip, lay: _Layout, on_bytes: Callable[[int], None]
                ) -> dict[int, list[_Note]]:
    notes: dict[int, list[_Note]] = {}
    for member in lay.notes:
        for item in _items(zf, member, on_bytes):
            d = _dict(item)
            nt = _dict(d.get("noteTweet")) or d
            core = _dict(nt.get("core")) or _dict(nt.get("noteTweetResults"))
            text = _str(core.get("text"))
            created = parse_twitter_date(nt.get("createdAt"))
            if text is None or created is None:
                continue
            text = html.unescape(_expand(text, _list(core.get("urls"))))
            tid = _id(nt.get("tweetId")) or _id(_dict(nt.get("lifecycle")).get("initialTweetId"))
            notes.setdefault(int(created.timestamp()), []).append(_Note(text, _match_key(text), tid))
    return notes


def _note_for(notes: dict[int, list[_Note]], tid: str, created: datetime | None, text: str
              ) -> _Note | None:
    if not notes or created is None:
        return None
    second = int(created.timestamp())
    cands = [n for s in (second, second - 1, second + 1) for n in notes.get(s, ())]
    for n in cands:
        if n.tweet_id == tid:
            return n
    cands = [n for n in cands if n.tweet_id is None]
    truncated = text.rstrip().endswith(("…", "...")) or "/i/web/status/" in text
    key = _match_key(text)
    if not cands or (not truncated and len(key) < 100):
        return None
    if not key:  # nothing to compare: only an unambiguous note will do
        return cands[0] if len(cands) == 1 else None
    best: _Note | None = None
    for n in cands:
        if n.key.startswith(key) and (best is None or len(n.key) < len(best.key)):
            best = n
    return best


# --- one tweet -> one snapshot -------------------------------------------------------------


def _unwrap(item: Any, zf: SafeZip, member: str, index: int) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise ArchiveError(zf.path, f"item {index} is not a JSON object", member=member)
    inner = item.get("tweet")
    return inner if isinstance(inner, dict) else item


def _tweet_id(tweet: dict[str, Any], zf: SafeZip, member: str, index: int) -> str:
    tid = _id_of(tweet, "id_str", "id")
    if tid is None:
        raise ArchiveError(zf.path, f"item {index} has no tweet id (id_str)", member=member)
    return tid


def _chain(tweet: dict[str, Any], tid: str) -> tuple[str, list[str]]:
    """(initial tweet id, ids of every version) from ``edit_info`` (archives) or
    ``edit_history_tweet_ids`` (API v2 shape)."""
    info = _dict(tweet.get("edit_info"))
    edit = _dict(info.get("edit"))
    initial = _id(edit.get("initialTweetId"))
    if initial is not None:
        ids = _ids(_dict(edit.get("editControlInitial")).get("editTweetIds"))
        return initial, ids or [initial, tid]
    ids = _ids(_dict(info.get("initial")).get("editTweetIds"))
    if ids:
        return tid, ids
    ids = _ids(tweet.get("edit_history_tweet_ids"))
    if ids:
        return ids[0], ids
    return tid, [tid]


def _media_entities(tweet: dict[str, Any]) -> list[dict[str, Any]]:
    ents = _list(_dict(tweet.get("extended_entities")).get("media")) or _list(
        _dict(tweet.get("entities")).get("media"))
    return [e for e in ents if isinstance(e, dict)]


def _basename(url: str | None) -> str | None:
    if not url:
        return None
    return posixpath.basename(url.split("?", 1)[0]) or None


def _id_of(d: dict[str, Any], *keys: str) -> str | None:
    for k in keys:
        v = d.get(k)
        if v is not None:
            found = _id(v)
            if found is not None:
                return found
    return None


def _classify(tweet: dict[str, Any], full_text: str, urls: list[Any]
              ) -> tuple[str, str | None, str | None, str | None]:
    """(kind, reply_to, repost_of, quote_of)."""
    reply_to = _id_of(tweet, "in_reply_to_status_id_str", "in_reply_to_status_id")
    rs = tweet.get("retweeted_status")
    is_rt = isinstance(rs, dict) or full_text.startswith("RT @")
    repost_of = _id_of(rs, "id_str", "id") if isinstance(rs, dict) else None
    if is_rt and repost_of is None:
        for ent in _media_entities(tweet):
            repost_of = _id_of(ent, "source_status_id_str", "source_status_id")
            if repost_of:
                break
    quote_of = _id_of(tweet, "quoted_status_id_str", "quoted_status_id")
    if quote_of is None and "quoted_status" in tweet:
        quote_of = _id_of(_dict(tweet["quoted_status"]), "id_str", "id")
    if quote_of is None and "quoted_status_permalink" in tweet:
        permalink = _str(_dict(tweet["quoted_status_permalink"]).get("expanded"))
        m = _STATUS_URL.match(permalink or "")
        quote_of = m.group(1) if m else None
    if quote_of is None and not is_rt and urls:
        # Archives keep no quote field: a quote is a tweet ending in a link to a status.
        tail = full_text.rstrip()
        for u in urls:
            d = _dict(u)
            short, m = _str(d.get("url")), _STATUS_URL.match(_str(d.get("expanded_url")) or "")
            if short and m and tail.endswith(short):
                quote_of = m.group(1)
    if is_rt:
        return "repost", reply_to, repost_of, quote_of
    if reply_to:
        return "reply", reply_to, None, quote_of
    return ("quote" if quote_of else "post"), None, None, quote_of


class _Builder:
    """Turns tweet objects into PostSnapshots (text, kind, media, note text)."""

    def __init__(self, zf: SafeZip, lay: _Layout, acc: _Account, notes: dict[int, list[_Note]],
                 on_bytes: Callable[[int], None], max_media_size: int) -> None:
        self.zf, self.lay, self.acc, self.notes = zf, lay, acc, notes
        self.on_bytes, self.max_media_size = on_bytes, max_media_size

    def build(self, tweet: dict[str, Any], tid: str, post_id: str, deleted: bool,
              versioned: bool) -> PostSnapshot:
        raw_text = _str(tweet.get("full_text")) or _str(tweet.get("text")) or ""
        urls = _list(_dict(tweet.get("entities")).get("urls"))
        text = _expand(html.unescape(raw_text), urls)
        created = parse_twitter_date(tweet.get("created_at"))
        note = _note_for(self.notes, tid, created, text)
        if note is not None:
            text = _expand(note.text, urls)
        kind, reply_to, repost_of, quote_of = _classify(tweet, raw_text, urls)
        lang = _str(tweet.get("lang"))
        user = self.acc.username
        url = f"https://x.com/{user}/status/{post_id}" if user else f"https://x.com/i/web/status/{post_id}"
        return PostSnapshot(
            platform=PLATFORM, account_id=self.acc.account_id, post_id=post_id, text=text,
            created_at=created, url=url, kind=kind, reply_to=reply_to, repost_of=repost_of,
            quote_of=quote_of, lang=None if lang in (None, "und") else lang,
            edited_at=created if versioned and tid != post_id else None, version_key=tid,
            media=self._media(tweet, tid, deleted), raw=tweet, deleted=deleted,
            observed_at=self.acc.generated,
        )

    def _media(self, tweet: dict[str, Any], tid: str, deleted: bool) -> tuple[MediaItem, ...]:
        files = list(self.lay.media.get(("D" if deleted else "") + tid, ()))
        if deleted and not files:
            files = list(self.lay.media.get(tid, ()))
        by_base: dict[str, str] = {}
        for name in files:
            by_base.setdefault(posixpath.basename(name).split("-", 1)[1], name)
        items: list[MediaItem] = []
        used: set[str] = set()
        for ent in _media_entities(tweet):
            url = _str(ent.get("media_url_https")) or _str(ent.get("media_url"))
            variants = _list(_dict(ent.get("video_info")).get("variants"))
            bases = [_basename(url)] + [_basename(_str(_dict(v).get("url"))) for v in variants]
            found = next((by_base[b] for b in bases if b and b in by_base and by_base[b] not in used),
                         None)
            kind = _ENTITY_KIND.get(_str(ent.get("type")) or "")
            alt = _str(ent.get("ext_alt_text"))
            if found is None:
                items.append(MediaItem(url=url, kind=kind, alt=alt))
                continue
            used.add(found)
            items.append(self._item(found, url=url, kind=kind, alt=alt))
        for name in sorted(set(files) - used):
            items.append(self._item(name))
        return tuple(items)

    def _item(self, name: str, *, url: str | None = None, kind: str | None = None,
              alt: str | None = None) -> MediaItem:
        base = posixpath.basename(name)
        mime, guessed = _MIME.get(base.rsplit(".", 1)[-1].lower(), (None, "other"))
        size = self.zf.size(name)
        content = self.zf.read(name, self.max_media_size) if size <= self.max_media_size else None
        self.on_bytes(size)
        return MediaItem(url=url, filename=base, mime=mime, content=content, alt=alt,
                         kind=kind or guessed)


# --- edit chains -------------------------------------------------------------------------------


@dataclass
class _Chain:
    expected: set[str]
    got: dict[str, tuple[dict[str, Any], bool]] = field(default_factory=dict)


class _Chains:
    """Holds the versions of open edit chains until every version has been seen, then
    releases them oldest first (snowflake ids grow with time)."""

    def __init__(self) -> None:
        self.open: dict[str, _Chain] = {}
        self.held = 0
        self.broken: set[str] = set()

    def add(self, post_id: str, ids: list[str], tid: str, tweet: dict[str, Any], deleted: bool
            ) -> list[tuple[str, str, dict[str, Any], bool]]:
        if post_id in self.broken:
            return [(post_id, tid, tweet, deleted)]
        chain = self.open.setdefault(post_id, _Chain(set()))
        chain.expected.update(ids)
        chain.expected.add(post_id)
        chain.got[tid] = (tweet, deleted)
        self.held += 1
        out: list[tuple[str, str, dict[str, Any], bool]] = []
        if chain.expected <= chain.got.keys():
            out += self._release(post_id)
        while self.held > MAX_PENDING_TWEETS:  # hostile or broken chains: give up ordering
            oldest = next(iter(self.open))
            self.broken.add(oldest)
            out += self._release(oldest)
        return out

    def _release(self, post_id: str) -> list[tuple[str, str, dict[str, Any], bool]]:
        chain = self.open.pop(post_id)
        self.held -= len(chain.got)
        return [(post_id, tid, tw, de) for tid, (tw, de) in
                sorted(chain.got.items(), key=lambda kv: (len(kv[0]), kv[0]))]

    def flush(self) -> list[tuple[str, str, dict[str, Any], bool]]:
        out: list[tuple[str, str, dict[str, Any], bool]] = []
        for post_id in list(self.open):
            out += self._release(post_id)
        return out


# --- the importer ------------------------------------------------------------------------------


class _Meter:
    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total, self.done, self._progress, self._last = max(total, 0), 0, progress, 0

    def __call__(self, n: int) -> None:
        self.done += n
        if self._progress is not None and self.done - self._last >= (1 << 20):
            self._last = self.done
            self._progress(min(self.done, self.total), self.total)

    def finish(self) -> None:
        if self._progress is not None:
            self._progress(self.total, self.total)


def iter_twitter_archive(
    path: str | os.PathLike[str],
    *,
    progress: Progress | None = None,
    max_media_size: int = DEFAULT_MAX_MEDIA_SIZE,
    zip_limits: Mapping[str, Any] | None = None,
) -> Iterator[AccountSnapshot | PostSnapshot]:
    """Stream an X archive zip as snapshots: the :class:`AccountSnapshot` first, then
    one :class:`PostSnapshot` per tweet version (live tweets, then deleted ones).

    ``progress(bytes_done, bytes_total)`` is called as the tweet files and media are
    read (about every MiB, and once at the end). ``max_media_size``: media files
    declared larger are listed without their bytes. ``zip_limits``: keyword arguments
    for :class:`SafeZip` (max_total, max_ratio, max_members). Raises
    :class:`ArchiveError` (one line) on anything wrong with the archive.
    """
    with SafeZip(path, **dict(zip_limits or {})) as zf:
        lay = _layout(zf)
        acc = _account(zf, lay)
        streamed = lay.tweets + lay.deleted + lay.notes
        media_names = [n for names in lay.media.values() for n in names]
        meter = _Meter(sum(zf.size(n) for n in streamed + media_names), progress)
        notes = _load_notes(zf, lay, meter)
        yield acc.snapshot
        builder = _Builder(zf, lay, acc, notes, meter, max_media_size)
        for members, deleted in ((lay.tweets, False), (lay.deleted, True)):
            chains = _Chains()
            for member in members:
                for index, item in enumerate(_items(zf, member, meter)):
                    tweet = _unwrap(item, zf, member, index)
                    tid = _tweet_id(tweet, zf, member, index)
                    post_id, ids = _chain(tweet, tid)
                    if post_id == tid and all(i == tid for i in ids):
                        yield builder.build(tweet, tid, tid, deleted, False)
                        continue
                    for pid, vid, tw, de in chains.add(post_id, ids, tid, tweet, deleted):
                        yield builder.build(tw, vid, pid, de, True)
            for pid, vid, tw, de in chains.flush():
                yield builder.build(tw, vid, pid, de, True)
        meter.finish()

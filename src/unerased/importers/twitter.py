"""Import an X/Twitter "download your data" archive (zip) into snapshots.

Layout read (real archives, 2019-2026; the classic pre-2019 layout is read by
``_twitter_classic``):

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
  it and leave a reply's leading @mentions out, so a note is matched to its tweet by
  time (creation second, snowflake ids) and text without those mentions
  (``_twitter_notes``); an ambiguous match is an :class:`ImportNotice`, never a guess;
- ``data/tweets_media/<tweet id>-<name>`` (``tweet_media/`` in old archives,
  ``deleted_tweets_media/`` for deleted tweets): attached as :class:`MediaItem` bytes,
  read when that tweet's snapshot is built, so only one tweet's media is in memory.

Tweet files are streamed (``_twitter_json``: the C json scanner over a window, ijson
when it cannot vouch): time linear and memory bounded whatever the size of tweets.js. Edit chains (``edit_info.initial.editTweetIds`` on the
original, ``edit_info.edit.initialTweetId`` on later versions) become one post
(``post_id`` = the initial tweet id) with one snapshot per version in chronological
order; only the members of chains still open are held (a chain's versions sit close
together in the file), with a hard cap.

Everything in the archive is treated as hostile: any problem is an
:class:`ArchiveError` with one line naming the file and the problem.
"""

from __future__ import annotations

import html
import os
import posixpath
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from ..model import AccountSnapshot, AccountStatus, MediaItem, PostSnapshot, parse_iso
from ..text.hostile import safe_dict, safe_list, safe_str
from ._errors import ArchiveError
from ._meter import Meter, Progress
from ._notice import ImportNotice
from ._twitter_classic import Classic, classic_layout, csv_owner, csv_tweets
from ._twitter_json import MAX_DEPTH as MAX_DEPTH
from ._twitter_json import MAX_ITEM_BYTES as MAX_ITEM_BYTES
from ._twitter_json import SMALL_FILE_LIMIT as SMALL_FILE_LIMIT
from ._twitter_json import _items, _load_small
from ._twitter_notes import Notes, expand_urls, load_notes, whole_text
from .safetar import ArchiveFiles, open_archive

__all__ = ["ArchiveError", "iter_twitter_archive", "parse_twitter_date", "PLATFORM"]

PLATFORM = "x"

MAX_PENDING_TWEETS = 10_000
"""Edit-chain members held while waiting for the rest of their chain."""
DEFAULT_MAX_MEDIA_SIZE = 1 << 30
"""Media members larger than this (declared) are listed without their bytes."""

_ID = re.compile(r"[0-9]{1,25}")
_ID_MATCH = _ID.fullmatch
_USERNAME = re.compile(r"[A-Za-z0-9_]{1,50}")
_STATUS_URL = re.compile(
    r"^https?://(?:www\.|mobile\.)?(?:twitter|x)\.com/(?!i/)[A-Za-z0-9_]{1,50}/status(?:es)?/([0-9]{1,25})"
)
_SELF_LINK = re.compile(r"^https?://(?:www\.)?(?:twitter|x)\.com/i/web/status/[0-9]+")
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
    if isinstance(value, str):
        return value if _ID_MATCH(value) else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value >= 0:
        return str(value)
    return None


def _ids(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    out = []
    for v in value:
        i = _id(v)
        if i is not None:
            out.append(i)
    return out


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
    if len(parts) == 3 and len(parts[2]) == 5:  # 2019-02-08 08:38:13 +0000 (classic archive)
        try:
            return parse_iso(f"{parts[0]}T{parts[1]}{parts[2][:3]}:{parts[2][3:]}")
        except (ValueError, OverflowError):
            return None
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
    classic: Classic | None = None  # the pre-2019 layout (then tweets/deleted/notes are [])


def _part_sorted(names: list[tuple[int, str]]) -> list[str]:
    return [n for _, n in sorted(names)]


def _layout(zf: ArchiveFiles) -> _Layout:
    names = zf.names()
    candidates = [n for n in names if _TWEET_FILE.match(posixpath.basename(n))]
    if not candidates:
        classic = classic_layout(names)
        if classic is None:
            raise ArchiveError(zf.path, "no data/tweets.js (nor the classic data/js/tweets/) in "
                               "it (is this an X archive?)")
        return _Layout("", [], [], [], {}, None, None, None, classic)
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
    for item in safe_list(value):
        inner = safe_dict(item).get(key)
        if isinstance(inner, dict):
            return inner
    return {}


@dataclass
class _Account:
    account_id: str
    username: str | None
    snapshot: AccountSnapshot
    generated: datetime | None


def _account(zf: ArchiveFiles, lay: _Layout) -> _Account:
    if lay.classic is not None:
        return _classic_account(zf, lay.classic)
    acc = _first_record(_load_small(zf, lay.account), "account") if lay.account else {}
    man = safe_dict(_load_small(zf, lay.manifest)) if lay.manifest else {}
    user = safe_dict(man.get("userInfo"))
    generated = parse_twitter_date(safe_dict(man.get("archiveInfo")).get("generationDate"))
    account_id = _id(acc.get("accountId")) or _id(user.get("accountId"))
    if account_id is None:
        where = "data/account.js" if lay.account else "no data/account.js"
        raise ArchiveError(zf.path, f"{where}: no accountId (is this an X archive?)")
    username = safe_str(acc.get("username")) or safe_str(user.get("userName"))
    if username is not None and not _USERNAME.fullmatch(username):
        username = None
    display = safe_str(acc.get("accountDisplayName")) or safe_str(user.get("displayName"))
    prof = _first_record(_load_small(zf, lay.profile), "profile") if lay.profile else {}
    desc = safe_dict(prof.get("description"))
    profile: dict[str, Any] = {
        k: v for k, v in {
            "bio": safe_str(desc.get("bio")), "website": safe_str(desc.get("website")),
            "location": safe_str(desc.get("location")),
            "avatar_url": safe_str(prof.get("avatarMediaUrl")),
            "header_url": safe_str(prof.get("headerMediaUrl")),
            "created_via": safe_str(acc.get("createdVia")),
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


def _classic_account(zf: ArchiveFiles, lay: Classic) -> _Account:
    """The owner of a classic archive, from ``data/js/user_details.js`` (or, for a bare
    tweets.csv, from its own replies)."""
    user = safe_dict(_load_small(zf, lay.user_details)) if lay.user_details else {}
    payload = safe_dict(_load_small(zf, lay.payload)) if lay.payload else {}
    account_id = _id(user.get("id_str")) or _id(user.get("id"))
    username = safe_str(user.get("screen_name"))
    if account_id is None:
        if lay.csv is None or lay.user_details is not None:
            where = "data/js/user_details.js" if lay.user_details else "no data/js/user_details.js"
            raise ArchiveError(zf.path, f"{where}: no id (is this an X archive?)")
        account_id, username = csv_owner(zf, lay.csv)
    if username is not None and not _USERNAME.fullmatch(username):
        username = None
    profile: dict[str, Any] = {k: v for k, v in {
        "bio": safe_str(user.get("bio")), "website": safe_str(user.get("url")),
        "location": safe_str(user.get("location")), "source": "archive",
    }.items() if v is not None}
    generated = parse_twitter_date(payload.get("created_at"))
    snap = AccountSnapshot(
        platform=PLATFORM, account_id=account_id, handle=username,
        display_name=safe_str(user.get("full_name")), status=AccountStatus.ACTIVE,
        profile=profile, url=f"https://x.com/{username}" if username else None,
        created_at=parse_twitter_date(user.get("created_at")), observed_at=generated,
    )
    return _Account(account_id, username, snap, generated)


# --- note tweets (see _twitter_notes) ---------------------------------------------------------


def _load_notes(zf: ArchiveFiles, lay: _Layout, on_bytes: Callable[[int], None]) -> Notes:
    return load_notes((item for member in lay.notes for item in _items(zf, member, on_bytes)),
                      parse_twitter_date, _id)


# --- one tweet -> one snapshot -------------------------------------------------------------


def _chain(tweet: dict[str, Any], tid: str) -> tuple[str, list[str]]:
    """(initial tweet id, ids of every version) from ``edit_info`` (archives) or
    ``edit_history_tweet_ids`` (API v2 shape)."""
    info = tweet.get("edit_info")
    if isinstance(info, dict):
        edit = info.get("edit")
        if isinstance(edit, dict):
            initial = _id(edit.get("initialTweetId"))
            if initial is not None:
                ids = _ids(safe_dict(edit.get("editControlInitial")).get("editTweetIds"))
                return initial, ids or [initial, tid]
        first = info.get("initial")
        if isinstance(first, dict):
            ids = _ids(first.get("editTweetIds"))
            if ids:
                return tid, ids
    ids = _ids(tweet.get("edit_history_tweet_ids"))
    if ids:
        return ids[0], ids
    return tid, [tid]


def _media_entities(tweet: dict[str, Any]) -> list[dict[str, Any]]:
    ext = tweet.get("extended_entities")
    ents = ext.get("media") if isinstance(ext, dict) else None
    if not isinstance(ents, list) or not ents:
        ext = tweet.get("entities")
        ents = ext.get("media") if isinstance(ext, dict) else None
        if not isinstance(ents, list) or not ents:
            return []
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


def _classify(tweet: dict[str, Any], full_text: str, urls: Sequence[Any]
              ) -> tuple[str, str | None, str | None, str | None]:
    """(kind, reply_to, repost_of, quote_of)."""
    get = tweet.get
    v = get("in_reply_to_status_id_str")
    reply_to = None if v is None else _id(v)
    if reply_to is None and (v := get("in_reply_to_status_id")) is not None:
        reply_to = _id(v)
    rs = get("retweeted_status")
    is_dict = isinstance(rs, dict)
    is_rt = is_dict or full_text.startswith("RT @")
    repost_of = _id_of(rs, "id_str", "id") if isinstance(rs, dict) else None
    if is_rt and repost_of is None:
        for ent in _media_entities(tweet):
            repost_of = _id_of(ent, "source_status_id_str", "source_status_id")
            if repost_of:
                break
    v = get("quoted_status_id_str")
    quote_of = None if v is None else _id(v)
    if quote_of is None and (v := get("quoted_status_id")) is not None:
        quote_of = _id(v)
    if quote_of is None and "quoted_status" in tweet:
        quote_of = _id_of(safe_dict(tweet["quoted_status"]), "id_str", "id")
    if quote_of is None and "quoted_status_permalink" in tweet:
        permalink = safe_str(safe_dict(tweet["quoted_status_permalink"]).get("expanded"))
        m = _STATUS_URL.match(permalink or "")
        quote_of = m.group(1) if m else None
    if quote_of is None and not is_rt and urls:
        # Archives keep no quote field: a quote is a tweet ending in a link to a status.
        tail = full_text.rstrip()
        for u in urls:
            d = safe_dict(u)
            short, m = safe_str(d.get("url")), _STATUS_URL.match(safe_str(d.get("expanded_url")) or "")
            if short and m and tail.endswith(short):
                quote_of = m.group(1)
    if is_rt:
        return "repost", reply_to, repost_of, quote_of
    if reply_to:
        return "reply", reply_to, None, quote_of
    return ("quote" if quote_of else "post"), None, None, quote_of


class _Builder:
    """Turns tweet objects into PostSnapshots (text, kind, media, note text)."""

    def __init__(self, zf: ArchiveFiles, lay: _Layout, acc: _Account, notes: Notes,
                 on_bytes: Callable[[int], None], max_media_size: int) -> None:
        self.zf, self.lay, self.acc, self.notes = zf, lay, acc, notes
        self.has_notes = bool(notes)
        self.on_bytes, self.max_media_size = on_bytes, max_media_size
        self.notices: list[ImportNotice] = []
        user = acc.username
        self.url = f"https://x.com/{user}/status/" if user else "https://x.com/i/web/status/"

    def take_notices(self) -> list[ImportNotice]:
        out, self.notices = self.notices, []
        return out

    def build(self, tweet: dict[str, Any], tid: str, post_id: str, deleted: bool,
              versioned: bool) -> PostSnapshot:
        get = tweet.get
        raw_text = get("full_text")
        if not isinstance(raw_text, str) or not raw_text:
            raw_text = get("text")
            if not isinstance(raw_text, str):
                raw_text = ""
        ents = get("entities")
        urls = ents.get("urls") if isinstance(ents, dict) else None
        if not isinstance(urls, list):
            urls = []
        text = html.unescape(raw_text) if "&" in raw_text else raw_text
        if urls:
            text = expand_urls(text, urls)
        created = parse_twitter_date(get("created_at"))
        if self.has_notes:
            note, ambiguous = self.notes.match(tid, created, text)
            if note is not None:
                text = whole_text(text, note)
            elif ambiguous:
                self.notices.append(ImportNotice(
                    "note_ambiguous",
                    f"tweet {tid}: {ambiguous} long texts in note-tweet.js could be its own; "
                    "kept the text the tweet shows (possibly cut short)", post_id))
        kind, reply_to, repost_of, quote_of = _classify(tweet, raw_text, urls)
        lang = get("lang")
        if not isinstance(lang, str) or lang == "und":
            lang = None
        acc = self.acc
        return PostSnapshot(
            platform=PLATFORM, account_id=acc.account_id, post_id=post_id, text=text,
            created_at=created, url=self.url + post_id, kind=kind, reply_to=reply_to,
            repost_of=repost_of, quote_of=quote_of, lang=lang,
            edited_at=created if versioned and tid != post_id else None, version_key=tid,
            media=self._media(tweet, tid, deleted), raw=tweet, deleted=deleted,
            observed_at=acc.generated,
        )

    def _media(self, tweet: dict[str, Any], tid: str, deleted: bool) -> tuple[MediaItem, ...]:
        index = self.lay.media
        found_files = index.get("D" + tid if deleted else tid)
        if deleted and not found_files:
            found_files = index.get(tid)
        entities = _media_entities(tweet)
        if not found_files and not entities:
            return ()
        files = list(found_files or ())
        by_base: dict[str, str] = {}
        for name in files:
            by_base.setdefault(posixpath.basename(name).split("-", 1)[1], name)
        items: list[MediaItem] = []
        used: set[str] = set()
        for ent in entities:
            url = safe_str(ent.get("media_url_https")) or safe_str(ent.get("media_url"))
            variants = safe_list(safe_dict(ent.get("video_info")).get("variants"))
            bases = [_basename(url)] + [_basename(safe_str(safe_dict(v).get("url"))) for v in variants]
            found = next((by_base[b] for b in bases if b and b in by_base and by_base[b] not in used),
                         None)
            kind = _ENTITY_KIND.get(safe_str(ent.get("type")) or "")
            alt = safe_str(ent.get("ext_alt_text"))
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


def _tweets(zf: ArchiveFiles, lay: _Layout, meter: Meter
            ) -> Iterator[tuple[list[tuple[str, Iterator[Any]]], bool]]:
    """(the members holding tweets, each with its items; whether they are deleted ones)."""
    if lay.classic is not None:
        c = lay.classic
        if c.csv is not None:
            yield [(c.csv, csv_tweets(zf, c.csv, meter))], False
        else:
            yield [(m, _items(zf, m, meter)) for m in c.months], False
        return
    yield [(m, _items(zf, m, meter)) for m in lay.tweets], False
    yield [(m, _items(zf, m, meter)) for m in lay.deleted], True


def iter_twitter_archive(
    path: str | os.PathLike[str],
    *,
    progress: Progress | None = None,
    max_media_size: int = DEFAULT_MAX_MEDIA_SIZE,
    zip_limits: Mapping[str, Any] | None = None,
) -> Iterator[AccountSnapshot | PostSnapshot | ImportNotice]:
    """Stream an X archive (zip; a tar or tar.gz of the same files works too) as
    snapshots: the :class:`AccountSnapshot` first, then one :class:`PostSnapshot` per
    tweet version (live tweets, then deleted ones), and an :class:`ImportNotice` after
    a tweet whose long text could not be told apart (see ``_twitter_notes``). The
    classic pre-2019 archive ("Grailbird": ``data/js/tweets/YYYY_MM.js``, or only its
    ``tweets.csv``) is read too (see ``_twitter_classic``).

    ``progress(bytes_done, bytes_total)`` is called as the tweet files and media are
    read (about every MiB, and once at the end). ``max_media_size``: media files
    declared larger are listed without their bytes. ``zip_limits``: keyword arguments
    for :class:`SafeZip` (max_total, max_ratio, max_members). Raises
    :class:`ArchiveError` (one line) on anything wrong with the archive.
    """
    with open_archive(path, **dict(zip_limits or {})) as zf:
        lay = _layout(zf)
        acc = _account(zf, lay)
        streamed = lay.tweets + lay.deleted + lay.notes
        if lay.classic is not None:
            streamed = lay.classic.months or [lay.classic.csv or ""]
        media_names = [n for names in lay.media.values() for n in names]
        meter = Meter(sum(zf.size(n) for n in streamed + media_names), progress)
        notes = _load_notes(zf, lay, meter)
        yield acc.snapshot
        builder = _Builder(zf, lay, acc, notes, meter, max_media_size)
        for members, deleted in _tweets(zf, lay, meter):
            chains = _Chains()
            for member, items in members:
                for index, item in enumerate(items):
                    if not isinstance(item, dict):
                        raise ArchiveError(zf.path, f"item {index} is not a JSON object",
                                           member=member)
                    tweet = item.get("tweet")
                    if not isinstance(tweet, dict):
                        tweet = item
                    v = tweet.get("id_str")
                    tid = None if v is None else _id(v)
                    if tid is None and (v := tweet.get("id")) is not None:
                        tid = _id(v)
                    if tid is None:
                        raise ArchiveError(zf.path, f"item {index} has no tweet id (id_str)",
                                           member=member)
                    post_id, ids = _chain(tweet, tid)
                    if post_id == tid and ids.count(tid) == len(ids):
                        yield builder.build(tweet, tid, tid, deleted, False)
                    else:
                        for pid, vid, tw, de in chains.add(post_id, ids, tid, tweet, deleted):
                            yield builder.build(tw, vid, pid, de, True)
                    if builder.notices:
                        yield from builder.take_notices()
            for pid, vid, tw, de in chains.flush():
                yield builder.build(tw, vid, pid, de, True)
            if builder.notices:
                yield from builder.take_notices()
        meter.finish()

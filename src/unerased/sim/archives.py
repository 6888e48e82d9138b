"""Synthetic X/Twitter "download your data" archives in the real layout.

:func:`make_twitter_archive` writes a zip the importer reads like a real one:
``data/account.js``, ``profile.js``, ``manifest.js``, ``tweets.js`` (or the old
``tweet.js`` without the ``"tweet"`` wrapper, or ``tweets.js`` + ``tweets-partN.js``),
``deleted-tweets.js``, ``note-tweet.js``, ``tweets_media/<id>-<key>.jpg|png`` holding
small real JPEG/PNG images. Tweets are newest first (as in real archives), with
snowflake ids matching their ``created_at``, numbers as strings, HTML-escaped
``full_text``, t.co links with ``entities.urls``, replies, retweets (``RT @…``), quotes
(a trailing status link), edit chains (``edit_info``) and long tweets whose full text is
only in note-tweet.js. Text mixes Chinese and English; known posts contain 删除, 审查 and
推特 (recorded in the spec, never produced by chance).

It streams: a million tweets are written without holding them in memory. The
returned :class:`ArchiveSpec` says what was generated so tests can assert on it.
"""

from __future__ import annotations

import json
import random
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from .._files import private_file

KEYWORDS = ("删除", "审查", "推特")
_KEYWORD_PHRASES = {"删除": "这条又被删除了", "审查": "审查无处不在", "推特": "在推特上写字"}
_KEYWORD_EVERY = {"删除": 13, "审查": 17, "推特": 19}


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_ZH = _words(
    "今天 我们 朋友 自由 言论 新闻 记者 律师 人权 北京 上海 福建 消息 文章 账号 关闭 警察 抗议 "
    "希望 历史 真相 写作 世界 时间 黑夜 过去 天亮 社会 公民 讨论 法律 声明 家人 记得 不要 害怕 "
    "继续 说话 看到 网络 翻墙 城市 学生 老师 监狱 探望 信件 春天"
)
_EN = _words(
    "the free speech today friends lawyer news account closed police history truth writing "
    "world time night hope remember continue city students internet archive evidence court "
    "letter morning rain tea book prison visit"
)
_FRIENDS = ("lin_friend", "zhou_reader", "chen_lawyer", "sun_writer", "ma_reader")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_TWEPOCH_MS = 1288834974657
_END = datetime(2023, 11, 1, 8, 0, 0, tzinfo=UTC)
_START = datetime(2011, 1, 1, tzinfo=UTC)
_HAN = re.compile("[\u4e00-\u9fff]")
_B62 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass
class SpecPost:
    """One generated post as the importer should see it."""

    post_id: str
    version_ids: list[str]  # chronological; more than one for an edit chain
    texts: list[str]  # expected imported text of each version, chronological
    created_at: datetime  # of the first version
    kind: str  # post | reply | repost | quote
    reply_to: str | None = None
    quote_of: str | None = None
    deleted: bool = False
    media: int = 0  # media files attached to each version
    note: bool = False  # the full text comes from note-tweet.js
    raw_text: str = ""  # full_text of the newest version as written (escaped, t.co links)

    @property
    def text(self) -> str:
        return self.texts[-1]


@dataclass
class ArchiveSpec:
    """What :func:`make_twitter_archive` wrote."""

    path: Path
    account_id: str
    username: str
    display_name: str
    bio: str
    account_created_at: datetime
    generated_at: datetime
    n_tweets: int = 0  # tweet objects in the tweets file(s)
    n_posts: int = 0  # distinct posts, live and deleted
    n_snapshots: int = 0  # post snapshots the importer yields (one per version)
    media_files: int = 0
    tweet_files: list[str] = field(default_factory=list)
    edit_chains: list[str] = field(default_factory=list)  # post ids
    deleted_ids: list[str] = field(default_factory=list)
    note_ids: list[str] = field(default_factory=list)
    keyword_posts: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in KEYWORDS})
    posts: dict[str, SpecPost] = field(default_factory=dict)
    complete: bool = True  # False when ``posts`` holds only the special posts


# --- tiny real images ----------------------------------------------------------------------


def png_bytes(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A valid RGB PNG of one colour."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    raw = (b"\x00" + bytes(rgb) * width) * height
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(
        b"IEND", b"")


def jpeg_bytes(gray: int, comment: bytes = b"") -> bytes:
    """A valid 8x8 grayscale baseline JPEG of one shade (DC-only Huffman tables)."""
    dc = 8 * (max(0, min(255, gray)) - 128)
    cat = abs(dc).bit_length()
    bits = "0" + (format(dc if dc > 0 else dc + (1 << cat) - 1, f"0{cat}b") if cat else "") + "0"
    bits += "1" * (-len(bits) % 8)
    scan = bytearray()
    for i in range(0, len(bits), 8):
        scan.append(int(bits[i : i + 8], 2))
        if scan[-1] == 0xFF:
            scan.append(0)

    def seg(marker: int, payload: bytes) -> bytes:
        return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload

    one_code = bytes([1] + [0] * 15)
    return (b"\xff\xd8" + (seg(0xFE, comment) if comment else b"")
            + seg(0xDB, b"\x00" + b"\x01" * 64)
            + seg(0xC0, struct.pack(">BHHB", 8, 8, 8, 1) + b"\x01\x11\x00")
            + seg(0xC4, b"\x00" + one_code + bytes([cat]))
            + seg(0xC4, b"\x10" + one_code + b"\x00")
            + seg(0xDA, b"\x01\x01\x00\x00\x3f\x00") + bytes(scan) + b"\xff\xd9")


# --- helpers -------------------------------------------------------------------------------------


def twitter_date(dt: datetime) -> str:
    """``Wed Oct 10 20:19:24 +0000 2018`` (locale-independent)."""
    dt = dt.astimezone(UTC)
    return (f"{_DAYS[dt.weekday()]} {_MONTHS[dt.month - 1]} {dt.day:02d} "
            f"{dt:%H:%M:%S} +0000 {dt.year}")


def _iso_ms(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def snowflake(dt: datetime, n: int) -> str:
    """An X id for a tweet made at ``dt``; ``n`` (< 2**22) keeps ids unique."""
    ms = max(1, int(dt.timestamp() * 1000) - _TWEPOCH_MS)  # ids before X's epoch: clamp
    return str((ms << 22) | (n & 0x3FFFFF))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class _Gen:
    """Per-post random choices, from one seeded stream."""

    def __init__(self, seed: int, cjk_ratio: float) -> None:
        self.rng = random.Random(seed)
        self.cjk_ratio = cjk_ratio

    def tco(self) -> str:
        return "https://t.co/" + "".join(self.rng.choices(_B62, k=10))

    def body(self, p: int, words: int | None = None) -> str:
        rng = self.rng
        if rng.random() < self.cjk_ratio:
            n = words or rng.randint(6, 18)
            parts = rng.choices(_ZH, k=n)
            if rng.random() < 0.4:
                parts.insert(rng.randrange(len(parts)), " " + rng.choice(_EN) + " ")
            text = "".join(parts) + rng.choice(("。", "！", "？", ""))
        else:
            n = words or rng.randint(6, 22)
            text = " ".join(rng.choices(_EN, k=n)).capitalize() + rng.choice((".", "!", "?", ""))
            if rng.random() < 0.3:
                text += " " + "".join(rng.choices(_ZH, k=2))
        for kw in KEYWORDS:
            if p % _KEYWORD_EVERY[kw] == 0:
                text += " " + _KEYWORD_PHRASES[kw]
        if p % 11 == 5:
            text += " Q&A <3 >_<"
        return text


def _base_tweet(tid: str, created: datetime, full_text: str, rng: random.Random
                ) -> dict[str, Any]:
    return {
        "edit_info": {"initial": {"editTweetIds": [tid],
                                  "editableUntil": _iso_ms(created + timedelta(hours=1)),
                                  "editsRemaining": "5", "isEditEligible": True}},
        "retweeted": False,
        "source": '<a href="https://mobile.twitter.com" rel="nofollow">Twitter Web App</a>',
        "entities": {"hashtags": [], "symbols": [], "user_mentions": [], "urls": []},
        "display_text_range": ["0", str(len(full_text))],
        "favorite_count": str(rng.randint(0, 300)),
        "id_str": tid,
        "truncated": False,
        "retweet_count": str(rng.randint(0, 50)),
        "id": tid,
        "created_at": twitter_date(created),
        "favorited": False,
        "full_text": full_text,
        "lang": "zh" if _HAN.search(full_text, 0, 40) else "en",
    }


class _JsWriter:
    """Writes ``window.YTD.<name>.partN = [ … ]`` members one item at a time."""

    def __init__(self, zf: zipfile.ZipFile, global_prefix: str) -> None:
        self.zf = zf
        self.global_prefix = global_prefix
        self.fh: IO[bytes] | None = None
        self.count = 0
        self.batch: list[str] = []

    def start(self, member: str, part: int) -> None:
        self.close()
        self.fh = self.zf.open(member, "w", force_zip64=True)
        self.fh.write(f"{self.global_prefix}.part{part} = [ ".encode())
        self.count = 0

    def add(self, item: dict[str, Any]) -> None:
        s = json.dumps(item, ensure_ascii=False, separators=(",", ":"))
        self.batch.append(s if self.count == 0 else ",\n" + s)
        self.count += 1
        if len(self.batch) >= 512:
            self._flush()

    def _flush(self) -> None:
        if self.fh is not None and self.batch:
            self.fh.write("".join(self.batch).encode("utf-8"))
        self.batch = []

    def close(self) -> None:
        if self.fh is not None:
            self._flush()
            self.fh.write(b" ]")
            self.fh.close()
            self.fh = None


def _write_small(zf: zipfile.ZipFile, member: str, global_name: str, value: Any) -> None:
    text = f"{global_name} = " + json.dumps(value, ensure_ascii=False, indent=2)
    zf.writestr(member, text.encode("utf-8"))


# --- the generator ---------------------------------------------------------------------------------


class _Maker:
    def __init__(self, spec: ArchiveSpec, gen: _Gen, *, media_every: int, edits_every: int,
                 note_every: int, note_tweets: int, old_layout: bool) -> None:
        self.spec, self.gen, self.rng = spec, gen, gen.rng
        self.media_every, self.edits_every = media_every, edits_every
        self.note_every, self.note_tweets, self.old_layout = note_every, note_tweets, old_layout
        self.serial = 0  # unique low bits for snowflakes
        self.external = 0
        self.media: list[tuple[str, str, int]] = []  # (member, kind, shade)
        self.notes: list[dict[str, Any]] = []

    def _id(self, at: datetime) -> str:
        self.serial += 1
        return snowflake(at, self.serial)

    def _external_id(self, at: datetime) -> str:
        self.external += 1
        return snowflake(at - timedelta(minutes=self.rng.randint(1, 5000)),
                         (1 << 21) | (self.external & 0x1FFFFF))

    def post(self, p: int, at: datetime, room: int, deleted: bool = False
             ) -> tuple[list[dict[str, Any]], SpecPost]:
        """One post: its tweet objects (newest version first) and its spec."""
        gen, rng, spec = self.gen, self.rng, self.spec
        is_note = (not deleted and not self.old_layout and self.note_every > 0
                   and p % self.note_every == self.note_every - 1
                   and len(self.notes) < self.note_tweets)
        is_chain = (not is_note and not deleted and not self.old_layout and self.edits_every > 0
                    and p % self.edits_every == self.edits_every // 2 and room >= 2)
        kind = "post" if is_note or is_chain else {2: "reply", 4: "repost", 6: "quote"}.get(
            p % 10, "post")
        has_media = (self.media_every > 0 and p % self.media_every == 0 and not is_chain
                     and not is_note and kind in ("post", "reply"))
        body = gen.body(p)
        if is_note:
            while len(body) < 320:
                body += " " + gen.body(1)
        tid = self._id(at)
        raw, text = _escape(body), body
        urls: list[dict[str, Any]] = []
        mentions: list[dict[str, Any]] = []
        extra: dict[str, Any] = {}
        reply_to = quote_of = None
        friend = rng.choice(_FRIENDS)
        if kind in ("reply", "repost"):
            lead = f"@{friend} " if kind == "reply" else f"RT @{friend}: "
            raw, text = lead + raw, lead + text
            uid = str(1000 + _FRIENDS.index(friend))
            start = 1 if kind == "reply" else 4
            mentions.append({"name": friend.replace("_", " ").title(), "screen_name": friend,
                             "indices": [str(start - 1), str(start + len(friend))],
                             "id_str": uid, "id": uid})
            if kind == "reply":
                reply_to = self._external_id(at)
                extra = {"in_reply_to_status_id_str": reply_to, "in_reply_to_status_id": reply_to,
                         "in_reply_to_user_id": uid, "in_reply_to_user_id_str": uid,
                         "in_reply_to_screen_name": friend}
        if is_note:
            tco = gen.tco()
            cut = _escape(body[:250]) + "…"
            raw = f"{cut} {tco}"
            urls.append({"url": tco, "expanded_url": f"https://twitter.com/i/web/status/{tid}",
                         "display_url": f"twitter.com/i/web/status/{tid[:6]}…",
                         "indices": [str(len(cut) + 1), str(len(raw))]})
        if p % 7 == 3 and not is_note:
            tco, exp = gen.tco(), f"https://example.org/a/{p}?x=1&y=2"
            urls.append({"url": tco, "expanded_url": exp, "display_url": f"example.org/a/{p}",
                         "indices": [str(len(raw) + 1), str(len(raw) + 1 + len(tco))]})
            raw, text = f"{raw} {tco}", f"{text} {exp}"
        if kind == "quote":
            quote_of = self._external_id(at)
            tco, exp = gen.tco(), f"https://twitter.com/{friend}/status/{quote_of}"
            urls.append({"url": tco, "expanded_url": exp, "display_url": f"twitter.com/{friend}/s…",
                         "indices": [str(len(raw) + 1), str(len(raw) + 1 + len(tco))]})
            raw, text = f"{raw} {tco}", f"{text} {exp}"
        media_ents: list[dict[str, Any]] = []
        if has_media:
            tco = gen.tco()
            key = "".join(rng.choices(_B62, k=15))
            ext = "png" if (p // self.media_every) % 2 else "jpg"
            ent = {"expanded_url": f"https://twitter.com/{spec.username}/status/{tid}/photo/1",
                   "indices": [str(len(raw) + 1), str(len(raw) + 1 + len(tco))], "url": tco,
                   "media_url": f"http://pbs.twimg.com/media/{key}.{ext}", "id_str": key,
                   "id": key, "media_url_https": f"https://pbs.twimg.com/media/{key}.{ext}",
                   "sizes": {"thumb": {"w": "150", "h": "150", "resize": "crop"}},
                   "type": "photo", "display_url": f"pic.twitter.com/{tco[-10:]}"}
            media_ents.append(ent)
            raw, text = f"{raw} {tco}", f"{text} {tco}"
            folder = "deleted_tweets_media" if deleted else (
                "tweet_media" if self.old_layout else "tweets_media")
            self.media.append((f"data/{folder}/{tid}-{key}.{ext}", ext, p % 256))
        versions = [(tid, at, raw, text)]
        if is_chain:
            n_versions = min(room, 2 + (p // self.edits_every) % 2)
            for k, suffix in enumerate((" (更正)", " (edited)")[: n_versions - 1]):
                when = versions[-1][1] + timedelta(minutes=rng.randint(1, 20), seconds=k)
                versions.append((self._id(when), when, versions[-1][2] + suffix,
                                 versions[-1][3] + suffix))
        all_ids = [v[0] for v in versions]
        tweets: list[dict[str, Any]] = []
        for k, (vid, when, vraw, _vtext) in enumerate(versions):
            tw = _base_tweet(vid, when, vraw, rng)
            tw["entities"]["urls"] = urls
            tw["entities"]["user_mentions"] = mentions
            tw.update(extra)
            if media_ents:
                tw["entities"]["media"] = media_ents
                tw["extended_entities"] = {"media": media_ents}
            if is_note:
                tw["display_text_range"] = ["0", str(len(vraw.rsplit(" ", 1)[0]))]
            if len(all_ids) > 1:
                ctl = {"editTweetIds": all_ids, "editableUntil": _iso_ms(at + timedelta(hours=1)),
                       "editsRemaining": str(5 - (len(all_ids) - 1)), "isEditEligible": True}
                tw["edit_info"] = ({"initial": ctl} if k == 0 else
                                   {"edit": {"initialTweetId": tid, "editControlInitial": ctl}})
            if deleted:
                tw["deleted_at"] = _iso_ms(when + timedelta(hours=rng.randint(1, 900)))
            if self.old_layout:
                tw.pop("edit_info", None)
            tweets.append(tw)
        if is_note:
            self.notes.append({"noteTweet": {
                "noteTweetId": snowflake(at, (1 << 20) | len(self.notes)),
                "updatedAt": _iso_ms(at), "createdAt": _iso_ms(at),
                # raw: X escapes &<> in tweets.js, not in note-tweet.js (real exports)
                "core": {"styletags": [], "urls": [], "text": body, "mentions": [],
                         "cashtags": [], "hashtags": []}}})
        sp = SpecPost(post_id=tid, version_ids=all_ids, texts=[v[3] for v in versions],
                      created_at=at.replace(microsecond=(at.microsecond // 1000) * 1000),
                      kind=kind, reply_to=reply_to, quote_of=quote_of, deleted=deleted,
                      media=1 if has_media else 0, note=is_note, raw_text=versions[-1][2])
        tweets.reverse()  # newest version first, as in the archive
        return tweets, sp

    def record(self, sp: SpecPost, p: int, keep: bool) -> None:
        spec = self.spec
        spec.n_posts += 1
        spec.n_snapshots += len(sp.version_ids)
        spec.media_files += sp.media * len(sp.version_ids)
        for kw in KEYWORDS:
            if p % _KEYWORD_EVERY[kw] == 0:
                spec.keyword_posts[kw].append(sp.post_id)
        special = len(sp.version_ids) > 1 or sp.deleted or sp.note
        if len(sp.version_ids) > 1:
            spec.edit_chains.append(sp.post_id)
        if sp.deleted:
            spec.deleted_ids.append(sp.post_id)
        if sp.note:
            spec.note_ids.append(sp.post_id)
        if keep or special or p < 64:
            spec.posts[sp.post_id] = sp


def make_twitter_archive(
    path: str | Path,
    *,
    n_tweets: int,
    seed: int = 0,
    username: str = "sample_user",
    account_id: str = "1089043120",
    display_name: str = "样本用户 (sample)",
    cjk_ratio: float = 0.5,
    media_every: int = 50,
    edits_every: int = 200,
    deleted: int = 5,
    note_tweets: int = 3,
    parts: int = 1,
    old_layout: bool = False,
    record_posts: int = 200_000,
    compresslevel: int = 6,
) -> ArchiveSpec:
    """Write a synthetic X archive zip at ``path`` with exactly ``n_tweets`` tweet
    objects in its tweets file(s) (edit versions count; ``deleted`` more go to
    deleted-tweets.js) and return what was generated.

    ``media_every``/``edits_every``: every Nth post has a photo / is an edit chain of
    2-3 versions (0: none). ``note_tweets``: long tweets completed by note-tweet.js.
    ``parts``: split tweets over tweets.js, tweets-part1.js… ``old_layout``: the 2019
    shape (data/tweet.js, ``window.YTD.tweet.part0``, no ``"tweet"`` wrapper,
    tweet_media/, no edits, notes, deleted tweets or manifest). ``record_posts``: the
    spec lists every post only up to this many tweets (special posts always).
    """
    if n_tweets < 0 or parts < 1:
        raise ValueError("n_tweets must be >= 0 and parts >= 1")
    out = Path(path)
    created = datetime(2010, 11, 20, 8, 0, 0, tzinfo=UTC)
    spec = ArchiveSpec(path=out, account_id=account_id, username=username,
                       display_name=display_name, bio="写作者。记录 & 见证 <archive>",
                       account_created_at=created, generated_at=_END + timedelta(days=7))
    spec.complete = n_tweets <= record_posts
    if old_layout:
        deleted = note_tweets = edits_every = 0
    gen = _Gen(seed, cjk_ratio)
    maker = _Maker(spec, gen, media_every=media_every, edits_every=edits_every,
                   note_every=max(2, n_tweets // (note_tweets + 1)) if note_tweets else 0,
                   note_tweets=note_tweets, old_layout=old_layout)
    name = "tweet" if old_layout else "tweets"
    gap_ms = max(2, int((_END - _START).total_seconds() * 1000 / max(n_tweets + deleted, 1)))
    at = _END
    with private_file(out) as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED,
                                                   compresslevel=compresslevel) as zf:
        writer = _JsWriter(zf, f"window.YTD.{name}")
        written, p, part = 0, 0, -1
        while written < n_tweets:
            at -= timedelta(milliseconds=gen.rng.randint(1, 2 * gap_ms))
            tweets, sp = maker.post(p, at, n_tweets - written)
            for tw in tweets:
                want = written * parts // max(n_tweets, 1)
                if want != part:
                    part = want
                    member = f"data/{name}.js" if part == 0 else f"data/{name}-part{part}.js"
                    spec.tweet_files.append(member)
                    writer.start(member, part)
                writer.add(tw if old_layout else {"tweet": tw})
                written += 1
            maker.record(sp, p, spec.complete)
            p += 1
        if n_tweets == 0:
            spec.tweet_files.append(f"data/{name}.js")
            writer.start(f"data/{name}.js", 0)
        writer.close()
        spec.n_tweets = written
        if not old_layout:
            writer = _JsWriter(zf, "window.YTD.deleted_tweets")
            writer.start("data/deleted-tweets.js", 0)
            span = int((_END - _START).total_seconds())
            for k in range(deleted):
                when = _START + timedelta(seconds=gen.rng.randrange(span), milliseconds=k)
                tweets, sp = maker.post(13 * k, when, 1, deleted=True)
                writer.add({"tweet": tweets[0]})
                maker.record(sp, 13 * k, True)
            writer.close()
            writer = _JsWriter(zf, "window.YTD.note_tweet")
            writer.start("data/note-tweet.js", 0)
            for note in maker.notes:
                writer.add(note)
            writer.close()
        for member, ext, shade in maker.media:
            data = (png_bytes(2, 2, (shade, 255 - shade, 90)) if ext == "png"
                    else jpeg_bytes(shade, member.encode()))
            zf.writestr(member, data, compress_type=zipfile.ZIP_STORED)
        _write_meta(zf, spec, old_layout)
    return spec


def _write_meta(zf: zipfile.ZipFile, spec: ArchiveSpec, old_layout: bool) -> None:
    _write_small(zf, "data/account.js", "window.YTD.account.part0", [{"account": {
        "email": f"{spec.username}@example.org", "createdVia": "web",
        "username": spec.username, "accountId": spec.account_id,
        "createdAt": _iso_ms(spec.account_created_at),
        "accountDisplayName": spec.display_name}}])
    _write_small(zf, "data/profile.js", "window.YTD.profile.part0", [{"profile": {
        "description": {"bio": spec.bio, "website": "https://t.co/Xq3pT0aBcD", "location": "福建"},
        "avatarMediaUrl": f"https://pbs.twimg.com/profile_images/{spec.account_id}/a.jpg",
        "headerMediaUrl": f"https://pbs.twimg.com/profile_banners/{spec.account_id}/1600000000"}}])
    zf.writestr(f"data/profile_media/{spec.account_id}-a.jpg", jpeg_bytes(90, b"avatar"),
                compress_type=zipfile.ZIP_STORED)
    if old_layout:
        return
    files = [{"fileName": f, "globalName": f"YTD.tweets.part{i}", "count": "?"}
             for i, f in enumerate(spec.tweet_files)]
    _write_small(zf, "data/manifest.js", "window.__THAR_CONFIG", {
        "userInfo": {"accountId": spec.account_id, "userName": spec.username,
                     "displayName": spec.display_name},
        "archiveInfo": {"sizeBytes": "0", "generationDate": _iso_ms(spec.generated_at),
                        "isPartialArchive": False, "maxPartSizeBytes": "53687091200"},
        "dataTypes": {
            "tweets": {"mediaDirectory": "data/tweets_media", "files": files},
            "deletedTweets": {"mediaDirectory": "data/deleted_tweets_media", "files": [
                {"fileName": "data/deleted-tweets.js", "globalName": "YTD.deleted_tweets.part0",
                 "count": str(len(spec.deleted_ids))}]},
            "noteTweet": {"files": [{"fileName": "data/note-tweet.js",
                                     "globalName": "YTD.note_tweet.part0",
                                     "count": str(len(spec.note_ids))}]},
        },
    })

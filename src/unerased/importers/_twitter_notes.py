"""Long tweets ("note tweets") of an X archive: finding each one's whole text.

``data/note-tweet.js`` keeps the full text of every tweet longer than 280 characters
(``noteTweet: {noteTweetId, createdAt, core: {text, urls…}}``), while ``tweets.js``
holds the text cut short. Real archives name no tweet id in a note, and a note leaves
out the leading ``@mentions`` of a reply. So a note is matched to its tweet by:

* time: the note and its tweet are made together — the same creation second, and
  snowflake ids (whose top bits are the creation time in milliseconds) a few tens of
  milliseconds apart, the note first;
* text: the tweet's text, without its leading mentions, links and final ellipsis, is the
  beginning of the note's (or all of it but a few characters, for a short note).

When several notes with different texts fit one tweet and time does not single one out,
the match is *ambiguous*: the tweet keeps the text it shows and the importer reports it
(an :class:`~unerased.importers.ImportNotice`), never a guess.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..text.hostile import safe_dict, safe_list, safe_str

__all__ = ["Note", "Notes", "expand_urls", "snowflake_ms", "whole_text"]

WINDOW_MS = (-2000, 5000)
"""Tweet id time minus note id time for a note to be considered at all (ms)."""
SAME_INSTANT_MS = 1000
"""A note made at most this long before the tweet is taken as made with it (real: 13–41 ms)."""
SHORT_SLACK = 40
"""A tweet not cut short may differ from its note by this many characters (links)."""
LONG_ENOUGH = 100
"""A tweet text (without mentions and links) this long may be a cut-short one."""

_ANY_URL = re.compile(r"https?://\S+")
_LEADING_MENTIONS = re.compile(r"(?:@[A-Za-z0-9_]{1,50}\s+)+")
_SNOWFLAKE_MIN = 1 << 52  # ids below this are pre-2010 sequential ids, not snowflakes


def snowflake_ms(tid: str | None) -> int | None:
    """The creation time (ms since X's epoch) a snowflake id carries, or None."""
    if tid is None or not tid.isdigit() or len(tid) > 25:
        return None
    n = int(tid)
    return n >> 22 if n >= _SNOWFLAKE_MIN else None


def match_key(text: str) -> str:
    """Text reduced for prefix comparison: no links, whitespace collapsed, no ellipsis."""
    s = " ".join(_ANY_URL.sub(" ", text).split())
    return s.rstrip("…").rstrip(".").rstrip()


def leading_mentions(text: str) -> str:
    """The ``@a @b `` a reply's text begins with, as it shows them ("" if none)."""
    m = _LEADING_MENTIONS.match(text)
    return m.group(0) if m else ""


def expand_urls(text: str, urls: Sequence[Any]) -> str:
    """``t.co`` links replaced by the addresses they stand for (tweet entities use
    ``url``/``expanded_url``, notes ``shortUrl``/``expandedUrl``)."""
    for u in urls:
        d = safe_dict(u)
        short = safe_str(d.get("url")) or safe_str(d.get("shortUrl"))
        long = safe_str(d.get("expanded_url")) or safe_str(d.get("expandedUrl"))
        if short and long and short.startswith("http"):
            text = text.replace(short, long)
    return text


def whole_text(shown: str, note: Note) -> str:
    """The note's text with the leading mentions the tweet shows put back in front."""
    lead = leading_mentions(shown)
    if not lead or note.text.startswith("@"):
        return note.text
    return lead + note.text


@dataclass(slots=True)
class Note:
    text: str  # URLs expanded
    key: str
    tweet_id: str | None  # when the archive names it (not in real archives so far)
    ms: int | None  # from noteTweetId
    second: int


@dataclass
class Notes:
    """Every note of the archive, indexed by creation second and by id time."""

    by_second: dict[int, list[Note]] = field(default_factory=dict)
    by_ms: list[tuple[int, int]] = field(default_factory=list)  # (ms, index in all)
    all: list[Note] = field(default_factory=list)
    _seconds: set[int] = field(default_factory=set)  # every second a note is near
    _ms: list[int] = field(default_factory=list)  # note id times, sorted

    def __bool__(self) -> bool:
        return bool(self.all)

    def add(self, note: Note) -> None:
        self.by_second.setdefault(note.second, []).append(note)
        if note.ms is not None:
            self.by_ms.append((note.ms, len(self.all)))
        self.all.append(note)

    def freeze(self) -> None:
        self.by_ms.sort()
        self._ms = [ms for ms, _ in self.by_ms]
        self._seconds = {s + d for s in self.by_second for d in (-1, 0, 1)}

    def _near(self, second: int | None, t_ms: int | None) -> bool:
        """Whether any note is near in time (the common answer, no: one set lookup and
        one bisect per tweet)."""
        if second is not None and second in self._seconds:
            return True
        if t_ms is None or not self._ms:
            return False
        i = bisect.bisect_left(self._ms, t_ms - WINDOW_MS[1])
        return i < len(self._ms) and self._ms[i] <= t_ms - WINDOW_MS[0]

    def _candidates(self, tid: str, created: datetime | None) -> list[Note]:
        second = None if created is None else int(created.timestamp())
        t_ms = snowflake_ms(tid)
        if not self._near(second, t_ms):
            return []
        seen: dict[int, Note] = {}
        if second is not None:
            for s in (second - 1, second, second + 1):
                for n in self.by_second.get(s, ()):
                    seen[id(n)] = n
        if t_ms is not None and self.by_ms:
            lo = bisect.bisect_left(self.by_ms, (t_ms - WINDOW_MS[1], -1))
            hi = bisect.bisect_right(self.by_ms, (t_ms - WINDOW_MS[0], len(self.all)))
            for _ms, i in self.by_ms[lo:hi]:
                n = self.all[i]
                seen[id(n)] = n
        return list(seen.values())

    def match(self, tid: str, created: datetime | None, shown: str) -> tuple[Note | None, int]:
        """The note holding this tweet's whole text, or (None, n) where n > 1 counts the
        different texts that fit when the match is ambiguous (0: no note fits)."""
        cands = self._candidates(tid, created)
        if not cands:
            return None, 0
        for n in cands:
            if n.tweet_id == tid:
                return n, 0
        full = match_key(shown)
        bare = match_key(shown[len(leading_mentions(shown)):])
        cut = (shown.rstrip().endswith(("…", "...")) or "/i/web/status/" in shown
               or len(bare) >= LONG_ENOUGH)
        fits = []
        for n in cands:
            if n.tweet_id is not None:
                continue
            for key in (bare, full):
                if n.key.startswith(key) and (cut or len(n.key) - len(key) <= SHORT_SLACK):
                    fits.append(n)
                    break
        texts = {n.text for n in fits}
        if len(texts) <= 1:
            return (fits[0] if fits else None), 0
        t_ms = snowflake_ms(tid)
        if t_ms is not None:
            near = [n for n in fits if n.ms is not None and 0 <= t_ms - n.ms <= SAME_INSTANT_MS]
            if len({n.text for n in near}) == 1:
                return near[0], 0
        return None, len(texts)


def load_notes(items: Iterator[Any], parse_date: Callable[[Any], datetime | None],
               tweet_id: Callable[[Any], str | None]) -> Notes:
    """The notes of ``note-tweet.js`` items (hostile JSON: anything odd is skipped)."""
    notes = Notes()
    for item in items:
        d = safe_dict(item)
        nt = safe_dict(d.get("noteTweet")) or d
        core = safe_dict(nt.get("core")) or safe_dict(nt.get("noteTweetResults"))
        text = safe_str(core.get("text"))
        created = parse_date(nt.get("createdAt"))
        if text is None or created is None:
            continue
        text = expand_urls(text, safe_list(core.get("urls")))
        tid = tweet_id(nt.get("tweetId")) or tweet_id(
            safe_dict(nt.get("lifecycle")).get("initialTweetId"))
        nid = tweet_id(nt.get("noteTweetId"))
        notes.add(Note(text, match_key(text), tid, snowflake_ms(nid), int(created.timestamp())))
    notes.freeze()
    return notes

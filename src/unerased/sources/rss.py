"""RSS 2.0, Atom and RDF feeds (blogs, GNU social/OStatus timelines, and RSSHub-style
bridges for Weibo, Telegram channels or Nitter, which serve plain RSS 2.0).

Identities: what the user types is ``rss:URL`` (with ``--service`` a path such as
``rss:/weibo/user/1195230310`` is joined to an RSSHub base); ``account_id`` is the feed's
absolute URL; ``post_id`` is something a later check can look up on its own: the entry's
``<id>``/``<guid>`` when that is an http(s) URL (RSSHub, Mastodon, most blogs), else its
link (GNU social's ``tag:`` ids, ``urn:uuid:`` ids), else the id as it is. The id as sent
stays in ``raw["id"]``.

What a feed can and cannot tell:

- A feed is a window (the latest N entries): :attr:`Listing.window_start` is the oldest
  entry date in it, so a post that ages out of the window is not "missing". A feed whose
  entries carry no dates cannot bound its window: its listing is marked incomplete.
- A feed that is not well-formed XML (cut short, broken) gives an incomplete listing:
  entries after the break may just not have been read.
- Looking one post up means ``GET`` its link: 404/410 → GONE (reason UNKNOWN),
  200 → PRESENT (the page is not parsed; the text is the feed's copy), 401/403 →
  FORBIDDEN, anything else → ERROR. A post whose link is not known (it never came
  with one, or this source never saw its entry) is an ERROR unless the caller passes
  ``urls``.
- An Atom entry with ``<activity:verb>delete</activity:verb>`` (GNU social/OStatus) is the
  platform saying a notice was deleted by its author: a lookup of that notice answers
  GONE with reason USER_DELETED and the feed's capture as evidence. Other activities
  (follow, favorite…) are not posts and are skipped; ``share`` is a repost.
- The feed answering 404/410 → account DELETED, basis ABSENCE: a feed says nothing about
  why it is gone, so the detector waits for a confirming check. Conditional GET (ETag /
  Last-Modified) is used when this source fetched the feed before; a 304 reuses the
  stored body and both captures are evidence.
"""

from __future__ import annotations

import calendar
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import feedparser
import httpx

from ..errors import SourceError
from ..model import (
    AccountCheck,
    AccountSnapshot,
    AccountStatus,
    DeletionReason,
    Listing,
    LookupResult,
    MediaItem,
    PostLookup,
    PostSnapshot,
    StatusBasis,
    iso,
    utcnow,
)
from ..text.hostile import first_line, html_to_text
from ._base import Recorder
from ._errors import (
    Backoff,
    describe_status,
    failure_text,
    is_http_url,
    join_url,
    rate_limited_text,
    split_url,
)

PLATFORM = "rss"
ACCEPT = ("application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, "
          "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5")

_ATOM = "{http://www.w3.org/2005/Atom}"
_AS = "{http://activitystrea.ms/spec/1.0/}"
_POST_VERBS = ("post", "share")
# bozo exceptions that do not mean entries were lost
_HARMLESS_BOZO = ("CharacterEncodingOverride", "NonXMLContentType")


def feed_url(ident: str, service: str | None = None) -> str:
    """``rss:URL`` (or a bare URL; or ``rss:/path`` joined to ``service``) → the feed URL."""
    s = ident.strip()
    if s.lower().startswith("rss:"):
        s = s[4:].strip()
    if s.startswith("/") and service:
        s = service.rstrip("/") + s
    parts = split_url(s)
    if (parts is None or parts.scheme not in ("http", "https") or not parts.netloc
            or any(c.isspace() for c in s)):
        raise SourceError(f"rss: {ident!r} is not an http(s) feed URL")
    return s


def _f(obj: Any, key: str, default: Any = None) -> Any:
    """A feedparser field read as a plain dict: feedparser's own ``get`` aliases some
    keys (``updated_parsed`` → ``published_parsed``, with a DeprecationWarning)."""
    return dict.get(obj, key, default) if isinstance(obj, dict) else default


def _when(t: Any) -> datetime | None:
    if not isinstance(t, time.struct_time):
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(t), UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _is_http(value: str) -> bool:
    return is_http_url(value)


def _verb(value: Any) -> str:
    """``http://activitystrea.ms/schema/1.0/post`` → ``post``; ``""`` when absent."""
    v = value.strip() if isinstance(value, str) else ""
    return v.rsplit("/", 1)[-1].lower()


@dataclass(frozen=True, slots=True)
class Deletion:
    """An explicit deletion announced in a feed (ActivityStreams ``delete``)."""

    targets: tuple[str, ...]  # the deleted notice's ids and links
    published: datetime | None
    detail: str
    capture_id: str


class _AnchorParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href") or ""
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.found.append((self._href.strip(), "".join(self._text)))
            self._href = None


def _anchors(html: str) -> list[tuple[str, str]]:
    """``(href, text)`` of each link in an HTML fragment (never raises)."""
    p = _AnchorParser()
    try:
        p.feed(html)
        p.close()
    except Exception:  # hostile markup: no anchors rather than a crash
        return []
    return p.found


@dataclass(frozen=True, slots=True)
class _AtomEntry:
    own_id: str | None
    verb: str
    targets: tuple[str, ...]


def _atom_entries(body: bytes) -> list[_AtomEntry] | None:
    """The entries of an Atom feed read with ElementTree: each entry's own ``<id>`` and
    its activity verb/targets, which feedparser's flattened view loses (it overwrites an
    entry's id with the nested ``activity:object`` id). None when not Atom or not
    parseable. (The bundled expat limits entity expansion; external entities are never
    fetched.)"""
    if b"activitystrea.ms" not in body:
        return None
    try:
        root = ET.fromstring(body)
    except (ET.ParseError, ValueError):
        return None
    if root.tag != f"{_ATOM}feed":
        return None
    out = []
    for entry in root.findall(f"{_ATOM}entry"):
        own = (entry.findtext(f"{_ATOM}id") or "").strip() or None
        targets: list[str] = []
        for tag in (f"{_AS}object", f"{_AS}target"):
            for el in entry.findall(tag):
                tid = (el.findtext(f"{_ATOM}id") or "").strip()
                if tid and tid not in targets:
                    targets.append(tid)
                for link in el.findall(f"{_ATOM}link"):
                    href = (link.get("href") or "").strip()
                    if href and link.get("rel", "alternate") == "alternate" and href not in targets:
                        targets.append(href)
        verb = _verb(entry.findtext(f"{_AS}verb"))
        if verb == "delete":
            # GNU social names the deleted notice's page in the content:
            # <a href="https://host/notice/N">{{tag:…:noticeId=N:…}}</a>
            for href, label in _anchors(entry.findtext(f"{_ATOM}content") or ""):
                if _is_http(href) and any(t in label for t in list(targets)) and href not in targets:
                    targets.append(href)
        out.append(_AtomEntry(own, verb, tuple(targets)))
    return out


@dataclass
class ParsedFeed:
    """What one feed document says."""

    is_feed: bool
    posts: list[PostSnapshot] = field(default_factory=list)
    deletions: list[Deletion] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)
    feed: dict[str, Any] = field(default_factory=dict)
    next_url: str | None = None
    problem: str | None = None  # not well-formed: entries may be missing
    undated: int = 0


def parse_feed(
    body: bytes, account_id: str, capture_id: str, observed_at: datetime | None = None,
    content_type: str | None = None,
) -> ParsedFeed:
    """Parse feed bytes (never fetches anything; never raises)."""
    headers = {"content-location": account_id}
    if content_type:
        headers["content-type"] = content_type
    try:
        d = feedparser.parse(body, response_headers=headers, sanitize_html=False,
                             resolve_relative_uris=False)
    except Exception as exc:  # feedparser is defensive; the input is hostile all the same
        return ParsedFeed(False, problem=f"feed could not be parsed: {type(exc).__name__}")
    if not _f(d, "version"):
        return ParsedFeed(False, problem="not an RSS or Atom feed")
    out = ParsedFeed(True)
    bozo = _f(d, "bozo_exception")
    if _f(d, "bozo") and type(bozo).__name__ not in _HARMLESS_BOZO:
        out.problem = first_line(f"feed is not well-formed ({type(bozo).__name__}: {bozo})")[:300]
    f = _f(d, "feed", {})
    out.feed = {k: _f(f, k) for k in ("title", "subtitle", "link", "language", "generator", "updated")
                if isinstance(_f(f, k), str)}
    if isinstance(_f(_f(f, "image"), "href"), str):
        out.feed["image"] = _f(f, "image")["href"]
    if isinstance(_f(f, "logo"), str):
        out.feed["image"] = f["logo"]
    if isinstance(_f(f, "author"), str):
        out.feed["author"] = f["author"]
    for link in _f(f, "links", []) or []:
        if isinstance(link, dict) and link.get("rel") == "next" and isinstance(link.get("href"), str):
            out.next_url = join_url(account_id, link["href"])
    entries = list(_f(d, "entries", []))
    atom = _atom_entries(body)
    if atom is not None and len(atom) != len(entries):
        atom = None
    lang = out.feed.get("language")
    for i, e in enumerate(entries):
        info = atom[i] if atom is not None else None
        verb = info.verb if info is not None else _verb(_f(e, "activity_verb"))
        published = _when(_f(e, "published_parsed")) or _when(_f(e, "updated_parsed"))
        if verb == "delete":
            targets = info.targets if info is not None else ()
            if targets:
                when = f", {iso(published)}" if published else ""
                out.deletions.append(Deletion(
                    targets=targets, published=published, capture_id=capture_id,
                    detail=f"the feed announced its deletion (activity:verb delete{when})"))
            continue
        if verb and verb not in _POST_VERBS:
            continue  # follow, favorite, join…: activities, not posts
        snap = _entry_snapshot(e, info, verb, account_id, lang, observed_at)
        if snap is None:
            continue
        out.posts.append(snap)
        if snap.url:
            out.links[snap.post_id] = snap.url
        if snap.created_at is None:
            out.undated += 1
    return out


def _entry_snapshot(
    e: Any, info: _AtomEntry | None, verb: str, account_id: str, lang: str | None,
    observed_at: datetime | None,
) -> PostSnapshot | None:
    link = _f(e, "link") if isinstance(_f(e, "link"), str) else None
    link = join_url(account_id, link) if link else None
    own = (info.own_id if info is not None else None) or _f(e, "id")
    own = own.strip() if isinstance(own, str) and own.strip() else None
    pid = own if own and _is_http(own) else (link or own)
    if not pid:
        return None
    html = None
    content = _f(e, "content")
    if isinstance(content, list) and content and isinstance(content[0], dict):
        html = content[0].get("value")
    if not isinstance(html, str) or not html.strip():
        html = _f(e, "summary") if isinstance(_f(e, "summary"), str) else None
    title = _f(e, "title") if isinstance(_f(e, "title"), str) else None
    text = html_to_text(html) if html else (title or "")
    published = _when(_f(e, "published_parsed"))
    updated = _when(_f(e, "updated_parsed"))
    reply = _f(e, "thr_in-reply-to")
    reply_to = (reply.get("ref") or reply.get("href")) if isinstance(reply, dict) else None
    media = []
    enclosures = [lk for lk in _f(e, "links", []) or [] if _f(lk, "rel") == "enclosure"]
    for enc in enclosures + list(_f(e, "media_content", []) or []):
        if not isinstance(enc, dict):
            continue
        url = enc.get("href") or enc.get("url")
        if not isinstance(url, str):
            continue
        mime = enc.get("type") if isinstance(enc.get("type"), str) else None
        kind = (mime or "").split("/", 1)[0]
        parts = split_url(url)
        # an unparsable URL is kept as sent: fetching it records the error
        media.append(MediaItem(url=join_url(account_id, url) or url, mime=mime,
                               filename=(parts.path.rsplit("/", 1)[-1] or None) if parts else None,
                               kind=kind if kind in ("image", "video", "audio") else "other"))
    raw = {k: _f(e, k) for k in ("link", "title", "published", "updated", "author", "summary")
           if isinstance(_f(e, k), str)}
    if own:
        raw["id"] = own
    if verb:
        raw["activity_verb"] = verb
    tags = [t.get("term") for t in _f(e, "tags", []) or [] if isinstance(t, dict) and isinstance(t.get("term"), str)]
    if tags:
        raw["tags"] = tags
    return PostSnapshot(
        platform=PLATFORM,
        account_id=account_id,
        post_id=pid,
        text=text,
        created_at=published or updated,
        url=link,
        html=html,
        kind="repost" if verb == "share" else ("reply" if reply_to else "post"),
        reply_to=reply_to if isinstance(reply_to, str) else None,
        lang=lang,
        edited_at=updated if published and updated and updated > published else None,
        media=tuple(media),
        raw=raw,
        observed_at=observed_at,
    )


@dataclass
class _Cached:
    etag: str | None
    last_modified: str | None
    body: bytes
    capture_id: str
    content_type: str | None


@dataclass
class _Fetch:
    """One feed fetch: the body to parse (fresh or, after 304, the stored one)."""

    status: int | None
    capture_ids: list[str]
    body: bytes | None = None
    content_type: str | None = None
    error: str | None = None
    evidence: str = ""  # the capture id whose body is parsed


class RssSource:
    """Feeds over HTTP(S). Config: ``clock`` (a ``() -> datetime`` for tests).

    Keeps, per instance, what it learnt from feeds it fetched: validators for
    conditional GET, the link of every entry it saw, and announced deletions.
    :attr:`retry_after` is when a host that answered 429 may be asked again.
    """

    platform = PLATFORM

    def __init__(
        self,
        recorder: Recorder,
        service: str | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
        **config: Any,
    ) -> None:
        self.recorder = recorder
        self.service = service.rstrip("/") if service else None
        self.clock = clock
        self._backoff = Backoff(clock, timedelta(minutes=5))
        self._cache: dict[str, _Cached] = {}
        self._links: dict[str, str] = {}
        self._seen: dict[str, PostSnapshot] = {}
        self._deletions: dict[str, dict[str, Deletion]] = {}

    @property
    def retry_after(self) -> datetime | None:
        return self._backoff.retry_after

    def deletions(self, account_id: str) -> dict[str, Deletion]:
        """Deletions the account's feed announced, by deleted post id/link (as far as
        this source has fetched the feed)."""
        return dict(self._deletions.get(account_id, {}))

    # --- plumbing --------------------------------------------------------------------

    async def _get(
        self, url: str, headers: dict[str, str], *, service: bool = False
    ) -> tuple[httpx.Response | None, list[str], str | None]:
        parts = split_url(url)
        key = parts.netloc.lower() if parts else ""
        until = self._backoff.blocked(key) if key else None
        if until is not None:
            return None, [], rate_limited_text(PLATFORM, until)
        resp, cap = await self.recorder.get(url, headers=headers, service=service)
        if resp is None:
            return None, [cap.id], first_line(f"{PLATFORM}: cannot reach {url}: {failure_text(cap)}")
        self._backoff.observe(key, resp)
        if resp.status_code == 429:
            return resp, [cap.id], rate_limited_text(PLATFORM, self._backoff.retry_after)
        return resp, [cap.id], None

    async def _fetch(self, url: str, conditional: bool = True) -> _Fetch:
        headers = {"Accept": ACCEPT}
        cached = self._cache.get(url) if conditional else None
        if cached is not None:
            if cached.etag:
                headers["If-None-Match"] = cached.etag
            if cached.last_modified:
                headers["If-Modified-Since"] = cached.last_modified
        resp, ids, err = await self._get(url, headers, service=True)  # the feed itself
        if resp is None or err:
            return _Fetch(resp.status_code if resp is not None else None, ids, error=err)
        st = resp.status_code
        if st == 304 and cached is not None:
            return _Fetch(st, [*ids, cached.capture_id], cached.body, cached.content_type,
                          evidence=cached.capture_id)
        if st != 200:
            where = f" (to {resp.headers['location']})" if 300 <= st < 400 and "location" in resp.headers else ""
            return _Fetch(st, ids, error=f"{PLATFORM}: the feed answered {describe_status(resp)}{where}")
        ctype = resp.headers.get("content-type")
        self._cache[url] = _Cached(resp.headers.get("etag"), resp.headers.get("last-modified"),
                                   resp.content, ids[0], ctype)
        return _Fetch(st, ids, resp.content, ctype, evidence=ids[0])

    def _learn(self, account_id: str, parsed: ParsedFeed) -> None:
        self._links.update(parsed.links)
        for p in parsed.posts:
            self._seen[p.post_id] = p
        known = self._deletions.setdefault(account_id, {})
        for d in parsed.deletions:
            for t in d.targets:
                known[t] = d

    def _account(self, url: str, parsed: ParsedFeed, observed_at: datetime | None) -> AccountSnapshot:
        f = parsed.feed
        return AccountSnapshot(
            platform=PLATFORM, account_id=url, handle=url,
            display_name=f.get("title"), status=AccountStatus.ACTIVE,
            profile={k: v for k, v in f.items() if k != "title"},
            url=f.get("link"), observed_at=observed_at)

    def _observed(self) -> datetime:
        return self.recorder.captures[-1].started_at if self.recorder.captures else self.clock()

    # --- Source protocol -------------------------------------------------------------

    async def resolve(self, ident: str) -> AccountSnapshot:
        url = feed_url(ident, self.service)
        got = await self._fetch(url, conditional=False)
        if got.body is None:
            if got.status in (404, 410):
                raise SourceError(f"{PLATFORM}: no feed at {url} (HTTP {got.status})")
            raise SourceError(first_line(got.error or f"{PLATFORM}: no usable answer from {url}"))
        parsed = parse_feed(got.body, url, got.evidence, self._observed(), got.content_type)
        if not parsed.is_feed:
            raise SourceError(first_line(f"{PLATFORM}: {url} is not an RSS or Atom feed "
                                         f"(got {got.content_type or 'no content-type'})"))
        self._learn(url, parsed)
        return self._account(url, parsed, self._observed())

    async def check_account(self, account_id: str) -> AccountCheck:
        try:
            url = feed_url(account_id)
        except SourceError as e:
            return AccountCheck(None, error=str(e))
        got = await self._fetch(url)
        if got.status in (404, 410):
            gone = AccountSnapshot(platform=PLATFORM, account_id=url, handle=url,
                                   status=AccountStatus.DELETED, observed_at=self._observed(),
                                   basis=StatusBasis.ABSENCE)
            return AccountCheck(gone, capture_ids=got.capture_ids)
        if got.body is None:
            return AccountCheck(None, error=got.error, capture_ids=got.capture_ids)
        parsed = parse_feed(got.body, url, got.evidence, self._observed(), got.content_type)
        if not parsed.is_feed:
            return AccountCheck(None, error=f"{PLATFORM}: the answer is not a feed ({parsed.problem})",
                                capture_ids=got.capture_ids)
        self._learn(url, parsed)
        return AccountCheck(self._account(url, parsed, self._observed()), capture_ids=got.capture_ids)

    async def list_posts(
        self, account_id: str, *, since: datetime | None = None, max_pages: int = 10
    ) -> Listing:
        try:
            url = feed_url(account_id)
        except SourceError as e:
            return Listing((), complete=False, error=str(e))
        posts: list[PostSnapshot] = []
        caps: list[str] = []
        complete, error = True, None
        page_url: str | None = url
        visited: set[str] = set()
        undated = 0
        for page in range(max(0, max_pages)):
            if page_url is None:
                break
            visited.add(page_url)
            got = await self._fetch(page_url, conditional=page == 0)
            caps += got.capture_ids
            if got.body is None:
                complete, error = False, got.error
                break
            parsed = parse_feed(got.body, url, got.evidence, self._observed(), got.content_type)
            if not parsed.is_feed:
                complete, error = False, f"{PLATFORM}: the answer is not a feed ({parsed.problem})"
                break
            self._learn(url, parsed)
            posts += parsed.posts
            undated += parsed.undated
            if parsed.problem:
                complete, error = False, parsed.problem
                break
            dates = [p.created_at for p in parsed.posts if p.created_at is not None]
            if since is not None and dates and min(dates) < since:
                break
            nxt = parsed.next_url
            nxt_parts, feed_parts = (split_url(nxt) if nxt else None), split_url(url)
            if (nxt is None or nxt in visited or nxt_parts is None or feed_parts is None
                    or nxt_parts.netloc != feed_parts.netloc):
                break
            page_url = nxt
        dates = [p.created_at for p in posts if p.created_at is not None]
        if undated and complete:
            complete, error = False, f"{PLATFORM}: {undated} entries carry no date; the window cannot be bounded"
        return Listing(posts=posts, complete=complete, window_start=min(dates) if dates else None,
                       error=error, capture_ids=caps)

    async def lookup_posts(
        self, account_id: str, post_ids: Sequence[str], *, urls: Mapping[str, str] | None = None
    ) -> list[PostLookup]:
        """Look posts up by GETting their links. ``urls`` maps post ids to links for
        posts this source instance has not seen in a feed (the store knows them)."""
        try:
            url = feed_url(account_id)
        except SourceError as e:
            return [PostLookup(pid, LookupResult.ERROR, detail=str(e)) for pid in post_ids]
        feed_caps: list[str] = []
        if url not in self._deletions:  # learn announced deletions and links first
            got = await self._fetch(url)
            feed_caps = got.capture_ids
            if got.body is not None:
                parsed = parse_feed(got.body, url, got.evidence, self._observed(), got.content_type)
                if parsed.is_feed:
                    self._learn(url, parsed)
        deleted = self._deletions.get(url, {})
        out = []
        for pid in post_ids:
            link = (urls or {}).get(pid) or self._links.get(pid)
            if link is None and is_http_url(pid):
                link = pid
            announced = deleted.get(pid) or (deleted.get(link) if link else None)
            if announced is not None:
                out.append(PostLookup(pid, LookupResult.GONE, reason=DeletionReason.USER_DELETED,
                                      detail=announced.detail,
                                      capture_ids=[announced.capture_id]))
                continue
            if link is None:
                out.append(PostLookup(pid, LookupResult.ERROR, capture_ids=feed_caps,
                                      detail=f"{PLATFORM}: no link known for this entry"))
                continue
            out.append(await self._lookup_link(pid, link))
        return out

    async def _lookup_link(self, pid: str, link: str) -> PostLookup:
        if not is_http_url(link):
            return PostLookup(pid, LookupResult.ERROR, detail=f"{PLATFORM}: not an http(s) link: {link[:200]!r}")
        resp, ids, err = await self._get(link, {"Accept": "text/html,*/*;q=0.8"})
        if resp is None or err:
            return PostLookup(pid, LookupResult.ERROR, detail=err, capture_ids=ids)
        st = resp.status_code
        if st in (404, 410):
            return PostLookup(pid, LookupResult.GONE, reason=DeletionReason.UNKNOWN, capture_ids=ids,
                              detail=f"HTTP {st} at {link}")
        if st == 200:
            return PostLookup(pid, LookupResult.PRESENT, snapshot=self._seen.get(pid), capture_ids=ids)
        if st in (401, 403):
            return PostLookup(pid, LookupResult.FORBIDDEN, detail=f"HTTP {st} at {link}", capture_ids=ids)
        return PostLookup(pid, LookupResult.ERROR, capture_ids=ids,
                          detail=f"{PLATFORM}: unexpected answer {describe_status(resp)} at {link}")

    async def fetch_media(self, url: str) -> bytes | None:
        """The file, or None (a bad or refused URL, an error: recorded as a capture)."""
        resp, _ids, err = await self._get(url, {})
        return resp.content if resp is not None and not err and resp.status_code == 200 else None

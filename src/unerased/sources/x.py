"""X (Twitter), through API v2 with an app-only bearer token.

Identities: what the user types is ``x:USERNAME`` (also ``@USERNAME`` or a profile URL);
``account_id`` is the numeric user id (stable across renames); ``post_id`` is the
*initial* tweet id of an edit chain (``edit_history_tweet_ids[0]``), and each version's
own id is its ``version_key``.

The token comes from config ``token=`` or the environment variable
``UNERASED_X_BEARER_TOKEN``. It is sent to the API base only (never to media hosts) and
the recorder redacts it from captures.

How answers are classified. X has answered "not found" two ways: HTTP 200 with an
``errors`` array (every recording, 2021–2022) and, per today's docs, HTTP 404 with the
same problem objects (in ``errors`` or as the body itself). Both are read the same way;
only problems that name the requested resource (``parameter`` ``id``/``ids``/
``username``) count — errors about expansions (``referenced_tweets.id``,
``pinned_tweet_id``…) are kept in the capture and otherwise ignored.

==========================================  ===========================================
problem                                     classification
==========================================  ===========================================
``detail`` "User has been suspended: …"     account SUSPENDED, basis EXPLICIT (counts
(title "Forbidden")                         at once); a tweet: ACCOUNT_GONE
``…/resource-not-found`` ("Could not find   account DELETED, basis ABSENCE (X does not
user …", "Not Found Error")                 tell deleted from deactivated, or from a
                                            glitch: a later check confirms); a tweet:
                                            GONE, reason UNKNOWN
``…/not-authorized-for-resource``           a tweet: FORBIDDEN (protected author);
("Authorization Error")                     a timeline: incomplete
user with ``"protected": true``             account PROTECTED, basis EXPLICIT
tweet with ``withheld``                     PRESENT (the withholding stays in ``raw``)
401                                         SourceError on resolve ("the bearer token was
                                            refused"), ERROR elsewhere
429, ``x-rate-limit-remaining: 0``          ERROR; the endpoint is not called again
                                            before ``x-rate-limit-reset`` (see
                                            :attr:`XSource.retry_after`)
5xx, timeout, non-JSON or truncated body    ERROR — never GONE / DELETED
==========================================  ===========================================
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from ..errors import SourceError
from ..model import (
    AccountCheck,
    AccountSnapshot,
    AccountStatus,
    Capture,
    DeletionReason,
    Listing,
    LookupResult,
    MediaItem,
    PostLookup,
    PostSnapshot,
    StatusBasis,
    utcnow,
)
from ..text.hostile import first_line, safe_datetime, safe_dict, safe_list, safe_str
from ._base import Recorder
from ._errors import (
    Backoff,
    describe_status,
    failure_text,
    json_body,
    rate_limited_text,
    split_url,
)

PLATFORM = "x"
DEFAULT_SERVICE = "https://api.x.com"
TOKEN_ENV = "UNERASED_X_BEARER_TOKEN"

USER_FIELDS = ("created_at,description,location,name,pinned_tweet_id,profile_image_url,"
               "protected,public_metrics,url,username,verified,withheld")
TWEET_FIELDS = ("attachments,author_id,conversation_id,created_at,edit_controls,"
                "edit_history_tweet_ids,entities,in_reply_to_user_id,lang,note_tweet,"
                "possibly_sensitive,public_metrics,referenced_tweets,reply_settings,withheld")
EXPANSIONS = "attachments.media_keys"
MEDIA_FIELDS = "alt_text,duration_ms,height,media_key,preview_image_url,type,url,variants,width"

TIMELINE_CAP = 3200
"""``GET /2/users/:id/tweets`` reaches back at most this many tweets."""
LOOKUP_BATCH = 100

_USERNAME_RE = re.compile(r"^[A-Za-z0-9_]{1,50}$")
_ID_RE = re.compile(r"^\d{1,25}$")
_PROFILE_URL_RE = re.compile(r"^https?://(?:www\.|mobile\.)?(?:x|twitter)\.com/@?([A-Za-z0-9_]{1,50})/?$")
_MEDIA_KINDS = {"photo": "image", "video": "video", "animated_gif": "gif"}
_SNOWFLAKE_EPOCH_MS = 1288834974657
_FIRST_SNOWFLAKE = 300_000_000_000_000  # ~20 h after the epoch; sequential ids stayed far below
_RESOURCE_PARAMS = frozenset({"id", "ids", "username", "usernames"})


def parse_username(ident: str) -> str:
    """``x:USERNAME`` / ``@USERNAME`` / ``https://x.com/USERNAME`` → ``USERNAME``."""
    s = ident.strip()
    if s.lower().startswith("x:"):
        s = s[2:]
    m = _PROFILE_URL_RE.match(s)
    if m:
        s = m.group(1)
    s = s.removeprefix("@")
    if not _USERNAME_RE.match(s):
        raise SourceError(f"x: {ident!r} is not a username like x:USERNAME")
    return s


def snowflake_time(tweet_id: str) -> datetime | None:
    """When a (post-2010) tweet id was minted, to the second, as X's ``created_at`` is."""
    try:
        n = int(tweet_id)
    except ValueError:
        return None
    if n < _FIRST_SNOWFLAKE:  # pre-snowflake sequential ids carry no time
        return None
    ms = (n >> 22) + _SNOWFLAKE_EPOCH_MS
    return datetime.fromtimestamp(ms // 1000, UTC)


@dataclass(frozen=True, slots=True)
class Problem:
    """One RFC 7807-style problem object from an X answer."""

    title: str
    detail: str
    type: str
    parameter: str | None
    resource_id: str | None
    resource_type: str | None

    @property
    def kind(self) -> str:
        """``suspended`` | ``not_found`` | ``not_authorized`` | ``other``."""
        if "suspended" in self.detail.lower():
            return "suspended"
        if self.type.endswith("/resource-not-found") or self.title == "Not Found Error":
            return "not_found"
        if self.type.endswith("/not-authorized-for-resource") or self.title == "Authorization Error":
            return "not_authorized"
        return "other"

    @property
    def about_request(self) -> bool:
        """Whether it concerns what we asked for (not an expansion)."""
        return self.parameter is None or self.parameter in _RESOURCE_PARAMS

    @property
    def words(self) -> str:
        return first_line(self.detail or self.title or self.type or "unspecified problem")


def problems(body: Any) -> list[Problem]:
    """The ``errors`` array, plus the body itself when it is a bare problem object."""
    if not isinstance(body, dict):
        return []
    raw = [e for e in safe_list(body.get("errors")) if isinstance(e, dict)]
    if "data" not in body and ("title" in body or "detail" in body) and "type" in body:
        raw.append(body)
    out = []
    for e in raw:
        rid = e.get("resource_id", e.get("value"))
        out.append(Problem(
            title=safe_str(e.get("title")) or "",
            detail=safe_str(e.get("detail")) or safe_str(e.get("message")) or "",
            type=safe_str(e.get("type")) or "",
            parameter=safe_str(e.get("parameter")),
            resource_id=str(rid) if isinstance(rid, str | int) else None,
            resource_type=safe_str(e.get("resource_type")),
        ))
    return out


def user_snapshot(u: Any, observed_at: datetime | None = None) -> AccountSnapshot | None:
    """A v2 User object → AccountSnapshot (PROTECTED when ``protected``)."""
    if not isinstance(u, dict):
        return None
    uid, name = safe_str(u.get("id")), safe_str(u.get("username"))
    if not uid or not _ID_RE.match(uid) or not name:
        return None
    profile = {k: u[k] for k in ("description", "location", "profile_image_url", "url",
                                 "verified", "public_metrics", "pinned_tweet_id", "withheld",
                                 "protected") if k in u}
    return AccountSnapshot(
        platform=PLATFORM,
        account_id=uid,
        handle=name,
        display_name=safe_str(u.get("name")),
        status=AccountStatus.PROTECTED if u.get("protected") is True else AccountStatus.ACTIVE,
        profile=profile,
        url=f"https://x.com/{name}",
        created_at=safe_datetime(u.get("created_at")),
        observed_at=observed_at,
        basis=StatusBasis.EXPLICIT,  # the User object itself says what it is
    )


def _bit_rate(variant: dict[str, Any]) -> int:
    rate = variant.get("bit_rate")
    return rate if isinstance(rate, int) else -1


def _media_item(m: dict[str, Any]) -> MediaItem:
    kind = safe_str(m.get("type")) or ""
    url = safe_str(m.get("url"))
    if kind in ("video", "animated_gif"):
        mp4 = [v for v in safe_list(m.get("variants"))
               if isinstance(v, dict) and safe_str(v.get("url")) and v.get("content_type") == "video/mp4"]
        if mp4:
            best = max(mp4, key=_bit_rate)
            url = safe_str(best.get("url"))
        url = url or safe_str(m.get("preview_image_url"))
    parts = split_url(url) if url else None
    name = parts.path.rsplit("/", 1)[-1] if parts else None
    return MediaItem(url=url, filename=name or None, alt=safe_str(m.get("alt_text")),
                     kind=_MEDIA_KINDS.get(kind, "other"))


def media_index(body: Any) -> dict[str, dict[str, Any]]:
    media = safe_list(safe_dict(safe_dict(body).get("includes")).get("media"))
    return {m["media_key"]: m for m in media if isinstance(m, dict) and isinstance(m.get("media_key"), str)}


def tweet_snapshot(
    t: Any, account_id: str, media: dict[str, dict[str, Any]] | None = None,
    observed_at: datetime | None = None,
) -> PostSnapshot | None:
    """A v2 Tweet object → PostSnapshot of that version: ``post_id`` is the initial id
    of its edit chain, ``version_key`` its own id."""
    if not isinstance(t, dict):
        return None
    tid = safe_str(t.get("id"))
    if not tid or not _ID_RE.match(tid):
        return None
    chain = [i for i in safe_list(t.get("edit_history_tweet_ids")) if isinstance(i, str) and _ID_RE.match(i)]
    post_id = chain[0] if chain and tid in chain else tid
    at = safe_datetime(t.get("created_at"))
    created, edited = (at, None) if tid == post_id else (snowflake_time(post_id), at)
    refs = {safe_str(r.get("type")): safe_str(r.get("id"))
            for r in safe_list(t.get("referenced_tweets")) if isinstance(r, dict)}
    if refs.get("retweeted"):
        kind = "repost"
    elif refs.get("replied_to"):
        kind = "reply"
    elif refs.get("quoted"):
        kind = "quote"
    else:
        kind = "post"
    keys = safe_list(safe_dict(t.get("attachments")).get("media_keys"))
    items = tuple(_media_item((media or {})[k]) for k in keys if isinstance(k, str) and k in (media or {}))
    note = safe_str(safe_dict(t.get("note_tweet")).get("text"))
    return PostSnapshot(
        platform=PLATFORM,
        account_id=account_id,
        post_id=post_id,
        text=note or safe_str(t.get("text")) or "",
        created_at=created,
        url=f"https://x.com/i/web/status/{post_id}",
        kind=kind,
        reply_to=refs.get("replied_to"),
        repost_of=refs.get("retweeted"),
        quote_of=refs.get("quoted"),
        lang=safe_str(t.get("lang")),
        edited_at=edited,
        version_key=tid,
        media=items,
        raw=t,
        observed_at=observed_at,
    )


@dataclass(frozen=True, slots=True)
class _Answer:
    resp: httpx.Response | None
    cap: Capture | None
    blocked: datetime | None = None

    @property
    def ids(self) -> list[str]:
        return [self.cap.id] if self.cap is not None else []


class XSource:
    """X API v2 (app-only bearer token).

    Config: ``token`` (else env ``UNERASED_X_BEARER_TOKEN``), ``page_size`` (timeline
    ``max_results``, 5–100, default 100), ``clock`` (a ``() -> datetime`` for tests).

    Rate limits are per endpoint: :attr:`rate_limits` maps an endpoint (``"tweets"``,
    ``"users/:id/tweets"``, ``"users/:id"``, ``"users/by/username"``) to the time it is
    blocked until; :attr:`retry_after` is the latest of those.
    """

    platform = PLATFORM

    def __init__(
        self,
        recorder: Recorder,
        service: str | None = None,
        *,
        token: str | None = None,
        page_size: int = 100,
        clock: Callable[[], datetime] = utcnow,
        **config: Any,
    ) -> None:
        self.recorder = recorder
        self.service = (service or DEFAULT_SERVICE).rstrip("/")
        self.token = token or os.environ.get(TOKEN_ENV) or None
        self.page_size = max(5, min(int(page_size), 100))
        self.clock = clock
        self._backoff = Backoff(clock, timedelta(minutes=15))

    @property
    def retry_after(self) -> datetime | None:
        return self._backoff.retry_after

    @property
    def rate_limits(self) -> dict[str, datetime]:
        return dict(self._backoff.until)

    # --- plumbing --------------------------------------------------------------------

    def _no_token(self) -> str:
        return f"{PLATFORM}: no bearer token: set {TOKEN_ENV} or pass token="

    async def _get(self, key: str, path: str, params: dict[str, Any]) -> _Answer:
        until = self._backoff.blocked(key)
        if until is not None:
            return _Answer(None, None, until)
        # the bearer token goes to the API base only (X's API, or the --service the user
        # named), never to media hosts; the recorder drops it on a redirect elsewhere
        resp, cap = await self.recorder.get(
            self.service + path, params=params, service=True,
            headers={"Authorization": f"Bearer {self.token}", "Accept": "application/json"})
        if resp is not None:
            self._backoff.observe(key, resp)
        return _Answer(resp, cap)

    def _trouble(self, ans: _Answer) -> str | None:
        if ans.resp is None:
            if ans.cap is None:
                return rate_limited_text(PLATFORM, ans.blocked)
            return first_line(f"{PLATFORM}: no answer from {self.service}: {failure_text(ans.cap)}")
        st = ans.resp.status_code
        if st == 401:
            return (f"{PLATFORM}: the bearer token was refused (401); check {TOKEN_ENV} "
                    "or the token= setting")
        if st == 429:
            return rate_limited_text(PLATFORM, self._backoff.retry_after)
        if st >= 500:
            return f"{PLATFORM}: server error: {describe_status(ans.resp)}"
        return None

    def _body(self, ans: _Answer) -> tuple[dict[str, Any] | None, str | None]:
        """The answer's JSON object when it is one X would send (200, or 403/404 with
        problem objects), else an error text."""
        assert ans.resp is not None
        value, why = json_body(ans.resp)
        st = ans.resp.status_code
        if not isinstance(value, dict):
            return None, first_line(f"{PLATFORM}: {self.service} did not answer like the X API "
                                    f"(HTTP {st}, {why or 'not a JSON object'})")
        if st != 200 and not problems(value):
            return None, f"{PLATFORM}: unexpected answer {describe_status(ans.resp)}"
        return value, None

    # --- Source protocol -------------------------------------------------------------

    async def resolve(self, ident: str) -> AccountSnapshot:
        name = parse_username(ident)
        if not self.token:
            raise SourceError(self._no_token())
        ans = await self._get("users/by/username", f"/2/users/by/username/{name}",
                              {"user.fields": USER_FIELDS})
        if ans.resp is None and ans.cap is not None:
            raise SourceError(first_line(f"{PLATFORM}: cannot reach {self.service}: {failure_text(ans.cap)}"))
        trouble = self._trouble(ans)
        if trouble:
            raise SourceError(trouble)
        body, err = self._body(ans)
        if body is None:
            raise SourceError(f"{err}; check --service")
        snap = user_snapshot(body.get("data"), ans.cap.started_at if ans.cap else None)
        if snap is not None:
            return snap
        about = [p for p in problems(body) if p.about_request]
        for p in about:
            if p.kind == "suspended":
                raise SourceError(f"{PLATFORM}: @{name} is suspended (X says: {p.words})")
            if p.kind == "not_found":
                raise SourceError(f"{PLATFORM}: no user @{name} (X says: {p.words})")
        if about:
            raise SourceError(f"{PLATFORM}: looking up @{name} failed: {about[0].words}")
        raise SourceError(f"{PLATFORM}: {self.service} did not answer like the X API (no user, no errors); "
                          "check --service")

    async def check_account(self, account_id: str) -> AccountCheck:
        if not _ID_RE.match(account_id):
            return AccountCheck(None, error=f"{PLATFORM}: malformed user id {account_id!r}")
        if not self.token:
            return AccountCheck(None, error=self._no_token())
        ans = await self._get("users/:id", f"/2/users/{account_id}", {"user.fields": USER_FIELDS})
        trouble = self._trouble(ans)
        if trouble or ans.cap is None:
            return AccountCheck(None, error=trouble, capture_ids=ans.ids)
        body, err = self._body(ans)
        if body is None:
            return AccountCheck(None, error=err, capture_ids=ans.ids)
        snap = user_snapshot(body.get("data"), ans.cap.started_at)
        if snap is not None:
            if snap.account_id != account_id:
                return AccountCheck(None, error=f"{PLATFORM}: answer is about user {snap.account_id}",
                                    capture_ids=ans.ids)
            return AccountCheck(snap, capture_ids=ans.ids)
        about = [p for p in problems(body) if p.about_request]
        for kind, status, basis in (("suspended", AccountStatus.SUSPENDED, StatusBasis.EXPLICIT),
                                    ("not_found", AccountStatus.DELETED, StatusBasis.ABSENCE)):
            if any(p.kind == kind for p in about):
                gone = AccountSnapshot(platform=PLATFORM, account_id=account_id, status=status,
                                       observed_at=ans.cap.started_at, basis=basis,
                                       profile={"x_problem": next(p.words for p in about if p.kind == kind)})
                return AccountCheck(gone, capture_ids=ans.ids)
        words = about[0].words if about else "no user and no errors in the answer"
        return AccountCheck(None, error=f"{PLATFORM}: {words}", capture_ids=ans.ids)

    async def list_posts(
        self, account_id: str, *, since: datetime | None = None, max_pages: int = 10
    ) -> Listing:
        if not _ID_RE.match(account_id):
            return Listing((), complete=False, error=f"{PLATFORM}: malformed user id {account_id!r}")
        if not self.token:
            return Listing((), complete=False, error=self._no_token())
        params: dict[str, Any] = {"max_results": str(self.page_size), "tweet.fields": TWEET_FIELDS,
                                  "expansions": EXPANSIONS, "media.fields": MEDIA_FIELDS}
        if since is not None:
            params["start_time"] = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        posts: list[PostSnapshot] = []
        caps: list[str] = []
        complete, reached_end = True, False
        error: str | None = None
        for _ in range(max(0, max_pages)):
            ans = await self._get("users/:id/tweets", f"/2/users/{account_id}/tweets", params)
            caps += ans.ids
            trouble = self._trouble(ans)
            if trouble or ans.cap is None:
                complete, error = False, trouble
                break
            body, err = self._body(ans)
            if body is None:
                complete, error = False, err
                break
            about = [p for p in problems(body) if p.about_request]
            if about:
                complete, error = False, f"{PLATFORM}: timeline refused: {about[0].words}"
                break
            data = body.get("data", [])
            if not isinstance(data, list):
                complete, error = False, f"{PLATFORM}: timeline data is not a list"
                break
            media = media_index(body)
            for t in data:
                snap = tweet_snapshot(t, account_id, media, ans.cap.started_at)
                if snap is None:
                    complete, error = False, f"{PLATFORM}: a tweet in the timeline could not be read"
                    continue
                posts.append(snap)
            token = safe_str(safe_dict(body.get("meta")).get("next_token"))
            if not token:
                reached_end = True
                break
            params = {**params, "pagination_token": token}
        dates = [p.created_at for p in posts if p.created_at is not None]
        oldest = min(dates) if dates else None
        if reached_end:
            window = since if since is not None else (oldest if len(posts) >= TIMELINE_CAP else None)
        else:
            window = oldest
            if oldest is None and complete:
                complete, error = False, f"{PLATFORM}: cannot bound the timeline window (no dates)"
        return Listing(posts=posts, complete=complete, window_start=window, error=error, capture_ids=caps)

    async def lookup_posts(self, account_id: str, post_ids: Sequence[str]) -> list[PostLookup]:
        results: dict[str, PostLookup] = {}
        wanted: list[str] = []
        for pid in post_ids:
            if not _ID_RE.match(pid):
                results[pid] = PostLookup(pid, LookupResult.ERROR, detail=f"{PLATFORM}: not a tweet id: {pid!r}")
            elif not self.token:
                results[pid] = PostLookup(pid, LookupResult.ERROR, detail=self._no_token())
            elif pid not in wanted:
                wanted.append(pid)
        for i in range(0, len(wanted), LOOKUP_BATCH):
            results.update(await self._lookup_batch(account_id, wanted[i:i + LOOKUP_BATCH]))
        # an edited tweet looked up by its initial id answers with the initial text;
        # ask for the latest version of each such chain
        latest: dict[str, str] = {}  # latest version id -> post id asked for
        for pid, look in results.items():
            if look.result is not LookupResult.PRESENT or look.snapshot is None:
                continue
            chain = safe_list((look.snapshot.raw or {}).get("edit_history_tweet_ids"))
            last = chain[-1] if chain else None
            if isinstance(last, str) and _ID_RE.match(last) and last != look.snapshot.version_key:
                latest[last] = pid
        for i in range(0, len(latest), LOOKUP_BATCH):
            batch = list(latest)[i:i + LOOKUP_BATCH]
            newer = await self._lookup_batch(account_id, batch)
            for lid, look in newer.items():
                pid = latest[lid]
                old = results[pid]
                if look.result is LookupResult.PRESENT and look.snapshot is not None:
                    results[pid] = PostLookup(pid, LookupResult.PRESENT, snapshot=look.snapshot,
                                              capture_ids=[*old.capture_ids, *look.capture_ids])
                else:
                    results[pid] = PostLookup(pid, old.result, snapshot=old.snapshot, detail=old.detail,
                                              capture_ids=[*old.capture_ids, *look.capture_ids])
        return [results[pid] for pid in post_ids]

    async def _lookup_batch(self, account_id: str, ids: list[str]) -> dict[str, PostLookup]:
        ans = await self._get("tweets", "/2/tweets", {
            "ids": ",".join(ids), "tweet.fields": TWEET_FIELDS, "expansions": EXPANSIONS,
            "media.fields": MEDIA_FIELDS})
        trouble = self._trouble(ans)
        body, err = (None, trouble) if trouble or ans.cap is None else self._body(ans)
        if body is None or ans.cap is None:
            return {i: PostLookup(i, LookupResult.ERROR, detail=err, capture_ids=ans.ids) for i in ids}
        media = media_index(body)
        found: dict[str, PostSnapshot] = {}
        for t in safe_list(body.get("data")):
            snap = tweet_snapshot(t, account_id, media, ans.cap.started_at)
            if snap is not None and snap.version_key is not None:
                found[snap.version_key] = snap
        about = [p for p in problems(body) if p.about_request]
        by_id = {p.resource_id: p for p in about if p.resource_id}
        if len(ids) == 1 and ids[0] not in by_id and len(about) == 1 and about[0].resource_id is None:
            by_id[ids[0]] = about[0]  # a bare 404 problem for a single id
        general = [p for p in about if p.resource_id is None]
        unmentioned = (f"{PLATFORM}: {general[0].words}" if general
                       else f"{PLATFORM}: the answer does not mention this tweet")
        out = {}
        for i in ids:
            if i in found:
                out[i] = PostLookup(i, LookupResult.PRESENT, snapshot=found[i], capture_ids=ans.ids)
            elif i in by_id:
                out[i] = _classify_tweet_problem(i, by_id[i], ans.ids)
            else:
                out[i] = PostLookup(i, LookupResult.ERROR, capture_ids=ans.ids, detail=unmentioned)
        return out

    async def fetch_media(self, url: str) -> bytes | None:
        """The file, or None (a bad or refused URL, an error: recorded as a capture)."""
        resp, _cap = await self.recorder.get(url)  # never the bearer token: media hosts are not the API
        return resp.content if resp is not None and resp.status_code == 200 else None


def _classify_tweet_problem(pid: str, p: Problem, capture_ids: list[str]) -> PostLookup:
    kind = p.kind
    if kind == "suspended":
        return PostLookup(pid, LookupResult.ACCOUNT_GONE, reason=DeletionReason.UNKNOWN,
                          detail=p.words, capture_ids=capture_ids)
    if kind == "not_found":
        return PostLookup(pid, LookupResult.GONE, reason=DeletionReason.UNKNOWN,
                          detail=p.words, capture_ids=capture_ids)
    if kind == "not_authorized":
        return PostLookup(pid, LookupResult.FORBIDDEN, detail=p.words, capture_ids=capture_ids)
    return PostLookup(pid, LookupResult.ERROR, detail=f"{PLATFORM}: {p.words}", capture_ids=capture_ids)

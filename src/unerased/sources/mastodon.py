"""Mastodon, through its REST API (``/api/v1``), anonymously or with an access token.

Identities:
- what the user types: ``mastodon:@user@host`` (also ``@user@host``, ``user@host``,
  ``https://host/@user``); the API base is ``--service`` or ``https://host``;
- ``account_id``: ``"<id>@<netloc>"`` — the account's id *on the server we ask* (ids are
  local to each server) and that server's host[:port]; without ``--service`` the API
  base is rebuilt as ``https://<netloc>``;
- ``post_id``: the status id on that server.

How answers are classified (the platform's own words, nothing guessed):

=====================================  ==============================================
``GET /api/v1/accounts/:id``
200, ``"suspended": true`` (>= 3.3)    account SUSPENDED (profile blanked by the server),
                                       basis EXPLICIT: counts at once
200, ``"limited": true``               account LIMITED (silenced; still visible)
200 otherwise                          ACTIVE (``moved`` kept in ``profile["moved_to"]``)
410 Gone (2.4 – 3.2)                   SUSPENDED, basis ABSENCE (a bare status, no
                                       body): confirmed by a later check
404 with a JSON ``error``              DELETED, basis ABSENCE (Mastodon says "not
                                       found", not why): confirmed by a later check
``GET /api/v1/statuses/:id``
200                                    PRESENT
404 with a JSON ``error``              GONE, reason UNKNOWN: Mastodon answers 404 alike
                                       for deleted, never-existing and private statuses,
                                       so "deleted by its author" is not knowable here
401 / 403                              FORBIDDEN (authorized fetch, limited federation)
anything
429                                    ERROR; the back-off time is in :attr:`retry_after`
5xx, timeout, refused, body that is    ERROR — never GONE / DELETED
not JSON (HTML page, truncated)
=====================================  ==============================================

A 404 whose body is not JSON is not the API's answer (a proxy, a wrong ``--service``)
and is an ERROR too.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote

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
from ..net import origin_of
from ..text.hostile import (
    first_line,
    html_to_text,
    iso_version,
    safe_datetime,
    safe_dict,
    safe_list,
    safe_str,
)
from ._base import Recorder
from ._errors import (
    Backoff,
    describe_status,
    failure_text,
    json_body,
    rate_limited_text,
    split_url,
)

PLATFORM = "mastodon"
TOKEN_ENV = "UNERASED_MASTODON_TOKEN"
INSTANCE_ENV = "UNERASED_MASTODON_INSTANCE"

_USER = r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}"
_HOST = r"[A-Za-z0-9](?:[A-Za-z0-9\-.]{0,251}[A-Za-z0-9])?(?::\d{1,5})?"
_HANDLE_RE = re.compile(rf"^@?(?P<user>{_USER})@(?P<host>{_HOST})$")
_URL_RE = re.compile(rf"^https?://(?P<host>{_HOST})/@(?P<user>{_USER})/?$")
_ID_RE = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
_ACCOUNT_ID_RE = re.compile(rf"^(?P<id>[A-Za-z0-9_\-]{{1,64}})@(?P<host>{_HOST})$")

_MEDIA_KINDS = {"image": "image", "video": "video", "gifv": "gif", "audio": "audio"}


def parse_handle(ident: str) -> tuple[str, str]:
    """``mastodon:@user@host`` (or ``@user@host``, ``user@host``, ``https://host/@user``)
    → ``(user, host)``; SourceError when it is none of these."""
    s = ident.strip()
    if s.lower().startswith("mastodon:"):
        s = s[len("mastodon:"):]
    m = _HANDLE_RE.match(s) or _URL_RE.match(s)
    if not m:
        raise SourceError(f"mastodon: {ident!r} is not a handle like @user@host")
    return m.group("user"), m.group("host").lower()


def parse_account_id(account_id: str) -> tuple[str, str] | None:
    """``"<id>@<netloc>"`` → ``(id, netloc)``, None when malformed."""
    m = _ACCOUNT_ID_RE.match(account_id.strip())
    return (m.group("id"), m.group("host").lower()) if m else None


def account_snapshot(
    acc: Any, netloc: str, observed_at: datetime | None = None
) -> AccountSnapshot | None:
    """An Account entity → AccountSnapshot; None when it is not one."""
    if not isinstance(acc, dict):
        return None
    aid = acc.get("id")
    if not isinstance(aid, str | int) or not _ID_RE.match(str(aid)):
        return None
    acct = safe_str(acc.get("acct")) or safe_str(acc.get("username"))
    if not acct:
        return None
    handle = acct if "@" in acct else f"{acct}@{netloc}"
    if acc.get("suspended") is True:
        status = AccountStatus.SUSPENDED
    elif acc.get("limited") is True:
        status = AccountStatus.LIMITED
    else:
        status = AccountStatus.ACTIVE
    profile: dict[str, Any] = {}
    note = safe_str(acc.get("note"))
    if note is not None:
        profile["note_html"] = note
        profile["note"] = html_to_text(note)
    for key in ("avatar", "header", "uri", "followers_count", "following_count",
                "statuses_count", "last_status_at", "locked", "bot", "group",
                "discoverable", "limited", "suspended"):
        if key in acc and isinstance(acc[key], str | int | bool | float):
            profile[key] = acc[key]
    fields = [
        {"name": safe_str(f.get("name")) or "", "value": html_to_text(safe_str(f.get("value")) or ""),
         "verified_at": safe_str(f.get("verified_at"))}
        for f in safe_list(acc.get("fields")) if isinstance(f, dict)
    ]
    if fields:
        profile["fields"] = fields
    moved = safe_dict(acc.get("moved"))
    if moved:
        profile["moved_to"] = safe_str(moved.get("acct")) or safe_str(moved.get("url"))
    return AccountSnapshot(
        platform=PLATFORM,
        account_id=f"{aid}@{netloc}",
        handle=handle,
        display_name=safe_str(acc.get("display_name")),
        status=status,
        profile=profile,
        url=safe_str(acc.get("url")),
        created_at=safe_datetime(acc.get("created_at")),
        observed_at=observed_at,
        basis=StatusBasis.EXPLICIT,  # the Account entity itself says what it is
    )


def _media(items: Any) -> tuple[MediaItem, ...]:
    out: list[MediaItem] = []
    for m in safe_list(items):
        if not isinstance(m, dict):
            continue
        url = safe_str(m.get("url")) or safe_str(m.get("remote_url"))
        parts = split_url(url) if url else None
        name = parts.path.rsplit("/", 1)[-1] if parts else None
        out.append(MediaItem(
            url=url,
            filename=name or None,
            alt=safe_str(m.get("description")),
            kind=_MEDIA_KINDS.get(safe_str(m.get("type")) or "", "other"),
        ))
    return tuple(out)


def _text(entity: dict[str, Any]) -> str:
    """Plain text of a status or status edit: the content warning first (a blank line
    after it), the content, then poll options one per line (``- option``), so that an
    edit touching any of them changes the text."""
    body = html_to_text(safe_str(entity.get("content")) or "")
    parts = []
    cw = safe_str(entity.get("spoiler_text"))
    if cw:
        parts.append(cw)
    if body:
        parts.append(body)
    opts = [safe_str(safe_dict(o).get("title")) for o in safe_list(safe_dict(entity.get("poll")).get("options"))]
    if any(opts):
        parts.append("\n".join(f"- {o}" for o in opts if o))
    return "\n\n".join(parts)


def status_snapshot(
    st: Any, account_id: str, observed_at: datetime | None = None
) -> PostSnapshot | None:
    """A Status entity → PostSnapshot (the current version); None when it is not one."""
    if not isinstance(st, dict):
        return None
    sid = st.get("id")
    if not isinstance(sid, str) or not _ID_RE.match(sid):
        return None
    created = safe_datetime(st.get("created_at"))
    edited = safe_datetime(st.get("edited_at"))
    version = edited or created
    reblog = safe_dict(st.get("reblog"))
    shown = reblog or st  # a boost carries its content in "reblog"
    quote_st = safe_dict(safe_dict(st.get("quote")).get("quoted_status"))
    reply_to = safe_str(st.get("in_reply_to_id"))
    if reblog:
        kind = "repost"
    elif reply_to:
        kind = "reply"
    elif quote_st:
        kind = "quote"
    else:
        kind = "post"
    return PostSnapshot(
        platform=PLATFORM,
        account_id=account_id,
        post_id=sid,
        text=_text(shown),
        created_at=created,
        url=safe_str(st.get("url")) or safe_str(st.get("uri"))
        or safe_str(reblog.get("url")) or safe_str(reblog.get("uri")),
        html=safe_str(shown.get("content")),
        kind=kind,
        reply_to=reply_to,
        repost_of=safe_str(reblog.get("id")) if reblog else None,
        quote_of=safe_str(quote_st.get("id")) if quote_st else None,
        lang=safe_str(shown.get("language")),
        edited_at=edited,
        version_key=iso_version(version) if version else None,
        media=_media(shown.get("media_attachments")),
        raw=st,
        observed_at=observed_at,
    )


def edit_snapshots(
    history: Any, current: PostSnapshot, observed_at: datetime | None = None
) -> list[PostSnapshot] | None:
    """``GET /statuses/:id/history`` (StatusEdit list, oldest first) → one snapshot per
    version, ``version_key`` = that version's ``created_at``; None when malformed."""
    if not isinstance(history, list):
        return None
    out: list[PostSnapshot] = []
    first: datetime | None = None
    for i, ed in enumerate(history):
        if not isinstance(ed, dict):
            return None
        at = safe_datetime(ed.get("created_at"))
        if at is None:
            return None
        if i == 0:
            first = at
        out.append(PostSnapshot(
            platform=PLATFORM,
            account_id=current.account_id,
            post_id=current.post_id,
            text=_text(ed),
            created_at=first or current.created_at,
            url=current.url,
            html=safe_str(ed.get("content")),
            kind=current.kind,
            reply_to=current.reply_to,
            quote_of=current.quote_of,
            lang=current.lang,
            edited_at=at if i > 0 else None,
            version_key=iso_version(at),
            media=_media(ed.get("media_attachments")),
            raw=ed,
            observed_at=observed_at,
        ))
    return out


@dataclass(frozen=True, slots=True)
class TokenScope:
    """Where an access token may be sent: ``origin`` (``scheme://host:port``) or, for an
    instance named without a scheme, ``netloc`` over https only. ``note`` says why a
    token is not sent anywhere (no instance named)."""

    token: str | None = None
    origin: str | None = None
    netloc: str | None = None
    note: str | None = None

    def allows(self, base: str) -> bool:
        if self.token is None:
            return False
        if self.origin is not None:
            return origin_of(base) == self.origin
        parts = split_url(base)
        return (parts is not None and parts.scheme == "https"
                and parts.netloc.lower() == self.netloc)


def token_scope(token: str | None, instance: str | None) -> TokenScope:
    """An access token and the one instance it is for: ``instance`` (a host[:port], sent
    over https only, or a URL whose origin is used as given), or the token written
    ``HOST=TOKEN``. A token without an instance is never sent; ``note`` says so."""
    tok = (token or "").strip()
    if not tok:
        return TokenScope()
    inst = (instance or "").strip()
    m = re.match(rf"^(?P<host>{_HOST})=(?P<token>.+)$", tok)
    if m:
        inst, tok = inst or m.group("host"), m.group("token")
    if not inst:
        return TokenScope(note=f"{PLATFORM}: {TOKEN_ENV} names no instance, so it is sent "
                               f"nowhere; set {INSTANCE_ENV}=HOST or {TOKEN_ENV}=HOST=TOKEN")
    if "://" in inst:
        origin = origin_of(inst)
        if origin is None:
            return TokenScope(note=f"{PLATFORM}: {INSTANCE_ENV}={inst[:100]!r} is not an "
                                   "instance URL; the token is sent nowhere")
        return TokenScope(tok, origin=origin)
    if not re.fullmatch(_HOST, inst):
        return TokenScope(note=f"{PLATFORM}: {INSTANCE_ENV}={inst[:100]!r} is not a host; "
                               "the token is sent nowhere")
    return TokenScope(tok, netloc=inst.lower())


@dataclass(frozen=True, slots=True)
class _Answer:
    resp: httpx.Response | None
    cap: Capture | None
    blocked: datetime | None = None  # not sent: rate limited until then

    @property
    def ids(self) -> list[str]:
        return [self.cap.id] if self.cap is not None else []


class MastodonSource:
    """A Mastodon server's REST API.

    Config: ``token`` (an access token — needed on servers in authorized-fetch or
    limited-federation mode — sent only to the one instance it is for: ``instance``
    (else env ``UNERASED_MASTODON_INSTANCE``), or the token written ``HOST=TOKEN``; see
    :func:`token_scope`; never to another instance, never to media hosts), ``page_size`` (statuses per page,
    default 40, the API maximum), ``history`` (fetch the edit history of edited statuses
    in listings, default True), ``clock`` (a ``() -> datetime`` for tests).

    :attr:`retry_after` is the time until which the server asked us not to send
    (429 or ``X-RateLimit-Remaining: 0``); requests due before then are not sent and
    their observation is an ERROR saying so.
    """

    platform = PLATFORM

    def __init__(
        self,
        recorder: Recorder,
        service: str | None = None,
        *,
        token: str | None = None,
        instance: str | None = None,
        page_size: int = 40,
        history: bool = True,
        clock: Callable[[], datetime] = utcnow,
        **config: Any,
    ) -> None:
        self.recorder = recorder
        self.service = service.rstrip("/") if service else None
        self.tokens = token_scope(token, instance or os.environ.get(INSTANCE_ENV))
        self.page_size = max(1, min(int(page_size), 40))
        self.fetch_history = history
        self.clock = clock
        self._backoff = Backoff(clock, timedelta(minutes=5))
        self._history_seen: dict[str, str] = {}

    @property
    def retry_after(self) -> datetime | None:
        """Do not call this server again before this time (None: no back-off pending)."""
        return self._backoff.retry_after

    # --- plumbing --------------------------------------------------------------------

    def _base(self, netloc: str) -> str:
        return self.service or f"https://{netloc}"

    def _netloc(self, netloc: str) -> str:
        parts = split_url(self.service) if self.service else None
        return parts.netloc.lower() if parts else netloc

    async def _get(self, base: str, path: str, params: dict[str, Any] | None = None) -> _Answer:
        parts = split_url(base)
        key = parts.netloc.lower() if parts else base
        until = self._backoff.blocked(key)
        if until is not None:
            return _Answer(None, None, until)
        headers = {"Accept": "application/json"}
        if self.tokens.token and self.tokens.allows(base):
            headers["Authorization"] = f"Bearer {self.tokens.token}"
        resp, cap = await self.recorder.get(base + path, params=params, headers=headers,
                                            service=True)
        if resp is not None:
            self._backoff.observe(key, resp)
        return _Answer(resp, cap)

    def _token_hint(self, base: str) -> str:
        """Why no token went to ``base``, for an answer that asks for one."""
        if self.tokens.note:
            return f"; {self.tokens.note}"
        if self.tokens.token and not self.tokens.allows(base):
            return f"; the {TOKEN_ENV} is for another instance and was not sent here"
        return ""

    def _trouble(self, ans: _Answer) -> str | None:
        """Error text for an answer that says nothing about the resource: not sent
        (rate limited), no answer, 429, 5xx."""
        if ans.resp is None:
            if ans.cap is None:
                return rate_limited_text(PLATFORM, ans.blocked)
            return f"{PLATFORM}: no answer: {failure_text(ans.cap)}"
        st = ans.resp.status_code
        if st == 429:
            return rate_limited_text(PLATFORM, self._backoff.retry_after)
        if st >= 500:
            return f"{PLATFORM}: server error: {describe_status(ans.resp)}"
        return None

    @staticmethod
    def _api_error(resp: httpx.Response) -> str | None:
        """The API's own ``{"error": "..."}`` words, None when the body is not that."""
        value, _ = json_body(resp)
        err = value.get("error") if isinstance(value, dict) else None
        return first_line(err)[:300] if isinstance(err, str) else None

    # --- Source protocol -------------------------------------------------------------

    async def resolve(self, ident: str) -> AccountSnapshot:
        user, host = parse_handle(ident)
        base = self._base(host)
        netloc = self._netloc(host)
        acct = user if netloc == host else f"{user}@{host}"
        ans = await self._get(base, "/api/v1/accounts/lookup", {"acct": acct})
        who = f"@{user}@{host}"
        if ans.resp is None:
            if ans.cap is None:
                raise SourceError(rate_limited_text(PLATFORM, ans.blocked))
            raise SourceError(first_line(f"{PLATFORM}: cannot reach {base}: {failure_text(ans.cap)}"))
        resp = ans.resp
        st = resp.status_code
        if st == 200:
            value, why = json_body(resp)
            snap = account_snapshot(value, netloc, ans.cap.started_at if ans.cap else None)
            if snap is None:
                raise SourceError(first_line(
                    f"{PLATFORM}: {base} did not answer like a Mastodon API "
                    f"({why or 'JSON without an account'}); check --service"))
            return snap
        api_error = self._api_error(resp)
        if st == 404 and api_error is not None:
            raise SourceError(first_line(f"{PLATFORM}: no account {who} on {base} (404: {api_error or 'not found'})"))
        if st == 410:
            raise SourceError(f"{PLATFORM}: {who} is suspended ({base} answered 410 Gone)")
        if st in (401, 403) and api_error is not None:
            raise SourceError(first_line(
                f"{PLATFORM}: {base} requires an access token to read accounts "
                f"(HTTP {st}: {api_error or 'unauthorized'}; authorized-fetch or "
                f"limited-federation mode); set {TOKEN_ENV}{self._token_hint(base)}"))
        if st == 429:
            raise SourceError(rate_limited_text(PLATFORM, self._backoff.retry_after))
        if api_error is None:
            raise SourceError(first_line(
                f"{PLATFORM}: {base} did not answer like a Mastodon API "
                f"(HTTP {st}, {resp.headers.get('content-type', 'no content-type')}); check --service"))
        raise SourceError(first_line(f"{PLATFORM}: {base} answered {describe_status(resp)} looking up {who}"))

    async def check_account(self, account_id: str) -> AccountCheck:
        parsed = parse_account_id(account_id)
        if parsed is None:
            return AccountCheck(None, error=f"{PLATFORM}: malformed account id {account_id!r}")
        aid, netloc = parsed
        ans = await self._get(self._base(netloc), f"/api/v1/accounts/{quote(aid)}")
        trouble = self._trouble(ans)
        if trouble or ans.resp is None or ans.cap is None:
            return AccountCheck(None, error=trouble, capture_ids=ans.ids)
        resp, cap = ans.resp, ans.cap
        st = resp.status_code
        if st == 200:
            value, why = json_body(resp)
            snap = account_snapshot(value, netloc, cap.started_at)
            if snap is None or snap.account_id != f"{aid}@{netloc}":
                return AccountCheck(None, error=f"{PLATFORM}: not an account answer ({why or 'wrong or missing id'})",
                                    capture_ids=ans.ids)
            return AccountCheck(snap, capture_ids=ans.ids)
        if st == 410:
            return AccountCheck(self._gone(account_id, AccountStatus.SUSPENDED, cap), capture_ids=ans.ids)
        api_error = self._api_error(resp)
        if st == 404 and api_error is not None:
            return AccountCheck(self._gone(account_id, AccountStatus.DELETED, cap), capture_ids=ans.ids)
        if st in (401, 403):
            return AccountCheck(None, capture_ids=ans.ids, error=first_line(
                f"{PLATFORM}: HTTP {st}: the server requires an access token "
                f"(authorized-fetch or limited-federation mode): {api_error or ''}"
                f"{self._token_hint(self._base(netloc))}"))
        return AccountCheck(None, error=f"{PLATFORM}: unexpected answer {describe_status(resp)}",
                            capture_ids=ans.ids)

    @staticmethod
    def _gone(account_id: str, status: AccountStatus, cap: Capture) -> AccountSnapshot:
        return AccountSnapshot(platform=PLATFORM, account_id=account_id, status=status,
                               observed_at=cap.started_at, basis=StatusBasis.ABSENCE)

    async def list_posts(
        self, account_id: str, *, since: datetime | None = None, max_pages: int = 10
    ) -> Listing:
        parsed = parse_account_id(account_id)
        if parsed is None:
            return Listing((), complete=False, error=f"{PLATFORM}: malformed account id {account_id!r}")
        aid, netloc = parsed
        base = self._base(netloc)
        path = f"/api/v1/accounts/{quote(aid)}/statuses"
        params: dict[str, Any] = {"limit": str(self.page_size)}
        posts: list[PostSnapshot] = []
        caps: list[str] = []
        oldest: datetime | None = None
        complete, reached_end = True, False
        error: str | None = None
        for _ in range(max(0, max_pages)):
            ans = await self._get(base, path, params)
            caps += ans.ids
            trouble = self._trouble(ans)
            if trouble or ans.resp is None or ans.cap is None:
                complete, error = False, trouble
                break
            resp = ans.resp
            if resp.status_code != 200:
                complete = False
                error = f"{PLATFORM}: listing refused: {describe_status(resp)}"
                if resp.status_code in (401, 403):
                    error += f" (the server requires an access token){self._token_hint(base)}"
                break
            value, why = json_body(resp)
            if not isinstance(value, list):
                complete, error = False, f"{PLATFORM}: listing is not a list ({why or type(value).__name__})"
                break
            if not value:
                reached_end = True
                break
            for st in value:
                snap = status_snapshot(st, account_id, ans.cap.started_at)
                if snap is None:
                    complete, error = False, f"{PLATFORM}: a status in the listing could not be read"
                    continue
                posts.append(snap)
                if snap.created_at and (oldest is None or snap.created_at < oldest):
                    oldest = snap.created_at
            if since is not None and oldest is not None and oldest < since:
                break
            has_next, nxt = _next_params(resp)
            if not has_next:
                reached_end = True
                break
            if nxt is None or nxt == params:
                complete, error = False, f"{PLATFORM}: unusable Link rel=next header"
                break
            params = nxt
        if not reached_end and oldest is None and complete:
            complete, error = False, f"{PLATFORM}: cannot bound the listing window (no dates)"
        note = await self._add_histories(base, posts, caps) if self.fetch_history else None
        if note and error is None:
            error = note  # histories failing does not make the listing incomplete
        return Listing(posts=posts, complete=complete,
                       window_start=None if reached_end else oldest,
                       error=error, capture_ids=caps)

    async def _add_histories(self, base: str, posts: list[PostSnapshot], caps: list[str]) -> str | None:
        """Append the earlier versions of edited statuses (once per edit per source)."""
        note: str | None = None
        for snap in list(posts):
            if snap.edited_at is None or snap.kind == "repost" or snap.version_key is None:
                continue
            if self._history_seen.get(snap.post_id) == snap.version_key:
                continue
            versions, ids, err = await self._history(base, snap)
            caps += ids
            if versions is None:
                note = note or f"{PLATFORM}: edit history of {snap.post_id} not read: {err}"
                continue
            self._history_seen[snap.post_id] = snap.version_key
            posts += [v for v in versions if v.version_key != snap.version_key]
        return note

    async def _history(
        self, base: str, current: PostSnapshot
    ) -> tuple[list[PostSnapshot] | None, list[str], str | None]:
        ans = await self._get(base, f"/api/v1/statuses/{quote(current.post_id)}/history")
        trouble = self._trouble(ans)
        if trouble or ans.resp is None or ans.cap is None:
            return None, ans.ids, trouble
        if ans.resp.status_code != 200:
            return None, ans.ids, describe_status(ans.resp)
        value, why = json_body(ans.resp)
        versions = edit_snapshots(value, current, ans.cap.started_at)
        if versions is None:
            return None, ans.ids, why or "not a list of edits"
        return versions, ans.ids, None

    async def post_history(self, account_id: str, post_id: str) -> Listing:
        """Every version of one status (``/statuses/:id`` then ``/statuses/:id/history``),
        oldest first, one PostSnapshot each. ``complete`` False (and ``error``) when either
        request gave no usable answer."""
        [look] = await self.lookup_posts(account_id, [post_id])
        if look.snapshot is None:
            return Listing((), complete=False, error=look.detail or str(look.result),
                           capture_ids=look.capture_ids)
        parsed = parse_account_id(account_id)
        assert parsed is not None  # lookup_posts checked it
        versions, ids, err = await self._history(self._base(parsed[1]), look.snapshot)
        caps = [*look.capture_ids, *ids]
        if versions is None:
            return Listing([look.snapshot], complete=False, error=err, capture_ids=caps)
        return Listing(versions or [look.snapshot], capture_ids=caps)

    async def lookup_posts(self, account_id: str, post_ids: Sequence[str]) -> list[PostLookup]:
        parsed = parse_account_id(account_id)
        out: list[PostLookup] = []
        for pid in post_ids:
            if parsed is None or not _ID_RE.match(pid):
                out.append(PostLookup(pid, LookupResult.ERROR,
                                      detail=f"{PLATFORM}: malformed id {account_id!r}/{pid!r}"))
                continue
            out.append(await self._lookup_one(account_id, parsed[1], pid))
        return out

    async def _lookup_one(self, account_id: str, netloc: str, pid: str) -> PostLookup:
        ans = await self._get(self._base(netloc), f"/api/v1/statuses/{quote(pid)}")
        trouble = self._trouble(ans)
        if trouble or ans.resp is None or ans.cap is None:
            return PostLookup(pid, LookupResult.ERROR, detail=trouble, capture_ids=ans.ids)
        resp, st = ans.resp, ans.resp.status_code
        if st == 200:
            value, why = json_body(resp)
            snap = status_snapshot(value, account_id, ans.cap.started_at)
            if snap is None or snap.post_id != pid:
                return PostLookup(pid, LookupResult.ERROR, capture_ids=ans.ids,
                                  detail=f"{PLATFORM}: not a status answer ({why or 'wrong or missing id'})")
            return PostLookup(pid, LookupResult.PRESENT, snapshot=snap, capture_ids=ans.ids)
        api_error = self._api_error(resp)
        if st in (404, 410) and api_error is not None:
            return PostLookup(
                pid, LookupResult.GONE, reason=DeletionReason.UNKNOWN, capture_ids=ans.ids,
                detail=first_line(f"HTTP {st}: {api_error or 'not found'} (Mastodon answers 404 alike "
                                  "for deleted, never-existing and private statuses)"))
        if st in (401, 403):
            return PostLookup(pid, LookupResult.FORBIDDEN, capture_ids=ans.ids,
                              detail=first_line(f"HTTP {st}: {api_error or 'unauthorized'}"))
        return PostLookup(pid, LookupResult.ERROR, capture_ids=ans.ids,
                          detail=f"{PLATFORM}: unexpected answer {describe_status(resp)}")

    async def fetch_media(self, url: str) -> bytes | None:
        """The file, or None (a bad or refused URL, an error: recorded as a capture)."""
        parts = split_url(url)
        key = parts.netloc.lower() if parts else ""
        if key and self._backoff.blocked(key) is not None:
            return None
        resp, _cap = await self.recorder.get(url)  # no token: media hosts are not the API
        if resp is None:
            return None
        if key:
            self._backoff.observe(key, resp)
        return resp.content if resp.status_code == 200 else None


def _next_params(resp: httpx.Response) -> tuple[bool, dict[str, Any] | None]:
    """Whether there is a ``Link: <…>; rel="next"``, and its query (the ``max_id``
    cursor) to send to our own base and path — the link's host is not followed."""
    if "link" not in resp.headers:
        return False, None
    try:
        nxt = resp.links.get("next", {}).get("url")
    except Exception:  # a malformed Link header is hostile input, not a crash
        return True, None
    if not nxt:
        return False, None
    parts = split_url(nxt)
    if parts is None:
        return True, None
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    return True, (params or None)

"""Bluesky / AT Protocol source: speaks XRPC to the account's own PDS.

How an account is found: a handle is resolved to a DID (``com.atproto.identity.resolveHandle``
on ``--service``, else on the ``handle_resolver``); the DID document (did:plc from the PLC
directory, did:web from ``/.well-known/did.json``) names the PDS (service ``#atproto_pds``),
unless ``--service`` names the server to ask.

How answers are classified (see the recordings in testdata/platforms/bluesky):

- account: ``com.atproto.sync.getRepoStatus`` (``active``/``status``), then
  ``com.atproto.repo.describeRepo`` (``RepoDeactivated``, ``RepoTakendown``,
  ``RepoSuspended``, ``RepoNotFound``): deactivated → DEACTIVATED, takendown/suspended →
  SUSPENDED, not found / deleted / DID tombstoned → DELETED. A status the PDS names
  (``active: false`` with a status word, ``RepoDeactivated``, ``RepoTakendown``,
  ``RepoSuspended``) is EXPLICIT and counts at once; ``RepoNotFound`` (what an unknown repo
  and an admin-deleted one both answer) and a DID the directory no longer resolves (404/410)
  are an ABSENCE, which the detector confirms on a later check.
- post: ``com.atproto.repo.getRecord``. ``RecordNotFound`` while the repo is served → GONE.
  The PDS gives the same answer for a record its owner deleted and for a record the server
  took down, so a second question tells them apart: ``com.atproto.sync.getRecord`` returns
  the signed repo path to the key. If the signed repo still holds the record, the server
  hid it (PLATFORM_REMOVED); if it proves the key absent, a commit removed it
  (USER_DELETED). ``InvalidRequest "Could not locate record"/"Could not find repo"`` is what
  an unknown, deactivated or taken-down repo answers: ACCOUNT_GONE, never GONE.
- a record rewritten in place (putRecord) keeps its URI and gets a new CID: the CID is the
  ``version_key``, so that is an edit.
- transport failures, 5xx, 429, bodies that are not JSON: ERROR, never GONE.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit

import libipld

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
from ._errors import split_url

PLATFORM = "bluesky"
POST_COLLECTION = "app.bsky.feed.post"
PROFILE_COLLECTION = "app.bsky.actor.profile"
DEFAULT_PLC = "https://plc.directory"
DEFAULT_HANDLE_RESOLVER = "https://public.api.bsky.app"
DEFAULT_WEB = "https://bsky.app"
MAX_PAGE_SIZE = 100

# repo status (getRepoStatus "status", describeRepo error names) → account status; every
# status word the PDS sends is explicit, and so are its error names but RepoNotFound
_REPO_STATUS = {
    "deactivated": AccountStatus.DEACTIVATED,
    "takendown": AccountStatus.SUSPENDED,
    "suspended": AccountStatus.SUSPENDED,
    "deleted": AccountStatus.DELETED,
}
_REPO_ERRORS = {
    "RepoDeactivated": AccountStatus.DEACTIVATED,
    "RepoTakendown": AccountStatus.SUSPENDED,
    "RepoSuspended": AccountStatus.SUSPENDED,
    "RepoNotFound": AccountStatus.DELETED,
}
_ABSENCE_ERRORS = frozenset({"RepoNotFound"})
# what getRecord/listRecords answer when the repo (not the record) is not served
_REPO_GONE_MESSAGES = ("could not locate record", "could not find repo")

_HANDLE_RE = re.compile(
    r"^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$"
)
_DID_RE = re.compile(r"^did:[a-z]+:[a-zA-Z0-9._:%-]{1,2048}$")
_NSID_RE = re.compile(r"^[a-zA-Z]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9-]+)+$")
_RKEY_RE = re.compile(r"^[a-zA-Z0-9._:~-]{1,512}$")
_TID_CHARS = "234567abcdefghijklmnopqrstuvwxyz"
_TID_RE = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")
_MST_MAX_DEPTH = 128


# --- small pure helpers ----------------------------------------------------------


def is_did(value: str) -> bool:
    return bool(_DID_RE.match(value)) and value.split(":", 2)[1] in ("plc", "web")


def normalize_ident(ident: str) -> str:
    """What a user typed → a handle or DID: strips ``@``, ``at://`` and bsky.app
    profile URLs; lower-cases handles."""
    v = ident.strip()
    for prefix in ("https://bsky.app/profile/", "http://bsky.app/profile/", "at://", "@"):
        if v.startswith(prefix):
            v = v[len(prefix):]
    v = v.split("/", 1)[0]
    return v if v.startswith("did:") else v.lower()


def parse_at_uri(uri: str) -> tuple[str, str, str] | None:
    """``at://DID/COLLECTION/RKEY`` → (did, collection, rkey), or None."""
    if not isinstance(uri, str) or not uri.startswith("at://"):
        return None
    parts = uri[5:].split("/")
    if len(parts) != 3:
        return None
    did, collection, rkey = parts
    if not is_did(did) or not _NSID_RE.match(collection) or not _RKEY_RE.match(rkey):
        return None
    return did, collection, rkey


def tid_time(rkey: str) -> datetime | None:
    """The time encoded in a TID record key (53 bits of microseconds since the epoch)."""
    if not _TID_RE.match(rkey):
        return None
    n = 0
    for ch in rkey:
        n = n * 32 + _TID_CHARS.index(ch)
    try:
        return datetime.fromtimestamp((n >> 10) / 1_000_000, UTC)
    except (OverflowError, OSError, ValueError):
        return None


_safe_time = safe_datetime
_str = safe_str
_dict = safe_dict
_list = safe_list


def _base_url(url: str, what: str) -> str:
    parts = split_url(url.strip())
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise SourceError(f"bluesky: {what} must be an http(s) URL, got {url!r}")
    return url.strip().rstrip("/")


def blob_cid(blob: Any) -> tuple[str | None, str | None]:
    """(cid, mime) of a blob reference, current (``ref.$link``) or legacy (``cid``) form."""
    b = _dict(blob)
    cid = _str(_dict(b.get("ref")).get("$link")) or _str(b.get("cid"))
    if cid is not None and not re.fullmatch(r"[a-zA-Z0-9]{8,200}", cid):
        cid = None
    return cid, _str(b.get("mimeType"))


def blob_url(pds: str, did: str, cid: str) -> str:
    return f"{pds}/xrpc/com.atproto.sync.getBlob?" + urlencode({"did": did, "cid": cid})


def _media_of(embed: Any, pds: str, did: str) -> list[MediaItem]:
    e = _dict(embed)
    etype = _str(e.get("$type")) or ""
    out: list[MediaItem] = []

    def add(blob: Any, kind: str, alt: str | None) -> None:
        cid, mime = blob_cid(blob)
        if cid is not None:
            out.append(MediaItem(url=blob_url(pds, did, cid), filename=cid, mime=mime,
                                 alt=alt or None, kind=kind))

    if etype == "app.bsky.embed.images":
        for img in _list(e.get("images")):
            add(_dict(img).get("image"), "image", _str(_dict(img).get("alt")))
    elif etype == "app.bsky.embed.video":
        add(e.get("video"), "video", _str(e.get("alt")))
    elif etype == "app.bsky.embed.external":
        add(_dict(e.get("external")).get("thumb"), "image", None)
    elif etype == "app.bsky.embed.recordWithMedia":
        out.extend(_media_of(e.get("media"), pds, did))
    return out


def post_from_record(
    record: Any, *, pds: str, web: str = DEFAULT_WEB, observed_at: datetime | None = None
) -> PostSnapshot | None:
    """A ``{uri, cid, value}`` record (listRecords item, getRecord answer) → snapshot;
    None when it is not a usable post record."""
    rec = _dict(record)
    parsed = parse_at_uri(_str(rec.get("uri")) or "")
    value = rec.get("value")
    if parsed is None or not isinstance(value, dict):
        return None
    did, _collection, rkey = parsed
    embed = _dict(value.get("embed"))
    etype = _str(embed.get("$type")) or ""
    reply_to = _str(_dict(_dict(value.get("reply")).get("parent")).get("uri"))
    quote_of: str | None = None
    if etype == "app.bsky.embed.record":
        quote_of = _str(_dict(embed.get("record")).get("uri"))
    elif etype == "app.bsky.embed.recordWithMedia":
        quote_of = _str(_dict(_dict(embed.get("record")).get("record")).get("uri"))
    langs = [x for x in _list(value.get("langs")) if isinstance(x, str)]
    kind = "reply" if reply_to else "quote" if quote_of else "post"
    return PostSnapshot(
        platform=PLATFORM,
        account_id=did,
        post_id=_str(rec.get("uri")) or "",
        text=_str(value.get("text")) or "",
        created_at=_safe_time(value.get("createdAt")),
        url=f"{web}/profile/{did}/post/{rkey}",
        kind=kind,
        reply_to=reply_to,
        quote_of=quote_of,
        lang=langs[0] if langs else None,
        version_key=_str(rec.get("cid")),
        media=tuple(_media_of(embed, pds, did)),
        raw=rec,
        observed_at=observed_at,
    )


def mst_lookup(car: bytes, did: str, key: str) -> tuple[str, str | None]:
    """Where ``key`` (``collection/rkey``) stands in the signed repo path a
    ``com.atproto.sync.getRecord`` CAR carries: ``("present", record_cid)``,
    ``("absent", None)`` (the path proves it is not in the repo) or ``("unknown", why)``.
    The commit signature is not checked here; the CAR is kept as evidence."""
    try:
        header, blocks = libipld.decode_car(car)
    except Exception as exc:  # hostile bytes: libipld raises ValueError, RecursionError…
        return "unknown", f"CAR does not decode: {type(exc).__name__}"
    roots = _list(_dict(header).get("roots"))
    commit = _dict(blocks.get(roots[0])) if roots and isinstance(roots[0], bytes) else {}
    if commit.get("did") != did or not isinstance(commit.get("data"), bytes):
        return "unknown", "CAR has no commit for this repo"
    want = key.encode()
    node_cid: Any = commit["data"]
    for _ in range(_MST_MAX_DEPTH):
        node = blocks.get(node_cid) if isinstance(node_cid, bytes) else None
        if not isinstance(node, dict):
            return "unknown", "CAR lacks an MST node on the path"
        entries = _list(node.get("e"))
        prev = b""
        subtree: Any = node.get("l")
        for entry in entries:
            e = _dict(entry)
            p, k = e.get("p"), e.get("k")
            if not isinstance(p, int) or not isinstance(k, bytes) or p < 0 or p > len(prev):
                return "unknown", "malformed MST entry"
            full = prev[:p] + k
            if want == full:
                v = e.get("v")
                return "present", (libipld.encode_cid(v) if isinstance(v, bytes) else None)
            if want < full:
                break
            subtree = e.get("t")
            prev = full
        if subtree is None:
            return "absent", None
        node_cid = subtree
    return "unknown", "MST deeper than expected"


# --- talking XRPC ------------------------------------------------------------------


@dataclass
class _Answer:
    """One XRPC exchange, read defensively."""

    cap: Capture
    status: int | None = None
    data: dict[str, Any] | None = None  # the JSON object of a 200 answer
    error: str | None = None  # the XRPC error name of a 4xx JSON answer
    message: str = ""
    problem: str | None = None  # why there is no usable answer at all
    body: bytes = b""

    @property
    def ok(self) -> bool:
        return self.data is not None

    def words(self) -> str:
        if self.problem:
            return self.problem
        return f"{self.error}: {self.message}" if self.message else str(self.error)


@dataclass
class _Where:
    """Where a DID's repo is served, and what the DID document said on the way."""

    pds: str | None = None
    handle: str | None = None
    gone: str | None = None  # the directory says the DID is deleted/unknown
    problem: str | None = None
    caps: list[str] = field(default_factory=list)


class BlueskySource:
    """The AT Protocol source (Bluesky and any PDS speaking ``com.atproto.*``).

    ``service``: ask this server (a PDS) instead of the one the DID document names.
    Config: ``handle_resolver`` (server for resolveHandle when no service is given,
    default https://public.api.bsky.app), ``page_size`` (listRecords limit, 1–100),
    ``web_url`` (base for human-facing links, default https://bsky.app).
    """

    platform = PLATFORM

    def __init__(
        self,
        recorder: Recorder,
        service: str | None = None,
        plc_url: str = DEFAULT_PLC,
        **config: Any,
    ) -> None:
        self.recorder = recorder
        self.service = _base_url(service, "--service") if service else None
        self.plc_url = _base_url(plc_url, "plc_url")
        resolver = config.get("handle_resolver") or DEFAULT_HANDLE_RESOLVER
        self.handle_resolver = _base_url(str(resolver), "handle_resolver")
        self.web_url = _base_url(str(config.get("web_url") or DEFAULT_WEB), "web_url")
        size = config.get("page_size", MAX_PAGE_SIZE)
        if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_PAGE_SIZE:
            raise SourceError(f"bluesky: page_size must be 1..{MAX_PAGE_SIZE}, got {size!r}")
        self.page_size = size
        self._pds: dict[str, str] = {}  # DID → PDS endpoint learnt in this instance

    # -- plumbing --

    async def _get(self, url: str, params: Mapping[str, Any] | None = None) -> _Answer:
        # every URL asked here is the account's own service: the PLC directory, its
        # did:web host, the PDS its DID document names, --service, the handle resolver
        resp, cap = await self.recorder.get(url, params=params, service=True)
        if resp is None:
            return _Answer(cap=cap, problem=f"no answer from {_host(url)}: {cap.error or 'failed'}")
        a = _Answer(cap=cap, status=resp.status_code, body=resp.content)
        value: Any = None
        try:
            value = json.loads(resp.content) if resp.content.strip() else None
        except (ValueError, RecursionError):
            value = None
        if resp.status_code == 200:
            if isinstance(value, dict):
                a.data = value
            else:
                a.problem = f"HTTP 200 from {_host(url)} with a body that is not a JSON object"
        elif 400 <= resp.status_code < 500 and resp.status_code != 429 and isinstance(
            value, dict
        ) and isinstance(value.get("error"), str):
            a.error = value["error"]
            a.message = first_line(_str(value.get("message")) or "", 300)
        else:
            a.problem = first_line(
                f"HTTP {resp.status_code} {resp.reason_phrase or ''} from {_host(url)}", 300
            )
        return a

    async def _xrpc(self, base: str, nsid: str, params: Mapping[str, Any]) -> _Answer:
        return await self._get(f"{base}/xrpc/{nsid}", params)

    async def _where(self, did: str, *, fresh: bool = False) -> _Where:
        """The PDS serving ``did``: ``--service``, else from its DID document."""
        if self.service:
            return _Where(pds=self.service)
        if not fresh and did in self._pds:
            return _Where(pds=self._pds[did])
        if did.startswith("did:plc:"):
            url = f"{self.plc_url}/{quote(did, safe=':')}"
        elif did.startswith("did:web:") and ":" not in did[8:]:
            host = unquote(did[8:])
            if not re.fullmatch(r"[a-zA-Z0-9.-]+(:[0-9]{1,5})?", host):
                return _Where(problem=f"unsupported did:web {did[:100]!r}")
            url = f"https://{host}/.well-known/did.json"
        else:
            return _Where(problem=f"unsupported DID {did[:100]!r}")
        a = await self._get(url)
        where = _Where(caps=[a.cap.id])
        if a.status in (404, 410):
            # The PLC directory answers JSON: 404 "DID not registered", 410 "DID not
            # available" (tombstoned). An HTML 404 is a wrong directory, not an answer.
            words = a.message or _json_message(a.body)
            if words:
                where.gone = first_line(f"HTTP {a.status} from {_host(url)}: {words}", 300)
                return where
        if a.data is None:
            where.problem = f"DID document for {did}: {a.words()}"
            return where
        doc = a.data
        if doc.get("id") != did:
            where.problem = f"DID document for {did} is about {str(doc.get('id'))[:80]!r}"
            return where
        for aka in _list(doc.get("alsoKnownAs")):
            if isinstance(aka, str) and aka.startswith("at://"):
                where.handle = aka[5:]
                break
        for svc in _list(doc.get("service")):
            s = _dict(svc)
            if s.get("id") in ("#atproto_pds", f"{did}#atproto_pds"):
                endpoint = _str(s.get("serviceEndpoint")) or ""
                try:
                    where.pds = _base_url(endpoint, "PDS endpoint")
                except SourceError:
                    where.problem = f"DID document for {did} names a bad PDS {endpoint[:80]!r}"
                    return where
                self._pds[did] = where.pds
                return where
        where.problem = f"DID document for {did} names no #atproto_pds service"
        return where

    # -- the Source protocol --

    async def resolve(self, ident: str) -> AccountSnapshot:
        v = normalize_ident(ident)
        if v.startswith("did:"):
            if not is_did(v):
                raise SourceError(f"bluesky: {ident!r} is not a did:plc or did:web DID")
            did = v
        else:
            if not _HANDLE_RE.match(v):
                raise SourceError(f"bluesky: {ident!r} is not a handle (name.domain) or a DID")
            resolver = self.service or self.handle_resolver
            a = await self._xrpc(resolver, "com.atproto.identity.resolveHandle", {"handle": v})
            found = _str((a.data or {}).get("did"))
            if found is None or not is_did(found):
                if a.error is not None:
                    raise SourceError(f"bluesky: handle {v} not found on {resolver} ({a.words()})")
                if a.problem and a.status is None:
                    raise SourceError(f"bluesky: cannot reach {resolver}: {a.problem}")
                raise SourceError(
                    f"bluesky: {resolver} does not answer as an AT Protocol server ({a.words()})"
                )
            did = found
        check = await self.check_account(did)
        snap = check.snapshot
        if snap is None:
            raise SourceError(f"bluesky: {did}: {check.error}")
        if snap.status == AccountStatus.DELETED:
            where = f" on {self.service}" if self.service else ""
            why = snap.profile.get("reason") or "not found"
            raise SourceError(f"bluesky: account {did} not found{where} ({why})")
        return snap

    async def check_account(self, account_id: str) -> AccountCheck:
        did = account_id
        if not is_did(did):
            return AccountCheck(snapshot=None, error=f"bluesky: not a DID: {did[:100]!r}")
        now = utcnow()
        where = await self._where(did, fresh=True)
        caps = list(where.caps)

        def snapshot(
            status: AccountStatus,
            reason: str | None,
            profile: Mapping[str, Any] | None = None,
            display_name: str | None = None,
            created_at: datetime | None = None,
            basis: StatusBasis = StatusBasis.EXPLICIT,
        ) -> AccountCheck:
            prof: dict[str, Any] = dict(profile or {})
            if where.pds:
                prof["pds"] = where.pds
            if reason:
                prof["reason"] = reason
            snap = AccountSnapshot(
                platform=PLATFORM, account_id=did, handle=where.handle,
                display_name=display_name, status=status, profile=prof,
                url=f"{self.web_url}/profile/{did}", created_at=created_at, observed_at=now,
                basis=basis,
            )
            return AccountCheck(snapshot=snap, capture_ids=caps)

        if where.gone:
            return snapshot(AccountStatus.DELETED, where.gone, basis=StatusBasis.ABSENCE)
        if where.pds is None:
            return AccountCheck(snapshot=None, error=f"bluesky: {where.problem}", capture_ids=caps)
        pds = where.pds

        status: AccountStatus | None = None
        reason: str | None = None
        basis = StatusBasis.EXPLICIT
        st = await self._xrpc(pds, "com.atproto.sync.getRepoStatus", {"did": did})
        caps.append(st.cap.id)
        if st.data is not None:
            active, word = st.data.get("active"), _str(st.data.get("status"))
            if active is True:
                status = AccountStatus.ACTIVE
            elif active is False and word in _REPO_STATUS:
                status, reason = _REPO_STATUS[word], f"getRepoStatus: {word}"
            elif active is False:
                return AccountCheck(
                    snapshot=None, capture_ids=caps,
                    error=f"bluesky: {did} is inactive with status {str(word)[:40]!r}",
                )
        elif st.error in _REPO_ERRORS:
            status, reason = _REPO_ERRORS[st.error], f"getRepoStatus: {st.words()}"
            if st.error in _ABSENCE_ERRORS:
                basis = StatusBasis.ABSENCE
        # anything else (an older PDS without getRepoStatus, a failure): ask describeRepo

        if status in (None, AccountStatus.ACTIVE):
            d = await self._xrpc(pds, "com.atproto.repo.describeRepo", {"repo": did})
            caps.append(d.cap.id)
            if d.error in _REPO_ERRORS:
                return snapshot(_REPO_ERRORS[str(d.error)], f"describeRepo: {d.words()}",
                                basis=StatusBasis.ABSENCE if d.error in _ABSENCE_ERRORS
                                else StatusBasis.EXPLICIT)
            if d.data is None:
                return AccountCheck(
                    snapshot=None, capture_ids=caps,
                    error=f"bluesky: {did} on {pds}: {d.words() if st.ok else st.words()}",
                )
            handle = _str(d.data.get("handle"))
            if handle and handle != "handle.invalid":
                where.handle = handle
            profile, display, created, pcaps = await self._profile(pds, did)
            caps.extend(pcaps)
            profile["handle_is_correct"] = d.data.get("handleIsCorrect") is True
            return snapshot(AccountStatus.ACTIVE, None, profile=profile,
                            display_name=display, created_at=created)
        assert status is not None
        return snapshot(status, reason, basis=basis)

    async def _profile(
        self, pds: str, did: str
    ) -> tuple[dict[str, Any], str | None, datetime | None, list[str]]:
        a = await self._xrpc(pds, "com.atproto.repo.getRecord",
                             {"repo": did, "collection": PROFILE_COLLECTION, "rkey": "self"})
        value = _dict((a.data or {}).get("value"))
        profile: dict[str, Any] = {}
        if not value:
            if a.problem:
                profile["profile_error"] = a.problem
            return profile, None, None, [a.cap.id]
        if (desc := _str(value.get("description"))) is not None:
            profile["description"] = desc
        for key in ("avatar", "banner"):
            cid, _mime = blob_cid(value.get(key))
            if cid:
                profile[key] = blob_url(pds, did, cid)
        if (pinned := _str(_dict(value.get("pinnedPost")).get("uri"))) is not None:
            profile["pinned_post"] = pinned
        profile["record_cid"] = _str((a.data or {}).get("cid"))
        return (profile, _str(value.get("displayName")), _safe_time(value.get("createdAt")),
                [a.cap.id])

    async def list_posts(
        self, account_id: str, *, since: datetime | None = None, max_pages: int = 10
    ) -> Listing:
        did = account_id
        if not is_did(did):
            return Listing(posts=(), complete=False, error=f"bluesky: not a DID: {did[:100]!r}")
        where = await self._where(did)
        caps = list(where.caps)
        if where.pds is None:
            return Listing(posts=(), complete=False, capture_ids=caps,
                           error=f"bluesky: {where.gone or where.problem}")
        posts: list[PostSnapshot] = []
        seen: set[str] = set()
        oldest: datetime | None = None
        cursor: str | None = None
        for _page in range(max(1, max_pages)):
            params: dict[str, Any] = {"repo": did, "collection": POST_COLLECTION,
                                      "limit": self.page_size}
            if cursor is not None:
                params["cursor"] = cursor
            a = await self._xrpc(where.pds, "com.atproto.repo.listRecords", params)
            caps.append(a.cap.id)
            records = (a.data or {}).get("records")
            if a.data is None or not isinstance(records, list):
                why = a.words() if a.data is None else "listRecords answer without records"
                return Listing(posts=posts, complete=False, error=f"bluesky: {why}",
                               capture_ids=caps)
            now = utcnow()
            for rec in records:
                snap = post_from_record(rec, pds=where.pds, web=self.web_url, observed_at=now)
                if snap is None or snap.post_id in seen:
                    continue
                seen.add(snap.post_id)
                posts.append(snap)
                rkey = snap.post_id.rsplit("/", 1)[-1]
                for t in (snap.created_at, tid_time(rkey)):
                    if t is not None and (oldest is None or t < oldest):
                        oldest = t
            nxt = _str(a.data.get("cursor"))
            if not records or not nxt:
                return Listing(posts=posts, complete=True, capture_ids=caps)
            if nxt == cursor:
                return Listing(posts=posts, complete=False, capture_ids=caps,
                               error="bluesky: listRecords cursor did not advance")
            cursor = nxt
            if since is not None and oldest is not None and oldest < since:
                break
        # Stopped before the end: the listing covers posts back to `oldest` only.
        if oldest is None:
            return Listing(posts=posts, complete=False, capture_ids=caps,
                           error="bluesky: listing stopped early and its window is unknown")
        return Listing(posts=posts, complete=True, window_start=oldest, capture_ids=caps)

    async def lookup_posts(self, account_id: str, post_ids: Sequence[str]) -> list[PostLookup]:
        """Each post by ``com.atproto.repo.getRecord``. Once a repo answers that it is not
        served (ACCOUNT_GONE), its remaining posts get that same answer without asking."""
        out: list[PostLookup] = []
        repo_gone: dict[str, PostLookup] = {}
        for post_id in post_ids:
            parsed = parse_at_uri(post_id)
            gone = repo_gone.get(parsed[0]) if parsed else None
            if gone is not None:
                out.append(PostLookup(post_id=post_id, result=LookupResult.ACCOUNT_GONE,
                                      detail=gone.detail, capture_ids=gone.capture_ids))
                continue
            lookup = await self._lookup_one(post_id)
            if parsed and lookup.result == LookupResult.ACCOUNT_GONE:
                repo_gone[parsed[0]] = lookup
            out.append(lookup)
        return out

    async def _lookup_one(self, post_id: str) -> PostLookup:
        parsed = parse_at_uri(post_id)
        if parsed is None:
            return PostLookup(post_id=post_id, result=LookupResult.ERROR,
                              detail="not an at:// record URI")
        did, collection, rkey = parsed
        where = await self._where(did)
        if where.gone:
            return PostLookup(post_id=post_id, result=LookupResult.ACCOUNT_GONE,
                              detail=where.gone, capture_ids=where.caps)
        if where.pds is None:
            return PostLookup(post_id=post_id, result=LookupResult.ERROR,
                              detail=where.problem, capture_ids=where.caps)
        pds = where.pds
        a = await self._xrpc(pds, "com.atproto.repo.getRecord",
                             {"repo": did, "collection": collection, "rkey": rkey})
        caps = [*where.caps, a.cap.id]
        if a.data is not None:
            snap = post_from_record(a.data, pds=pds, web=self.web_url, observed_at=utcnow())
            if snap is None or snap.post_id != post_id:
                return PostLookup(post_id=post_id, result=LookupResult.ERROR, capture_ids=caps,
                                  detail="getRecord answered something that is not this record")
            return PostLookup(post_id=post_id, result=LookupResult.PRESENT, snapshot=snap,
                              detail=None, capture_ids=caps)
        if a.error == "RecordNotFound":
            reason, why, probe_caps = await self._why_gone(pds, did, collection, rkey)
            return PostLookup(post_id=post_id, result=LookupResult.GONE, reason=reason,
                              detail=f"{a.words()}; {why}", capture_ids=caps + probe_caps)
        if a.error in _REPO_ERRORS or (
            a.error == "InvalidRequest" and a.message.lower().startswith(_REPO_GONE_MESSAGES)
        ):
            return PostLookup(post_id=post_id, result=LookupResult.ACCOUNT_GONE,
                              detail=a.words(), capture_ids=caps)
        return PostLookup(post_id=post_id, result=LookupResult.ERROR, detail=a.words(),
                          capture_ids=caps)

    async def _why_gone(
        self, pds: str, did: str, collection: str, rkey: str
    ) -> tuple[DeletionReason, str, list[str]]:
        """Owner deletion or server takedown? Ask for the signed repo path to the key."""
        a = await self._xrpc(pds, "com.atproto.sync.getRecord",
                             {"did": did, "collection": collection, "rkey": rkey})
        caps = [a.cap.id]
        if a.status == 200:
            where, cid = mst_lookup(a.body, did, f"{collection}/{rkey}")
            if where == "present":
                return (DeletionReason.PLATFORM_REMOVED,
                        f"the signed repo still holds the record ({cid}): hidden by the server",
                        caps)
            if where == "absent":
                return (DeletionReason.USER_DELETED,
                        "the signed repo proves the record absent: removed by a commit", caps)
            return DeletionReason.UNKNOWN, f"sync.getRecord: {cid}", caps
        if a.error == "RecordNotFound":
            return DeletionReason.USER_DELETED, f"sync.getRecord: {a.words()}", caps
        return DeletionReason.UNKNOWN, f"sync.getRecord: {a.words()}", caps

    async def fetch_media(self, url: str) -> bytes | None:
        """The blob, or None (a bad or refused URL, an error: recorded as a capture)."""
        resp, _cap = await self.recorder.get(url)
        if resp is None or resp.status_code != 200:
            return None
        return resp.content


def _json_message(body: bytes) -> str | None:
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return None
    d = _dict(value)
    return _str(d.get("message")) or _str(d.get("error"))


def _host(url: str) -> str:
    try:
        return urlsplit(url).netloc or url[:80]
    except ValueError:
        return url[:80]


__all__ = [
    "BlueskySource",
    "blob_url",
    "is_did",
    "mst_lookup",
    "normalize_ident",
    "parse_at_uri",
    "post_from_record",
    "tid_time",
]

